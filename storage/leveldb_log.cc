#include "storage/leveldb_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/numeric/bits.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crypto/merkle.h"
#include "leveldb/cache.h"
#include "leveldb/db.h"
#include "leveldb/env.h"
#include "leveldb/filter_policy.h"
#include "leveldb/write_batch.h"
#include "storage/durable_file.h"
#include "storage/merkle_tree.h"

namespace chemledger::storage {
namespace {

constexpr char kFormat[] = "chemledger-log-v1";
// How much less CPU LevelDB's compaction gets than the threads answering calls.
constexpr int kBackgroundNice = 10;
// Sorts before every entry key ('#' < 'e'). A key after them would make the
// LevelDB file holding it span every later entry key, so that every new file
// overlapped it and had to be merged with it instead of simply moved down.
constexpr char kFormatKey[] = "#format";
constexpr char kEntryPrefix = 'e';
// The log size the state reflects (8 bytes, big-endian); written by every
// Commit. Absent in a store whose state was never written. It sorts after
// every entry key ('f' > 'e'): a key rewritten by every commit sits in every
// freshly written LevelDB file, and before the entries it would make each
// new file overlap every file of old entries, which compaction would then
// rewrite again and again.
constexpr char kStateAppliedKey[] = "f#state-applied";
// State keys: 's' followed by the state machine's own key.
constexpr char kStatePrefix = 's';
constexpr size_t kHashSize = Sha256Digest::kSize;

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

// Hashes stored with entry `index`: its leaf hash, then one per tree node the
// entry completes (node (L, index >> L) for each trailing one bit of index).
int HashesStoredWith(uint64_t index) { return 1 + absl::countr_one(index); }

// The entry whose record stores node `id`: the last leaf under it.
uint64_t RecordHolding(NodeId id) { return ((id.index + 1) << id.level) - 1; }

std::string Describe(NodeId id) {
  return absl::StrCat("tree node (level ", id.level, ", index ", id.index, ")");
}

// A parsed entry record (see leveldb_log.h).
struct Record {
  int hash_count = 0;
  absl::string_view hashes;  // hash_count * 32 bytes
  absl::string_view entry;

  Sha256Digest Hash(int level) const {
    return *Sha256Digest::FromBytes(hashes.substr(level * kHashSize, kHashSize));
  }
};

absl::StatusOr<Record> ParseRecord(uint64_t index, absl::string_view value) {
  Record r;
  r.hash_count = HashesStoredWith(index);
  const size_t header = 1 + r.hash_count * kHashSize;
  if (value.empty() || static_cast<uint8_t>(value[0]) != r.hash_count ||
      value.size() < header) {
    return absl::DataLossError(absl::StrCat(
        "record of entry ", index, " is malformed (", value.size(),
        " bytes; it must start with ", r.hash_count, " hashes)"));
  }
  r.hashes = value.substr(1, header - 1);
  r.entry = value.substr(header);
  return r;
}

absl::Status FromLevelDb(const leveldb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat(what, ": not found"));
  if (s.IsCorruption()) return absl::DataLossError(absl::StrCat(what, ": ", s.ToString()));
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}

// Reads node `id` from `db` (optionally at `snapshot`). A node the size says
// exists but that is not there is damage: DataLoss.
absl::StatusOr<Sha256Digest> ReadNodeFrom(leveldb::DB* db, NodeId id,
                                          const leveldb::Snapshot* snapshot = nullptr) {
  const uint64_t holder = RecordHolding(id);
  leveldb::ReadOptions read;
  read.snapshot = snapshot;
  std::string value;
  absl::Status s = FromLevelDb(db->Get(read, EntryKey(holder), &value),
                               absl::StrCat(Describe(id), " (stored with entry ", holder, ")"));
  if (absl::IsNotFound(s)) return absl::DataLossError(s.message());
  if (!s.ok()) return s;
  absl::StatusOr<Record> record = ParseRecord(holder, value);
  if (!record.ok()) return record.status();
  return record->Hash(id.level);
}

// Reads the bytes of entry `index` from `db` (optionally at `snapshot`). An
// entry the size says exists but that is not there is damage: DataLoss.
absl::StatusOr<std::string> ReadEntryFrom(leveldb::DB* db, uint64_t index,
                                          const leveldb::Snapshot* snapshot = nullptr) {
  leveldb::ReadOptions read;
  read.snapshot = snapshot;
  std::string value;
  absl::Status s =
      FromLevelDb(db->Get(read, EntryKey(index), &value), absl::StrCat("entry ", index));
  if (absl::IsNotFound(s)) return absl::DataLossError(s.message());
  if (!s.ok()) return s;
  absl::StatusOr<Record> record = ParseRecord(index, value);
  if (!record.ok()) return record.status();
  return std::string(record->entry);
}

// The log's size: one past the last entry's index. There is no size record:
// a key rewritten by every append would sit in every LevelDB file and make
// them all overlap, turning LevelDB's cheap moves of sequential files into
// full compactions. An append's batch is atomic, so its last entry is there
// exactly when all of it is.
absl::StatusOr<uint64_t> StoredSize(leveldb::DB* db) {
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  it->Seek(std::string(1, kEntryPrefix + 1));
  if (it->Valid()) {
    it->Prev();
  } else {
    it->SeekToLast();
  }
  if (!it->status().ok()) return FromLevelDb(it->status(), "find the last entry");
  if (!it->Valid() || it->key().size() == 0 || it->key()[0] != kEntryPrefix) return 0;
  if (it->key().size() != 9) {
    return absl::DataLossError("the last entry's key is malformed");
  }
  return GetBigEndian64(it->key().data() + 1) + 1;
}

// Builds the records of `entries`, which become entries range->size(),
// range->size() + 1, ..., into `batch`, and advances `range` over them.
//
// The work is split into chunks of kChunk entries aligned to multiples of
// kChunk in the log. A chunk is hashed on its own (leaf hashes and every node
// inside it, with HashRun) by whichever thread claims it: this one, or for a
// large group a helper thread as well. This thread then takes the chunks in
// log order and adds the few nodes that span chunks (AppendSubtree), which
// completes the records still waiting for them.
void BuildRecords(const std::vector<const std::string*>& entries, CompactRange* range,
                  leveldb::WriteBatch* batch) {
  constexpr uint64_t kChunk = 64;
  constexpr size_t kParallelFromChunks = 4;
  struct Chunk {
    uint64_t begin = 0;  // log index of its first entry
    size_t offset = 0;   // position of its first entry in `entries`
    size_t count = 0;
    leveldb::WriteBatch records;  // the chunk's complete records
    // Records still missing nodes that span chunks: (entry index, record so far).
    std::vector<std::pair<uint64_t, std::string>> pending;
    std::vector<std::pair<uint8_t, Sha256Digest>> subtrees;
    std::atomic<bool> ready{false};
  };
  const uint64_t first = range->size();
  std::vector<Chunk> chunks;
  {
    size_t chunk_count = 0;
    for (uint64_t b = first; b < first + entries.size(); b = (b / kChunk + 1) * kChunk) {
      ++chunk_count;
    }
    chunks = std::vector<Chunk>(chunk_count);
    uint64_t b = first;
    for (Chunk& c : chunks) {
      const uint64_t e = std::min<uint64_t>(first + entries.size(), (b / kChunk + 1) * kChunk);
      c.begin = b;
      c.offset = b - first;
      c.count = e - b;
      b = e;
    }
  }

  const auto hash_chunk = [&entries](Chunk& c) {
    std::vector<Sha256Digest> leaves(c.count);
    for (size_t i = 0; i < c.count; ++i) leaves[i] = crypto::HashLeaf(*entries[c.offset + i]);
    std::string record;
    uint64_t holder = 0;
    const auto finish = [&] {
      const size_t have = (record.size() - 1) / kHashSize;
      if (have == static_cast<size_t>(HashesStoredWith(holder))) {
        record.append(*entries[c.offset + (holder - c.begin)]);
        c.records.Put(EntryKey(holder), record);
      } else {
        c.pending.emplace_back(holder, record);
      }
    };
    c.subtrees = HashRun(c.begin, leaves, [&](NodeId id, const Sha256Digest& hash) {
      if (id.level == 0) {
        if (id.index != c.begin) finish();
        holder = id.index;
        record.assign(1, static_cast<char>(HashesStoredWith(holder)));
      }
      record.append(reinterpret_cast<const char*>(hash.bytes().data()), kHashSize);
    });
    if (c.count > 0) finish();
    c.ready.store(true, std::memory_order_release);
  };
  std::atomic<size_t> next_chunk{0};
  const auto hash_next_chunk = [&]() -> bool {
    const size_t i = next_chunk.fetch_add(1, std::memory_order_relaxed);
    if (i >= chunks.size()) return false;
    hash_chunk(chunks[i]);
    return true;
  };
  std::thread helper;
  if (chunks.size() >= kParallelFromChunks) {
    try {
      helper = std::thread([&] {
        while (hash_next_chunk()) {
        }
      });
    } catch (const std::system_error&) {
      // No thread to be had: this thread hashes every chunk below.
    }
  }
  for (Chunk& c : chunks) {
    while (!c.ready.load(std::memory_order_acquire)) {
      if (!hash_next_chunk()) std::this_thread::yield();  // the helper has it
    }
    for (const auto& [level, hash] : c.subtrees) {
      range->AppendSubtree(level, hash, [&c](NodeId id, const Sha256Digest& node) {
        const uint64_t holder = RecordHolding(id);
        for (auto& [index, record] : c.pending) {
          if (index == holder) {
            record.append(reinterpret_cast<const char*>(node.bytes().data()), kHashSize);
            return;
          }
        }
      });
    }
    for (auto& [index, record] : c.pending) {
      record.append(*entries[c.offset + (index - c.begin)]);
      batch->Put(EntryKey(index), record);
    }
    batch->Append(c.records);
  }
  if (helper.joinable()) helper.join();
}

std::string StateKey(absl::string_view key) {
  std::string k(1, kStatePrefix);
  k.append(key.data(), key.size());
  return k;
}

// The log and state at one LevelDB snapshot (storage/store.h).
class LevelDbSnapshot final : public Snapshot {
 public:
  LevelDbSnapshot(leveldb::DB* db, uint64_t size, const Sha256Digest& root)
      : db_(db), snapshot_(db->GetSnapshot()), size_(size), root_(root) {}
  ~LevelDbSnapshot() override { db_->ReleaseSnapshot(snapshot_); }

  uint64_t size() const override { return size_; }
  const Sha256Digest& root() const override { return root_; }

  // Every record of the database at this snapshot, into a new database in
  // `directory` (Store::Backup).
  absl::StatusOr<uint64_t> CopyTo(const std::string& directory) const {
    leveldb::Options options;
    options.create_if_missing = true;
    options.error_if_exists = true;
    leveldb::DB* raw = nullptr;
    if (absl::Status s = FromLevelDb(leveldb::DB::Open(options, directory, &raw), "backup store");
        !s.ok()) {
      return s;
    }
    std::unique_ptr<leveldb::DB> copy(raw);
    leveldb::ReadOptions read = Read();
    read.fill_cache = false;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(read));
    leveldb::WriteBatch batch;
    uint64_t records = 0;
    // Every batch synced: LevelDB closes a full log file without a sync of
    // its own, and may skip flushing its memtable when closed.
    leveldb::WriteOptions write;
    write.sync = true;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      batch.Put(it->key(), it->value());
      ++records;
      if (batch.ApproximateSize() >= (4 << 20)) {
        if (absl::Status s = FromLevelDb(copy->Write(write, &batch), "backup write"); !s.ok()) {
          return s;
        }
        batch.Clear();
      }
    }
    if (absl::Status s = FromLevelDb(it->status(), "backup read"); !s.ok()) return s;
    if (absl::Status s = FromLevelDb(copy->Write(write, &batch), "backup write"); !s.ok()) {
      return s;
    }
    copy.reset();
    // The files LevelDB made, and their names, durable.
    if (absl::Status s = SyncTreeDurably(directory); !s.ok()) return s;
    return records;
  }

  absl::StatusOr<std::string> Entry(uint64_t index) const override {
    if (index >= size_) {
      return absl::OutOfRangeError(
          absl::StrCat("entry index ", index, " is not below the snapshot's log size ", size_));
    }
    return ReadEntryFrom(db_, index, snapshot_);
  }
  absl::StatusOr<Sha256Digest> LeafHash(uint64_t index) const override {
    if (index >= size_) {
      return absl::OutOfRangeError(
          absl::StrCat("entry index ", index, " is not below the snapshot's log size ", size_));
    }
    return ReadNodeFrom(db_, NodeId{0, index}, snapshot_);
  }
  absl::StatusOr<Sha256Digest> Root(uint64_t tree_size) const override {
    if (absl::Status s = CheckSize(tree_size); !s.ok()) return s;
    if (tree_size == size_) return root_;
    return RootAt(tree_size, Reader());
  }
  absl::StatusOr<std::vector<Sha256Digest>> InclusionProof(
      uint64_t index, uint64_t tree_size) const override {
    if (absl::Status s = CheckSize(tree_size); !s.ok()) return s;
    return InclusionProofAt(index, tree_size, Reader());
  }
  absl::StatusOr<std::vector<std::vector<Sha256Digest>>> InclusionProofs(
      const std::vector<uint64_t>& indexes, uint64_t tree_size) const override {
    if (absl::Status s = CheckSize(tree_size); !s.ok()) return s;
    return InclusionProofsAt(indexes, tree_size, Reader());
  }
  absl::StatusOr<std::vector<Sha256Digest>> ConsistencyProof(
      uint64_t old_size, uint64_t new_size) const override {
    if (absl::Status s = CheckSize(new_size); !s.ok()) return s;
    return ConsistencyProofAt(old_size, new_size, Reader());
  }

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const override {
    std::string value;
    leveldb::Status s = db_->Get(Read(), StateKey(key), &value);
    if (s.IsNotFound()) return std::nullopt;
    if (absl::Status st = FromLevelDb(s, "state read"); !st.ok()) return st;
    return value;
  }
  absl::Status Scan(absl::string_view begin, absl::string_view end,
                    const ScanVisitor& visit) const override {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(Read()));
    const std::string limit = end.empty() ? std::string(1, kStatePrefix + 1) : StateKey(end);
    for (it->Seek(StateKey(begin)); it->Valid(); it->Next()) {
      if (it->key().compare(limit) >= 0) break;
      const leveldb::Slice k = it->key();
      if (!visit(absl::string_view(k.data() + 1, k.size() - 1),
                 absl::string_view(it->value().data(), it->value().size()))) {
        break;
      }
    }
    return FromLevelDb(it->status(), "state scan");
  }

 private:
  leveldb::ReadOptions Read() const {
    leveldb::ReadOptions read;
    read.snapshot = snapshot_;
    return read;
  }
  NodeReader Reader() const {
    return [db = db_, s = snapshot_](NodeId id) { return ReadNodeFrom(db, id, s); };
  }
  absl::Status CheckSize(uint64_t tree_size) const {
    if (tree_size > size_) {
      return absl::OutOfRangeError(absl::StrCat("tree size ", tree_size,
                                                " is beyond the snapshot's log size ", size_));
    }
    return absl::OkStatus();
  }

  leveldb::DB* const db_;
  const leveldb::Snapshot* const snapshot_;
  const uint64_t size_;
  const Sha256Digest root_;
};

// Reads table files with pread(2) instead of LevelDB's default mmap(2). A
// mapped file's pages that LevelDB touched count as the process's resident
// memory, which then grows with the store (hundreds of MB at a few million
// entries) though it is only the page cache; read with pread, the same pages
// stay in the kernel's page cache and the process's memory is its own.
//
// It also runs LevelDB's background work (compaction) at a lower priority
// than the threads that answer calls: reads then take the CPU first.
class PreadEnv final : public leveldb::EnvWrapper {
 public:
  explicit PreadEnv(leveldb::Env* target) : EnvWrapper(target) {}

  void Schedule(void (*function)(void*), void* arg) override {
    struct Work {
      void (*function)(void*);
      void* arg;
    };
    target()->Schedule(
        +[](void* w) {
          thread_local bool lowered = false;
          if (!lowered) {
            setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kBackgroundNice);
            lowered = true;
          }
          std::unique_ptr<Work> work(static_cast<Work*>(w));
          work->function(work->arg);
        },
        new Work{function, arg});
  }

  leveldb::Status NewRandomAccessFile(const std::string& fname,
                                      leveldb::RandomAccessFile** result) override {
    const int fd = ::open(fname.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      *result = nullptr;
      return errno == ENOENT ? leveldb::Status::NotFound(fname, std::strerror(errno))
                             : leveldb::Status::IOError(fname, std::strerror(errno));
    }
    *result = new File(fname, fd);
    return leveldb::Status::OK();
  }

 private:
  class File final : public leveldb::RandomAccessFile {
   public:
    File(std::string name, int fd) : name_(std::move(name)), fd_(fd) {}
    ~File() override { ::close(fd_); }
    leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice* result,
                         char* scratch) const override {
      size_t done = 0;
      while (done < n) {
        const ssize_t r = ::pread(fd_, scratch + done, n - done, static_cast<off_t>(offset + done));
        if (r < 0) {
          if (errno == EINTR) continue;
          *result = leveldb::Slice(scratch, 0);
          return leveldb::Status::IOError(name_, std::strerror(errno));
        }
        if (r == 0) break;
        done += static_cast<size_t>(r);
      }
      *result = leveldb::Slice(scratch, done);
      return leveldb::Status::OK();
    }

   private:
    const std::string name_;
    const int fd_;
  };
};

class LevelDbStore final : public Store {
 public:
  LevelDbStore(std::unique_ptr<PreadEnv> env, std::unique_ptr<leveldb::DB> db,
               std::unique_ptr<leveldb::Cache> cache,
               std::unique_ptr<const leveldb::FilterPolicy> filter,
               const LevelDbLogOptions& options, CompactRange range,
               std::optional<uint64_t> applied)
      : env_(std::move(env)),
        cache_(std::move(cache)),
        filter_(std::move(filter)),
        db_(std::move(db)),
        options_(options),
        size_(range.size()),
        range_(std::move(range)),
        applied_(applied) {
    published_ = std::make_shared<LevelDbSnapshot>(db_.get(), range_.size(), range_.Root());
  }
  ~LevelDbStore() override {
    // Snapshots must not outlive the store; the published one goes first.
    published_.reset();
  }

  absl::StatusOr<uint64_t> Append(absl::Span<const std::string> entries) override;
  absl::StatusOr<uint64_t> Commit(absl::Span<const std::string> entries,
                                  const StateWrites& state) override;
  std::optional<uint64_t> StateAppliedSize() const override {
    absl::MutexLock lock(&mu_);
    return applied_;
  }
  absl::Status ApplyState(uint64_t applied_size, const StateWrites& state) override;
  absl::Status ClearState() override;
  std::shared_ptr<const Snapshot> GetSnapshot() const override {
    absl::MutexLock lock(&publish_mu_);
    return published_;
  }
  absl::StatusOr<BackupInfo> Backup(const std::string& directory) const override {
    std::error_code ec;
    if (std::filesystem::exists(directory, ec)) {
      return absl::AlreadyExistsError(
          absl::StrCat("backup: ", directory, " exists; name a new directory"));
    }
    std::shared_ptr<const Snapshot> snapshot = GetSnapshot();
    absl::StatusOr<uint64_t> records =
        static_cast<const LevelDbSnapshot&>(*snapshot).CopyTo(directory);
    if (!records.ok()) {
      std::filesystem::remove_all(directory, ec);
      return records.status();
    }
    return BackupInfo{snapshot->size(), snapshot->root(), *records};
  }
  uint64_t Size() const override { return size_.load(std::memory_order_acquire); }
  absl::StatusOr<std::string> Entry(uint64_t index) const override;
  absl::StatusOr<Sha256Digest> LeafHash(uint64_t index) const override;
  absl::StatusOr<Sha256Digest> Root(uint64_t tree_size) const override;
  absl::StatusOr<std::vector<Sha256Digest>> InclusionProof(
      uint64_t index, uint64_t tree_size) const override;
  absl::StatusOr<std::vector<Sha256Digest>> ConsistencyProof(
      uint64_t old_size, uint64_t new_size) const override;
  absl::StatusOr<IntegrityReport> CheckIntegrity(
      const absl::optional<TreeHead>& trusted) const override;

 private:
  // One caller of Append, Commit or ApplyState waiting in the group-commit
  // queue. A writer with state (Commit, ApplyState) is written alone.
  struct Writer {
    explicit Writer(absl::Span<const std::string> e) : entries(e) {}
    absl::Span<const std::string> entries;
    const StateWrites* state = nullptr;        // Commit and ApplyState
    std::optional<uint64_t> applied_size;      // ApplyState: the size to record
    absl::Status status;
    uint64_t first_index = 0;
    bool done = false;
    absl::CondVar cv;
  };

  // Queues `self` and writes it, in a group or alone (see Writer).
  absl::StatusOr<uint64_t> Write(Writer& self);
  absl::Status CheckSize(uint64_t tree_size) const;
  NodeReader Reader() const {
    return [db = db_.get()](NodeId id) { return ReadNodeFrom(db, id); };
  }

  // Destruction order matters: db_ uses env_, cache_ and filter_.
  std::unique_ptr<PreadEnv> env_;
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::DB> db_;
  const LevelDbLogOptions options_;

  // Readers look only at [0, size_): those entries and nodes never change.
  std::atomic<uint64_t> size_;

  mutable absl::Mutex mu_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  // Callers inside Append: queued, hashing their entries, or just woken.
  // Incremented without mu_ (the incrementing caller takes mu_ right after,
  // which re-evaluates the leader's wait); decremented under mu_.
  std::atomic<int> appenders_{0};
  // Right edge of the tree at size_. Written only by the group leader.
  CompactRange range_ ABSL_GUARDED_BY(mu_);
  // Set when a write failed: its outcome on disk is unknown until reopen.
  absl::Status write_error_ ABSL_GUARDED_BY(mu_);
  // The log size the stored state reflects (kStateAppliedKey).
  std::optional<uint64_t> applied_ ABSL_GUARDED_BY(mu_);

  // The snapshot of the last write; replaced (under publish_mu_, held for
  // nothing but the pointer) after each write, in write order.
  mutable absl::Mutex publish_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::shared_ptr<const Snapshot> published_ ABSL_GUARDED_BY(publish_mu_);
};


std::string AppliedValue(uint64_t size) {
  std::string v;
  PutBigEndian64(&v, size);
  return v;
}

absl::StatusOr<uint64_t> LevelDbStore::Append(absl::Span<const std::string> entries) {
  if (entries.empty()) {
    return absl::InvalidArgumentError("append: no entries given");
  }
  if (absl::Status s = CheckEntryLimits(entries, "append"); !s.ok()) return s;
  Writer self(entries);
  return Write(self);
}

absl::StatusOr<uint64_t> LevelDbStore::Commit(absl::Span<const std::string> entries,
                                              const StateWrites& state) {
  if (entries.empty() && state.empty()) {
    return absl::InvalidArgumentError("commit: no entries and no state writes given");
  }
  if (absl::Status s = CheckEntryLimits(entries, "commit"); !s.ok()) return s;
  if (absl::Status s = CheckStateLimits(state, "commit"); !s.ok()) return s;
  Writer self(entries);
  self.state = &state;
  return Write(self);
}

absl::Status LevelDbStore::ApplyState(uint64_t applied_size, const StateWrites& state) {
  if (absl::Status s = CheckStateLimits(state, "apply state"); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    const uint64_t applied = applied_.value_or(0);
    if (applied_size < applied || applied_size > range_.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "apply state: applied size ", applied_size, " is not between the state's ", applied,
          " and the log size ", range_.size()));
    }
  }
  Writer self({});
  self.state = &state;
  self.applied_size = applied_size;
  absl::StatusOr<uint64_t> written = Write(self);
  return written.status();
}

absl::Status LevelDbStore::ClearState() {
  absl::MutexLock lock(&mu_);
  if (!write_error_.ok()) return write_error_;
  if (!writers_.empty()) {
    return absl::FailedPreconditionError("clear state: the store is being written");
  }
  leveldb::WriteOptions sync;
  sync.sync = true;
  const auto fail = [&](const leveldb::Status& s) {
    write_error_ = absl::UnavailableError(absl::StrCat(
        "the store is read-only after a failed write (reopen to recover): ",
        FromLevelDb(s, "clear state").message()));
    return write_error_;
  };
  {
    leveldb::WriteBatch batch;
    batch.Delete(kStateAppliedKey);
    if (leveldb::Status s = db_->Write(sync, &batch); !s.ok()) return fail(s);
    applied_.reset();
  }
  // Then the state keys, a bounded batch at a time, each batch going on
  // after the last key the one before deleted (not from the start again,
  // over the deleted keys' tombstones).
  constexpr size_t kBatchKeys = 16384;
  const std::string limit(1, kStatePrefix + 1);
  std::string from(1, kStatePrefix);
  for (;;) {
    leveldb::WriteBatch batch;
    size_t keys = 0;
    {
      leveldb::ReadOptions scan;
      scan.fill_cache = false;
      std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(scan));
      for (it->Seek(from); it->Valid() && it->key().compare(limit) < 0 && keys < kBatchKeys;
           it->Next()) {
        batch.Delete(it->key());
        from.assign(it->key().data(), it->key().size());
        ++keys;
      }
      if (!it->status().ok()) return fail(it->status());
    }
    if (keys == 0) break;
    from.push_back('\0');
    if (leveldb::Status s = db_->Write(sync, &batch); !s.ok()) return fail(s);
  }
  // Readers see the state cleared only now (ClearState runs before anyone
  // reads: at open).
  auto snapshot = std::make_shared<LevelDbSnapshot>(db_.get(), range_.size(), range_.Root());
  absl::MutexLock publish(&publish_mu_);
  published_ = std::move(snapshot);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> LevelDbStore::Write(Writer& self) {
  appenders_.fetch_add(1, std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  struct Leave {  // however this call returns, it stops counting as an appender
    std::atomic<int>& appenders;
    ~Leave() { appenders.fetch_sub(1, std::memory_order_relaxed); }
  } leave{appenders_};
  writers_.push_back(&self);
  while (!self.done && writers_.front() != &self) self.cv.Wait(&mu_);
  if (self.done) {
    if (!self.status.ok()) return self.status;
    return self.first_index;
  }

  // This caller leads a group: it takes the writers queued behind it (up to a
  // byte budget) and commits them all in one synced batch. When other callers
  // are inside Append but not queued yet (typically the previous group's,
  // just woken, coming back with their next entries), it first waits a
  // little for them: without that, concurrent callers split into two groups
  // that alternate, each sync carrying half of them. A writer with state
  // goes alone: its batch records the size the state reflects.
  if (write_error_.ok() && self.state == nullptr) {
    mu_.AwaitWithTimeout(
        absl::Condition(
            +[](LevelDbStore* log) ABSL_EXCLUSIVE_LOCKS_REQUIRED(log->mu_) {
              return log->writers_.size() >=
                     static_cast<size_t>(log->appenders_.load(std::memory_order_relaxed));
            },
            this),
        options_.max_group_wait);
  }
  std::vector<Writer*> group;
  size_t group_bytes = 0;
  for (Writer* w : writers_) {
    size_t bytes = 0;
    for (const std::string& e : w->entries) bytes += e.size();
    if (!group.empty() && (w->state != nullptr || group.front()->state != nullptr ||
                           group_bytes + bytes > options_.max_group_bytes)) {
      break;
    }
    group.push_back(w);
    group_bytes += bytes;
  }

  absl::Status status = write_error_;
  if (status.ok()) {
    CompactRange next = range_;
    std::optional<uint64_t> applied = applied_;
    mu_.Unlock();  // Others may queue (not lead) while this one writes.
    std::vector<const std::string*> flat;
    for (Writer* w : group) {
      w->first_index = next.size() + flat.size();
      for (const std::string& e : w->entries) flat.push_back(&e);
    }
    leveldb::WriteBatch batch;
    if (!flat.empty()) BuildRecords(flat, &next, &batch);
    if (const StateWrites* state = group.front()->state; state != nullptr) {
      for (const auto& [key, value] : state->writes()) {
        if (value) {
          batch.Put(StateKey(key), *value);
        } else {
          batch.Delete(StateKey(key));
        }
      }
      applied = group.front()->applied_size.value_or(next.size());
      batch.Put(kStateAppliedKey, AppliedValue(*applied));
    }
    leveldb::WriteOptions sync;
    sync.sync = true;
    status = FromLevelDb(db_->Write(sync, &batch), "append");
    mu_.Lock();
    if (status.ok()) {
      range_ = std::move(next);
      applied_ = applied;
      size_.store(range_.size(), std::memory_order_release);
      auto snapshot = std::make_shared<LevelDbSnapshot>(db_.get(), range_.size(), range_.Root());
      absl::MutexLock publish(&publish_mu_);
      published_ = std::move(snapshot);
    } else {
      write_error_ = absl::UnavailableError(absl::StrCat(
          "the store is read-only after a failed write (reopen to recover): ",
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

absl::Status LevelDbStore::CheckSize(uint64_t tree_size) const {
  const uint64_t size = Size();
  if (tree_size > size) {
    return absl::OutOfRangeError(
        absl::StrCat("tree size ", tree_size, " is beyond the log size ", size));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> LevelDbStore::Entry(uint64_t index) const {
  const uint64_t size = Size();
  if (index >= size) {
    return absl::OutOfRangeError(
        absl::StrCat("entry index ", index, " is not below the log size ", size));
  }
  return ReadEntryFrom(db_.get(), index);
}

absl::StatusOr<Sha256Digest> LevelDbStore::LeafHash(uint64_t index) const {
  const uint64_t size = Size();
  if (index >= size) {
    return absl::OutOfRangeError(
        absl::StrCat("entry index ", index, " is not below the log size ", size));
  }
  return ReadNodeFrom(db_.get(), NodeId{0, index});
}

absl::StatusOr<Sha256Digest> LevelDbStore::Root(uint64_t tree_size) const {
  if (absl::Status s = CheckSize(tree_size); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    if (range_.size() == tree_size) return range_.Root();
  }
  return RootAt(tree_size, Reader());
}

absl::StatusOr<std::vector<Sha256Digest>> LevelDbStore::InclusionProof(
    uint64_t index, uint64_t tree_size) const {
  if (absl::Status s = CheckSize(tree_size); !s.ok()) return s;
  return InclusionProofAt(index, tree_size, Reader());
}

absl::StatusOr<std::vector<Sha256Digest>> LevelDbStore::ConsistencyProof(
    uint64_t old_size, uint64_t new_size) const {
  if (absl::Status s = CheckSize(new_size); !s.ok()) return s;
  return ConsistencyProofAt(old_size, new_size, Reader());
}

absl::StatusOr<IntegrityReport> LevelDbStore::CheckIntegrity(
    const absl::optional<TreeHead>& trusted) const {
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

  std::string format;
  absl::Status s = FromLevelDb(db_->Get(read, kFormatKey, &format), "log format record");
  if (!s.ok()) return absl::DataLossError(absl::StrCat("integrity: ", s.message()));
  if (format != kFormat) {
    return absl::DataLossError(absl::StrCat("integrity: log format record is '", format,
                                            "', expected '", kFormat, "'"));
  }
  // Entries 0, 1, 2, ... with no gap, and every hash stored with each entry
  // equal to what the entries give.
  IntegrityReport report;
  CompactRange range;
  const auto unexpected = [](const leveldb::Slice& key) {
    return absl::DataLossError(absl::StrCat("integrity: unexpected key '",
                                            crypto::HexEncode(key.ToString()), "' in the log"));
  };
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(read));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const leveldb::Slice key = it->key();
    if (key == leveldb::Slice(kFormatKey)) continue;
    // The applied size and the state keys sort after every entry.
    if (key == leveldb::Slice(kStateAppliedKey) || (!key.empty() && key[0] == kStatePrefix)) break;
    if (key.size() != 9 || key[0] != kEntryPrefix) return unexpected(key);
    const uint64_t index = GetBigEndian64(key.data() + 1);
    if (index != range.size()) {
      return absl::DataLossError(absl::StrCat(
          "integrity: entry ", range.size(), " is missing (next stored entry is ",
          index, ")"));
    }
    absl::StatusOr<Record> record =
        ParseRecord(index, absl::string_view(it->value().data(), it->value().size()));
    if (!record.ok()) return absl::DataLossError(absl::StrCat("integrity: ", record.status().message()));
    absl::Status mismatch;
    range.Append(crypto::HashLeaf(record->entry), [&](NodeId id, const Sha256Digest& derived) {
      ++report.nodes_checked;
      const Sha256Digest stored = record->Hash(id.level);
      if (stored == derived || !mismatch.ok()) return;
      if (id.level == 0) {
        mismatch = absl::DataLossError(absl::StrCat(
            "integrity: entry ", index, " hashes to ", derived.ToHex(),
            " but its stored leaf hash is ", stored.ToHex(),
            " (the entry or its leaf hash was altered)"));
      } else {
        mismatch = absl::DataLossError(absl::StrCat(
            "integrity: ", Describe(id), " (stored with entry ", index, ") is ",
            stored.ToHex(), " but the entries give ", derived.ToHex()));
      }
    });
    if (!mismatch.ok()) return mismatch;
    ++report.entries_checked;
    if (trusted && range.size() == trusted->size && range.Root() != trusted->root) {
      return absl::DataLossError(absl::StrCat(
          "integrity: the root at size ", trusted->size, " is ", range.Root().ToHex(),
          " but the trusted checkpoint says ", trusted->root.ToHex(),
          " (the log was rewritten)"));
    }
  }
  if (!it->status().ok()) return FromLevelDb(it->status(), "integrity: reading entries");
  // After the entries: the applied size, the state keys (the state is not
  // checked here), and nothing else.
  if (it->Valid() && it->key() == leveldb::Slice(kStateAppliedKey)) it->Next();
  if (it->Valid() && (it->key().empty() || it->key()[0] != kStatePrefix)) {
    return unexpected(it->key());
  }
  it->Seek(std::string(1, static_cast<char>(kStatePrefix + 1)));  // past every state key
  if (it->Valid()) return unexpected(it->key());
  if (!it->status().ok()) return FromLevelDb(it->status(), "integrity: reading keys");
  report.tree_size = range.size();
  if (trusted && trusted->size > report.tree_size) {
    return absl::DataLossError(absl::StrCat(
        "integrity: the log has ", report.tree_size,
        " entries but the trusted checkpoint covers ", trusted->size,
        " (the log was truncated)"));
  }
  if (trusted && trusted->size == 0 && trusted->root != crypto::EmptyTreeRoot()) {
    return absl::DataLossError("integrity: trusted checkpoint of size 0 has a non-empty root");
  }
  report.root = range.Root();
  return report;
}

}  // namespace

namespace {

// Opens the store once. `paranoid`: refuse to open on any corruption LevelDB
// finds; *corrupt says whether opening failed so.
absl::StatusOr<std::unique_ptr<Store>> OpenLevelDbStoreOnce(const std::string& directory,
                                                            const LevelDbLogOptions& options,
                                                            bool paranoid, bool* corrupt) {
  auto cache = std::unique_ptr<leveldb::Cache>(
      leveldb::NewLRUCache(options.block_cache_bytes));
  auto filter = std::unique_ptr<const leveldb::FilterPolicy>(
      leveldb::NewBloomFilterPolicy(10));
  leveldb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.paranoid_checks = paranoid;
  db_options.block_cache = cache.get();
  db_options.filter_policy = filter.get();
  db_options.write_buffer_size = 32 << 20;
  db_options.max_file_size = 32 << 20;
  db_options.compression = leveldb::kNoCompression;  // hashes do not compress
  auto env = std::make_unique<PreadEnv>(options.env != nullptr ? options.env
                                                                : leveldb::Env::Default());
  db_options.env = env.get();

  if (directory.empty()) {
    return absl::InvalidArgumentError("open log: the directory name is empty");
  }
  if (!options.create_if_missing) {
    // LevelDB would create the directory, LOCK and LOG before saying the
    // database is missing; a read-only open must leave no trace.
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::path(directory) / "CURRENT", ec)) {
      return absl::NotFoundError(absl::StrCat("no log in ", directory));
    }
  }
  leveldb::DB* raw = nullptr;
  leveldb::Status opened = leveldb::DB::Open(db_options, directory, &raw);
  if (!opened.ok()) {
    if (opened.IsInvalidArgument() && !options.create_if_missing) {
      return absl::NotFoundError(absl::StrCat("no log in ", directory));
    }
    // LevelDB reports a held LOCK file as IOError("lock <dir>/LOCK", ...).
    const std::string text = opened.ToString();
    if (opened.IsIOError() && absl::StartsWith(text, "IO error: lock ") &&
        (absl::StrContains(text, "already held by process") ||
         absl::StrContains(text, "Resource temporarily unavailable"))) {
      return absl::FailedPreconditionError(absl::StrCat(
          "open log ", directory, ": another process (or another open in this one) "
          "is using it: ", text));
    }
    if (corrupt != nullptr) *corrupt = opened.IsCorruption();
    return FromLevelDb(opened, absl::StrCat("open log ", directory));
  }
  std::unique_ptr<leveldb::DB> db(raw);

  std::string format;
  leveldb::Status got = db->Get(leveldb::ReadOptions(), kFormatKey, &format);
  if (got.IsNotFound()) {
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
    it->SeekToFirst();
    if (it->Valid()) {
      if (it->key().starts_with(leveldb::Slice(&kEntryPrefix, 1)) && it->key().size() == 9) {
        return absl::DataLossError(absl::StrCat(
            directory, " holds a ChemLedger log whose format record is missing"));
      }
      return absl::FailedPreconditionError(
          absl::StrCat(directory, " holds a LevelDB database that is not a ChemLedger log"));
    }
    if (!options.create_if_missing) {
      return absl::NotFoundError(absl::StrCat("no log in ", directory));
    }
    leveldb::WriteBatch init;
    init.Put(kFormatKey, kFormat);
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

  absl::StatusOr<uint64_t> size = StoredSize(db.get());
  if (!size.ok()) return size.status();

  std::optional<uint64_t> applied;
  std::string applied_value;
  leveldb::Status got_applied = db->Get(leveldb::ReadOptions(), kStateAppliedKey, &applied_value);
  if (got_applied.ok()) {
    if (applied_value.size() != 8) {
      return absl::DataLossError(absl::StrCat(directory, ": the state's applied size record is malformed"));
    }
    applied = GetBigEndian64(applied_value.data());
    if (*applied > *size) {
      return absl::DataLossError(absl::StrCat(directory, ": the state reflects ", *applied,
                                              " entries but the log holds only ", *size));
    }
  } else if (!got_applied.IsNotFound()) {
    return FromLevelDb(got_applied, "read the state's applied size");
  }

  leveldb::DB* db_ptr = db.get();
  absl::StatusOr<CompactRange> range = CompactRange::Load(
      *size, [db_ptr](NodeId id) { return ReadNodeFrom(db_ptr, id); });
  if (!range.ok()) return range.status();
  return std::unique_ptr<Store>(new LevelDbStore(std::move(env), std::move(db), std::move(cache),
                                                 std::move(filter), options,
                                                 *std::move(range), applied));
}

// What LevelDB's own log (<dir>/LOG) says it dropped while recovering.
std::string DroppedByRecovery(const std::string& directory) {
  std::ifstream in(directory + "/LOG");
  std::string line, dropped;
  while (std::getline(in, line)) {
    if (absl::StrContains(line, "dropping")) absl::StrAppend(&dropped, "\n  ", line);
  }
  return dropped.empty() ? "\n  (LevelDB's LOG names nothing dropped)" : dropped;
}

// Copies LevelDB's write-ahead logs and the files that name them
// (MANIFEST-*, CURRENT) from `directory` into a new sibling directory
// `<directory>.damaged-<UTC time>`, synced, before recovery drops what it
// cannot read: the evidence of what was dropped stays for the operator.
// Returns the copy's path.
absl::StatusOr<std::string> KeepDamagedLogs(const std::string& directory) {
  const std::string copy = absl::StrCat(
      directory, ".damaged-", absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()));
  std::error_code ec;
  std::filesystem::create_directories(copy, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", copy, ": ", ec.message()));
  for (const auto& f : std::filesystem::directory_iterator(directory, ec)) {
    const std::string name = f.path().filename().string();
    if (!(absl::EndsWith(name, ".log") || absl::StartsWith(name, "MANIFEST-") ||
          name == "CURRENT")) {
      continue;
    }
    std::filesystem::copy_file(f.path(), copy + "/" + name,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec)
      return absl::InternalError(absl::StrCat("copy ", name, " to ", copy, ": ", ec.message()));
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", directory, ": ", ec.message()));
  if (absl::Status s = SyncTreeDurably(copy); !s.ok()) return s;
  return copy;
}

}  // namespace

namespace {

// Beside a store whose repair has not yet checked whole: a repair rewrites
// the directory before the check, so a start that stopped there (the check
// failed, or a crash) must not find the store opening cleanly next time and
// serve it unchecked. While it exists every open checks the whole log.
std::string UncheckedRepairMarker(const std::string& directory) {
  return directory + ".repair-unchecked";
}

absl::Status RemoveUncheckedRepairMarker(const std::string& directory) {
  std::error_code ec;
  std::filesystem::remove(UncheckedRepairMarker(directory), ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("remove ", UncheckedRepairMarker(directory), ": ", ec.message()));
  }
  const std::string parent = std::filesystem::path(directory).parent_path().string();
  return SyncDirectory(parent.empty() ? "." : parent);
}

// After a repair whose log checked whole, the state is cleared, so that the
// journal rebuilds it from the checked log when it opens the store
// (journal.h). The check covers the entries and the tree, not the state:
// the repair may also have dropped a write of state alone (a chunk of an
// earlier rebuild, a clearing), which no check of the log would find. Done
// before the marker is removed: a crash in between clears it again at the
// next open.
absl::Status ClearStateAfterRepair(Store& store) {
  if (absl::Status s = store.ClearState(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("after the repair, clearing the state (to be "
                                               "rebuilt from the checked log) failed: ",
                                               s.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenLevelDbStore(const std::string& directory,
                                                         const LevelDbLogOptions& options) {
  bool corrupt = false;
  absl::StatusOr<std::unique_ptr<Store>> store =
      OpenLevelDbStoreOnce(directory, options, /*paranoid=*/true, &corrupt);
  std::error_code ec;
  if (store.ok() && std::filesystem::exists(UncheckedRepairMarker(directory), ec)) {
    absl::StatusOr<IntegrityReport> integrity = (*store)->CheckIntegrity();
    if (!integrity.ok()) {
      return absl::DataLossError(
          absl::StrCat("a repair of ", directory, " after damage to its write-ahead log (",
                       UncheckedRepairMarker(directory),
                       ") left a log that does not check: ", integrity.status().message(),
                       ". Restore the data directory from a backup (then run chemledgerd check)."));
    }
    if (options.recover_torn_tail) {
      if (absl::Status s = ClearStateAfterRepair(**store); !s.ok()) return s;
      // The notice the repair's start would have given, had it got there.
      absl::StatusOr<std::string> marker = ReadWholeFile(UncheckedRepairMarker(directory));
      std::cerr << (marker.ok() ? *marker : std::string("a repair of ") + directory + "\n")
                << "the log now checked whole (" << (*store)->Size()
                << " entries, every one against the tree). If a client holds a receipt for a log "
                   "index at or beyond "
                << (*store)->Size()
                << ", an acknowledged write was lost: restore from a backup instead. The state "
                   "is rebuilt from the log."
                << std::endl;
      if (absl::Status s = RemoveUncheckedRepairMarker(directory); !s.ok()) return s;
    }
    return store;
  }
  if (store.ok() || !corrupt) return store;
  const absl::Status first = store.status();
  if (!options.recover_torn_tail) {
    return absl::DataLossError(absl::StrCat(
        first.message(),
        "; not repaired here. `chemledgerd serve` recovers a write torn by a crash (it keeps a "
        "copy of the damaged files beside the directory first); if the damage is elsewhere, "
        "acknowledged writes may be in it: copy the data directory and restore from a backup"));
  }
  // A power cut can tear the write that was in progress, leaving junk at the
  // tail of LevelDB's write-ahead log. Those bytes were never synced, so never
  // acknowledged: recover without them, then check the whole log (every
  // entry against the tree) before serving anything from it. Corruption
  // anywhere else fails that check and is reported as DataLoss. Recovery
  // cannot tell a torn tail from damage to synced records that it drops with
  // it, so the damaged files are copied aside first.
  absl::StatusOr<std::string> kept = KeepDamagedLogs(directory);
  if (!kept.ok()) {
    return absl::DataLossError(absl::StrCat(
        first.message(), "; not repaired: keeping a copy of the damaged files failed (",
        kept.status().message(),
        "): free space beside the data directory and start again, or copy the directory "
        "elsewhere yourself first"));
  }
  // Durably, before the repair changes anything: until the log checks whole,
  // no later open serves it unchecked.
  if (absl::Status s = ReplaceFileDurably(
          UncheckedRepairMarker(directory),
          absl::StrCat("LevelDB repaired ", directory,
                       " after damage to its write-ahead log; until the whole log checks, "
                       "every open checks it (storage/leveldb_log.cc). The damaged files: ",
                       *kept, "\n"),
          0644);
      !s.ok()) {
    return absl::DataLossError(absl::StrCat(
        first.message(), "; not repaired: writing the repair's marker failed (", s.message(), ")"));
  }
  {
    absl::StatusOr<std::unique_ptr<Store>> recovered =
        OpenLevelDbStoreOnce(directory, options, /*paranoid=*/false, nullptr);
    if (!recovered.ok()) return first;
  }
  const std::string dropped = DroppedByRecovery(directory);
  store = OpenLevelDbStoreOnce(directory, options, /*paranoid=*/true, nullptr);
  if (!store.ok()) return first;
  absl::StatusOr<IntegrityReport> integrity = (*store)->CheckIntegrity();
  if (!integrity.ok()) {
    return absl::DataLossError(absl::StrCat(
        first.message(),
        "; recovering without the damaged records left a log that does not check: ",
        integrity.status().message(),
        ". Restore the data directory from a backup (then run chemledgerd check)."));
  }
  if (absl::Status s = ClearStateAfterRepair(**store); !s.ok()) return s;
  if (absl::Status s = RemoveUncheckedRepairMarker(directory); !s.ok()) return s;
  std::cerr << first.message()
            << "; recovered: LevelDB dropped the damaged tail of its write-ahead log "
               "(a write torn by a crash, never acknowledged):"
            << dropped << "\nthe log then checked whole (" << (*store)->Size()
            << " entries, every one against the tree). If a client holds a receipt for a log "
               "index at or beyond "
            << (*store)->Size()
            << ", an acknowledged write was lost: restore from a backup instead. The state is "
               "rebuilt from the log. The damaged files as they were: "
            << *kept << std::endl;
  return store;
}

absl::StatusOr<std::unique_ptr<Log>> OpenLevelDbLog(const std::string& directory,
                                                     const LevelDbLogOptions& options) {
  absl::StatusOr<std::unique_ptr<Store>> store = OpenLevelDbStore(directory, options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Log>(std::move(*store));
}

}  // namespace chemledger::storage
