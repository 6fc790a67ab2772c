#include "services/notary/notary.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "api/china_time.h"
#include "crypto/trust_list.h"
#include "services/label/issuance.h"

namespace chemledger::notary {
namespace {

// The trust list of `asked` for `day`, if CheckTrustListIsCurrent allows
// signing it: what the notary then signs, made once.
absl::StatusOr<crypto::TrustList> CurrentTrustList(const storage::Snapshot& asked,
                                                   const storage::Snapshot& latest,
                                                   absl::CivilDay day, absl::CivilDay today) {
  if (day < today - 1 || day > today + 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "day: must be within a day of the notary's today, ", absl::FormatCivilTime(today)));
  }
  absl::StatusOr<crypto::TrustList> at_asked = label::MakeTrustList(asked, day);
  if (!at_asked.ok()) return at_asked.status();
  absl::StatusOr<crypto::TrustList> at_latest = label::MakeTrustList(latest, day);
  if (!at_latest.ok()) return at_latest.status();
  if (!crypto::SameTrustList(*at_asked, *at_latest)) {
    // ABORTED, not UNAVAILABLE: gRPC clients' transports retry the latter.
    return absl::AbortedError("the label keys' standing changed since this snapshot: read again");
  }
  return at_asked;
}

class LocalNotary final : public LedgerNotary {
 public:
  LocalNotary(const crypto::NoteSigner* signer,
              std::function<std::shared_ptr<const storage::Snapshot>()> latest,
              std::function<absl::Time()> clock)
      : signer_(signer), latest_(std::move(latest)), clock_(std::move(clock)) {}

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
    absl::StatusOr<crypto::TrustList> trust =
        latest_ && clock_ ? CurrentTrustList(snapshot, *latest_(), today, api::ChinaDay(clock_()))
                          : label::MakeTrustList(snapshot, today);
    if (!trust.ok()) return trust.status();
    return crypto::SignTrustList(*trust, *signer_);
  }

 private:
  const crypto::NoteSigner* const signer_;
  const std::function<std::shared_ptr<const storage::Snapshot>()> latest_;
  const std::function<absl::Time()> clock_;
};

}  // namespace

absl::Status CheckTrustListIsCurrent(const storage::Snapshot& asked,
                                     const storage::Snapshot& latest, absl::CivilDay day,
                                     absl::CivilDay today) {
  return CurrentTrustList(asked, latest, day, today).status();
}

std::unique_ptr<LedgerNotary> NewLocalNotary(
    const crypto::NoteSigner* signer,
    std::function<std::shared_ptr<const storage::Snapshot>()> latest,
    std::function<absl::Time()> clock) {
  return std::make_unique<LocalNotary>(signer, std::move(latest), std::move(clock));
}

}  // namespace chemledger::notary
