// The store half of the LevelDB backend: the store suite (store_conformance.h),
// and what is LevelDB's own: reads that do not wait for a stalled sync,
// failed and torn writes, power cuts, backups.

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crypto/merkle.h"
#include "gtest/gtest.h"
#include "storage/fault_injection_env.h"
#include "storage/leveldb_log.h"
#include "storage/store_conformance.h"
#include "tests/subprocess.h"

namespace chemledger::storage {
namespace {

std::unique_ptr<Store> Open(const std::string& dir, FaultInjectionEnv* env = nullptr) {
  LevelDbLogOptions options;
  options.env = env;
  absl::StatusOr<std::unique_ptr<Store>> store = OpenLevelDbStore(dir, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// Stores in fresh directories, by name.
class LevelDbBackend final : public StoreBackend {
 public:
  std::unique_ptr<Store> Open(const std::string& name) override {
    auto [it, inserted] = dirs_.emplace(name, "");
    if (inserted) it->second = testing::FreshTempDir(name);
    return storage::Open(it->second);
  }

 private:
  std::map<std::string, std::string> dirs_;
};

LevelDbBackend leveldb_backend;
INSTANTIATE_TEST_SUITE_P(LevelDb, StoreConformanceTest, ::testing::Values(&leveldb_backend));

std::optional<std::string> Get(const Snapshot& s, const std::string& key) {
  absl::StatusOr<std::optional<std::string>> v = s.Get(key);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : std::nullopt;
}

TEST(LevelDbStoreTest, ReadsDoNotWaitForAStalledSync) {
  const std::string dir = testing::FreshTempDir("store_stalled");
  FaultInjectionEnv env;
  std::unique_ptr<Store> store = Open(dir, &env);
  ASSERT_NE(store, nullptr);
  StateWrites w;
  w.Put("k", "before");
  ASSERT_TRUE(store->Commit({"e0"}, w).ok());

  env.HoldSyncs();
  std::atomic<bool> committed{false};
  std::thread writer([&] {
    StateWrites w2;
    w2.Put("k", "after");
    EXPECT_TRUE(store->Commit({"e1"}, w2).ok());
    committed = true;
  });
  ASSERT_TRUE(env.WaitForHeldSync(absl::Seconds(10)));
  // The commit is inside its fsync; reads answer from the last commit.
  std::shared_ptr<const Snapshot> s = store->GetSnapshot();
  EXPECT_EQ(s->size(), 1u);
  EXPECT_EQ(Get(*s, "k"), "before");
  EXPECT_EQ(*s->Entry(0), "e0");
  EXPECT_TRUE(s->InclusionProof(0, 1).ok());
  EXPECT_FALSE(committed.load());
  env.ReleaseSyncs();
  writer.join();
  EXPECT_TRUE(committed.load());
  EXPECT_EQ(Get(*store->GetSnapshot(), "k"), "after");
}

TEST(LevelDbStoreTest, AFailedCommitLeavesEntriesAndStateWholeOrAbsent) {
  const std::string dir = testing::FreshTempDir("store_failed");
  FaultInjectionEnv env;
  std::unique_ptr<Store> store = Open(dir, &env);
  ASSERT_NE(store, nullptr);
  StateWrites w;
  w.Put("count", "1");
  ASSERT_TRUE(store->Commit({"e0"}, w).ok());

  env.FailNextSyncs(1);
  StateWrites w2;
  w2.Put("count", "3");
  EXPECT_FALSE(store->Commit({"e1", "e2"}, w2).ok());
  // Read-only until reopened; readers still see the last good commit.
  EXPECT_EQ(store->Commit({"e3"}, w2).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Get(*store->GetSnapshot(), "count"), "1");

  store.reset();
  store = Open(dir, &env);
  ASSERT_NE(store, nullptr);
  const std::optional<std::string> count = Get(*store->GetSnapshot(), "count");
  ASSERT_TRUE(count.has_value());
  // Either both entries and the state, or neither.
  EXPECT_EQ(store->Size(), *count == "3" ? 3u : 1u);
  EXPECT_EQ(store->StateAppliedSize(), store->Size());
}

TEST(LevelDbStoreTest, PowerCutKeepsEveryAcknowledgedCommitWithItsState) {
  const std::string dir = testing::FreshTempDir("store_power");
  FaultInjectionEnv env;
  for (int round = 0; round < 10; ++round) {
    std::unique_ptr<Store> store = Open(dir, &env);
    ASSERT_NE(store, nullptr);
    const uint64_t start = store->Size();
    EXPECT_EQ(store->StateAppliedSize().value_or(0), start);
    uint64_t acked = start;
    std::thread writer([&] {
      for (uint64_t i = start;; ++i) {
        StateWrites w;
        w.Put("last", absl::StrCat(i));
        w.Put(absl::StrCat("entry/", i), absl::StrCat("e", i));
        if (!store->Commit({absl::StrCat("e", i)}, w).ok()) return;
        acked = i + 1;
      }
    });
    absl::SleepFor(absl::Milliseconds(20 + 7 * round));
    env.CutPower();
    writer.join();
    store.reset();
    env.DropUnsyncedData();

    store = Open(dir, &env);
    ASSERT_NE(store, nullptr);
    ASSERT_GE(store->Size(), acked) << "round " << round;
    EXPECT_EQ(store->StateAppliedSize().value_or(0), store->Size());
    std::shared_ptr<const Snapshot> s = store->GetSnapshot();
    if (s->size() > 0) {
      EXPECT_EQ(Get(*s, "last"), absl::StrCat(s->size() - 1));
    }
    for (uint64_t i = 0; i < s->size(); ++i) {
      ASSERT_EQ(Get(*s, absl::StrCat("entry/", i)), *s->Entry(i)) << "round " << round;
    }
  }
}

// Commits entries "entry 0" to "entry <n-1>" to the store in `dir`, each
// with state "last" = its number, and closes it.
void CommitEntries(const std::string& dir, int n) {
  std::unique_ptr<Store> store = Open(dir);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < n; ++i) {
    StateWrites w;
    w.Put("last", absl::StrCat(i));
    ASSERT_TRUE(store->Commit({absl::StrCat("entry ", i)}, w).ok());
  }
}

// The newest of LevelDB's write-ahead logs (*.log) in `dir`; "" for none.
std::string NewestWriteAheadLog(const std::string& dir) {
  std::string newest;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() == ".log" && f.path().string() > newest) newest = f.path().string();
  }
  return newest;
}

// A power cut can leave the tail of the write-ahead log holding junk (a
// half-written record whose sectors held other data), not just cut short.
// Those bytes were never synced, so never acknowledged: the store opens
// without them and keeps every commit before them. Its state is cleared,
// for the journal to rebuild from the checked log: the repair may have
// dropped a write of state alone, which no check of the log finds.
TEST(LevelDbStoreTest, AWriteTornIntoJunkAtTheLogsTailIsDroppedOnOpen) {
  const std::string dir = testing::FreshTempDir("store_torn");
  ASSERT_NO_FATAL_FAILURE(CommitEntries(dir, 20));
  // The newest .log file gets a record-sized tail of junk.
  const std::string newest = NewestWriteAheadLog(dir);
  ASSERT_FALSE(newest.empty());
  {
    std::ofstream out(newest, std::ios::app | std::ios::binary);
    // A whole record header (checksum, length 10, "full" type) whose checksum
    // does not match, with its payload: as a torn sector may leave it.
    out << std::string("\xde\xad\xbe\xef\x0a\x00\x01", 7) << std::string(10, '\x5a');
  }
  const uintmax_t damaged_size = std::filesystem::file_size(newest);
  // As `chemledgerd check` opens: the damage is reported, nothing repaired.
  {
    LevelDbLogOptions options;
    options.recover_torn_tail = false;
    absl::StatusOr<std::unique_ptr<Store>> checked = OpenLevelDbStore(dir, options);
    EXPECT_EQ(checked.status().code(), absl::StatusCode::kDataLoss) << checked.status();
    EXPECT_EQ(std::filesystem::file_size(newest), damaged_size);
  }
  std::unique_ptr<Store> store = Open(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Size(), 20u);
  std::shared_ptr<const Snapshot> s = store->GetSnapshot();
  EXPECT_EQ(*s->Entry(19), "entry 19");
  EXPECT_EQ(store->StateAppliedSize(), std::nullopt);
  EXPECT_EQ(*s->Get("last"), std::nullopt);
  EXPECT_FALSE(std::filesystem::exists(dir + ".repair-unchecked"));
  // The damaged files were kept, as they were, beside the directory.
  int copies = 0;
  const std::string parent = std::filesystem::path(dir).parent_path().string();
  const std::string base = std::filesystem::path(dir).filename().string();
  for (const auto& f : std::filesystem::directory_iterator(parent)) {
    const std::string name = f.path().filename().string();
    if (name.rfind(base + ".damaged-", 0) != 0) continue;
    ++copies;
    const auto kept = f.path() / std::filesystem::path(newest).filename();
    ASSERT_TRUE(std::filesystem::exists(kept));
    EXPECT_EQ(std::filesystem::file_size(kept), damaged_size);
  }
  EXPECT_EQ(copies, 1);
  // And it goes on.
  StateWrites w;
  w.Put("last", "20");
  EXPECT_TRUE(store->Commit({"entry 20"}, w).ok());
}

// Damage inside the write-ahead log (synced records, not a torn tail): the
// repair drops records the log had acknowledged, and the check after it
// fails. The repair has rewritten the directory by then, so the next open
// would find nothing wrong with LevelDB's files: it must still refuse the
// store, as every open does until the log checks whole.
TEST(LevelDbStoreTest, ARepairThatDidNotCheckIsRefusedAtEveryOpen) {
  const std::string dir = testing::FreshTempDir("store_damaged_inside");
  ASSERT_NO_FATAL_FAILURE(CommitEntries(dir, 1000));
  const std::string newest = NewestWriteAheadLog(dir);
  ASSERT_FALSE(newest.empty());
  const uintmax_t size = std::filesystem::file_size(newest);
  ASSERT_GT(size, 20000u);
  {
    // Junk over a stretch in the middle of the file, records before and
    // after it intact.
    std::fstream out(newest, std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(2000);
    out << std::string(64, '\x5a');
  }
  for (int open = 0; open < 2; ++open) {
    SCOPED_TRACE(open);
    absl::StatusOr<std::unique_ptr<Store>> store = OpenLevelDbStore(dir, LevelDbLogOptions());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
  }
  EXPECT_TRUE(std::filesystem::exists(dir + ".repair-unchecked"));
}

TEST(LevelDbStoreTest, ABackupIsOneCommitsStoreWhileCommitsGoOn) {
  const std::string dir = testing::FreshTempDir("store_backup");
  std::unique_ptr<Store> store = Open(dir + "/live");
  ASSERT_NE(store, nullptr);
  // Every commit adds 50 entries and says in the state how many there are:
  // a copy of one commit's store has a state that agrees with its log.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> commits{0};
  const auto commit = [&] {
    std::vector<std::string> entries;
    for (int i = 0; i < 50; ++i) entries.push_back(absl::StrCat("entry ", store->Size() + i));
    StateWrites w;
    w.Put("size", absl::StrCat(store->Size() + entries.size()));
    w.Put(absl::StrCat("k/", store->Size()), std::string(200, 'v'));
    ASSERT_TRUE(store->Commit(entries, w).ok());
    commits.fetch_add(1);
  };
  for (int i = 0; i < 100; ++i) commit();
  std::thread writer([&] {
    while (!stop.load()) commit();
  });
  while (commits.load() < 120) absl::SleepFor(absl::Milliseconds(1));
  const uint64_t before = store->Size();
  absl::StatusOr<Store::BackupInfo> backup = store->Backup(dir + "/backup");
  const uint64_t committed_during = commits.load();
  while (commits.load() < committed_during + 20) absl::SleepFor(absl::Milliseconds(1));
  stop = true;
  writer.join();
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_GE(backup->size, before);
  EXPECT_LT(backup->size, store->Size());  // commits went on during and after it
  EXPECT_GT(backup->records, 0u);
  EXPECT_EQ(backup->root, *store->Root(backup->size));
  // A directory that exists is refused and left alone.
  EXPECT_EQ(store->Backup(dir + "/backup").status().code(), absl::StatusCode::kAlreadyExists);

  std::unique_ptr<Store> copy = Open(dir + "/backup");
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->Size(), backup->size);
  EXPECT_EQ(copy->StateAppliedSize(), backup->size);
  std::shared_ptr<const Snapshot> s = copy->GetSnapshot();
  EXPECT_EQ(s->root(), backup->root);
  EXPECT_EQ(Get(*s, "size"), absl::StrCat(backup->size));
  absl::StatusOr<IntegrityReport> integrity = copy->CheckIntegrity(absl::nullopt);
  ASSERT_TRUE(integrity.ok()) << integrity.status();
  EXPECT_EQ(*copy->Entry(backup->size - 1), *store->Entry(backup->size - 1));
  // The copy goes on as a store of its own.
  StateWrites w;
  w.Put("size", absl::StrCat(backup->size + 1));
  ASSERT_TRUE(copy->Commit({"after the restore"}, w).ok());
  EXPECT_EQ(*copy->Root(backup->size), backup->root);
}

}  // namespace
}  // namespace chemledger::storage
