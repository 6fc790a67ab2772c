// What LedgerService answers about the log itself, from a snapshot: its
// inclusion and consistency proofs, the checkpoint GetCheckpoint signs (the
// latest, or the newest one enough witnesses co-signed), and the witnesses'
// co-signatures that AddCheckpointCosignature takes (docs/audit.md, "A
// witness"). The gRPC service is a thin adapter over these; tests and the
// fuzz targets call them without the network.
//
// Refusals name the request field at fault (a caller who may not co-sign is
// PermissionDenied); none is the server's fault but a store that cannot be
// read, or a co-signatures' file that cannot be written.
//
// Thread-safety: functions of their arguments; WitnessCosignatures and
// SignedCheckpointNotes are thread-safe.

#ifndef CHEMLEDGER_SERVICES_LEDGER_LOG_PROOFS_H_
#define CHEMLEDGER_SERVICES_LEDGER_LOG_PROOFS_H_

#include <cstdint>
#include <deque>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/string_view.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/ledger_service.pb.h"
#include "crypto/checkpoint.h"
#include "services/ledger/witness_cosignatures.h"
#include "storage/store.h"

namespace chemledger::ledger {

// The proof that leaf `leaf_index` is in the tree of `tree_size` (0: the
// snapshot's size).
absl::StatusOr<v1::InclusionProof> InclusionProofOf(const storage::Snapshot& snapshot,
                                                    const v1::GetInclusionProofRequest& request);

// The proof that the tree of `first_size` is a prefix of the tree of
// `second_size` (0: the snapshot's size).
absl::StatusOr<v1::ConsistencyProof> ConsistencyProofOf(
    const storage::Snapshot& snapshot, const v1::GetConsistencyProofRequest& request);

// The checkpoint to sign for a GetCheckpoint request, as `origin`: the
// snapshot's size and root, or, with_cosignatures, the newest checkpoint of
// this log co-signed by at least min_cosignatures (at least 1; of
// witness_key_ids when given, at most 100) witnesses, with their signature
// lines to append to the signed note. NotFound when none is; Failed
// Precondition when the co-signatures kept are of another log (a store
// restored from a backup behind them).
struct CheckpointToSign {
  crypto::Checkpoint checkpoint;
  std::string witness_lines;  // each "— witness/<key id> <base64>\n"
};
absl::StatusOr<CheckpointToSign> CheckpointFor(const storage::Snapshot& snapshot,
                                               absl::string_view origin,
                                               const WitnessCosignatures& cosignatures,
                                               const v1::GetCheckpointRequest& request);

// The checkpoint notes signed last, so that GetCheckpoint, which anyone may
// call as often as they like, signs only a size and root it has not signed
// lately: the newest checkpoint once per size the log reaches, and each
// co-signed one once, however a caller alternates between them (with and
// without with_cosignatures, or min_cosignatures and witness_key_ids that
// pick different checkpoints). Keeps the last kKept notes.
class SignedCheckpointNotes {
 public:
  static constexpr int kKept = 8;

  // `signer` is not owned and must outlive this.
  explicit SignedCheckpointNotes(const crypto::NoteSigner* signer) : signer_(signer) {}

  // The note `signer` signs for `checkpoint`: kept, or signed now and kept.
  absl::StatusOr<std::string> NoteFor(const crypto::Checkpoint& checkpoint)
      ABSL_LOCKS_EXCLUDED(mu_);

  // How many notes this has signed.
  int64_t signatures_made() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Signed {
    uint64_t size = 0;
    crypto::Sha256Digest root;
    std::string note;
  };
  const crypto::NoteSigner* const signer_;
  mutable absl::Mutex mu_;
  std::deque<Signed> kept_ ABSL_GUARDED_BY(mu_);  // newest first
  int64_t signatures_made_ ABSL_GUARDED_BY(mu_) = 0;
};

// Keeps `witness`'s co-signature of one of this log's checkpoints: the
// request's note must be a checkpoint signed by `log` (origin and key), of
// a size the snapshot covers and this log's root at that size, and carry a
// signature line of the witness's own key as "witness/<key id>". Witnesses
// are regulators (else PermissionDenied); a note that is not so is
// InvalidArgument naming `cosigned_note` and the rule.
absl::StatusOr<v1::AddCheckpointCosignatureResponse> AddCosignature(
    const storage::Snapshot& snapshot, const v1::Actor& witness, const crypto::NoteVerifier& log,
    const v1::AddCheckpointCosignatureRequest& request, WitnessCosignatures& cosignatures);

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_LOG_PROOFS_H_
