#include "services/common/background_queue.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace chemledger {
namespace {

TEST(BackgroundQueueTest, RunsTasksInOrderOnItsOwnThread) {
  std::vector<int> ran;
  std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> on_caller{false};
  {
    BackgroundQueue queue("test-queue", {}, nullptr);
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(queue.Push([&, i] {
        if (std::this_thread::get_id() == caller) on_caller = true;
        ran.push_back(i);
      }));
    }
    EXPECT_TRUE(queue.Flush(absl::Seconds(10)));
    ASSERT_EQ(ran.size(), 100u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(ran[i], i);
  }
  EXPECT_FALSE(on_caller.load());
}

TEST(BackgroundQueueTest, PushNeverWaitsAndRefusesBeyondItsLimits) {
  absl::Notification release;
  absl::Notification started;
  BackgroundQueue::Limits limits;
  limits.max_tasks = 3;
  limits.max_bytes = 100;
  BackgroundQueue queue("test-queue", limits, nullptr);
  // The thread is held in its first task; three wait behind it.
  ASSERT_TRUE(queue.Push([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();
  EXPECT_TRUE(queue.Push([] {}, 60));
  EXPECT_FALSE(queue.Push([] {}, 41));  // 101 bytes
  EXPECT_TRUE(queue.Push([] {}, 40));
  EXPECT_TRUE(queue.Push([] {}));
  EXPECT_FALSE(queue.Push([] {}));  // four tasks
  EXPECT_EQ(queue.queued(), 3u);
  EXPECT_FALSE(queue.Flush(absl::Milliseconds(50)));
  release.Notify();
  EXPECT_TRUE(queue.Flush(absl::Seconds(10)));
  EXPECT_EQ(queue.queued(), 0u);
  // The bytes of the tasks run are free again.
  EXPECT_TRUE(queue.Push([] {}, 100));
}

TEST(BackgroundQueueTest, AStopRunsWhatIsQueuedWithinTheDrain) {
  std::atomic<int> ran{0};
  uint64_t dropped = 99;
  {
    BackgroundQueue queue("test-queue", {}, [&](uint64_t n) { dropped = n; });
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(queue.Push([&] {
        absl::SleepFor(absl::Milliseconds(1));
        ++ran;
      }));
    }
  }
  EXPECT_EQ(ran.load(), 50);
  EXPECT_EQ(dropped, 99u);  // nothing dropped: not told
}

TEST(BackgroundQueueTest, AStopDropsWhatTheDrainLeavesAndSaysHowMany) {
  std::atomic<int> ran{0};
  uint64_t dropped = 0;
  absl::Notification first_started;
  BackgroundQueue::Limits limits;
  limits.drain = absl::Milliseconds(100);
  const absl::Time start = absl::Now();
  {
    BackgroundQueue queue("test-queue", limits, [&](uint64_t n) { dropped = n; });
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(queue.Push([&] {
        if (!first_started.HasBeenNotified()) first_started.Notify();
        absl::SleepFor(absl::Milliseconds(200));
        ++ran;
      }));
    }
    first_started.WaitForNotification();
  }
  const absl::Duration took = absl::Now() - start;
  EXPECT_GT(ran.load(), 0);
  EXPECT_LT(ran.load(), 20);
  EXPECT_EQ(dropped + ran.load(), 20u);
  EXPECT_LT(took, absl::Seconds(3));  // not the 4 s the tasks would take
}

TEST(BackgroundQueueTest, AStoppingQueueTakesNothingMore) {
  std::atomic<bool> pushed_late{true};
  absl::Notification started;
  auto queue = std::make_unique<BackgroundQueue>("test-queue", BackgroundQueue::Limits{}, nullptr);
  BackgroundQueue* q = queue.get();
  // A task that tries to queue another while the queue stops.
  ASSERT_TRUE(queue->Push([&] {
    started.Notify();
    absl::SleepFor(absl::Seconds(1));  // the queue is stopping by then
    pushed_late = q->Push([] {});
  }));
  started.WaitForNotification();
  queue.reset();
  EXPECT_FALSE(pushed_late.load());
}

}  // namespace
}  // namespace chemledger
