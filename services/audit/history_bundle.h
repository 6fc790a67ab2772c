// History bundles: a code's whole history in one self-contained, provable
// package (chemledger.v1.HistoryBundle, proto/chemledger/v1/audit_service.proto),
// for regulators who must be able to show what the ledger said without
// anyone having to trust its operator.
//
// BuildHistoryBundle (the server's side) reads everything at one snapshot:
// the code's events, the entries that registered their signers' keys, an
// inclusion proof for each to the snapshot's tree, a checkpoint signed for
// that tree, and optionally a consistency proof from an earlier size.
//
// VerifyHistoryBundle (the offline side; chemaudit verify) needs nothing but
// the bundle, the log's pinned note verifier key, and optionally a
// checkpoint the verifier kept. It checks, and fails at the first thing that
// does not hold, naming the field:
//   - the format line;
//   - the checkpoint's signature by the pinned key, and that the copied
//     origin, size and root agree with the signed note;
//   - every entry's inclusion proof to that root;
//   - every registration: a genesis or add_actor entry, whose key id is
//     derived from the key it registers;
//   - every event: an event entry signed (DSSE) by a key registered earlier
//     in the log, that names the code, whose link for the code points at
//     the previous event's leaf hash (the first at none), in log order;
//   - with a kept checkpoint: the consistency proof from it (so a log that
//     was rewritten or forked after the regulator kept it fails).
// What it does not check: that a signer's key was not revoked before an
// event (the ledger refuses such events when they are written; a revocation
// entry is not in the bundle), and what the events mean (the rules).
//
// Thread-safe: pure functions.

#ifndef CHEMLEDGER_SERVICES_AUDIT_HISTORY_BUNDLE_H_
#define CHEMLEDGER_SERVICES_AUDIT_HISTORY_BUNDLE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "chemledger/v1/audit_service.pb.h"
#include "crypto/checkpoint.h"
#include "services/notary/notary.h"
#include "storage/store.h"

namespace chemledger::audit {

inline constexpr char kHistoryBundleFormat[] = "chemledger history bundle v1";

// The bundle for `code` at `snapshot`, its checkpoint signed by the ledger's
// note key (`notary`). `consistency_from` > 0 adds the proof
// from that size. NotFound for a code the ledger does not know;
// InvalidArgument for a consistency size beyond the snapshot.
absl::StatusOr<v1::HistoryBundle> BuildHistoryBundle(const storage::Snapshot& snapshot,
                                                     const notary::LedgerNotary& notary,
                                                     absl::string_view code,
                                                     uint64_t consistency_from);

// What a verified bundle shows.
struct VerifiedHistory {
  std::string code;
  uint64_t tree_size = 0;
  size_t events = 0;
  size_t signers = 0;   // distinct keys that signed the events
  bool consistent_with_kept = false;  // a kept checkpoint was given and holds
};

// Verifies `bundle` as the top of this file says. `kept` is a checkpoint
// the verifier kept (already opened with the same key), or nullopt.
absl::StatusOr<VerifiedHistory> VerifyHistoryBundle(const v1::HistoryBundle& bundle,
                                                    const crypto::NoteVerifier& note_key,
                                                    const std::optional<crypto::Checkpoint>& kept);

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_HISTORY_BUNDLE_H_
