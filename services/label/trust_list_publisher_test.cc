#include "services/label/trust_list_publisher.h"

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "api/china_time.h"
#include "crypto/checkpoint.h"
#include "crypto/trust_list.h"
#include "gtest/gtest.h"
#include "testing/test_ledger.h"

namespace chemledger::label {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;

// The local notary, counting the trust lists it signs.
class CountingNotary : public notary::LedgerNotary {
 public:
  explicit CountingNotary(std::unique_ptr<notary::LedgerNotary> notary)
      : notary_(std::move(notary)) {}
  const crypto::NoteVerifier& verifier() const override { return notary_->verifier(); }
  absl::StatusOr<std::string> SignCheckpoint(const storage::Snapshot& snapshot) const override {
    return notary_->SignCheckpoint(snapshot);
  }
  absl::StatusOr<std::string> SignTrustList(const storage::Snapshot& snapshot,
                                            absl::CivilDay today) const override {
    ++trust_lists_signed_;
    return notary_->SignTrustList(snapshot, today);
  }
  int trust_lists_signed() const { return trust_lists_signed_; }

 private:
  std::unique_ptr<notary::LedgerNotary> notary_;
  mutable int trust_lists_signed_ = 0;
};

// A trust list is signed once and given again while the list is the same;
// a new label key signs it again; a refusal of the notary's (a key's
// standing changed since the asked snapshot) is returned.
TEST(TrustListPublisherTest, SignsAgainOnlyWhenTheListChanges) {
  const crypto::SigningKey admin = TestKey(1);
  std::unique_ptr<TestLedger> ledger = TestLedger::Create("trust_list_publisher_test", admin);
  ASSERT_TRUE(ledger->AddLabelKey(admin).ok());
  absl::StatusOr<crypto::NoteSigner> signer =
      crypto::NoteSigner::Create("publisher.example/test", TestKey(9));
  ASSERT_TRUE(signer.ok()) << signer.status();
  CountingNotary notary(notary::NewLocalNotary(
      &*signer, [&ledger] { return ledger->snapshot(); }, [] { return absl::Now(); }));
  TrustListPublisher publisher(&notary);
  const absl::CivilDay today = api::TodayInChina();

  absl::StatusOr<std::string> first = publisher.SignedNote(*ledger->snapshot(), today);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<crypto::TrustList> list = crypto::OpenTrustList(*first, notary.verifier());
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->keys.size(), 1u);
  absl::StatusOr<std::string> again = publisher.SignedNote(*ledger->snapshot(), today);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(notary.trust_lists_signed(), 1);

  // Another key: another list. Read at a snapshot that a third key has
  // made stale, the notary refuses to sign it, and the publisher says so.
  ASSERT_TRUE(ledger->AddLabelKey(admin).ok());
  const std::shared_ptr<const storage::Snapshot> two_keys = ledger->snapshot();
  ASSERT_TRUE(ledger->AddLabelKey(admin).ok());
  absl::StatusOr<std::string> stale = publisher.SignedNote(*two_keys, today);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted) << stale.status();
  EXPECT_EQ(notary.trust_lists_signed(), 2);
  // At the latest snapshot: signed anew.
  absl::StatusOr<std::string> grown = publisher.SignedNote(*ledger->snapshot(), today);
  ASSERT_TRUE(grown.ok()) << grown.status();
  EXPECT_NE(*grown, *first);
  list = crypto::OpenTrustList(*grown, notary.verifier());
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->keys.size(), 3u);
  EXPECT_EQ(notary.trust_lists_signed(), 3);
  EXPECT_EQ(*publisher.SignedNote(*ledger->snapshot(), today), *grown);
  EXPECT_EQ(notary.trust_lists_signed(), 3);
}

}  // namespace
}  // namespace chemledger::label
