#include "services/common/background_queue.h"

#include <pthread.h>

#include <utility>

namespace chemledger {

BackgroundQueue::BackgroundQueue(const std::string& name, Limits limits,
                                 std::function<void(uint64_t)> dropped_at_stop)
    : limits_(limits), dropped_at_stop_(std::move(dropped_at_stop)) {
  thread_ = std::thread([this, name] {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    Run();
  });
}

BackgroundQueue::~BackgroundQueue() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Flush(limits_.drain);
  {
    absl::MutexLock lock(&mu_);
    abandon_ = true;
  }
  thread_.join();
  uint64_t dropped = 0;
  {
    absl::MutexLock lock(&mu_);
    dropped = dropped_;
  }
  if (dropped_at_stop_ && dropped > 0) dropped_at_stop_(dropped);
}

bool BackgroundQueue::Push(std::function<void()> task, size_t bytes) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= limits_.max_tasks ||
      bytes > limits_.max_bytes - queued_bytes_) {
    return false;
  }
  queue_.push_back(Queued{std::move(task), bytes});
  queued_bytes_ += bytes;
  ++pushed_;
  return true;
}

bool BackgroundQueue::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const uint64_t target = pushed_;
  const auto done = [this, target]()
                        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return handled_ >= target; };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

size_t BackgroundQueue::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void BackgroundQueue::Run() {
  for (;;) {
    Queued next;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](BackgroundQueue* q)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) { return !q->queue_.empty() || q->stopping_; },
          this));
      // Empty here means stopping (Push takes nothing more): done. After
      // the drain, what is left is dropped (and told, by the destructor).
      if (abandon_ || queue_.empty()) {
        dropped_ += queue_.size();
        handled_ += queue_.size();
        queue_.clear();
        queued_bytes_ = 0;
        return;
      }
      next = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= next.bytes;
    }
    next.task();
    absl::MutexLock lock(&mu_);
    ++handled_;
  }
}

}  // namespace chemledger
