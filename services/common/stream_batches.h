// Serving a bidirectional stream of signed writes a batch at a time, for the
// services whose core takes batches (LedgerService::AppendStream and
// AppendBatches, WaybillService::SubmitStream and SubmitBatches): a reader thread queues what the
// client sends; a checker thread takes what has queued up as one batch and checks what does not
// depend on the batches before it (the signatures, the expensive part); the handler's thread hands
// each checked batch, in order, to the core (one durable write), writes one answer per request in
// order, and goes on. So a batch is checked while the one before it commits, and a single stream
// keeps the write path busy. A client that sends ahead gets large batches; one that waits for each
// answer gets batches of one. Reading ahead stops at a bound (StreamBatchLimits: max_queued
// requests, max_queued_bytes), and besides the queue a stream holds at most three batches (one
// being checked, one checked and waiting, one being answered), so a fast client cannot fill the
// server's memory.
//
// A client that stops sending and reading is dropped (stream_watchdog.h).
// Who may open such a stream, and how many may be open, is
// services/registry/stream_gate.h's.
//
// The queue between the reader and the checker is read_ahead_queue.h's.
//
// Thread-safety: AnswerInBatches runs on the handler's thread and three
// threads of its own (a reader, a checker and the watchdog), joined before
// it returns.

#ifndef CHEMLEDGER_SERVICES_COMMON_STREAM_BATCHES_H_
#define CHEMLEDGER_SERVICES_COMMON_STREAM_BATCHES_H_

#include <cstddef>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/sync_stream.h"
#include "services/common/incoming_call.h"
#include "services/common/read_ahead_queue.h"
#include "services/common/stream_watchdog.h"

namespace chemledger {

struct StreamBatchLimits {
  size_t max_batch = 512;              // requests handed to the core at once
  size_t max_queued = 4096;            // requests read ahead of the answers
  size_t max_queued_bytes = 16 << 20;  // their bytes
  // A client that sends nothing and is sent nothing this long, or does not
  // take an answer this long, is dropped (stream_watchdog.h).
  StreamTimeouts timeouts;
};

namespace internal {

// The checked batch the checker hands to the handler: at most one waits.
template <typename Checked>
class CheckedHandoff {
 public:
  // Waits while a batch waits; false, with `checked` dropped, once stopped.
  bool Put(Checked checked) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &CheckedHandoff::EmptyOrStopped));
    if (stopped_) return false;
    waiting_ = std::move(checked);
    return true;
  }
  // No more batches will be put.
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  // Drops what waits; later puts are refused and Take returns nothing.
  void Stop() {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    waiting_.reset();
  }
  // The next batch; nullopt once closed and taken, or stopped.
  std::optional<Checked> Take() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &CheckedHandoff::ReadyOrEnded));
    std::optional<Checked> taken = std::move(waiting_);
    waiting_.reset();
    return taken;
  }

 private:
  bool EmptyOrStopped() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopped_ || !waiting_.has_value();
  }
  bool ReadyOrEnded() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopped_ || closed_ || waiting_.has_value();
  }

  absl::Mutex mu_;
  std::optional<Checked> waiting_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace internal

// Answers `stream` until the client closes its side or goes away. `check`
// gets each batch (on the checker thread, one batch ahead of the handler)
// and returns it checked; `answer` gets the checked batches in order and
// returns one result per request, in order. `check` sees the state as it is
// before the batches ahead of it are committed, so it must decide nothing
// that they could change, or `answer`'s core must check it again (the
// journal checks each signer again as of its entry). `admit` sees each
// request as it is read: the first it does not admit ends the stream, once
// the requests before it are answered, with the status it gave. The status
// for the handler to return: OK, that status, or RESOURCE_EXHAUSTED when no
// thread could be had to read the stream (nothing was answered).
template <typename Request, typename Checked, typename Result>
grpc::Status AnswerInBatches(grpc::ServerContext* context,
                             grpc::ServerReaderWriter<Result, Request>* stream,
                             const StreamBatchLimits& limits,
                             absl::FunctionRef<grpc::Status(const Request&)> admit,
                             absl::FunctionRef<Checked(std::vector<Request>)> check,
                             absl::FunctionRef<std::vector<Result>(Checked&)> answer) {
  ReadAheadQueue<Request> queue(limits.max_queued, limits.max_queued_bytes);
  internal::CheckedHandoff<Checked> checked;
  StreamWatchdog watchdog([context] { context->TryCancel(); }, limits.timeouts);
  const grpc::Status no_thread(grpc::StatusCode::RESOURCE_EXHAUSTED,
                               "the server has no thread to read this stream now; retry later");
  // The checker first: until the reader runs it only waits on the queue,
  // which Close releases without touching the call.
  std::thread checker;
  try {
    checker = std::thread([&] {
      // What it asks of ledgerd (a cluster's personality) ends with the call.
      IncomingCall serving(context);
      for (;;) {
        std::vector<Request> batch = queue.TakeBatch(limits.max_batch);
        if (batch.empty()) break;
        // Until it is answered the client waits on the server, not idle.
        watchdog.WorkStarted();
        const bool handed_over = checked.Put(check(std::move(batch)));
        watchdog.WorkDone();
        if (!handed_over) break;
      }
      checked.Close();
    });
  } catch (const std::system_error&) {
    return no_thread;
  }
  grpc::Status not_admitted;  // the reader's, read once it is joined
  std::thread reader;
  try {
    reader = std::thread([&] {
      Request request;
      while (stream->Read(&request)) {
        watchdog.Active();
        if (grpc::Status s = admit(request); !s.ok()) {
          not_admitted = std::move(s);
          break;
        }
        if (!queue.Push(std::move(request))) break;
        request.Clear();
      }
      queue.Close();
    });
  } catch (const std::system_error&) {
    queue.Close();
    checker.join();
    return no_thread;
  }
  bool client_gone = false;
  while (!client_gone) {
    std::optional<Checked> batch = checked.Take();
    if (!batch) break;
    watchdog.WorkStarted();
    const std::vector<Result> results = answer(*batch);
    watchdog.WorkDone();
    for (size_t i = 0; i < results.size(); ++i) {
      // Each answer goes out as it is written. No buffer hint: gRPC's
      // synchronous API may not complete a write that carries one until a
      // later frame goes out (grpc/grpc#12975), which a client that waits
      // for its answers never causes (stream_batches_test).
      watchdog.WriteStarted();
      const bool written = stream->Write(results[i]);
      watchdog.WriteDone();
      if (!written) {
        client_gone = true;
        break;
      }
    }
  }
  if (client_gone) {
    context->TryCancel();
    queue.Stop();
    checked.Stop();
  }
  checker.join();
  reader.join();
  return client_gone ? grpc::Status::OK : not_admitted;
}

// AnswerInBatches admitting every request.
template <typename Request, typename Checked, typename Result>
grpc::Status AnswerInBatches(grpc::ServerContext* context,
                             grpc::ServerReaderWriter<Result, Request>* stream,
                             const StreamBatchLimits& limits,
                             absl::FunctionRef<Checked(std::vector<Request>)> check,
                             absl::FunctionRef<std::vector<Result>(Checked&)> answer) {
  return AnswerInBatches<Request, Checked, Result>(
      context, stream, limits, [](const Request&) { return grpc::Status::OK; }, check, answer);
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_STREAM_BATCHES_H_
