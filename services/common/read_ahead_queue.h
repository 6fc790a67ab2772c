// The queue between a stream's reader and the thread that takes its batches
// (stream_batches.h's checker; "the handler" below): the reader pushes each
// request it reads from the client; the handler takes what has queued up as
// one batch. The queue is bounded by a count and by
// bytes, so a client that sends ahead cannot fill the server's memory: a push
// into a full queue waits until the handler takes a batch.
//
// The reader ends the queue with Close (the client closed its side); the
// handler drops it with Stop (the client went away: what is queued can no
// longer be answered), which also releases a reader waiting on a full queue.
//
// `Request` is a message with `size_t ByteSizeLong() const` (any protobuf
// message).
//
// Thread-safety: all methods may be called from any thread; one reader and
// one handler is the intended use.

#ifndef CHEMLEDGER_SERVICES_COMMON_READ_AHEAD_QUEUE_H_
#define CHEMLEDGER_SERVICES_COMMON_READ_AHEAD_QUEUE_H_

#include <algorithm>
#include <cstddef>
#include <deque>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace chemledger {

template <typename Request>
class ReadAheadQueue {
 public:
  // At most `max_queued` requests, and at most `max_queued_bytes` of them
  // once one is queued (a single request larger than the byte bound still
  // goes through, alone).
  ReadAheadQueue(size_t max_queued, size_t max_queued_bytes)
      : max_queued_(std::max<size_t>(max_queued, 1)), max_queued_bytes_(max_queued_bytes) {}
  ReadAheadQueue(const ReadAheadQueue&) = delete;
  ReadAheadQueue& operator=(const ReadAheadQueue&) = delete;

  // Queues `request`, waiting while the queue is full. False, with the
  // request dropped, once Stop was called.
  bool Push(Request request) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &ReadAheadQueue::HasRoomOrStopped));
    if (stopped_) return false;
    queued_bytes_ += request.ByteSizeLong();
    queue_.push_back(std::move(request));
    return true;
  }

  // No more requests will be pushed.
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

  // Waits until a request is queued or the queue is closed or stopped, then
  // takes up to `max_batch` requests in the order pushed. Empty once the
  // queue is closed and drained, or stopped.
  std::vector<Request> TakeBatch(size_t max_batch) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &ReadAheadQueue::HasRequestOrEnded));
    std::vector<Request> batch;
    if (stopped_) return batch;
    batch.reserve(std::min(queue_.size(), std::max<size_t>(max_batch, 1)));
    while (!queue_.empty() && batch.size() < std::max<size_t>(max_batch, 1)) {
      queued_bytes_ -= queue_.front().ByteSizeLong();
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return batch;
  }

  // Drops what is queued; later pushes are refused and TakeBatch returns
  // nothing.
  void Stop() {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    queue_.clear();
    queued_bytes_ = 0;
  }

  // How many requests are queued now.
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return queue_.size();
  }

 private:
  bool HasRoomOrStopped() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopped_ || queue_.empty() ||
           (queue_.size() < max_queued_ && queued_bytes_ < max_queued_bytes_);
  }
  bool HasRequestOrEnded() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopped_ || closed_ || !queue_.empty();
  }

  const size_t max_queued_;
  const size_t max_queued_bytes_;
  mutable absl::Mutex mu_;
  std::deque<Request> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_READ_AHEAD_QUEUE_H_
