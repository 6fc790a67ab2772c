// Durability under power loss and failed writes, with a fault-injecting Env:
// what a SIGKILL test cannot show (the page cache survives a killed process).

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "storage/fault_injection_env.h"
#include "storage/leveldb_log.h"
#include "tests/subprocess.h"

namespace chemledger::storage {
namespace {

std::unique_ptr<Log> Open(const std::string& dir, FaultInjectionEnv* env) {
  LevelDbLogOptions options;
  options.env = env;
  absl::StatusOr<std::unique_ptr<Log>> log = OpenLevelDbLog(dir, options);
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? *std::move(log) : nullptr;
}

// Entry j of a batch of `count` tagged `tag` is "tag/j/count".
std::vector<std::string> Batch(const std::string& tag, int count) {
  std::vector<std::string> batch;
  for (int j = 0; j < count; ++j) batch.push_back(absl::StrCat(tag, "/", j, "/", count));
  return batch;
}

// Every batch in the log is whole: its entries are contiguous and all there.
void ExpectOnlyWholeBatches(const Log& log) {
  const uint64_t size = log.Size();
  for (uint64_t i = 0; i < size;) {
    std::vector<std::string> f = absl::StrSplit(*log.Entry(i), '/');
    ASSERT_EQ(f.size(), 3u);
    int count;
    ASSERT_TRUE(absl::SimpleAtoi(f[2], &count));
    ASSERT_EQ(f[1], "0") << "entry " << i << " starts in the middle of a batch";
    ASSERT_LE(i + count, size) << "batch " << f[0] << " is cut short at the end";
    for (int j = 0; j < count; ++j) {
      ASSERT_EQ(*log.Entry(i + j), absl::StrCat(f[0], "/", j, "/", count));
    }
    i += count;
  }
}

TEST(LevelDbLogFaultTest, PowerCutLosesNoAcknowledgedAppend) {
  const std::string dir = testing::FreshTempDir("power_cut");
  FaultInjectionEnv env;
  std::map<uint64_t, std::string> acked;  // first index -> tag
  std::map<std::string, int> counts;
  std::mt19937 rng(42);
  for (int round = 0; round < 12; ++round) {
    std::unique_ptr<Log> log = Open(dir, &env);
    ASSERT_NE(log, nullptr);
    absl::Mutex mu;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 local(round * 10 + t);
        for (int seq = 0;; ++seq) {
          const std::string tag = absl::StrCat("r", round, "t", t, "s", seq);
          const int count = 1 + local() % (t == 0 ? 300 : 5);
          absl::StatusOr<uint64_t> first = log->Append(Batch(tag, count));
          if (!first.ok()) return;  // the power is out
          absl::MutexLock lock(&mu);
          acked[*first] = tag;
          counts[tag] = count;
        }
      });
    }
    absl::SleepFor(absl::Milliseconds(5 + rng() % 40));
    env.CutPower();
    for (auto& th : threads) th.join();
    log.reset();
    env.DropUnsyncedData();  // what was not fsync'd is gone

    log = Open(dir, &env);
    ASSERT_NE(log, nullptr);
    for (const auto& [first, tag] : acked) {
      for (int j = 0; j < counts[tag]; ++j) {
        absl::StatusOr<std::string> entry = log->Entry(first + j);
        ASSERT_TRUE(entry.ok()) << "round " << round << ": acknowledged entry " << first + j
                                << " lost: " << entry.status();
        ASSERT_EQ(*entry, absl::StrCat(tag, "/", j, "/", counts[tag]));
      }
    }
    ExpectOnlyWholeBatches(*log);
    absl::StatusOr<IntegrityReport> report = log->CheckIntegrity();
    ASSERT_TRUE(report.ok()) << "round " << round << ": " << report.status();
  }
  EXPECT_GT(acked.size(), 50u);
}

TEST(LevelDbLogFaultTest, FailedSyncMakesTheLogReadOnlyUntilReopened) {
  const std::string dir = testing::FreshTempDir("failed_sync");
  FaultInjectionEnv env;
  std::unique_ptr<Log> log = Open(dir, &env);
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->Append(Batch("a", 5)).ok());

  env.FailNextSyncs(1);
  absl::StatusOr<uint64_t> failed = log->Append(Batch("b", 3));
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("sync failed (injected)"), std::string::npos)
      << failed.status();
  // Not acknowledged, so not visible; and no further appends until reopened.
  EXPECT_EQ(log->Size(), 5u);
  absl::StatusOr<uint64_t> refused = log->Append(Batch("c", 1));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_NE(refused.status().message().find("reopen"), std::string::npos);
  EXPECT_EQ(*log->Entry(4), "a/4/5");  // reads still work

  log.reset();
  log = Open(dir, &env);
  ASSERT_NE(log, nullptr);
  // The unsynced batch may or may not have reached the disk; either way whole.
  EXPECT_TRUE(log->Size() == 5 || log->Size() == 8) << log->Size();
  ExpectOnlyWholeBatches(*log);
  ASSERT_TRUE(log->Append(Batch("d", 2)).ok());
  ASSERT_TRUE(log->CheckIntegrity().ok());
}

}  // namespace
}  // namespace chemledger::storage
