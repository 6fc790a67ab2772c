// Where the handlers of callback-API calls run (raw_unary.h): a fixed pool of
// threads, off gRPC's own callback threads (which must not block), with a
// bound on the calls waiting for one. A call beyond the bound is refused at
// once (RESOURCE_EXHAUSTED) rather than queued without limit, so a flood of
// reads costs a bounded amount of memory and threads. Each service keeps its
// own; the bounds are per service and per server process.
//
// Thread-safety: TrySchedule may be called from any number of threads. The
// destructor runs what is queued, then joins.

#ifndef CHEMLEDGER_SERVICES_COMMON_CALL_EXECUTOR_H_
#define CHEMLEDGER_SERVICES_COMMON_CALL_EXECUTOR_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>

#include "services/common/worker_pool.h"

namespace chemledger {

class CallExecutor {
 public:
  // `threads` workers named `name`; at most `max_waiting` calls scheduled and
  // not finished.
  CallExecutor(int threads, size_t max_waiting, const std::string& name)
      : max_waiting_(max_waiting), pool_(threads, 0, name) {}

  // Runs `fn` on a worker, unless `max_waiting` calls are scheduled and not
  // finished: then false, and `fn` is not run.
  bool TrySchedule(std::function<void()> fn) {
    if (pending_.fetch_add(1, std::memory_order_acq_rel) >= max_waiting_) {
      pending_.fetch_sub(1, std::memory_order_acq_rel);
      return false;
    }
    pool_.Run([this, fn = std::move(fn)] {
      fn();
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    });
    return true;
  }

 private:
  const size_t max_waiting_;
  std::atomic<size_t> pending_{0};
  WorkerPool pool_;  // last: joined first, while pending_ is alive
};

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_CALL_EXECUTOR_H_
