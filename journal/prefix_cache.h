// Internal to the journal: the state of a few hot key prefixes (those the
// state machines name in CachedPrefixes(): records nearly every entry reads
// and few write, such as the registry's actors and enterprises), kept in
// memory in front of the committed snapshot for the sequencer.
//
// Why it is coherent: the journal is the store's only writer, and the
// sequencer puts every checked batch's writes under those prefixes here
// before it checks the next batch. A value here newer than the snapshot the
// sequencer reads from was written by a batch not yet committed, and such
// batches are layers above this cache (LayeredReader reads them first), so
// the cache is read, and filled on a miss, only through a LayeredReader
// over every batch not yet committed: a miss filled from the snapshot
// beneath a batch that wrote the key would outlive that batch's commit.
// After a failed commit the journal writes nothing more, so a value of a
// batch that never reached the disk is never used. It is emptied whenever it
// holds its most keys (JournalOptions::cached_prefix_keys).
//
// It also keeps the leaf hashes of the latest entries (the chain link of a
// package's next event names its previous event's, mostly a recent one), in
// a ring of JournalOptions::cached_leaf_hashes slots by index: an index's
// leaf hash never changes once the sequencer has given the index out, so
// any hash held here stays true.
//
// BatchSnapshotReader, the sequencer's reader of the committed snapshot for
// one batch, reads through this cache and keeps the other keys it read for
// the batch's length.
//
// Thread-safety: used by the sequencer thread only, except counts(), which
// any thread may read (for the metrics).

#ifndef CHEMLEDGER_JOURNAL_PREFIX_CACHE_H_
#define CHEMLEDGER_JOURNAL_PREFIX_CACHE_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "crypto/sha256.h"
#include "journal/layered_reader.h"
#include "storage/store.h"

namespace chemledger::journal {

class PrefixCache {
 public:
  PrefixCache(std::vector<std::string> prefixes, size_t max_keys, size_t leaf_hash_slots)
      : prefixes_(std::move(prefixes)),
        max_keys_(std::max<size_t>(max_keys, 1)),
        leaf_hashes_(leaf_hash_slots) {}

  bool Covers(absl::string_view key) const {
    for (const std::string& p : prefixes_) {
      if (absl::StartsWith(key, p)) return true;
    }
    return false;
  }

  // The cached value of a covered key; null (a miss, counted) when it is
  // not cached.
  const std::optional<std::string>* Find(absl::string_view key) {
    auto it = values_.find(key);
    if (it == values_.end()) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    hits_.fetch_add(1, std::memory_order_relaxed);
    return &it->second;
  }

  // Lookups of covered keys so far: {hits, misses}.
  std::pair<uint64_t, uint64_t> counts() const {
    return {hits_.load(std::memory_order_relaxed), misses_.load(std::memory_order_relaxed)};
  }

  void Put(absl::string_view key, const std::optional<std::string>& value) {
    if (values_.size() >= max_keys_) values_.clear();
    values_.insert_or_assign(std::string(key), value);
  }

  // A checked batch: its covered writes replace what is cached, and its
  // entries' leaf hashes are kept.
  void Update(const Layer& batch) {
    for (size_t i = 0; i < batch.leaf_hashes.size(); ++i) {
      PutLeafHash(batch.first_index + i, batch.leaf_hashes[i]);
    }
    if (prefixes_.empty()) return;
    for (const auto& [key, value] : batch.writes.writes()) {
      if (Covers(key)) Put(key, value);
    }
  }

  // The leaf hash of entry `index` if it is kept; null if not.
  const crypto::Sha256Digest* FindLeafHash(uint64_t index) const {
    if (leaf_hashes_.empty()) return nullptr;
    const LeafHashSlot& slot = leaf_hashes_[index % leaf_hashes_.size()];
    return slot.index_plus_one == index + 1 ? &slot.hash : nullptr;
  }

  void PutLeafHash(uint64_t index, const crypto::Sha256Digest& hash) {
    if (leaf_hashes_.empty()) return;
    leaf_hashes_[index % leaf_hashes_.size()] = LeafHashSlot{index + 1, hash};
  }

 private:
  struct LeafHashSlot {
    uint64_t index_plus_one = 0;  // 0: empty
    crypto::Sha256Digest hash;
  };

  const std::vector<std::string> prefixes_;
  const size_t max_keys_;
  absl::flat_hash_map<std::string, std::optional<std::string>> values_;
  std::vector<LeafHashSlot> leaf_hashes_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

// The sequencer's reader of the committed snapshot while it checks one
// batch: covered keys come from `cache` (read and cached on a miss); any
// other key is read from the snapshot once and kept for the reader's
// lifetime, up to kMaxBatchKeys keys. That is coherent because the snapshot
// never changes, and the batch's own writes and those of the batches not yet
// committed are layers a LayeredReader reads first. It pays because one
// entry's rules read some records more than once (a waybill's codes, by the
// listing and by the quantity check) and the entries of a batch share
// others (an enterprise's sites).
class BatchSnapshotReader final : public storage::StateReader {
 public:
  // The most keys, and bytes of keys and values, outside the cache's
  // prefixes kept for one batch; beyond either, what is kept is let go and
  // reading starts again.
  static constexpr size_t kMaxBatchKeys = 16384;
  static constexpr size_t kMaxBatchBytes = 64 << 20;

  BatchSnapshotReader(const storage::Snapshot* snapshot, PrefixCache* cache)
      : snapshot_(snapshot), cache_(cache) {}

  uint64_t size() const override { return snapshot_->size(); }
  absl::StatusOr<std::string> Entry(uint64_t index) const override {
    return snapshot_->Entry(index);
  }
  absl::StatusOr<crypto::Sha256Digest> LeafHash(uint64_t index) const override {
    if (const crypto::Sha256Digest* cached = cache_->FindLeafHash(index)) return *cached;
    absl::StatusOr<crypto::Sha256Digest> hash = snapshot_->LeafHash(index);
    if (hash.ok()) cache_->PutLeafHash(index, *hash);
    return hash;
  }
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const override {
    if (!cache_->Covers(key)) {
      if (auto it = read_.find(key); it != read_.end()) return it->second;
      absl::StatusOr<std::optional<std::string>> value = snapshot_->Get(key);
      if (value.ok()) {
        const size_t bytes = key.size() + (*value ? (*value)->size() : 0);
        if (read_.size() >= kMaxBatchKeys || read_bytes_ + bytes > kMaxBatchBytes) {
          read_.clear();
          read_bytes_ = 0;
        }
        read_.emplace(key, *value);
        read_bytes_ += bytes;
      }
      return value;
    }
    if (const std::optional<std::string>* cached = cache_->Find(key)) return *cached;
    absl::StatusOr<std::optional<std::string>> value = snapshot_->Get(key);
    if (value.ok()) cache_->Put(key, *value);
    return value;
  }
  absl::Status Scan(absl::string_view begin, absl::string_view end,
                    const storage::ScanVisitor& visit) const override {
    return snapshot_->Scan(begin, end, visit);
  }

 private:
  const storage::Snapshot* const snapshot_;
  PrefixCache* const cache_;
  mutable absl::flat_hash_map<std::string, std::optional<std::string>> read_;
  mutable size_t read_bytes_ = 0;
};

}  // namespace chemledger::journal

#endif  // CHEMLEDGER_JOURNAL_PREFIX_CACHE_H_
