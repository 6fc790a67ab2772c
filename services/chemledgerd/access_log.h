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
// lines are dropped and counted (LinesByOutcome(), the metric
// chemledger_access_log_lines_total{outcome="dropped"}) rather than held.
// Lines still queued when the process ends without stopping (a crash,
// SIGKILL, the immediate exit of a writer that lost its lease) are lost.
//
// Thread-safety: thread-safe; lines go out in the order Write was called,
// each batch in one write where the file takes it (a full disk may leave a
// line cut short, counted as failed; the next line starts on a line of its
// own). Lines are not synced. The destructor writes what is queued
// (for a log of Open, waiting at most kDrainTimeout), then returns.

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
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"

namespace chemledger::server {

class AccessLog {
 public:
  // What may wait to be written before lines are dropped.
  static constexpr size_t kMaxQueuedBytes = 8 << 20;
  // How long the destructor waits for a stalled stream of a log of Open
  // before it gives up on what is still queued.
  static constexpr absl::Duration kDrainTimeout = absl::Seconds(5);

  // Appends to the file `where`, or to standard error for "-" (the flag
  // --access-log). InvalidArgument naming the flag when the file cannot be
  // opened for appending.
  static absl::StatusOr<std::unique_ptr<AccessLog>> Open(const std::string& where);

  // Writes to `out` (not owned; must outlive the log). Its destructor waits
  // for every queued line, however long the stream takes (for tests).
  explicit AccessLog(std::ostream* out, size_t max_queued_bytes = kMaxQueuedBytes);
  // Writes what is queued. A log of Open waits at most kDrainTimeout for
  // it: a stream stalled beyond that keeps the rest (and the writer thread,
  // which holds the stream) to itself, so that the process can still stop.
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

  // Lines so far by what became of them, for the metrics
  // (ServerMetrics::WatchAccessLog): "written" (the stream took them),
  // "failed" (the stream refused them: a full disk, a closed pipe) and
  // "dropped" (the queue was full).
  std::vector<std::pair<std::string, uint64_t>> LinesByOutcome() const;

 private:
  struct State;
  explicit AccessLog(std::shared_ptr<State> state);
  static void WriteQueued(const std::shared_ptr<State>& state);

  const std::shared_ptr<State> state_;  // shared with the writer thread
  std::thread writer_;
};

}  // namespace chemledger::server

#endif  // CHEMLEDGER_SERVICES_CHEMLEDGERD_ACCESS_LOG_H_
