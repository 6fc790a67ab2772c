#include "services/ledger/log_proofs.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"

namespace chemledger::ledger {

absl::StatusOr<v1::InclusionProof> InclusionProofOf(const storage::Snapshot& snapshot,
                                                    const v1::GetInclusionProofRequest& request) {
  const uint64_t size = request.tree_size() == 0 ? snapshot.size() : request.tree_size();
  absl::StatusOr<std::vector<crypto::Sha256Digest>> proof =
      snapshot.InclusionProof(request.leaf_index(), size);
  if (!proof.ok()) {
    return absl::Status(proof.status().code(),
                        absl::StrCat("leaf_index, tree_size: ", proof.status().message()));
  }
  v1::InclusionProof answer;
  answer.set_leaf_index(request.leaf_index());
  answer.set_tree_size(size);
  for (const crypto::Sha256Digest& h : *proof) answer.add_hashes(h.ToBytes());
  return answer;
}

absl::StatusOr<v1::ConsistencyProof> ConsistencyProofOf(
    const storage::Snapshot& snapshot, const v1::GetConsistencyProofRequest& request) {
  const uint64_t second = request.second_size() == 0 ? snapshot.size() : request.second_size();
  absl::StatusOr<std::vector<crypto::Sha256Digest>> proof =
      snapshot.ConsistencyProof(request.first_size(), second);
  if (!proof.ok()) {
    return absl::Status(proof.status().code(),
                        absl::StrCat("first_size, second_size: ", proof.status().message()));
  }
  v1::ConsistencyProof answer;
  answer.set_first_size(request.first_size());
  answer.set_second_size(second);
  for (const crypto::Sha256Digest& h : *proof) answer.add_hashes(h.ToBytes());
  return answer;
}

absl::StatusOr<CheckpointToSign> CheckpointFor(const storage::Snapshot& snapshot,
                                               absl::string_view origin,
                                               const WitnessCosignatures& cosignatures,
                                               const v1::GetCheckpointRequest& request) {
  CheckpointToSign out;
  out.checkpoint.origin = std::string(origin);
  out.checkpoint.size = snapshot.size();
  out.checkpoint.root_hash = snapshot.root();
  if (!request.with_cosignatures()) return out;
  const int min_witnesses =
      static_cast<int>(std::min<uint32_t>(std::max<uint32_t>(request.min_cosignatures(), 1), 1000));
  if (request.witness_key_ids_size() > 100) {
    return absl::InvalidArgumentError("witness_key_ids: at most 100");
  }
  const std::set<std::string> only(request.witness_key_ids().begin(),
                                   request.witness_key_ids().end());
  std::optional<WitnessCosignatures::Cosigned> newest = cosignatures.Newest(min_witnesses, only);
  if (!newest) {
    return absl::NotFoundError(
        min_witnesses == 1
            ? std::string("no witness has co-signed a checkpoint yet")
            : absl::StrCat("no checkpoint kept is co-signed by ", min_witnesses,
                           only.empty() ? " witnesses" : " of the witnesses asked for"));
  }
  // Only a checkpoint of this log is signed again: co-signatures kept for
  // another (a store restored from a backup behind them) are not served.
  absl::StatusOr<crypto::Sha256Digest> root = newest->size <= snapshot.size()
                                                  ? snapshot.Root(newest->size)
                                                  : absl::OutOfRangeError("beyond the log");
  if (!root.ok() || *root != newest->root) {
    return absl::FailedPreconditionError(
        absl::StrCat("the witnesses' co-signatures kept (of size ", newest->size,
                     ") are not of this log: move DATA/witness-cosignatures "
                     "away; the witnesses' next round hands in new ones"));
  }
  out.checkpoint.size = newest->size;
  out.checkpoint.root_hash = newest->root;
  out.witness_lines = std::move(newest->lines);
  return out;
}

absl::StatusOr<std::string> SignedCheckpointNotes::NoteFor(const crypto::Checkpoint& checkpoint) {
  {
    absl::MutexLock lock(&mu_);
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      if (it->size == checkpoint.size && it->root == checkpoint.root_hash) {
        std::string note = it->note;
        // The one asked for again moves to the front: the newest checkpoint
        // and a co-signed one asked for in turn both stay kept.
        if (it != kept_.begin()) {
          Signed again = std::move(*it);
          kept_.erase(it);
          kept_.push_front(std::move(again));
        }
        return note;
      }
    }
  }
  // Signed outside the lock: two callers asking for a new size at once may
  // both sign it (the same note; Ed25519 is deterministic), and nobody waits
  // behind a signature.
  absl::StatusOr<std::string> note = signer_->SignCheckpoint(checkpoint);
  if (!note.ok()) return note.status();
  absl::MutexLock lock(&mu_);
  ++signatures_made_;
  for (const Signed& s : kept_) {
    // Another caller signed it meanwhile: kept once.
    if (s.size == checkpoint.size && s.root == checkpoint.root_hash) return note;
  }
  kept_.push_front(Signed{checkpoint.size, checkpoint.root_hash, *note});
  if (kept_.size() > static_cast<size_t>(kKept)) kept_.pop_back();
  return note;
}

int64_t SignedCheckpointNotes::signatures_made() const {
  absl::MutexLock lock(&mu_);
  return signatures_made_;
}

absl::StatusOr<v1::AddCheckpointCosignatureResponse> AddCosignature(
    const storage::Snapshot& snapshot, const v1::Actor& witness, const crypto::NoteVerifier& log,
    const v1::AddCheckpointCosignatureRequest& request, WitnessCosignatures& cosignatures) {
  if (witness.role() != v1::REGULATOR) {
    return absl::PermissionDeniedError("witnesses are regulators");
  }
  const std::string& note = request.cosigned_note();
  // This log's checkpoint, of a size and root this log has.
  absl::StatusOr<crypto::Checkpoint> checkpoint = crypto::OpenCheckpoint(note, log.name(), log);
  if (!checkpoint.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cosigned_note: ", checkpoint.status().message()));
  }
  if (checkpoint->size > snapshot.size()) {
    return absl::InvalidArgumentError("cosigned_note: a size beyond this log's");
  }
  absl::StatusOr<crypto::Sha256Digest> root = snapshot.Root(checkpoint->size);
  if (!root.ok()) return root.status();
  if (*root != checkpoint->root_hash) {
    return absl::InvalidArgumentError("cosigned_note: not this log's root at that size");
  }
  // Co-signed by the caller's key, as "witness/<key id>".
  absl::StatusOr<crypto::VerifyingKey> key = crypto::VerifyingKey::FromBytes(witness.public_key());
  if (!key.ok()) return key.status();
  const std::string name = absl::StrCat("witness/", key->key_id().ToString());
  absl::StatusOr<crypto::NoteVerifier> verifier = crypto::NoteVerifier::Create(name, *key);
  if (!verifier.ok()) return verifier.status();
  if (absl::StatusOr<std::string> opened = crypto::OpenNote(note, *verifier); !opened.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("cosigned_note: no signature line of ", name,
                                                   ": ", opened.status().message()));
  }
  const std::string marker = absl::StrCat("\xe2\x80\x94 ", name, " ");
  const size_t at = note.find(marker);
  const size_t end = at == std::string::npos ? std::string::npos : note.find('\n', at);
  if (end == std::string::npos) {
    return absl::InvalidArgumentError("cosigned_note: malformed line");
  }
  absl::StatusOr<int> witnesses =
      cosignatures.Add(key->key_id().ToString(), checkpoint->size, checkpoint->root_hash,
                       note.substr(at, end + 1 - at));
  if (!witnesses.ok()) return witnesses.status();
  v1::AddCheckpointCosignatureResponse answer;
  answer.set_tree_size(checkpoint->size);
  answer.set_witnesses(*witnesses);
  return answer;
}

}  // namespace chemledger::ledger
