// Serving a bidirectional stream of signed writes a batch at a time, for the
// services whose core takes batches (LedgerService::AppendStream,
// WaybillService::SubmitStream): a reader thread queues what the client
// sends; the handler's thread hands what has queued up to the core as one
// batch (one durable write), writes one answer per request in order, and
// goes on. A client that sends ahead gets large batches; one that waits for
// each answer gets batches of one. Reading ahead stops at a bound, so a fast
// client cannot fill the server's memory.
//
// StreamLimiter bounds how many such streams one service has open, so that
// streams cannot take every gRPC handler thread.
//
// Thread-safety: StreamLimiter is thread-safe. AnswerInBatches runs on the
// handler's thread and one thread of its own, joined before it returns.

#ifndef CHEMLEDGER_SERVICES_COMMON_STREAM_BATCHES_H_
#define CHEMLEDGER_SERVICES_COMMON_STREAM_BATCHES_H_

#include <algorithm>
#include <cstddef>
#include <deque>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/sync_stream.h"

namespace chemledger {

struct StreamBatchLimits {
  size_t max_batch = 512;              // requests handed to the core at once
  size_t max_queued = 4096;            // requests read ahead of the answers
  size_t max_queued_bytes = 16 << 20;  // their bytes
};

class StreamLimiter {
 public:
  explicit StreamLimiter(int max_open) : max_open_(max_open) {}
  StreamLimiter(const StreamLimiter&) = delete;
  StreamLimiter& operator=(const StreamLimiter&) = delete;

  // Holds one of the limiter's streams for its life, if one was free.
  class Slot {
   public:
    explicit Slot(StreamLimiter* limiter) : limiter_(limiter) {
      absl::MutexLock lock(&limiter_->mu_);
      ok_ = limiter_->open_ < limiter_->max_open_;
      if (ok_) ++limiter_->open_;
    }
    ~Slot() {
      if (!ok_) return;
      absl::MutexLock lock(&limiter_->mu_);
      --limiter_->open_;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

    bool ok() const { return ok_; }
    // RESOURCE_EXHAUSTED, saying how many `what` are open and what to do.
    grpc::Status Refusal(absl::string_view what, absl::string_view instead) const {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat(limiter_->max_open_, " ", what, " are open; ", instead));
    }

   private:
    StreamLimiter* const limiter_;
    bool ok_ = false;
  };

 private:
  const int max_open_;
  absl::Mutex mu_;
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

// Answers `stream` until the client closes its side or goes away. `answer`
// gets each batch and returns one result per request, in order.
template <typename Request, typename Result>
void AnswerInBatches(grpc::ServerContext* context, grpc::ServerReaderWriter<Result, Request>* stream,
                     const StreamBatchLimits& limits,
                     absl::FunctionRef<std::vector<Result>(std::vector<Request>&)> answer) {
  absl::Mutex mu;
  absl::CondVar changed;
  std::deque<Request> queue;  // guarded by mu
  size_t queued_bytes = 0;    // guarded by mu
  bool done = false;          // guarded by mu: the client closed its side
  bool stop = false;          // guarded by mu: the client went away
  std::thread reader([&] {
    Request request;
    while (stream->Read(&request)) {
      absl::MutexLock lock(&mu);
      while ((queue.size() >= limits.max_queued || queued_bytes >= limits.max_queued_bytes) &&
             !stop) {
        changed.Wait(&mu);
      }
      if (stop) break;
      queued_bytes += request.ByteSizeLong();
      queue.push_back(std::move(request));
      changed.SignalAll();
    }
    absl::MutexLock lock(&mu);
    done = true;
    changed.SignalAll();
  });
  bool client_gone = false;
  while (!client_gone) {
    std::vector<Request> batch;
    {
      absl::MutexLock lock(&mu);
      while (queue.empty() && !done) changed.Wait(&mu);
      if (queue.empty()) break;
      batch.reserve(std::min(queue.size(), limits.max_batch));
      while (!queue.empty() && batch.size() < limits.max_batch) {
        queued_bytes -= queue.front().ByteSizeLong();
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      changed.SignalAll();
    }
    for (const Result& result : answer(batch)) {
      if (!stream->Write(result)) {
        client_gone = true;
        break;
      }
    }
  }
  if (client_gone) {
    context->TryCancel();
    absl::MutexLock lock(&mu);
    stop = true;
    queue.clear();
    changed.SignalAll();
  }
  reader.join();
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_STREAM_BATCHES_H_
