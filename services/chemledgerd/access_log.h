// chemledgerd's access log (docs/deployment.md, "Logs"): one JSON object a
// line for each gRPC call and each HTTP request, for log collectors:
//
//   {"time":"2026-11-30T12:00:00.123Z","kind":"grpc",
//    "method":"/chemledger.v1.LedgerService/Append","code":"OK","ms":1.84,
//    "peer":"ipv4:127.0.0.1:50412","request_id":"3f1c…","key_id":"a0000b31c591f364",
//    "payload_type":"application/vnd.chemledger.event.v1+protobuf"}
//   {"time":…,"kind":"http","route":"scan","method":"GET","path":"/…","status":200,
//    "ms":0.41,"client":"203.0.113.7","request_id":"9b2e…"}
//
// (An HTTP request's id is its X-Request-Id header when sane, or one made
// here, and the answer carries it back in X-Request-Id.) Text that is not
// well-formed UTF-8 is logged with U+FFFD in place of each bad byte.
//
// `request_id` is the caller's `x-request-id` metadata when it sends one (at
// most 64 printable characters), or one made here; either way the server
// sends it back as `x-request-id` in the call's initial metadata, so that a
// client can find its call in the log. `key_id` is the signer of a write
// (its envelope's first signature) or of a read (its credentials). Never
// logged: signatures, credentials, payloads, cookies, query strings (a
// console ticket travels in one).
//
// Lines are written by a thread of the log's own, so that no call waits for
// the disk or for whoever reads standard error: a call puts its line on a
// bounded queue (kMaxQueuedBytes) and goes on. When the writer falls that far
// behind (a stalled disk, a log collector that stopped reading a pipe), new
// lines are dropped and counted (lines_dropped(), the metric
// chemledger_access_log_lines_total{outcome="dropped"}) rather than held.
//
// Thread-safety: thread-safe; lines are written whole, in the order Write
// was called. The destructor writes what is queued, then returns.

#ifndef CHEMLEDGER_SERVICES_CHEMLEDGERD_ACCESS_LOG_H_
#define CHEMLEDGER_SERVICES_CHEMLEDGERD_ACCESS_LOG_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"

namespace chemledger::server {

class AccessLog {
 public:
  // What may wait to be written before lines are dropped.
  static constexpr size_t kMaxQueuedBytes = 8 << 20;

  // Writes to `out` (not owned; must outlive the log and the servers).
  explicit AccessLog(std::ostream* out, size_t max_queued_bytes = kMaxQueuedBytes);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // For grpc::ServerBuilder::experimental().SetInterceptorCreators.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  // A JSON value for Write: a string (escaped) or a number.
  struct Value {
    std::string json;
  };
  static Value String(absl::string_view s);
  static Value Number(double d);  // three decimals
  static Value Integer(int64_t i);

  // One line: "time", then `fields` in order. Queued, or dropped when the
  // queue is full; never waits for the writer.
  void Write(const std::vector<std::pair<std::string, Value>>& fields);

  // Lines handed to the stream so far, and dropped because the queue was
  // full (for the metrics).
  uint64_t lines_written() const;
  uint64_t lines_dropped() const;
  // Both, as {"written", n} and {"dropped", n} (ServerMetrics::WatchAccessLog).
  std::vector<std::pair<std::string, uint64_t>> LinesByOutcome() const;

 private:
  void WriteQueued();

  std::ostream* const out_;  // used by the writer thread only
  const size_t max_queued_bytes_;
  mutable absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread writer_;
};

}  // namespace chemledger::server

#endif  // CHEMLEDGER_SERVICES_CHEMLEDGERD_ACCESS_LOG_H_
