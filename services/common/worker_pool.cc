#include "services/common/worker_pool.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <system_error>
#include <utility>

namespace chemledger {

WorkerPool::WorkerPool(int threads, int nice, const std::string& name) {
  for (int i = 0; i < threads; ++i) {
    try {
      workers_.emplace_back([this, nice, name] {
        if (nice != 0) setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice);
        pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
        Work();
      });
    } catch (const std::system_error&) {
      break;  // fewer workers: callers do the rest themselves
    }
  }
}

WorkerPool::~WorkerPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& w : workers_) w.join();
}

void WorkerPool::Work() {
  for (;;) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WorkerPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
            return !p->queue_.empty() || p->stopping_;
          },
          this));
      if (queue_.empty()) return;  // stopping, and nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

std::shared_ptr<WorkerPool::Task> WorkerPool::Run(std::function<void()> fn) {
  auto task = std::make_shared<Task>();
  if (workers_.empty()) {
    fn();
    task->done_.Notify();
    return task;
  }
  absl::MutexLock lock(&mu_);
  queue_.push_back([fn = std::move(fn), task] {
    fn();
    task->done_.Notify();
  });
  return task;
}

void WorkerPool::ParallelFor(size_t n, absl::FunctionRef<void(size_t)> fn) {
  if (n == 0) return;
  // Shared by the helpers: the next index, and how many are done.
  struct Shared {
    std::atomic<size_t> next{0};
    std::atomic<size_t> done{0};
    absl::Notification all_done;
  };
  auto shared = std::make_shared<Shared>();
  const size_t total = n;
  const auto drain = [shared, total, &fn] {
    for (size_t i; (i = shared->next.fetch_add(1)) < total;) {
      fn(i);
      if (shared->done.fetch_add(1) + 1 == total) shared->all_done.Notify();
    }
  };
  // Helpers: at most one per worker, and none for work the caller does alone.
  const size_t helpers = std::min(workers_.size(), n - 1);
  std::vector<std::shared_ptr<Task>> tasks;
  tasks.reserve(helpers);
  for (size_t h = 0; h < helpers; ++h) tasks.push_back(Run(drain));
  drain();
  shared->all_done.WaitForNotification();
  // A helper that started after all was done has returned or will at once;
  // wait for each so none outlives `fn`.
  for (const std::shared_ptr<Task>& t : tasks) t->Wait();
}

}  // namespace chemledger
