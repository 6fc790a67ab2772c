#include "services/common/stream_watchdog.h"

#include <atomic>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace chemledger {
namespace {

// Waits up to `limit` for `ended` to become true.
bool EndsWithin(const std::atomic<int>& ended, absl::Duration limit) {
  const absl::Time until = absl::Now() + limit;
  while (ended.load() == 0 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(5));
  return ended.load() != 0;
}

TEST(StreamWatchdogTest, AnIdleStreamIsEndedOnce) {
  std::atomic<int> ended{0};
  StreamWatchdog watchdog([&] { ended.fetch_add(1); },
                          StreamTimeouts{absl::Milliseconds(100), absl::Seconds(60)});
  ASSERT_TRUE(EndsWithin(ended, absl::Seconds(30)));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(ended.load(), 1);
  EXPECT_TRUE(watchdog.fired());
}

TEST(StreamWatchdogTest, AStreamKeptActiveIsNotEnded) {
  std::atomic<int> ended{0};
  {
    StreamWatchdog watchdog([&] { ended.fetch_add(1); },
                            StreamTimeouts{absl::Seconds(5), absl::Seconds(60)});
    const absl::Time until = absl::Now() + absl::Milliseconds(700);
    while (absl::Now() < until) {
      watchdog.Active();
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_FALSE(watchdog.fired());
  }  // the destructor stops and joins the watchdog's thread
  EXPECT_EQ(ended.load(), 0);
}

// A client waiting for answers the server is still working out is not
// idle, however long the work takes; once it is done the idle time counts
// from then.
TEST(StreamWatchdogTest, AStreamTheServerWorksOnIsNotIdle) {
  std::atomic<int> ended{0};
  StreamWatchdog watchdog([&] { ended.fetch_add(1); },
                          StreamTimeouts{absl::Seconds(1), absl::Seconds(60)});
  watchdog.WorkStarted();
  watchdog.WorkStarted();  // the checker and the handler both at work
  absl::SleepFor(absl::Seconds(3));
  watchdog.WorkDone();
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(ended.load(), 0);
  EXPECT_FALSE(watchdog.fired());
  watchdog.WorkDone();
  ASSERT_TRUE(EndsWithin(ended, absl::Seconds(30)));
  EXPECT_TRUE(watchdog.fired());
}

TEST(StreamWatchdogTest, AWriteTheClientDoesNotTakeEndsTheStream) {
  std::atomic<int> ended{0};
  StreamWatchdog watchdog([&] { ended.fetch_add(1); },
                          StreamTimeouts{absl::Hours(1), absl::Milliseconds(100)});
  watchdog.WriteStarted();  // and never done
  ASSERT_TRUE(EndsWithin(ended, absl::Seconds(30)));
  EXPECT_TRUE(watchdog.fired());
}

TEST(StreamWatchdogTest, WritesThatFinishKeepTheStreamAlive) {
  std::atomic<int> ended{0};
  StreamWatchdog watchdog([&] { ended.fetch_add(1); },
                          StreamTimeouts{absl::Seconds(5), absl::Seconds(5)});
  for (int i = 0; i < 50; ++i) {
    watchdog.WriteStarted();
    absl::SleepFor(absl::Milliseconds(5));
    watchdog.WriteDone();
  }
  EXPECT_FALSE(watchdog.fired());
  EXPECT_EQ(ended.load(), 0);
}

}  // namespace
}  // namespace chemledger
