// The label trust list as LabelService.GetTrustList serves it: the list of
// the label keys registered at a snapshot (MakeTrustList), signed by the
// platform's note key through the notary, and signed again only when the
// list it says changes. Anyone may ask for it as often as they like, and in
// a cluster each signature is a call to ledgerd, so the last note signed is
// kept and given again while the list read at the asked snapshot is the
// same (keys, standing, issue and expiry days).
//
// Thread-safety: thread-safe. The notary is not owned and must outlive the
// publisher.

#ifndef CHEMLEDGER_SERVICES_LABEL_TRUST_LIST_PUBLISHER_H_
#define CHEMLEDGER_SERVICES_LABEL_TRUST_LIST_PUBLISHER_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "crypto/trust_list.h"
#include "services/notary/notary.h"
#include "storage/store.h"

namespace chemledger::label {

class TrustListPublisher {
 public:
  explicit TrustListPublisher(const notary::LedgerNotary* notary) : notary_(notary) {}

  // The signed note of the trust list of `snapshot` as of `today` (China
  // day): the one kept when it says the same list, else a new one from the
  // notary (whose refusals it returns: Aborted when a key's standing
  // changed meanwhile, "read again").
  absl::StatusOr<std::string> SignedNote(const storage::Snapshot& snapshot, absl::CivilDay today)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Signed {
    crypto::TrustList list;  // as read back from `note`
    std::string note;
  };
  const notary::LedgerNotary* const notary_;
  absl::Mutex mu_;
  std::optional<Signed> last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chemledger::label

#endif  // CHEMLEDGER_SERVICES_LABEL_TRUST_LIST_PUBLISHER_H_
