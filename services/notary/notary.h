// The ledger's notary: what the platform's note key signs. The note key
// signs two documents, both read from the ledger itself, never text a
// caller hands in: the checkpoint of a snapshot (origin, log size, root
// hash; C2SP tlog-checkpoint) and the label trust list of the label keys
// registered at a snapshot (crypto/trust_list.h).
//
// In the all-in-one server the note key is in the process (NewLocalNotary).
// When the services run apart, only ledgerd holds it; the others reach it
// through ledgerd's internal service (services/ledgerd/remote_ledger.h),
// which signs what it reads at the same snapshot, by its log size.
//
// Thread-safety: implementations are thread-safe.

#ifndef CHEMLEDGER_SERVICES_NOTARY_NOTARY_H_
#define CHEMLEDGER_SERVICES_NOTARY_NOTARY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "crypto/checkpoint.h"
#include "storage/store.h"

namespace chemledger::notary {

class LedgerNotary {
 public:
  virtual ~LedgerNotary() = default;

  // The note key's verifier; its name is the log's origin.
  virtual const crypto::NoteVerifier& verifier() const = 0;

  // The signed note of the checkpoint of `snapshot`: origin verifier().name(),
  // size snapshot.size(), root snapshot.root().
  virtual absl::StatusOr<std::string> SignCheckpoint(const storage::Snapshot& snapshot) const = 0;

  // The signed trust list of the label keys registered at `snapshot`, as
  // they stand on `today` (label::MakeTrustList).
  virtual absl::StatusOr<std::string> SignTrustList(const storage::Snapshot& snapshot,
                                                    absl::CivilDay today) const = 0;
};

// A notary with the note key in this process. `signer` must outlive it.
std::unique_ptr<LedgerNotary> NewLocalNotary(const crypto::NoteSigner* signer);

}  // namespace chemledger::notary

#endif  // CHEMLEDGER_SERVICES_NOTARY_NOTARY_H_
