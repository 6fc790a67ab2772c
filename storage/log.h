// The append-only log: the one interface through which ChemLedger stores
// entries and proves what it stored.
//
// Entries are opaque bytes numbered 0, 1, 2, ... in append order. Over them the
// log keeps an RFC 6962 Merkle tree, so that for any size up to the current
// one it can give the root hash, the inclusion proof of any entry, and the
// consistency proof between any two sizes, each in O(log n) storage reads.
// There is no way to change or remove an entry: corrections are new entries.
//
// LevelDB is the embedded backend (storage/leveldb_log.h). A backend on a
// replicated database implements the same interface, so nothing above this
// file changes when a site moves to it.
//
// Thread-safety: every method may be called from any number of threads at
// once. Concurrent Append calls are grouped into one durable write (group
// commit); each returns only when its own entries are durable.

#ifndef CHEMLEDGER_STORAGE_LOG_H_
#define CHEMLEDGER_STORAGE_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"
#include "crypto/sha256.h"

namespace chemledger::storage {

using crypto::Sha256Digest;

// A tree size and the root hash at that size, as a signed checkpoint states.
struct TreeHead {
  uint64_t size = 0;
  Sha256Digest root;
};

// What a full integrity check covered.
struct IntegrityReport {
  uint64_t tree_size = 0;        // the size the check ran at
  uint64_t entries_checked = 0;  // entries re-hashed
  uint64_t nodes_checked = 0;    // stored tree nodes compared (leaves included)
  Sha256Digest root;             // root re-derived from the entries
};

class Log {
 public:
  // Largest entry the log accepts, and largest total of one Append, in bytes.
  static constexpr size_t kMaxEntryBytes = 4 << 20;
  static constexpr size_t kMaxAppendBytes = 64 << 20;

  virtual ~Log() = default;

  // Appends `entries` as one atomic unit: after a crash, either all of them are
  // in the log or none is. Returns the index of the first one; they occupy
  // consecutive indexes. On OK the entries are durable (synced to disk).
  // InvalidArgument (and nothing written) when `entries` is empty, an entry is
  // larger than kMaxEntryBytes or all of them than kMaxAppendBytes. Any other error means the write may or may not
  // have reached the disk; the log refuses further appends until reopened.
  virtual absl::StatusOr<uint64_t> Append(absl::Span<const std::string> entries) = 0;

  // Number of entries durably in the log.
  virtual uint64_t Size() const = 0;

  // Entry at `index`. OutOfRange when index >= Size().
  virtual absl::StatusOr<std::string> Entry(uint64_t index) const = 0;

  // RFC 6962 leaf hash of the entry at `index`. OutOfRange when index >= Size().
  virtual absl::StatusOr<Sha256Digest> LeafHash(uint64_t index) const = 0;

  // Root hash of the tree over the first `tree_size` entries.
  // OutOfRange when tree_size > Size().
  virtual absl::StatusOr<Sha256Digest> Root(uint64_t tree_size) const = 0;

  // Inclusion proof (RFC 9162 2.1.3) of entry `index` in the tree of
  // `tree_size`. OutOfRange unless index < tree_size <= Size().
  virtual absl::StatusOr<std::vector<Sha256Digest>> InclusionProof(
      uint64_t index, uint64_t tree_size) const = 0;

  // Consistency proof (RFC 9162 2.1.4) between the trees of `old_size` and
  // `new_size`. OutOfRange unless old_size <= new_size <= Size().
  virtual absl::StatusOr<std::vector<Sha256Digest>> ConsistencyProof(
      uint64_t old_size, uint64_t new_size) const = 0;

  // Re-derives every leaf hash and tree node from the stored entries (on a
  // consistent snapshot, at the size in it, which a concurrent append may have
  // made larger than Size() for a moment) and compares them with what is
  // stored. DataLoss naming the first mismatch (which entry or node, and how
  // it differs) when an entry or a stored hash was altered, an entry is
  // missing, or the store holds foreign keys. Reads the whole log.
  //
  // On its own the check cannot see a rewrite that recomputed every hash, a
  // forged last entry with a matching leaf hash, or a truncation that also
  // lowered the size: only a tree head the caller trusts (the size and root
  // of a signed checkpoint it verified) can. With `trusted`, the check also
  // requires the log to reach trusted->size and to have trusted->root there.
  virtual absl::StatusOr<IntegrityReport> CheckIntegrity(
      const absl::optional<TreeHead>& trusted) const = 0;
  absl::StatusOr<IntegrityReport> CheckIntegrity() const {
    return CheckIntegrity(absl::nullopt);
  }
};

}  // namespace chemledger::storage

#endif  // CHEMLEDGER_STORAGE_LOG_H_
