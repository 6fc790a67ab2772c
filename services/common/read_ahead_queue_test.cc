#include "services/common/read_ahead_queue.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace chemledger {
namespace {

// A request the way the queue sees one: something with a size in bytes.
struct Request {
  int number = 0;
  std::string payload;
  size_t ByteSizeLong() const { return payload.size(); }
};

Request Numbered(int number, size_t bytes = 1) { return Request{number, std::string(bytes, 'x')}; }

TEST(ReadAheadQueueTest, BatchesKeepTheOrderPushedAndStopAtTheBatchSize) {
  ReadAheadQueue<Request> queue(100, 1 << 20);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(queue.Push(Numbered(i)));
  queue.Close();
  std::vector<int> seen;
  std::vector<size_t> sizes;
  for (;;) {
    std::vector<Request> batch = queue.TakeBatch(3);
    if (batch.empty()) break;
    sizes.push_back(batch.size());
    for (const Request& r : batch) seen.push_back(r.number);
  }
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 1}));
}

TEST(ReadAheadQueueTest, APushIntoAFullQueueWaitsForTheHandler) {
  ReadAheadQueue<Request> queue(2, 1 << 20);
  ASSERT_TRUE(queue.Push(Numbered(0)));
  ASSERT_TRUE(queue.Push(Numbered(1)));
  absl::Notification pushed;
  std::thread reader([&] {
    EXPECT_TRUE(queue.Push(Numbered(2)));
    pushed.Notify();
  });
  EXPECT_FALSE(pushed.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  EXPECT_EQ(queue.size(), 2u);
  EXPECT_EQ(queue.TakeBatch(1).size(), 1u);
  EXPECT_TRUE(pushed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  reader.join();
  EXPECT_EQ(queue.size(), 2u);
}

TEST(ReadAheadQueueTest, TheByteBoundHoldsButALargeRequestStillPassesAlone) {
  ReadAheadQueue<Request> queue(100, 1000);
  ASSERT_TRUE(queue.Push(Numbered(0, 5000)));  // alone in an empty queue
  absl::Notification pushed;
  std::thread reader([&] {
    EXPECT_TRUE(queue.Push(Numbered(1, 10)));
    pushed.Notify();
  });
  EXPECT_FALSE(pushed.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  std::vector<Request> first = queue.TakeBatch(10);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].number, 0);
  EXPECT_TRUE(pushed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  reader.join();
}

TEST(ReadAheadQueueTest, StopReleasesAWaitingReaderAndDropsWhatIsQueued) {
  ReadAheadQueue<Request> queue(1, 1 << 20);
  ASSERT_TRUE(queue.Push(Numbered(0)));
  std::atomic<int> refused{0};
  std::thread reader([&] {
    if (!queue.Push(Numbered(1))) refused.fetch_add(1);
  });
  absl::SleepFor(absl::Milliseconds(50));
  queue.Stop();
  reader.join();
  EXPECT_EQ(refused.load(), 1);
  EXPECT_EQ(queue.size(), 0u);
  EXPECT_TRUE(queue.TakeBatch(10).empty());
  EXPECT_FALSE(queue.Push(Numbered(2)));
}

TEST(ReadAheadQueueTest, AHandlerWaitingOnAnEmptyQueueWakesOnClose) {
  ReadAheadQueue<Request> queue(4, 1 << 20);
  std::thread handler([&] { EXPECT_TRUE(queue.TakeBatch(4).empty()); });
  absl::SleepFor(absl::Milliseconds(50));
  queue.Close();
  handler.join();
}

// A reader and a handler at full speed through a small queue: every request
// arrives once, in order (run under TSan by tools/tsan.sh).
TEST(ReadAheadQueueTest, EveryRequestArrivesOnceInOrderUnderContention) {
  constexpr int kRequests = 50000;
  ReadAheadQueue<Request> queue(16, 64);
  std::thread reader([&] {
    for (int i = 0; i < kRequests; ++i) ASSERT_TRUE(queue.Push(Numbered(i, 1 + i % 7)));
    queue.Close();
  });
  int next = 0;
  size_t largest = 0;
  for (;;) {
    std::vector<Request> batch = queue.TakeBatch(8);
    if (batch.empty()) break;
    largest = std::max(largest, batch.size());
    for (const Request& r : batch) {
      ASSERT_EQ(r.number, next);
      ++next;
    }
  }
  reader.join();
  EXPECT_EQ(next, kRequests);
  EXPECT_LE(largest, 8u);
}

}  // namespace
}  // namespace chemledger
