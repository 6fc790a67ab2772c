// The benchmarks' streaming client: pushes requests down a bidirectional
// gRPC stream whose server answers each request once, in order, keeping at
// most a window of them unanswered, so that the latency measured (from a
// request's Write to its answer's Read) is the server's, not a queue the
// client built.

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_STREAM_WINDOW_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_STREAM_WINDOW_H_

#include <cstddef>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/sync_stream.h"

namespace chemledger::chembench {

struct StreamOutcome {
  size_t answers = 0;                // how many the server sent
  std::vector<double> latencies_ms;  // one per answer to a request, in order
  grpc::Status status;               // the stream's, from Finish
};

// Writes `requests` on `stream` (from a thread of its own) with at most
// `window` unanswered, then WritesDone; reads the answers on the calling
// thread, calling on_answer(k, answer) for the answer to requests[k]. If
// the stream ends early, what was not yet written is not.
template <typename Request, typename Answer, typename OnAnswer>
StreamOutcome PushWithWindow(grpc::ClientReaderWriterInterface<Request, Answer>* stream,
                             const std::vector<const Request*>& requests, size_t window,
                             OnAnswer on_answer) {
  std::vector<absl::Time> sent(requests.size());
  absl::Mutex mu;
  absl::CondVar answered;
  size_t received = 0;  // guarded by mu
  bool reading = true;  // guarded by mu
  std::thread writer([&] {
    for (size_t k = 0; k < requests.size(); ++k) {
      {
        absl::MutexLock lock(&mu);
        while (reading && k - received >= window) answered.Wait(&mu);
        if (!reading) break;
      }
      sent[k] = absl::Now();
      if (!stream->Write(*requests[k])) break;
    }
    stream->WritesDone();
  });
  StreamOutcome outcome;
  outcome.latencies_ms.reserve(requests.size());
  Answer answer;
  size_t k = 0;
  while (stream->Read(&answer)) {
    if (k < requests.size()) {
      outcome.latencies_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - sent[k]));
      on_answer(k, answer);
    }
    ++k;
    absl::MutexLock lock(&mu);
    received = k;
    answered.Signal();
  }
  {
    absl::MutexLock lock(&mu);
    reading = false;
    answered.Signal();
  }
  writer.join();
  outcome.answers = k;
  outcome.status = stream->Finish();
  return outcome;
}

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_STREAM_WINDOW_H_
