#include "services/chemledgerd/access_log.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace chemledger::server {
namespace {

TEST(AccessLogTest, StringsAreJsonWhateverTheirBytes) {
  EXPECT_EQ(AccessLog::String("plain").json, "\"plain\"");
  EXPECT_EQ(AccessLog::String("a\"b\\c\nd\te\x01").json, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
  // Well-formed UTF-8 stays as it is.
  EXPECT_EQ(AccessLog::String("甲醇 ✓ 😀").json, "\"甲醇 ✓ 😀\"");
  // Anything else becomes U+FFFD, a byte at a time.
  EXPECT_EQ(AccessLog::String("\xff").json, "\"\\ufffd\"");
  EXPECT_EQ(AccessLog::String("a\xe7\x94").json, "\"a\\ufffd\\ufffd\"");           // cut short
  EXPECT_EQ(AccessLog::String("\xc0\xaf").json, "\"\\ufffd\\ufffd\"");             // overlong
  EXPECT_EQ(AccessLog::String("\xed\xa0\x80").json, "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
  EXPECT_EQ(AccessLog::String("\xf4\x90\x80\x80").json,
            "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // beyond U+10FFFF
}

// A stream whose every write waits until it is released: a stalled disk, or
// a log collector that stopped reading a pipe.
class StalledBuffer : public std::streambuf {
 public:
  void Release() { released_.Notify(); }
  std::string Text() {
    absl::MutexLock lock(&mu_);
    return text_;
  }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    released_.WaitForNotification();
    absl::MutexLock lock(&mu_);
    text_.append(s, static_cast<size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    const char one = traits_type::to_char_type(c);
    xsputn(&one, 1);
    return c;
  }

 private:
  absl::Notification released_;
  absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
};

// A stream that stops taking lines holds up no call: Write returns while
// the writer waits, what does not fit in the queue is dropped and counted,
// and what was queued is written, in order, once the stream moves again.
TEST(AccessLogTest, AStalledStreamHoldsUpNoCallAndDropsWhatDoesNotFit) {
  StalledBuffer buffer;
  std::ostream stream(&buffer);
  uint64_t dropped = 0;
  {
    AccessLog log(&stream, /*max_queued_bytes=*/1000);
    for (int i = 0; i < 200; ++i) log.Write({{"n", AccessLog::Integer(i)}});  // ~40 bytes each
    const auto outcomes = log.LinesByOutcome();
    ASSERT_EQ(outcomes.size(), 3u);
    EXPECT_EQ(outcomes[0], std::make_pair(std::string("written"), uint64_t{0}));
    EXPECT_EQ(outcomes[2].first, "dropped");
    dropped = outcomes[2].second;
    EXPECT_GT(dropped, 150u);
    EXPECT_LT(dropped, 200u);
    buffer.Release();
  }  // writes what is queued
  const std::vector<std::string> lines = absl::StrSplit(buffer.Text(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 200 - dropped);
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t at = lines[i].find("\"n\":");
    ASSERT_NE(at, std::string::npos) << lines[i];
    int n = -1;
    ASSERT_TRUE(absl::SimpleAtoi(lines[i].substr(at + 4, lines[i].size() - at - 5), &n))
        << lines[i];
    EXPECT_EQ(n, static_cast<int>(i)) << "lines are written in the order they came";
  }
}

// A stream that refuses what it is given (a full disk): the lines are
// counted as failed, not written, and the next batch is tried again.
class RefusingBuffer : public std::streambuf {
 protected:
  std::streamsize xsputn(const char*, std::streamsize) override { return 0; }
  int_type overflow(int_type) override { return traits_type::eof(); }
};

TEST(AccessLogTest, LinesTheStreamRefusesAreCountedAsFailed) {
  RefusingBuffer buffer;
  std::ostream stream(&buffer);
  AccessLog log(&stream);
  for (int i = 0; i < 3; ++i) log.Write({{"n", AccessLog::Integer(i)}});
  std::vector<std::pair<std::string, uint64_t>> outcomes;
  for (int tries = 0; tries < 500; ++tries) {
    outcomes = log.LinesByOutcome();
    if (outcomes[1].second == 3) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(outcomes, (std::vector<std::pair<std::string, uint64_t>>{
                          {"written", 0}, {"failed", 3}, {"dropped", 0}}));
}

// --access-log FILE appends to the file, across restarts; a file that
// cannot be opened is refused, naming the flag.
TEST(AccessLogTest, OpenAppendsToItsFile) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/access-open.log";
  std::remove(path.c_str());
  for (int run = 0; run < 2; ++run) {
    absl::StatusOr<std::unique_ptr<AccessLog>> log = AccessLog::Open(path);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 3; ++i) (*log)->Write({{"run", AccessLog::Integer(run)}});
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<std::string> lines = absl::StrSplit(text.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 6u) << text.str();
  EXPECT_NE(lines[0].find("\"run\":0"), std::string::npos);
  EXPECT_NE(lines[5].find("\"run\":1"), std::string::npos);
  absl::StatusOr<std::unique_ptr<AccessLog>> refused = AccessLog::Open("/nonexistent/dir/x.log");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(
      refused.status().message().find("--access-log: cannot append to /nonexistent/dir/x.log"),
      std::string::npos)
      << refused.status();
}

// The lines by outcome of `log`, once `want` of them have one.
std::map<std::string, uint64_t> OutcomesOnce(const AccessLog& log, uint64_t want) {
  std::map<std::string, uint64_t> by;
  for (int i = 0; i < 1000; ++i) {
    by.clear();
    uint64_t total = 0;
    for (const auto& [outcome, n] : log.LinesByOutcome()) {
      by[outcome] = n;
      total += n;
    }
    if (total >= want) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return by;
}

// A write the file takes only part of (here the file size limit, as a full
// disk would) cuts a line short; the next line starts on a line of its own,
// so that only the cut one is not JSON.
TEST(AccessLogTest, ALineCutShortDoesNotSpoilTheNext) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/access-cut.log";
  std::remove(path.c_str());
  absl::StatusOr<std::unique_ptr<AccessLog>> log = AccessLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  const std::string filler(40, 'x');
  (*log)->Write({{"n", AccessLog::Integer(1)}, {"f", AccessLog::String(filler)}});
  EXPECT_EQ(OutcomesOnce(**log, 1)["written"], 1u);
  const off_t first_line = static_cast<off_t>(std::ifstream(path, std::ios::ate).tellg());
  // The file may grow by 10 bytes more: the next line is cut there.
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit was;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &was), 0);
  struct rlimit limit = was;
  limit.rlim_cur = static_cast<rlim_t>(first_line + 10);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  (*log)->Write({{"n", AccessLog::Integer(2)}, {"f", AccessLog::String(filler)}});
  const uint64_t failed = OutcomesOnce(**log, 2)["failed"];
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &was), 0);
  EXPECT_EQ(failed, 1u);
  (*log)->Write({{"n", AccessLog::Integer(3)}, {"f", AccessLog::String(filler)}});
  log->reset();  // writes what is queued
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<std::string> lines = absl::StrSplit(text.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << text.str();
  EXPECT_NE(lines[0].find("\"n\":1,"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1].size(), 10u) << lines[1];  // the cut line
  EXPECT_NE(lines[2].find("\"n\":3,"), std::string::npos) << lines[2];
  EXPECT_EQ(lines[2].front(), '{') << lines[2];
  EXPECT_EQ(lines[2].back(), '}') << lines[2];

  // A process after a crash that cut a line: its first line is whole too.
  { std::ofstream(path, std::ios::app) << "{\"n\":4,\"f\":\"cut by a cra"; }
  log = AccessLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->Write({{"n", AccessLog::Integer(5)}});
  log->reset();
  std::ifstream again(path);
  std::stringstream all;
  all << again.rdbuf();
  const std::vector<std::string> now = absl::StrSplit(all.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(now.size(), 5u) << all.str();
  EXPECT_EQ(now[4].front(), '{') << now[4];
  EXPECT_NE(now[4].find("\"n\":5"), std::string::npos) << now[4];
}

// A log of Open whose file stalls (here a pipe nobody reads) does not hold
// up its destructor, and so a stop, beyond kDrainTimeout: the writer is left
// behind with what it could not write.
TEST(AccessLogTest, AStalledFileDoesNotHoldUpAStopForLong) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string fifo = std::string(tmp != nullptr ? tmp : "/tmp") + "/access-stalled.fifo";
  std::remove(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  // A reader that opens the pipe and never reads from it.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0) << std::strerror(errno);
  absl::Time stopped;
  {
    absl::StatusOr<std::unique_ptr<AccessLog>> log = AccessLog::Open(fifo);
    ASSERT_TRUE(log.ok()) << log.status();
    // Well past the pipe's buffer (64 KiB), within the queue's bound.
    const std::string padding(900, 'x');
    for (int i = 0; i < 1000; ++i) {
      (*log)->Write({{"n", AccessLog::Integer(i)}, {"pad", AccessLog::String(padding)}});
    }
    stopped = absl::Now();
  }  // the destructor
  const absl::Duration took = absl::Now() - stopped;
  EXPECT_GE(took, AccessLog::kDrainTimeout - absl::Milliseconds(100));
  EXPECT_LT(took, AccessLog::kDrainTimeout + absl::Seconds(20));
  // The reader goes away: the writer left behind fails with EPIPE (not a
  // SIGPIPE that would end this process), and ends.
  ::close(reader);
  absl::SleepFor(absl::Milliseconds(200));
}

TEST(AccessLogTest, EveryLineIsWrittenByTheTimeTheLogIsGone) {
  std::ostringstream out;
  {
    AccessLog log(&out);
    for (int i = 0; i < 1000; ++i) log.Write({{"n", AccessLog::Integer(i)}});
  }
  const std::vector<std::string> lines = absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1000u);
  EXPECT_NE(lines.back().find("\"n\":999}"), std::string::npos) << lines.back();
}

}  // namespace
}  // namespace chemledger::server
