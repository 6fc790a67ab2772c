#include "services/chemledgerd/test_clock.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace chemledger::server {
namespace {

std::string TempFile(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}

TEST(TestClockTest, FollowsTheFile) {
  const std::string path = TempFile("clock");
  std::ofstream(path) << "1767225600\n";
  absl::StatusOr<std::function<absl::Time()>> clock = OpenTestClock(path);
  ASSERT_TRUE(clock.ok()) << clock.status();
  EXPECT_EQ((*clock)(), absl::FromUnixSeconds(1767225600));
  std::ofstream(path) << "1798761600.5";
  absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ((*clock)(), absl::FromUnixSeconds(1798761600) + absl::Milliseconds(500));
  // A file being rewritten (empty, or garbage) keeps the last good time.
  std::ofstream(path) << "";
  absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ((*clock)(), absl::FromUnixSeconds(1798761600) + absl::Milliseconds(500));
}

TEST(TestClockTest, ABadFileIsRefusedNamingIt) {
  const std::string path = TempFile("bad-clock");
  std::ofstream(path) << "tomorrow";
  absl::StatusOr<std::function<absl::Time()>> clock = OpenTestClock(path);
  ASSERT_FALSE(clock.ok());
  EXPECT_NE(clock.status().message().find("--test-clock: " + path), std::string::npos)
      << clock.status();
  EXPECT_FALSE(OpenTestClock(TempFile("no-such-file")).ok());
  EXPECT_FALSE(ParseTestClock("-5").ok());
  EXPECT_FALSE(ParseTestClock("nan").ok());
  EXPECT_FALSE(ParseTestClock("1e30").ok());
  EXPECT_TRUE(ParseTestClock(" 0 ").ok());
}

}  // namespace
}  // namespace chemledger::server
