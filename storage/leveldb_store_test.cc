// The store half of the LevelDB backend: entries and state committed together,
// snapshots, the applied size, and reads that do not wait for a stalled sync.

#include <atomic>
#include <filesystem>
#include <fstream>
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

std::optional<std::string> Get(const Snapshot& s, const std::string& key) {
  absl::StatusOr<std::optional<std::string>> v = s.Get(key);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : std::nullopt;
}

TEST(LevelDbStoreTest, CommitWritesEntriesAndStateTogether) {
  const std::string dir = testing::FreshTempDir("store_commit");
  std::unique_ptr<Store> store = Open(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->StateAppliedSize(), std::nullopt);
  EXPECT_EQ(store->GetSnapshot()->size(), 0u);
  EXPECT_EQ(store->GetSnapshot()->root(), crypto::EmptyTreeRoot());

  StateWrites w;
  w.Put("code/A", "active");
  w.Put("code/B", "active");
  absl::StatusOr<uint64_t> first = store->Commit({"e0", "e1"}, w);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 0u);
  EXPECT_EQ(store->Size(), 2u);
  EXPECT_EQ(store->StateAppliedSize(), 2u);

  std::shared_ptr<const Snapshot> s1 = store->GetSnapshot();
  EXPECT_EQ(s1->size(), 2u);
  EXPECT_EQ(s1->root(), *store->Root(2));
  EXPECT_EQ(Get(*s1, "code/A"), "active");
  EXPECT_EQ(*s1->Entry(1), "e1");

  StateWrites w2;
  w2.Put("code/A", "consumed");
  w2.Delete("code/B");
  ASSERT_TRUE(store->Commit({"e2"}, w2).ok());
  // The earlier snapshot still reads the state as it was at size 2.
  EXPECT_EQ(Get(*s1, "code/A"), "active");
  EXPECT_EQ(Get(*s1, "code/B"), "active");
  EXPECT_EQ(s1->Entry(2).status().code(), absl::StatusCode::kOutOfRange);
  std::shared_ptr<const Snapshot> s2 = store->GetSnapshot();
  EXPECT_EQ(s2->size(), 3u);
  EXPECT_EQ(Get(*s2, "code/A"), "consumed");
  EXPECT_EQ(Get(*s2, "code/B"), std::nullopt);
  EXPECT_EQ(*s2->Root(2), s1->root());
  EXPECT_EQ(s2->InclusionProof(0, 3)->size(), 2u);
  EXPECT_EQ(*s2->ConsistencyProof(2, 3), *store->ConsistencyProof(2, 3));

  // Reopened: the same entries, state and applied size.
  s1.reset();
  s2.reset();
  store.reset();
  store = Open(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Size(), 3u);
  EXPECT_EQ(store->StateAppliedSize(), 3u);
  EXPECT_EQ(Get(*store->GetSnapshot(), "code/A"), "consumed");
  // The log's integrity check ignores the state keys.
  absl::StatusOr<IntegrityReport> report = store->CheckIntegrity();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries_checked, 3u);
}

TEST(LevelDbStoreTest, ManyInclusionProofsAtOnceAreEachTheOneProof) {
  const std::string dir = testing::FreshTempDir("store_proofs");
  std::unique_ptr<Store> store = Open(dir);
  ASSERT_NE(store, nullptr);
  std::vector<std::string> entries;
  for (int i = 0; i < 77; ++i) entries.push_back(absl::StrCat("entry ", i));
  ASSERT_TRUE(store->Commit(entries, StateWrites()).ok());
  ASSERT_TRUE(store->Commit({"one more"}, StateWrites()).ok());
  std::shared_ptr<const Snapshot> s = store->GetSnapshot();
  const std::vector<uint64_t> indexes = {0, 1, 2, 40, 41, 63, 64, 76, 77, 5};
  for (uint64_t size : {uint64_t{78}, uint64_t{64}}) {
    std::vector<uint64_t> in_tree;
    for (uint64_t i : indexes) {
      if (i < size) in_tree.push_back(i);
    }
    absl::StatusOr<std::vector<std::vector<Sha256Digest>>> many = s->InclusionProofs(in_tree, size);
    ASSERT_TRUE(many.ok()) << many.status();
    ASSERT_EQ(many->size(), in_tree.size());
    for (size_t k = 0; k < in_tree.size(); ++k) {
      EXPECT_EQ((*many)[k], *s->InclusionProof(in_tree[k], size)) << in_tree[k] << " of " << size;
      EXPECT_TRUE(crypto::VerifyInclusion(in_tree[k], size, *s->LeafHash(in_tree[k]), (*many)[k],
                                          *s->Root(size))
                      .ok());
    }
  }
  // Beyond the snapshot: refused as one proof is.
  EXPECT_FALSE(s->InclusionProofs({1}, 79).ok());
  EXPECT_FALSE(s->InclusionProofs({78}, 78).ok());
}

TEST(LevelDbStoreTest, ScanVisitsTheStateKeysOfARangeInOrder) {
  const std::string dir = testing::FreshTempDir("store_scan");
  std::unique_ptr<Store> store = Open(dir);
  ASSERT_NE(store, nullptr);
  StateWrites w;
  for (const char* k : {"h/A/2", "h/A/1", "h/B/1", "h/A/3", "i/x", "g/z"}) w.Put(k, k);
  ASSERT_TRUE(store->Commit({"e"}, w).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(store->GetSnapshot()
                  ->Scan("h/A/", "h/A0",
                         [&](absl::string_view k, absl::string_view v) {
                           EXPECT_EQ(k, v);
                           seen.emplace_back(k);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"h/A/1", "h/A/2", "h/A/3"}));
  seen.clear();
  ASSERT_TRUE(store->GetSnapshot()
                  ->Scan("h/", "",
                         [&](absl::string_view k, absl::string_view) {
                           seen.emplace_back(k);
                           return seen.size() < 4;
                         })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"h/A/1", "h/A/2", "h/A/3", "h/B/1"}));
}

TEST(LevelDbStoreTest, AppendLeavesTheStateBehindAndApplyStateCatchesUp) {
  const std::string dir = testing::FreshTempDir("store_apply");
  std::unique_ptr<Store> store = Open(dir);
  ASSERT_NE(store, nullptr);
  // A log written before stores kept state: entries only.
  ASSERT_TRUE(store->Append({"old0", "old1", "old2"}).ok());
  EXPECT_EQ(store->StateAppliedSize(), std::nullopt);

  StateWrites w;
  w.Put("k", "v");
  EXPECT_EQ(store->ApplyState(4, w).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store->ApplyState(2, w).ok());
  EXPECT_EQ(store->StateAppliedSize(), 2u);
  EXPECT_EQ(store->ApplyState(1, w).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store->ApplyState(3, StateWrites()).ok());
  EXPECT_EQ(store->Size(), 3u);
  EXPECT_EQ(Get(*store->GetSnapshot(), "k"), "v");

  ASSERT_TRUE(store->Append({"new"}).ok());
  EXPECT_EQ(store->StateAppliedSize(), 3u);
  store.reset();
  store = Open(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->StateAppliedSize(), 3u);
  EXPECT_EQ(store->Size(), 4u);
}

TEST(LevelDbStoreTest, ClearStateDropsEveryStateKeyAndKeepsTheLog) {
  const std::string dir = testing::FreshTempDir("store_clear");
  std::unique_ptr<Store> store = Open(dir);
  ASSERT_NE(store, nullptr);
  // More keys than one clearing batch deletes.
  StateWrites w;
  for (int i = 0; i < 40000; ++i) w.Put(absl::StrCat("k/", i), "v");
  ASSERT_TRUE(store->Commit({"e0", "e1"}, w).ok());
  const Sha256Digest root = store->GetSnapshot()->root();
  ASSERT_TRUE(store->ClearState().ok());
  EXPECT_EQ(store->StateAppliedSize(), std::nullopt);
  std::shared_ptr<const Snapshot> cleared = store->GetSnapshot();
  int keys = 0;
  ASSERT_TRUE(cleared->Scan("", "", [&](absl::string_view, absl::string_view) {
                       ++keys;
                       return true;
                     })
                  .ok());
  EXPECT_EQ(keys, 0);
  EXPECT_EQ(cleared->size(), 2u);
  EXPECT_EQ(cleared->root(), root);
  EXPECT_EQ(*cleared->Entry(1), "e1");
  // The state is built again from the start.
  StateWrites again;
  again.Put("k/0", "rebuilt");
  ASSERT_TRUE(store->ApplyState(2, again).ok());
  cleared.reset();  // a snapshot must not outlive its store (store.h)
  store.reset();
  store = Open(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->StateAppliedSize(), 2u);
  EXPECT_EQ(Get(*store->GetSnapshot(), "k/0"), "rebuilt");
  EXPECT_EQ(Get(*store->GetSnapshot(), "k/1"), std::nullopt);
  EXPECT_TRUE(store->CheckIntegrity().ok());
}

TEST(LevelDbStoreTest, RefusesOversizedAndEmptyCommitsWritingNothing) {
  const std::string dir = testing::FreshTempDir("store_limits");
  std::unique_ptr<Store> store = Open(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Commit({}, StateWrites()).status().code(),
            absl::StatusCode::kInvalidArgument);
  StateWrites big_key;
  big_key.Put(std::string(kMaxStateKeyBytes + 1, 'k'), "v");
  absl::StatusOr<uint64_t> refused = store->Commit({"e"}, big_key);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("state key"), std::string::npos) << refused.status();
  EXPECT_EQ(store->Size(), 0u);
  EXPECT_EQ(store->StateAppliedSize(), std::nullopt);
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

// A power cut can leave the tail of the write-ahead log holding junk (a
// half-written record whose sectors held other data), not just cut short.
// Those bytes were never synced, so never acknowledged: the store opens
// without them and keeps every commit before them.
TEST(LevelDbStoreTest, AWriteTornIntoJunkAtTheLogsTailIsDroppedOnOpen) {
  const std::string dir = testing::FreshTempDir("store_torn");
  {
    std::unique_ptr<Store> store = Open(dir);
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 20; ++i) {
      StateWrites w;
      w.Put("last", absl::StrCat(i));
      ASSERT_TRUE(store->Commit({absl::StrCat("entry ", i)}, w).ok());
    }
  }
  // The newest .log file gets a record-sized tail of junk.
  std::string newest;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() == ".log" && f.path().string() > newest) newest = f.path().string();
  }
  ASSERT_FALSE(newest.empty());
  {
    std::ofstream out(newest, std::ios::app | std::ios::binary);
    // A whole record header (checksum, length 10, "full" type) whose checksum
    // does not match, with its payload: as a torn sector may leave it.
    out << std::string("\xde\xad\xbe\xef\x0a\x00\x01", 7) << std::string(10, '\x5a');
  }
  std::unique_ptr<Store> store = Open(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Size(), 20u);
  std::shared_ptr<const Snapshot> s = store->GetSnapshot();
  EXPECT_EQ(Get(*s, "last"), "19");
  EXPECT_EQ(*s->Entry(19), "entry 19");
  // And it goes on.
  StateWrites w;
  w.Put("last", "20");
  EXPECT_TRUE(store->Commit({"entry 20"}, w).ok());
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
