#include "services/ledgerd/submission_check.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/wire.h"
#include "crypto/label.h"
#include "crypto/label_testing.h"
#include "gtest/gtest.h"
#include "journal/state_machine.h"
#include "services/common/envelope.h"
#include "services/ledger/observation_labels.h"
#include "services/registry/registry_testing.h"
#include "testing/test_ledger.h"

namespace chemledger::ledgerd {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;

class SubmissionCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t_ = TestLedger::Create("submission_check", admin_);
    ASSERT_TRUE(t_->AddLabelKey(admin_).ok());
  }

  v1::SignedEnvelope Registration(const crypto::SigningKey& key, const std::string& id) {
    v1::RegistryRequest request;
    request.set_request_id(id);
    *request.mutable_register_enterprise() =
        registry::testing::ExampleProducer(registry::testing::ExampleUscc("330100"));
    return *envelope::Sign(api::kRegistryContext, request.SerializeAsString(), key);
  }

  std::vector<std::optional<absl::Status>> Check(
      const std::vector<v1::SignedEnvelope>& envelopes,
      absl::FunctionRef<absl::Status(absl::string_view)> may_submit) {
    std::vector<const v1::SignedEnvelope*> pointers;
    for (const v1::SignedEnvelope& e : envelopes) pointers.push_back(&e);
    return CheckSubmission(*t_->client().Latest(), pointers, may_submit, /*verify_threads=*/2,
                           ledger::EventContentCheck(journal::kCurrentRulesEpoch));
  }

  const crypto::SigningKey admin_ = TestKey(1);
  std::unique_ptr<TestLedger> t_;
};

absl::Status AnyType(absl::string_view) { return absl::OkStatus(); }

TEST_F(SubmissionCheckTest, ASignatureIsVerifiedAgainWhateverThePersonalitySaid) {
  v1::SignedEnvelope good = Registration(admin_, "good");
  v1::SignedEnvelope stranger = Registration(TestKey(77), "stranger");  // no registered key
  v1::SignedEnvelope altered = Registration(admin_, "altered");
  altered.set_payload(altered.payload() + " ");  // over other bytes
  const std::vector<std::optional<absl::Status>> refused =
      Check({good, stranger, altered}, AnyType);
  ASSERT_EQ(refused.size(), 3u);
  EXPECT_FALSE(refused[0].has_value()) << *refused[0];
  ASSERT_TRUE(refused[1].has_value());
  EXPECT_EQ(refused[1]->code(), absl::StatusCode::kUnauthenticated) << *refused[1];
  ASSERT_TRUE(refused[2].has_value());
  EXPECT_EQ(refused[2]->code(), absl::StatusCode::kUnauthenticated) << *refused[2];
}

TEST_F(SubmissionCheckTest, OnlyThePayloadTypesTheCallerMaySubmitAndLedgerdTakes) {
  v1::SignedEnvelope registration = Registration(admin_, "r1");
  v1::SignedEnvelope genesis = registration;  // never submitted by a personality
  genesis.set_payload_type(std::string(api::kGenesisContext.payload_type()));
  v1::SignedEnvelope refusal;  // the server's own entry: its state machine checks it
  refusal.set_payload_type(std::string(api::kRefusalPayloadType));
  refusal.set_payload("anything");
  const auto registry_only = [](absl::string_view type) {
    return type == api::kRegistryContext.payload_type()
               ? absl::OkStatus()
               : absl::PermissionDeniedError(absl::StrCat("may not submit ", type));
  };
  std::vector<std::optional<absl::Status>> refused =
      Check({registration, genesis, refusal}, registry_only);
  ASSERT_EQ(refused.size(), 3u);
  EXPECT_FALSE(refused[0].has_value());
  ASSERT_TRUE(refused[1].has_value());
  EXPECT_EQ(refused[1]->code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(refused[1]->message().rfind("requests[1]: may not submit", 0), 0u) << *refused[1];
  ASSERT_TRUE(refused[2].has_value());
  EXPECT_EQ(refused[2]->message().rfind("requests[2]: may not submit", 0), 0u) << *refused[2];
  // A caller that may submit anything: the genesis type is still not taken,
  // and the refusal entry passes unchecked.
  refused = Check({genesis, refusal}, AnyType);
  ASSERT_TRUE(refused[0].has_value());
  EXPECT_EQ(refused[0]->code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(refused[0]->message().find("is not submitted through ledgerd's internal service"),
            std::string::npos)
      << *refused[0];
  EXPECT_FALSE(refused[1].has_value());
}

TEST_F(SubmissionCheckTest, AnObservationsLabelsAreCheckedAsThePersonalityChecksThem) {
  const crypto::LabelClaims claims = crypto::testing::ExampleLabelClaims();
  absl::StatusOr<std::string> forged = crypto::MakeLabelUrl(claims, TestKey(78));
  ASSERT_TRUE(forged.ok()) << forged.status();
  v1::Event seen;
  seen.set_event_id("seen-1");
  seen.set_step(v1::OBSERVING);
  seen.add_codes(claims.Code());
  seen.add_label_urls(*forged);
  seen.mutable_location()->set_enterprise_uscc(claims.enterprise);
  const std::vector<std::optional<absl::Status>> refused =
      Check({*envelope::Sign(api::kEventContext, seen.SerializeAsString(), admin_)}, AnyType);
  ASSERT_TRUE(refused[0].has_value());
  EXPECT_EQ(refused[0]->code(), absl::StatusCode::kPermissionDenied) << *refused[0];
  EXPECT_EQ(refused[0]->message(), "event.label_urls[0]: not a label this ledger issued");
}

}  // namespace
}  // namespace chemledger::ledgerd
