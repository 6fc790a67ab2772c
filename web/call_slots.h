// Bounded slots for calls that run on threads shared with other work (the
// console's API calls on the page server's threads): at most `max` at
// once, at most `max` more waiting their turn for up to `wait`, and any
// other turned away at once, so that the callers never hold more than
// 2 × `max` of the shared threads.
//
// Thread-safety: thread-safe.

#ifndef CHEMLEDGER_WEB_CALL_SLOTS_H_
#define CHEMLEDGER_WEB_CALL_SLOTS_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chemledger::web {

class CallSlots {
 public:
  explicit CallSlots(int max, absl::Duration wait = absl::Seconds(30)) : max_(max), wait_(wait) {}
  // A slot (then Release() it), or false: all taken and as many waiting, or
  // none freed within `wait`.
  bool Acquire() {
    absl::MutexLock lock(&mu_);
    if (in_use_ >= max_ && waiting_ >= max_) return false;
    ++waiting_;
    auto free = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_use_ < max_; };
    const bool got = mu_.AwaitWithTimeout(absl::Condition(&free), wait_);
    --waiting_;
    if (!got) return false;
    ++in_use_;
    return true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    --in_use_;
  }
  // Calls waiting now (for tests and metrics).
  int waiting() {
    absl::MutexLock lock(&mu_);
    return waiting_;
  }

 private:
  const int max_;
  const absl::Duration wait_;
  absl::Mutex mu_;
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace chemledger::web

#endif  // CHEMLEDGER_WEB_CALL_SLOTS_H_
