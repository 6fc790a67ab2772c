// A bounded queue of tasks run in order by one thread of its own, for work
// whose callers must never wait for it: the recorders that write refused
// requests (audit/refusal_recorder.h) and public scans of lost or ended
// packages (ledger/public_scan_recorder.h) into the log. Push never blocks:
// beyond the queue's limits (tasks and bytes), or once the queue is
// stopping, it refuses the task and the caller counts it as dropped.
//
// Stopping (the destructor): new tasks are refused; the thread goes on with
// what is queued for at most Limits::drain, then what is left is dropped and
// told to `dropped_at_stop`, and the thread is joined. A task running when
// the drain ends is waited for.
//
// Thread-safety: Push, Flush and queued from any thread; the tasks run on
// the queue's thread only. An owner whose tasks use its other members
// declares the queue last, so that it stops (and its thread ends) before
// they are destroyed.

#ifndef CHEMLEDGER_SERVICES_COMMON_BACKGROUND_QUEUE_H_
#define CHEMLEDGER_SERVICES_COMMON_BACKGROUND_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chemledger {

class BackgroundQueue {
 public:
  struct Limits {
    size_t max_tasks = 4096;
    // The most bytes the queued tasks may hold, as Push's callers count them.
    size_t max_bytes = std::numeric_limits<size_t>::max();
    // How long the destructor lets the thread go on with what is queued.
    absl::Duration drain = absl::Seconds(1);
  };

  // Starts the thread, named `name` (as top -H shows it; 15 characters at
  // most). `dropped_at_stop` (may be empty) is told, from the destructor,
  // how many queued tasks the stop dropped.
  BackgroundQueue(const std::string& name, Limits limits,
                  std::function<void(uint64_t)> dropped_at_stop);
  ~BackgroundQueue();
  BackgroundQueue(const BackgroundQueue&) = delete;
  BackgroundQueue& operator=(const BackgroundQueue&) = delete;

  // Queues `task`, which holds `bytes` (counted against max_bytes); false,
  // and nothing queued, when the queue is full or stopping.
  bool Push(std::function<void()> task, size_t bytes = 0);

  // Waits until every task pushed before the call has run (or was dropped),
  // at most `timeout`; whether they have.
  bool Flush(absl::Duration timeout);

  // Tasks waiting to run.
  size_t queued() const;

 private:
  struct Queued {
    std::function<void()> task;
    size_t bytes = 0;
  };
  void Run();

  const Limits limits_;
  const std::function<void(uint64_t)> dropped_at_stop_;
  mutable absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t pushed_ ABSL_GUARDED_BY(mu_) = 0;    // ever queued
  uint64_t handled_ ABSL_GUARDED_BY(mu_) = 0;   // ever run or dropped
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;   // dropped by the stop
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // Push refuses
  bool abandon_ ABSL_GUARDED_BY(mu_) = false;   // the drain is over
  std::thread thread_;
};

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_BACKGROUND_QUEUE_H_
