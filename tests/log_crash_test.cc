// Crash test: a child process appends to the log from several threads and is
// killed with SIGKILL at a random moment, many times over. After every kill the
// log must reopen, hold every entry the child acknowledged, with the content
// it acknowledged, and pass the full integrity check: the size never exceeds
// what the stored tree covers, and no append is half-applied. (SIGKILL leaves
// the page cache intact, so this cannot show that appends were synced:
// storage/leveldb_log_fault_test.cc does that by simulating a power cut.)

#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "crypto/merkle.h"
#include "gtest/gtest.h"
#include "storage/leveldb_log.h"
#include "tests/subprocess.h"

namespace chemledger {
namespace {

struct Ack {
  uint64_t count;
  std::string tag;
};

TEST(LogCrashTest, KilledAppenderNeverLosesAcknowledgedEntries) {
  const std::string db = testing::FreshTempDir("crash_log");
  const std::string child = testing::RunfilePath("tests/log_crash_child");
  std::mt19937 rng(20261123);
  std::map<uint64_t, Ack> acked;  // first index -> batch
  uint64_t highest_acked_end = 0;
  constexpr int kRounds = 40;

  for (int round = 0; round < kRounds; ++round) {
    testing::Subprocess proc;
    ASSERT_TRUE(proc.Start({child, db, std::to_string(round), "4"}).ok());
    // Wait until the child is appending (its first ack), then let it run a
    // random while longer before the kill.
    std::vector<std::string> lines;
    const absl::Time start_deadline = absl::Now() + absl::Seconds(30);
    while (lines.empty() && absl::Now() < start_deadline) {
      auto got = proc.ReadLines(absl::Now() + absl::Milliseconds(5));
      lines.insert(lines.end(), got.begin(), got.end());
    }
    ASSERT_FALSE(lines.empty()) << "child never acknowledged an append in round " << round;
    const absl::Duration run = absl::Milliseconds(rng() % 150);
    auto got = proc.ReadLines(absl::Now() + run);
    lines.insert(lines.end(), got.begin(), got.end());
    ASSERT_TRUE(proc.Kill(SIGKILL).ok());
    absl::StatusOr<int> status = proc.Wait();
    ASSERT_TRUE(status.ok());
    ASSERT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL)
        << "child exited on its own (status " << *status << ") in round " << round;
    // Acks still in the pipe were printed before the kill: they count too.
    bool eof = false;
    while (!eof) {
      got = proc.ReadLines(absl::Now() + absl::Seconds(5), &eof);
      lines.insert(lines.end(), got.begin(), got.end());
    }
    for (const std::string& line : lines) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      ASSERT_EQ(f.size(), 4u) << line;
      uint64_t first, count;
      ASSERT_TRUE(absl::SimpleAtoi(f[1], &first) && absl::SimpleAtoi(f[2], &count));
      ASSERT_TRUE(acked.emplace(first, Ack{count, f[3]}).second)
          << "index " << first << " acknowledged twice";
      highest_acked_end = std::max(highest_acked_end, first + count);
    }

    // Reopen after the crash and check everything acknowledged so far.
    absl::StatusOr<std::unique_ptr<storage::Log>> log = storage::OpenLevelDbLog(db);
    ASSERT_TRUE(log.ok()) << "round " << round << ": " << log.status();
    const uint64_t size = (*log)->Size();
    ASSERT_GE(size, highest_acked_end) << "acknowledged entries lost in round " << round;
    for (const auto& [first, ack] : acked) {
      for (uint64_t j = 0; j < ack.count; ++j) {
        absl::StatusOr<std::string> entry = (*log)->Entry(first + j);
        ASSERT_TRUE(entry.ok()) << entry.status();
        ASSERT_EQ(entry->substr(0, entry->rfind('/')),
                  absl::StrCat(ack.tag, "/", j, "/", ack.count))
            << "entry " << first + j << " after round " << round;
      }
    }
    // Every batch in the log, acknowledged or not, is whole: appends are atomic.
    for (uint64_t i = 0; i < size;) {
      std::vector<std::string> f = absl::StrSplit(*(*log)->Entry(i), '/');
      ASSERT_EQ(f.size(), 4u);
      uint64_t count;
      ASSERT_TRUE(absl::SimpleAtoi(f[2], &count));
      ASSERT_EQ(f[1], "0") << "entry " << i << " starts mid-batch, round " << round;
      ASSERT_LE(i + count, size) << "batch " << f[0] << " cut short, round " << round;
      for (uint64_t j = 1; j < count; ++j) {
        ASSERT_EQ((*log)->Entry(i + j)->substr(0, f[0].size() + 1), f[0] + "/")
            << "batch " << f[0] << " interleaved, round " << round;
      }
      i += count;
    }
    absl::StatusOr<storage::IntegrityReport> report = (*log)->CheckIntegrity();
    ASSERT_TRUE(report.ok()) << "round " << round << ": " << report.status();
    EXPECT_EQ(report->tree_size, size);
    EXPECT_EQ(report->root, *(*log)->Root(size));
    if (size > 0) {
      auto proof = (*log)->InclusionProof(size - 1, size);
      ASSERT_TRUE(proof.ok());
      EXPECT_TRUE(crypto::VerifyInclusion(size - 1, size, *(*log)->LeafHash(size - 1),
                                          *proof, report->root).ok());
    }
  }
  // The test means something only if the child got work done between kills.
  EXPECT_GT(acked.size(), 100u);
}

}  // namespace
}  // namespace chemledger
