#include "services/common/worker_pool.h"

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace chemledger {
namespace {

TEST(WorkerPoolTest, ParallelForRunsEveryIndexOnceAcrossThreads) {
  WorkerPool pool(3, 0, "test-pool");
  EXPECT_EQ(pool.size(), 3u);
  std::vector<std::atomic<int>> runs(1000);
  absl::Mutex mu;
  std::set<std::thread::id> threads;
  pool.ParallelFor(runs.size(), [&](size_t i) {
    runs[i].fetch_add(1);
    absl::MutexLock lock(&mu);
    threads.insert(std::this_thread::get_id());
  });
  for (size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1) << i;
  EXPECT_GE(threads.size(), 1u);
  pool.ParallelFor(0, [&](size_t) { ADD_FAILURE() << "no index to run"; });
}

TEST(WorkerPoolTest, ManyCallersShareTheWorkersAndAllFinish) {
  WorkerPool pool(2, 0, "test-pool");
  std::atomic<int> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 50; ++round) {
        pool.ParallelFor(17, [&](size_t) { total.fetch_add(1); });
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(total.load(), 8 * 50 * 17);
}

TEST(WorkerPoolTest, RunHandsBackWorkToWaitFor) {
  WorkerPool pool(1, 0, "test-pool");
  int value = 0;
  std::shared_ptr<WorkerPool::Task> task = pool.Run([&] { value = 42; });
  task->Wait();
  EXPECT_EQ(value, 42);
}

TEST(WorkerPoolTest, WithoutWorkersTheCallerDoesTheWork) {
  WorkerPool pool(0, 0, "test-pool");
  EXPECT_EQ(pool.size(), 0u);
  int sum = 0;
  pool.ParallelFor(10, [&](size_t i) { sum += static_cast<int>(i); });
  EXPECT_EQ(sum, 45);
  int value = 0;
  pool.Run([&] { value = 7; })->Wait();
  EXPECT_EQ(value, 7);
}

}  // namespace
}  // namespace chemledger
