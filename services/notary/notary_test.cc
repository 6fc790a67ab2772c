#include "services/notary/notary.h"

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "api/china_time.h"
#include "crypto/checkpoint.h"
#include "crypto/trust_list.h"
#include "gtest/gtest.h"
#include "testing/test_ledger.h"

namespace chemledger::notary {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;

// The notary signs a trust list only while it is true: of about today, and
// of the label keys' standing as the latest snapshot has it, whoever asks
// (a cluster's ledgerd for the services, or the all-in-one server's own
// callers).
TEST(LocalNotaryTest, SignsOnlyATrustListThatIsTrueNow) {
  const crypto::SigningKey admin = TestKey(1);
  std::unique_ptr<TestLedger> ledger = TestLedger::Create("notary_test", admin);
  ASSERT_TRUE(ledger->AddLabelKey(admin).ok());
  const std::shared_ptr<const storage::Snapshot> before = ledger->snapshot();
  absl::StatusOr<crypto::NoteSigner> signer =
      crypto::NoteSigner::Create("notary.example/test", TestKey(9));
  ASSERT_TRUE(signer.ok()) << signer.status();
  std::unique_ptr<LedgerNotary> notary = NewLocalNotary(
      &*signer, [&ledger] { return ledger->snapshot(); }, [] { return absl::Now(); });
  const absl::CivilDay today = api::TodayInChina();

  absl::StatusOr<std::string> note = notary->SignTrustList(*before, today);
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_TRUE(crypto::OpenTrustList(*note, notary->verifier()).ok());
  EXPECT_EQ(notary->SignTrustList(*before, today + 3).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Another label key registered since: the list of `before` is no longer
  // the keys' standing.
  ASSERT_TRUE(ledger->AddLabelKey(admin).ok());
  absl::StatusOr<std::string> stale = notary->SignTrustList(*before, today);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted) << stale.status();
  EXPECT_TRUE(notary->SignTrustList(*ledger->snapshot(), today).ok());

  // Without a view of the latest (tests), any.
  EXPECT_TRUE(NewLocalNotary(&*signer)->SignTrustList(*before, today).ok());
}

}  // namespace
}  // namespace chemledger::notary
