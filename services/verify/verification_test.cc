#include "services/verify/verification.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "api/china_time.h"
#include "gtest/gtest.h"
#include "render/qr.h"
#include "render/qr_photos.h"
#include "render/qr_testing.h"
#include "services/label/issuance.h"
#include "services/label/label_resolution.h"
#include "services/registry/registry_testing.h"
#include "testing/test_ledger.h"

namespace chemledger::verify {
namespace {

using chemledger::testing::TestLedger;

const std::string kAcme = registry::testing::ExampleUscc("350100");

TEST(CostOfCodesReadTest, AnImagePaysForItsFirstTenCodes) {
  EXPECT_EQ(CostOfCodesRead(1, 0), 0u);
  EXPECT_EQ(CostOfCodesRead(1, 10), 0u);
  EXPECT_EQ(CostOfCodesRead(1, 12), 2u);
  EXPECT_EQ(CostOfCodesRead(2, 12), 0u);
  EXPECT_EQ(CostOfCodesRead(16, 1600), 1440u);
}

// A photo holding more codes than its cost paid for is charged for them
// once read, before anything is verified; a refused charge verifies nothing.
TEST(VerifyTest, CodesReadFromImagesBeyondTheirCostAreChargedFirst) {
  render::ReadQrPhotosInCallingThread();  // a test: no worker processes
  const crypto::SigningKey admin = crypto::SigningKey::Generate();
  const crypto::SigningKey acme_admin = crypto::SigningKey::Generate();
  std::unique_ptr<TestLedger> ledger = TestLedger::Create("verify-charge", admin);
  ASSERT_TRUE(ledger->RegisterEnterprise(admin, registry::testing::ExampleProducer(kAcme)).ok());
  ASSERT_TRUE(ledger->AddActor(admin, kAcme, v1::ENTERPRISE_ADMIN, acme_admin).ok());
  ASSERT_TRUE(
      ledger->RegisterProduct(acme_admin, registry::testing::ExampleMethanol(kAcme, "M01")).ok());
  ASSERT_TRUE(ledger->AddLabelKey(admin).ok());
  absl::StatusOr<label::Issuance> issued = ledger->IssueBatch(acme_admin, kAcme, "M01", "B1", 12);
  ASSERT_TRUE(issued.ok()) << issued.status();
  absl::StatusOr<std::vector<label::IssuedLabel>> labels =
      ledger->issuer().SignLabels(*issued, 0, 12);
  ASSERT_TRUE(labels.ok()) << labels.status();
  std::vector<std::string> urls;
  for (const label::IssuedLabel& l : *labels) urls.push_back(l.url);
  ASSERT_EQ(urls.size(), 12u);

  v1::VerifyRequest request;
  request.add_images(render::testing::PhotoOfCodes(urls));
  // How many of the twelve the reader finds in the photo (most: it is a
  // photo): more than the ten an image pays for.
  absl::StatusOr<std::vector<std::string>> read = render::ReadQrCodes(request.images(0));
  ASSERT_TRUE(read.ok()) << read.status();
  const size_t n = read->size();
  ASSERT_GT(n, 10u);
  std::vector<size_t> charged;
  absl::StatusOr<v1::VerifyResponse> verified =
      Verify(*ledger->snapshot(), request, api::TodayInChina(), label::Scanner::Anyone(),
             [&](size_t extra) {
               charged.push_back(extra);
               return absl::OkStatus();
             });
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(static_cast<size_t>(verified->verifications_size()), n);
  EXPECT_EQ(charged, std::vector<size_t>{n - 10});

  verified = Verify(*ledger->snapshot(), request, api::TodayInChina(), label::Scanner::Anyone(),
                    [](size_t) { return absl::ResourceExhaustedError("over the limit"); });
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kResourceExhausted) << verified.status();
}

// Codes that the allowance could never take (more than its burst) are
// refused as a request to change, not one to send again; over the rate
// only, as one to send again shortly.
TEST(RefusalOfCodesReadTest, MoreThanTheBurstIsNotToBeRetried) {
  const absl::Status never = RefusalOfCodesRead(
      630,
      absl::InvalidArgumentError("this call costs 630 codes, more than an anonymous call "
                                 "may ever cost (60 codes a second, bursts of 600): split it"));
  EXPECT_EQ(never.code(), absl::StatusCode::kInvalidArgument) << never;
  EXPECT_TRUE(absl::StrContains(never.message(), "they hold 630 codes more")) << never;
  EXPECT_TRUE(absl::StrContains(never.message(), "bursts of 600")) << never;
  EXPECT_TRUE(absl::StrContains(never.message(), "send fewer images")) << never;
  EXPECT_FALSE(absl::StrContains(never.message(), "retry")) << never;
  const absl::Status later =
      RefusalOfCodesRead(5, absl::ResourceExhaustedError("anonymous scans are limited"));
  EXPECT_EQ(later.code(), absl::StatusCode::kResourceExhausted) << later;
  EXPECT_TRUE(absl::StrContains(later.message(), "retry in a few seconds")) << later;
}

}  // namespace
}  // namespace chemledger::verify
