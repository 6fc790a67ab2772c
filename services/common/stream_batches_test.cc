#include "services/common/stream_batches.h"

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace chemledger {
namespace {

using internal::CheckedHandoff;

// The checker hands batches over one at a time, in order: a second Put
// waits until the first is taken, and Take sees the end only after the last
// batch put before Close.
TEST(CheckedHandoffTest, BatchesPassOneAtATimeInOrderAndTheEndComesLast) {
  CheckedHandoff<std::vector<int>> handoff;
  std::atomic<int> put{0};
  std::thread checker([&] {
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(handoff.Put(std::vector<int>{i, i}));
      ++put;
    }
    handoff.Close();
  });
  // The first batch is put at once; the second waits for it to be taken.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (put.load() < 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(put.load(), 1);
  std::vector<int> taken;
  for (;;) {
    std::optional<std::vector<int>> batch = handoff.Take();
    if (!batch) break;
    ASSERT_EQ(batch->size(), 2u);
    taken.push_back((*batch)[0]);
  }
  checker.join();
  EXPECT_EQ(taken, (std::vector<int>{0, 1, 2}));
}

// When the handler stops (its client went away), a checker waiting to put
// is released with false, and nothing more is taken.
TEST(CheckedHandoffTest, StopReleasesAWaitingPutAndEndsTake) {
  CheckedHandoff<int> handoff;
  ASSERT_TRUE(handoff.Put(1));
  absl::Notification released;
  std::atomic<bool> second_put{true};
  std::thread checker([&] {
    second_put = handoff.Put(2);  // waits: one is waiting already
    released.Notify();
  });
  EXPECT_FALSE(released.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  handoff.Stop();
  EXPECT_TRUE(released.WaitForNotificationWithTimeout(absl::Seconds(10)));
  checker.join();
  EXPECT_FALSE(second_put.load());
  EXPECT_FALSE(handoff.Take().has_value());
  EXPECT_FALSE(handoff.Put(3));
}

}  // namespace
}  // namespace chemledger
