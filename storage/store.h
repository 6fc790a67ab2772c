// The store: the append-only log (storage/log.h) together with the state that
// the log's entries imply, committed atomically, and read from consistent
// snapshots.
//
// The state is a sorted map from byte-string keys to byte-string values that
// the journal (journal/journal.h) keeps for its state machines: code states,
// histories as index keys, registry records, waybills and the like. A Commit
// appends entries and applies their state writes in one atomic, durable
// write: after a crash the store holds both or neither, so the state can never
// disagree with the log. The store records, with every Commit, the log size
// its state reflects (StateAppliedSize); Log::Append writes entries without
// state and leaves that size behind, which is how a store whose state must be
// rebuilt is recognised.
//
// Reads go through a Snapshot: the log and the state exactly as one Commit
// left them, named by the log size it reflects. Taking a snapshot and reading
// from it never waits for a Commit in progress (nor for its fsync).
//
// LevelDB is the embedded backend (storage/leveldb_log.h, OpenLevelDbStore);
// a backend on a replicated database (planned) implements the same interface.
//
// Thread-safety: every method may be called from any number of threads at
// once, but Commit calls are serialised by the store (the journal is its one
// caller). Snapshots are immutable and thread-safe; a Snapshot must not
// outlive the Store that made it.

#ifndef CHEMLEDGER_STORAGE_STORE_H_
#define CHEMLEDGER_STORAGE_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "storage/log.h"

namespace chemledger::storage {

// State writes in key order: a value to set, or nullopt to delete the key.
// Writing a key twice keeps the last write. Find is a hash lookup: the
// journal looks keys up in batches of tens of thousands of writes whose keys
// share long prefixes, where a walk down the sorted map compares many bytes.
class StateWrites {
 public:
  using Map = std::map<std::string, std::optional<std::string>, std::less<>>;

  StateWrites() = default;
  StateWrites(StateWrites&&) = default;
  StateWrites& operator=(StateWrites&&) = default;

  void Put(absl::string_view key, absl::string_view value) {
    Slot(key) = std::string(value);
  }
  void Delete(absl::string_view key) { Slot(key) = std::nullopt; }
  // Applies `later` on top of these (its writes win), taking its entries.
  void Merge(StateWrites&& later) {
    if (writes_.empty()) {
      writes_.swap(later.writes_);
      index_.swap(later.index_);
      return;
    }
    for (auto it = later.writes_.begin(); it != later.writes_.end();) {
      auto node = later.writes_.extract(it++);
      auto [pos, inserted, rest] = writes_.insert(std::move(node));
      if (inserted) {
        index_.emplace(pos->first, pos);
      } else {
        pos->second = std::move(rest.mapped());
      }
    }
    later.index_.clear();
  }
  // The write of `key`: nullptr when none; a pointer to nullopt for a delete.
  const std::optional<std::string>* Find(absl::string_view key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &it->second->second;
  }
  bool empty() const { return writes_.empty(); }
  size_t size() const { return writes_.size(); }
  const Map& writes() const { return writes_; }

 private:
  std::optional<std::string>& Slot(absl::string_view key) {
    auto found = index_.find(key);
    if (found != index_.end()) return found->second->second;
    auto pos = writes_.emplace(std::string(key), std::nullopt).first;
    index_.emplace(pos->first, pos);
    return pos->second;
  }

  Map writes_;
  // Every key of writes_, viewing the map's own (stable) key strings.
  absl::flat_hash_map<absl::string_view, Map::iterator> index_;
};

// Largest state key and value the store accepts, in bytes.
inline constexpr size_t kMaxStateKeyBytes = 1 << 10;
inline constexpr size_t kMaxStateValueBytes = 4 << 20;

// Calls for each state key in [begin, end) (end empty: no upper bound), in key
// order; return false to stop.
using ScanVisitor = std::function<bool(absl::string_view key, absl::string_view value)>;

// The first key after every key that starts with `prefix` (whose last byte
// is not 0xff): the `end` of a StateReader::Scan over exactly that prefix.
inline std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  end.back() = static_cast<char>(end.back() + 1);
  return end;
}

// InvalidArgument naming `what` (the operation) and the entry, unless every
// entry is within Log::kMaxEntryBytes and all of them within
// Log::kMaxAppendBytes.
absl::Status CheckEntryLimits(absl::Span<const std::string> entries, absl::string_view what);
// InvalidArgument naming `what` and the key, unless every key is within
// kMaxStateKeyBytes and every value within kMaxStateValueBytes.
absl::Status CheckStateLimits(const StateWrites& state, absl::string_view what);

// Reads of the log and the state at one log size: a Snapshot, or the journal's
// view of the state while it checks an entry (journal/journal.h). State
// machines read their state through this interface in both cases.
class StateReader {
 public:
  virtual ~StateReader() = default;

  // The log size this reader reflects: entries [0, size()) are in it, and its
  // state is the state they imply.
  virtual uint64_t size() const = 0;

  // The entry at `index` and its RFC 6962 leaf hash. OutOfRange when
  // index >= size().
  virtual absl::StatusOr<std::string> Entry(uint64_t index) const = 0;
  virtual absl::StatusOr<Sha256Digest> LeafHash(uint64_t index) const = 0;

  // The state value of `key`; nullopt when the key is absent.
  virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const = 0;
  // Visits the state keys in [begin, end) in order (end empty: to the last key).
  virtual absl::Status Scan(absl::string_view begin, absl::string_view end,
                            const ScanVisitor& visit) const = 0;
};

// The log and the state exactly as one Commit left them.
class Snapshot : public StateReader {
 public:
  // The root hash of the log at size().
  virtual const Sha256Digest& root() const = 0;

  // As the Log methods of the same names, bounded by size() instead of the
  // store's current size (OutOfRange beyond it).
  virtual absl::StatusOr<Sha256Digest> Root(uint64_t tree_size) const = 0;
  virtual absl::StatusOr<std::vector<Sha256Digest>> InclusionProof(
      uint64_t index, uint64_t tree_size) const = 0;
  virtual absl::StatusOr<std::vector<Sha256Digest>> ConsistencyProof(
      uint64_t old_size, uint64_t new_size) const = 0;

  // The inclusion proofs of the entries at `indexes` into the tree of
  // `tree_size`, in the same order; the nodes proofs share (those of nearby
  // entries share most) are read once. A store may override it to read
  // them once; this one asks for each proof in turn.
  virtual absl::StatusOr<std::vector<std::vector<Sha256Digest>>> InclusionProofs(
      const std::vector<uint64_t>& indexes, uint64_t tree_size) const {
    std::vector<std::vector<Sha256Digest>> proofs;
    proofs.reserve(indexes.size());
    for (uint64_t index : indexes) {
      absl::StatusOr<std::vector<Sha256Digest>> proof = InclusionProof(index, tree_size);
      if (!proof.ok()) return proof.status();
      proofs.push_back(*std::move(proof));
    }
    return proofs;
  }

  // A hint that the state keys `keys` are about to be read: a store whose
  // reads are round trips may fetch them together now. What the reads
  // return is the same whatever it does; this one does nothing.
  virtual void Prefetch(absl::Span<const std::string> keys) const {}
  // Whether Prefetch does anything: a caller whose keys cost work to name
  // skips it when it does not.
  virtual bool Prefetches() const { return false; }
};

class Store : public Log {
 public:
  // Appends `entries` (possibly none) and applies `state` in one atomic,
  // durable write, and records that the state reflects the new log size.
  // Returns the index of the first entry. InvalidArgument (nothing written)
  // for an empty commit, entries over the Log limits, or a key or value over
  // kMaxStateKeyBytes / kMaxStateValueBytes. Any other error means the write
  // may or may not have reached the disk: the store is read-only from then on
  // (every later Commit or Append fails) until reopened.
  virtual absl::StatusOr<uint64_t> Commit(absl::Span<const std::string> entries,
                                          const StateWrites& state) = 0;

  // The log size the stored state reflects, as the last Commit recorded it;
  // nullopt for a store whose state was never written (a log written before
  // stores kept state). Below Size() when entries were appended with
  // Log::Append since.
  virtual std::optional<uint64_t> StateAppliedSize() const = 0;

  // For building the state of entries already in the log (a store written
  // before stores kept state): applies `state` and records that the state
  // reflects `applied_size`, in one durable write. InvalidArgument unless
  // StateAppliedSize() (0 when none) <= applied_size <= Size(). Read-only
  // failure as Commit's.
  virtual absl::Status ApplyState(uint64_t applied_size, const StateWrites& state) = 0;

  // For rebuilding the state from the log (its layout changed): deletes every
  // state key and the record of the applied size, leaving the log as it is,
  // in durable steps. The record goes first, so after a crash midway
  // StateAppliedSize() is nullopt and some state keys may remain: call it
  // again. Only while nothing else writes to the store (before a journal
  // runs on it). Snapshots taken before it (in this process or, on a shared
  // database, in a reader's) still read the state as it was. Read-only
  // failure as Commit's.
  virtual absl::Status ClearState() = 0;

  // The latest committed state and log. Never waits for a Commit in progress.
  // A Commit's snapshot is published before the Commit returns: taken after
  // it returns, by the only writer, it holds that commit and no later one
  // (the journal relies on it).
  virtual std::shared_ptr<const Snapshot> GetSnapshot() const = 0;

  // Writes a copy of the store as one Commit left it (the latest snapshot:
  // its log, tree and state) into `directory`, a new store of the same
  // backend that must not exist yet, while commits go on; it is synced
  // before this returns. Returns the log size and root hash of the copy.
  // AlreadyExists for a directory that exists; the directory is removed
  // again when the copy fails midway.
  struct BackupInfo {
    uint64_t size = 0;
    Sha256Digest root;
    uint64_t records = 0;  // what the backend copied (LevelDB: key-value pairs)
  };
  virtual absl::StatusOr<BackupInfo> Backup(const std::string& directory) const = 0;
};

}  // namespace chemledger::storage

#endif  // CHEMLEDGER_STORAGE_STORE_H_
