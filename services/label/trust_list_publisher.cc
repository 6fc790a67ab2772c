#include "services/label/trust_list_publisher.h"

#include <utility>

#include "services/label/issuance.h"

namespace chemledger::label {

absl::StatusOr<std::string> TrustListPublisher::SignedNote(const storage::Snapshot& snapshot,
                                                           absl::CivilDay today) {
  absl::StatusOr<crypto::TrustList> list = MakeTrustList(snapshot, today);
  if (!list.ok()) return list.status();
  {
    absl::MutexLock lock(&mu_);
    if (last_ && crypto::SameTrustList(last_->list, *list)) return last_->note;
  }
  absl::StatusOr<std::string> note = notary_->SignTrustList(snapshot, today);
  if (!note.ok()) return note.status();
  // Kept only as the list it was signed for (read back from the note).
  if (absl::StatusOr<crypto::TrustList> signed_list =
          crypto::OpenTrustList(*note, notary_->verifier());
      signed_list.ok() && crypto::SameTrustList(*signed_list, *list)) {
    absl::MutexLock lock(&mu_);
    last_ = Signed{*std::move(signed_list), *note};
  }
  return note;
}

}  // namespace chemledger::label
