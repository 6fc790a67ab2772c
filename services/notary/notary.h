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

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
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

// Whether the trust list of the label keys at `asked` may be signed as of
// `day`: only a list that is true now, for about today (`day` within a day
// of `today`: clocks differ by hours at most) and of keys whose standing is
// the same at `latest` (a revocation since `asked` would make it false).
// InvalidArgument naming "day", or Aborted ("read again").
absl::Status CheckTrustListIsCurrent(const storage::Snapshot& asked,
                                     const storage::Snapshot& latest, absl::CivilDay day,
                                     absl::CivilDay today);

// A notary with the note key in this process. `signer` must outlive it.
// With `latest` (the ledger's latest snapshot) and `clock`, it signs a trust
// list only as CheckTrustListIsCurrent allows, with `today` the day in China
// by `clock`; without them (tests), any.
std::unique_ptr<LedgerNotary> NewLocalNotary(
    const crypto::NoteSigner* signer,
    std::function<std::shared_ptr<const storage::Snapshot>()> latest = nullptr,
    std::function<absl::Time()> clock = nullptr);

}  // namespace chemledger::notary

#endif  // CHEMLEDGER_SERVICES_NOTARY_NOTARY_H_
