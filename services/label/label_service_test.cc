// LabelService's trust list: signed again only when the list it says has
// changed, however often anyone asks (anonymous callers may ask at will, and
// in a cluster each signature is a call to the writer).

#include "services/label/label_service.h"

#include <atomic>
#include <memory>
#include <string>

#include "crypto/checkpoint.h"
#include "crypto/keys.h"
#include "crypto/trust_list.h"
#include "grpcpp/server_context.h"
#include "gtest/gtest.h"
#include "services/notary/notary.h"
#include "testing/test_ledger.h"

namespace chemledger::label {
namespace {

// The in-process notary, counting the trust lists it signs.
class CountingNotary final : public notary::LedgerNotary {
 public:
  explicit CountingNotary(const crypto::NoteSigner* signer)
      : notary_(notary::NewLocalNotary(signer)) {}
  const crypto::NoteVerifier& verifier() const override { return notary_->verifier(); }
  absl::StatusOr<std::string> SignCheckpoint(const storage::Snapshot& snapshot) const override {
    return notary_->SignCheckpoint(snapshot);
  }
  absl::StatusOr<std::string> SignTrustList(const storage::Snapshot& snapshot,
                                            absl::CivilDay today) const override {
    ++signed_;
    return notary_->SignTrustList(snapshot, today);
  }
  int signed_count() const { return signed_.load(); }

 private:
  std::unique_ptr<notary::LedgerNotary> notary_;
  mutable std::atomic<int> signed_{0};
};

TEST(LabelServiceTest, TheTrustListIsSignedAgainOnlyWhenItChanges) {
  const crypto::SigningKey admin = crypto::SigningKey::Generate();
  std::unique_ptr<testing::TestLedger> t = testing::TestLedger::Create("trust_list", admin);
  const absl::StatusOr<crypto::NoteSigner> signer =
      crypto::NoteSigner::Create("trust-list.test/log", crypto::SigningKey::Generate());
  ASSERT_TRUE(signer.ok()) << signer.status();
  CountingNotary notary(&*signer);
  LabelServiceImpl service(&t->issuer(), &t->client(), &notary, /*reads=*/nullptr);

  const auto get = [&] {
    grpc::ServerContext context;
    const v1::GetTrustListRequest request;
    v1::TrustListResponse response;
    const grpc::Status status = service.GetTrustList(&context, &request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    absl::StatusOr<crypto::TrustList> list =
        crypto::OpenTrustList(response.signed_note(), notary.verifier());
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? list->keys.size() : 0;
  };
  const size_t keys = get();
  EXPECT_EQ(notary.signed_count(), 1);
  for (int i = 0; i < 100; ++i) get();
  EXPECT_EQ(notary.signed_count(), 1) << "signed again for the same list";
  // A new label key: the list changed, so it is signed again, once.
  ASSERT_TRUE(t->AddLabelKey(admin).ok());
  EXPECT_EQ(get(), keys + 1);
  EXPECT_EQ(notary.signed_count(), 2);
  get();
  EXPECT_EQ(notary.signed_count(), 2);
}

}  // namespace
}  // namespace chemledger::label
