// Serving a bidirectional stream of signed writes a batch at a time, for the
// services whose core takes batches (LedgerService::AppendStream,
// WaybillService::SubmitStream): a reader thread queues what the client
// sends; the handler's thread hands what has queued up to the core as one
// batch (one durable write), writes one answer per request in order, and
// goes on. A client that sends ahead gets large batches; one that waits for
// each answer gets batches of one. Reading ahead stops at a bound, so a fast
// client cannot fill the server's memory.
//
// A client that stops sending and reading is dropped (stream_watchdog.h).
// Who may open such a stream, and how many may be open, is
// services/registry/stream_gate.h's.
//
// The queue between the reader and the handler is read_ahead_queue.h's.
//
// Thread-safety: AnswerInBatches runs on the handler's thread and two threads
// of its own (a reader and the watchdog), joined before it returns.

#ifndef CHEMLEDGER_SERVICES_COMMON_STREAM_BATCHES_H_
#define CHEMLEDGER_SERVICES_COMMON_STREAM_BATCHES_H_

#include <cstddef>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/sync_stream.h"
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

// Answers `stream` until the client closes its side or goes away. `answer`
// gets each batch and returns one result per request, in order. The status
// for the handler to return: OK, or RESOURCE_EXHAUSTED when no thread could
// be had to read the stream (nothing was answered).
template <typename Request, typename Result>
grpc::Status AnswerInBatches(grpc::ServerContext* context, grpc::ServerReaderWriter<Result, Request>* stream,
                     const StreamBatchLimits& limits,
                     absl::FunctionRef<std::vector<Result>(std::vector<Request>&)> answer) {
  ReadAheadQueue<Request> queue(limits.max_queued, limits.max_queued_bytes);
  StreamWatchdog watchdog([context] { context->TryCancel(); }, limits.timeouts);
  std::thread reader;
  try {
    reader = std::thread([&] {
      Request request;
      while (stream->Read(&request)) {
        watchdog.Active();
        if (!queue.Push(std::move(request))) break;
        request.Clear();
      }
      queue.Close();
    });
  } catch (const std::system_error&) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "the server has no thread to read this stream now; retry later");
  }
  bool client_gone = false;
  while (!client_gone) {
    std::vector<Request> batch = queue.TakeBatch(limits.max_batch);
    if (batch.empty()) break;
    for (const Result& result : answer(batch)) {
      watchdog.WriteStarted();
      const bool written = stream->Write(result);
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
  }
  reader.join();
  return grpc::Status::OK;
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_STREAM_BATCHES_H_
