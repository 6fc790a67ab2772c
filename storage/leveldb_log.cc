#include "storage/leveldb_log.h"

#include <atomic>
#include <deque>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "crypto/merkle.h"
#include "leveldb/cache.h"
#include "leveldb/db.h"
#include "leveldb/filter_policy.h"
#include "leveldb/write_batch.h"
#include "storage/merkle_tree.h"

namespace chemledger::storage {
namespace {

constexpr char kFormat[] = "chemledger-log-v1";
constexpr char kFormatKey[] = "mformat";
constexpr char kSizeKey[] = "msize";
constexpr char kEntryPrefix = 'e';
constexpr char kNodePrefix = 'n';

void PutBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

uint64_t GetBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

std::string EntryKey(uint64_t index) {
  std::string key(1, kEntryPrefix);
  PutBigEndian64(&key, index);
  return key;
}

std::string NodeKey(NodeId id) {
  std::string key(1, kNodePrefix);
  key.push_back(static_cast<char>(id.level));
  PutBigEndian64(&key, id.index);
  return key;
}

std::string SizeValue(uint64_t size) {
  std::string v;
  PutBigEndian64(&v, size);
  return v;
}

leveldb::Slice HashSlice(const Sha256Digest& d) {
  return leveldb::Slice(reinterpret_cast<const char*>(d.bytes().data()),
                        Sha256Digest::kSize);
}

std::string Describe(NodeId id) {
  return absl::StrCat("tree node (level ", id.level, ", index ", id.index, ")");
}

absl::Status FromLevelDb(const leveldb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat(what, ": not found"));
  if (s.IsCorruption()) return absl::DataLossError(absl::StrCat(what, ": ", s.ToString()));
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": ", s.ToString(), " (is another process using this log?)"));
  }
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}

class LevelDbLog final : public Log {
 public:
  LevelDbLog(std::unique_ptr<leveldb::DB> db, std::unique_ptr<leveldb::Cache> cache,
             std::unique_ptr<const leveldb::FilterPolicy> filter,
             const LevelDbLogOptions& options, CompactRange range)
      : cache_(std::move(cache)),
        filter_(std::move(filter)),
        db_(std::move(db)),
        options_(options),
        size_(range.size()),
        range_(std::move(range)) {}

  absl::StatusOr<uint64_t> Append(absl::Span<const std::string> entries) override;
  uint64_t Size() const override { return size_.load(std::memory_order_acquire); }
  absl::StatusOr<std::string> Entry(uint64_t index) const override;
  absl::StatusOr<Sha256Digest> LeafHash(uint64_t index) const override;
  absl::StatusOr<Sha256Digest> Root(uint64_t tree_size) const override;
  absl::StatusOr<std::vector<Sha256Digest>> InclusionProof(
      uint64_t index, uint64_t tree_size) const override;
  absl::StatusOr<std::vector<Sha256Digest>> ConsistencyProof(
      uint64_t old_size, uint64_t new_size) const override;
  absl::StatusOr<IntegrityReport> CheckIntegrity() const override;

 private:
  // One caller of Append waiting in the group-commit queue.
  struct Writer {
    explicit Writer(absl::Span<const std::string> e) : entries(e) {}
    absl::Span<const std::string> entries;
    absl::Status status;
    uint64_t first_index = 0;
    bool done = false;
    absl::CondVar cv;
  };

  absl::Status CheckSize(uint64_t tree_size) const;
  absl::StatusOr<Sha256Digest> ReadNode(NodeId id,
                                        const leveldb::Snapshot* snapshot = nullptr) const;
  NodeReader Reader() const {
    return [this](NodeId id) { return ReadNode(id); };
  }

  // Destruction order matters: db_ uses cache_ and filter_.
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::DB> db_;
  const LevelDbLogOptions options_;

  // Readers look only at [0, size_): those entries and nodes never change.
  std::atomic<uint64_t> size_;

  mutable absl::Mutex mu_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  // Right edge of the tree at size_. Written only by the group leader.
  CompactRange range_ ABSL_GUARDED_BY(mu_);
  // Set when a write failed: its outcome on disk is unknown until reopen.
  absl::Status write_error_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<uint64_t> LevelDbLog::Append(absl::Span<const std::string> entries) {
  if (entries.empty()) {
    return absl::InvalidArgumentError("append: no entries given");
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].size() > kMaxEntryBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "append: entry ", i, " is ", entries[i].size(),
          " bytes, more than the limit of ", kMaxEntryBytes));
    }
  }

  Writer self(entries);
  absl::MutexLock lock(&mu_);
  writers_.push_back(&self);
  while (!self.done && writers_.front() != &self) self.cv.Wait(&mu_);
  if (self.done) {
    if (!self.status.ok()) return self.status;
    return self.first_index;
  }

  // This caller leads a group: it takes the writers queued behind it (up to a
  // byte budget) and commits them all in one synced batch.
  std::vector<Writer*> group;
  size_t group_bytes = 0;
  for (Writer* w : writers_) {
    size_t bytes = 0;
    for (const std::string& e : w->entries) bytes += e.size();
    if (!group.empty() && group_bytes + bytes > options_.max_group_bytes) break;
    group.push_back(w);
    group_bytes += bytes;
  }

  absl::Status status = write_error_;
  if (status.ok()) {
    CompactRange next = range_;
    mu_.Unlock();  // Others may queue (not lead) while this one writes.
    leveldb::WriteBatch batch;
    const auto put_node = [&batch](NodeId id, const Sha256Digest& hash) {
      batch.Put(NodeKey(id), HashSlice(hash));
    };
    for (Writer* w : group) {
      w->first_index = next.size();
      for (const std::string& entry : w->entries) {
        batch.Put(EntryKey(next.size()), entry);
        next.Append(crypto::HashLeaf(entry), put_node);
      }
    }
    batch.Put(kSizeKey, SizeValue(next.size()));
    leveldb::WriteOptions sync;
    sync.sync = true;
    status = FromLevelDb(db_->Write(sync, &batch), "append");
    mu_.Lock();
    if (status.ok()) {
      range_ = std::move(next);
      size_.store(range_.size(), std::memory_order_release);
    } else {
      write_error_ = absl::UnavailableError(absl::StrCat(
          "log is read-only after a failed write (reopen to recover): ",
          status.message()));
    }
  }

  for (Writer* w : group) {
    writers_.pop_front();
    w->status = status;
    w->done = true;
    if (w != &self) w->cv.Signal();
  }
  if (!writers_.empty()) writers_.front()->cv.Signal();
  if (!status.ok()) return status;
  return self.first_index;
}

absl::Status LevelDbLog::CheckSize(uint64_t tree_size) const {
  const uint64_t size = Size();
  if (tree_size > size) {
    return absl::OutOfRangeError(
        absl::StrCat("tree size ", tree_size, " is beyond the log size ", size));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> LevelDbLog::Entry(uint64_t index) const {
  const uint64_t size = Size();
  if (index >= size) {
    return absl::OutOfRangeError(
        absl::StrCat("entry index ", index, " is not below the log size ", size));
  }
  std::string value;
  absl::Status s = FromLevelDb(db_->Get(leveldb::ReadOptions(), EntryKey(index), &value),
                               absl::StrCat("entry ", index));
  if (absl::IsNotFound(s)) return absl::DataLossError(s.message());
  if (!s.ok()) return s;
  return value;
}

absl::StatusOr<Sha256Digest> LevelDbLog::ReadNode(NodeId id,
                                                  const leveldb::Snapshot* snapshot) const {
  leveldb::ReadOptions read;
  read.snapshot = snapshot;
  std::string value;
  absl::Status s = FromLevelDb(db_->Get(read, NodeKey(id), &value), Describe(id));
  // A node the size says exists but is gone is damage, not a bad request.
  if (absl::IsNotFound(s)) return absl::DataLossError(s.message());
  if (!s.ok()) return s;
  absl::StatusOr<Sha256Digest> hash = Sha256Digest::FromBytes(value);
  if (!hash.ok()) {
    return absl::DataLossError(absl::StrCat(Describe(id), " is ", value.size(),
                                            " bytes, not 32"));
  }
  return hash;
}

absl::StatusOr<Sha256Digest> LevelDbLog::LeafHash(uint64_t index) const {
  const uint64_t size = Size();
  if (index >= size) {
    return absl::OutOfRangeError(
        absl::StrCat("entry index ", index, " is not below the log size ", size));
  }
  return ReadNode(NodeId{0, index});
}

absl::StatusOr<Sha256Digest> LevelDbLog::Root(uint64_t tree_size) const {
  if (absl::Status s = CheckSize(tree_size); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    if (range_.size() == tree_size) return range_.Root();
  }
  return RootAt(tree_size, Reader());
}

absl::StatusOr<std::vector<Sha256Digest>> LevelDbLog::InclusionProof(
    uint64_t index, uint64_t tree_size) const {
  if (absl::Status s = CheckSize(tree_size); !s.ok()) return s;
  return InclusionProofAt(index, tree_size, Reader());
}

absl::StatusOr<std::vector<Sha256Digest>> LevelDbLog::ConsistencyProof(
    uint64_t old_size, uint64_t new_size) const {
  if (absl::Status s = CheckSize(new_size); !s.ok()) return s;
  return ConsistencyProofAt(old_size, new_size, Reader());
}

absl::StatusOr<IntegrityReport> LevelDbLog::CheckIntegrity() const {
  // A snapshot pins one consistent state even while appends go on.
  const leveldb::Snapshot* snapshot = db_->GetSnapshot();
  struct Release {
    leveldb::DB* db;
    const leveldb::Snapshot* s;
    ~Release() { db->ReleaseSnapshot(s); }
  } release{db_.get(), snapshot};
  leveldb::ReadOptions read;
  read.snapshot = snapshot;
  read.fill_cache = false;
  read.verify_checksums = true;

  std::string size_value;
  absl::Status s = FromLevelDb(db_->Get(read, kSizeKey, &size_value), "log size record");
  if (!s.ok()) return absl::DataLossError(s.message());
  if (size_value.size() != 8) {
    return absl::DataLossError("log size record is not 8 bytes");
  }
  IntegrityReport report;
  report.tree_size = GetBigEndian64(size_value.data());

  // 1. Every entry in [0, size), none beyond; every node re-derived from them.
  CompactRange range;
  absl::Status mismatch;
  const auto check_node = [&](NodeId id, const Sha256Digest& derived) {
    if (!mismatch.ok()) return;
    absl::StatusOr<Sha256Digest> stored = ReadNode(id, snapshot);
    ++report.nodes_checked;
    if (!stored.ok()) {
      mismatch = absl::DataLossError(absl::StrCat(
          "integrity: ", stored.status().message()));
    } else if (*stored != derived) {
      mismatch = absl::DataLossError(absl::StrCat(
          "integrity: ", Describe(id), " is ", stored->ToHex(),
          " but the entries give ", derived.ToHex(),
          id.level == 0 ? " (the entry or its leaf hash was altered)" : ""));
    }
  };
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(read));
  const std::string entry_start(1, kEntryPrefix);
  for (it->Seek(entry_start); it->Valid() && it->key()[0] == kEntryPrefix; it->Next()) {
    const leveldb::Slice key = it->key();
    if (key.size() != 9) {
      return absl::DataLossError(absl::StrCat(
          "integrity: malformed entry key of ", key.size(), " bytes"));
    }
    const uint64_t index = GetBigEndian64(key.data() + 1);
    if (index != range.size()) {
      return absl::DataLossError(absl::StrCat(
          "integrity: entry ", range.size(), " is missing (next stored entry is ",
          index, ")"));
    }
    if (index >= report.tree_size) {
      return absl::DataLossError(absl::StrCat(
          "integrity: entry ", index, " is stored beyond the log size ",
          report.tree_size));
    }
    const leveldb::Slice value = it->value();
    range.Append(crypto::HashLeaf(absl::string_view(value.data(), value.size())),
                 check_node);
    if (!mismatch.ok()) {
      return absl::DataLossError(absl::StrCat(mismatch.message(), " at entry ", index));
    }
    ++report.entries_checked;
  }
  if (!it->status().ok()) return FromLevelDb(it->status(), "integrity: reading entries");
  if (range.size() != report.tree_size) {
    return absl::DataLossError(absl::StrCat(
        "integrity: log size is ", report.tree_size, " but only ", range.size(),
        " entries are stored"));
  }

  // 2. No stored node outside the tree of this size.
  uint64_t nodes_stored = 0;
  const std::string node_start(1, kNodePrefix);
  for (it->Seek(node_start); it->Valid() && it->key()[0] == kNodePrefix; it->Next()) {
    const leveldb::Slice key = it->key();
    if (key.size() != 10) {
      return absl::DataLossError(absl::StrCat(
          "integrity: malformed node key of ", key.size(), " bytes"));
    }
    const NodeId id{static_cast<uint8_t>(key[1]), GetBigEndian64(key.data() + 2)};
    if (id.level >= 64 || id.index >= (report.tree_size >> id.level)) {
      return absl::DataLossError(absl::StrCat(
          "integrity: ", Describe(id), " is stored but is not part of the tree of size ",
          report.tree_size));
    }
    ++nodes_stored;
  }
  if (!it->status().ok()) return FromLevelDb(it->status(), "integrity: reading nodes");
  if (nodes_stored != StoredNodeCount(report.tree_size)) {
    return absl::DataLossError(absl::StrCat(
        "integrity: ", nodes_stored, " tree nodes stored, the tree of size ",
        report.tree_size, " has ", StoredNodeCount(report.tree_size)));
  }
  report.root = range.Root();
  return report;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Log>> OpenLevelDbLog(const std::string& directory,
                                                     const LevelDbLogOptions& options) {
  auto cache = std::unique_ptr<leveldb::Cache>(
      leveldb::NewLRUCache(options.block_cache_bytes));
  auto filter = std::unique_ptr<const leveldb::FilterPolicy>(
      leveldb::NewBloomFilterPolicy(10));
  leveldb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.paranoid_checks = true;
  db_options.block_cache = cache.get();
  db_options.filter_policy = filter.get();
  db_options.write_buffer_size = 32 << 20;
  db_options.max_file_size = 32 << 20;

  leveldb::DB* raw = nullptr;
  leveldb::Status opened = leveldb::DB::Open(db_options, directory, &raw);
  if (!opened.ok()) {
    if (opened.IsInvalidArgument() && !options.create_if_missing) {
      return absl::NotFoundError(absl::StrCat("no log in ", directory));
    }
    return FromLevelDb(opened, absl::StrCat("open log ", directory));
  }
  std::unique_ptr<leveldb::DB> db(raw);

  std::string format;
  leveldb::Status got = db->Get(leveldb::ReadOptions(), kFormatKey, &format);
  if (got.IsNotFound()) {
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
    it->SeekToFirst();
    if (it->Valid()) {
      return absl::FailedPreconditionError(
          absl::StrCat(directory, " holds a LevelDB database that is not a ChemLedger log"));
    }
    leveldb::WriteBatch init;
    init.Put(kFormatKey, kFormat);
    init.Put(kSizeKey, SizeValue(0));
    leveldb::WriteOptions sync;
    sync.sync = true;
    absl::Status s = FromLevelDb(db->Write(sync, &init), "create log");
    if (!s.ok()) return s;
    format = kFormat;
  } else if (!got.ok()) {
    return FromLevelDb(got, "read log format");
  }
  if (format != kFormat) {
    return absl::FailedPreconditionError(absl::StrCat(
        directory, " holds log format '", format, "', this build reads '", kFormat, "'"));
  }

  std::string size_value;
  absl::Status s = FromLevelDb(db->Get(leveldb::ReadOptions(), kSizeKey, &size_value),
                               "read log size");
  if (!s.ok()) return absl::DataLossError(s.message());
  if (size_value.size() != 8) return absl::DataLossError("log size record is not 8 bytes");
  const uint64_t size = GetBigEndian64(size_value.data());

  leveldb::DB* db_ptr = db.get();
  absl::StatusOr<CompactRange> range =
      CompactRange::Load(size, [db_ptr](NodeId id) -> absl::StatusOr<Sha256Digest> {
        std::string value;
        leveldb::Status st = db_ptr->Get(leveldb::ReadOptions(), NodeKey(id), &value);
        if (!st.ok()) return FromLevelDb(st, Describe(id));
        return Sha256Digest::FromBytes(value);
      });
  if (!range.ok()) return range.status();
  return std::unique_ptr<Log>(new LevelDbLog(std::move(db), std::move(cache),
                                             std::move(filter), options,
                                             *std::move(range)));
}

}  // namespace chemledger::storage
