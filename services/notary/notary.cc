#include "services/notary/notary.h"

#include <utility>

#include "crypto/trust_list.h"
#include "services/label/issuance.h"

namespace chemledger::notary {
namespace {

class LocalNotary final : public LedgerNotary {
 public:
  explicit LocalNotary(const crypto::NoteSigner* signer) : signer_(signer) {}

  const crypto::NoteVerifier& verifier() const override { return signer_->verifier(); }

  absl::StatusOr<std::string> SignCheckpoint(const storage::Snapshot& snapshot) const override {
    crypto::Checkpoint checkpoint;
    checkpoint.origin = signer_->name();
    checkpoint.size = snapshot.size();
    checkpoint.root_hash = snapshot.root();
    return signer_->SignCheckpoint(checkpoint);
  }

  absl::StatusOr<std::string> SignTrustList(const storage::Snapshot& snapshot,
                                            absl::CivilDay today) const override {
    absl::StatusOr<crypto::TrustList> trust = label::MakeTrustList(snapshot, today);
    if (!trust.ok()) return trust.status();
    return crypto::SignTrustList(*trust, *signer_);
  }

 private:
  const crypto::NoteSigner* const signer_;
};

}  // namespace

std::unique_ptr<LedgerNotary> NewLocalNotary(const crypto::NoteSigner* signer) {
  return std::make_unique<LocalNotary>(signer);
}

}  // namespace chemledger::notary
