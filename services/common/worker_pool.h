// A fixed set of worker threads for CPU work that one call splits (checking
// a batch's signatures, signing a message's labels). The threads start once;
// no call creates a thread, so no call can fail, or throw, for want of one
// (thread creation can fail under exhaustion, and std::async then throws),
// and the pool's size bounds that work across all calls.
//
// A pool that could start fewer threads than asked (even none) still works:
// the calling thread does what no worker takes.
//
// Thread-safety: ParallelFor and Run may be called from any number of
// threads at once. The destructor finishes queued work, then joins.

#ifndef CHEMLEDGER_SERVICES_COMMON_WORKER_POOL_H_
#define CHEMLEDGER_SERVICES_COMMON_WORKER_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace chemledger {

class WorkerPool {
 public:
  // Starts up to `threads` workers named `name` (as top -H shows them), each
  // at `nice` more than the process (0: the same priority).
  WorkerPool(int threads, int nice, const std::string& name);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // The workers actually running.
  size_t size() const { return workers_.size(); }

  // Runs fn(i) for every i in [0, n), on the workers and on the calling
  // thread, and returns when every call has returned.
  void ParallelFor(size_t n, absl::FunctionRef<void(size_t)> fn);

  // Work handed to Run, to wait for.
  class Task {
   public:
    void Wait() { done_.WaitForNotification(); }

   private:
    friend class WorkerPool;
    absl::Notification done_;
  };
  // Runs `fn` on a worker (on the calling thread, now, with no workers).
  std::shared_ptr<Task> Run(std::function<void()> fn);

 private:
  void Work();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_WORKER_POOL_H_
