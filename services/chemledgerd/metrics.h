// chemledgerd's metrics in Prometheus text format (docs/deployment.md,
// "Metrics"), on a port of their own (`serve --metrics-listen`):
//
//   chemledger_grpc_requests_total{method, code}        calls answered
//   chemledger_grpc_request_seconds{method,code}        their latency (histogram)
//   chemledger_http_requests_total{route, status}       scan pages, staff app, console
//   chemledger_http_request_seconds{route}              their latency (histogram)
//   chemledger_journal_batches_total                    batches the store committed
//   chemledger_journal_batch_requests                   requests per batch (histogram)
//   chemledger_journal_commit_seconds                   a batch's commit and sync (histogram)
//   chemledger_log_entries                              the log's size
//   chemledger_store_bytes                              the store's files on disk
//   chemledger_slots_in_use{slot}, chemledger_slots{slot}  bounded things in use and
//                                                       their bound: issuance slots,
//                                                       submission streams
//   chemledger_cache_lookups_total{cache, result}       hits and misses of the caches
//                                                       watched (the journal's state
//                                                       cache; a personality's reads
//                                                       of ledgerd, services/ledgerd)
//   chemledger_refusal_records_total{outcome}           what became of refused requests
//                                                       (audit/refusal_recorder.h):
//                                                       recorded, repeated, replays,
//                                                       rate_limited, too_large,
//                                                       dropped, unverified, failed
//   chemledger_major_hazard_alerts_total{outcome}       alert entries recorded, and
//                                                       submissions that failed (each
//                                                       tried again; ledger/
//                                                       major_hazard_recorder.h)
//   chemledger_major_hazard_alerts_waiting              alerts whose entry failed,
//                                                       waiting to be tried again
//   chemledger_public_scan_records_total{outcome}       what became of anonymous scans
//                                                       of lost or ended packages
//                                                       (ledger/public_scan_recorder.h):
//                                                       recorded, repeated, rate_limited,
//                                                       dropped, refused, failed
//   chemledger_replica_head_read_age_seconds            a read replica: since it last read
//                                                       the writer's head in its database
//   chemledger_replica_replay_lag_seconds               a read replica on a PostgreSQL
//                                                       standby: how long ago the primary
//                                                       committed what the standby replayed
//                                                       last (0 on the primary; +Inf until
//                                                       the standby replays one)
//
// The gRPC figures come from a server interceptor (every service, the
// in-process calls of the staff app's bridge included); the HTTP figures from
// the scan server's observer; the journal's from JournalOptions::on_commit;
// the log's and store's sizes are read when scraped.
//
// Thread-safety: thread-safe. The object must outlive the gRPC server, the
// HTTP server and the deployment it is given to.

#ifndef CHEMLEDGER_SERVICES_CHEMLEDGERD_METRICS_H_
#define CHEMLEDGER_SERVICES_CHEMLEDGERD_METRICS_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"
#include "journal/journal.h"
#include "journal/ledger_client.h"

namespace chemledger::server {

class ServerMetrics {
 public:
  // `store_dir` is measured for the store's size (empty: a process without
  // a store, which reports none).
  explicit ServerMetrics(std::string store_dir);

  // The log whose size is reported (not owned; set once, before Serve).
  void WatchLog(journal::LedgerClient* ledger);
  ~ServerMetrics();

  // For grpc::ServerBuilder::experimental().SetInterceptorCreators.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  void RecordGrpc(absl::string_view method, int code, absl::Duration latency);
  // `route`: "scan", "app", "console", "static" or "other".
  void RecordHttp(absl::string_view route, int status, absl::Duration latency);
  void RecordCommit(const journal::CommittedBatch& batch);
  // A cache whose hits and misses so far `counts` tells (read when scraped;
  // set before Serve).
  void WatchCache(std::string cache, std::function<std::pair<uint64_t, uint64_t>()> counts);
  // A bounded resource (`slot`: "issuance", "ledger_streams", ...) whose use
  // `in_use` tells when scraped, out of `capacity`.
  void WatchSlots(std::string slot, std::function<int()> in_use, int capacity);
  // Counts so far by outcome, which `counts` tells (read when scraped; set
  // before Serve), as the counter `family` ("chemledger_refusal_records_total",
  // "chemledger_major_hazard_alerts_total") with the label `outcome`.
  using OutcomeCounts = std::function<std::vector<std::pair<std::string, uint64_t>>()>;
  void WatchOutcomes(const std::string& family, const std::string& help, OutcomeCounts counts);
  // The refusal recorder's (chemledger_refusal_records_total) and the major
  // hazard alert recorder's (chemledger_major_hazard_alerts_total, and the
  // alerts `waiting` for another try, chemledger_major_hazard_alerts_waiting).
  void WatchRefusalRecords(OutcomeCounts counts);
  void WatchMajorHazardAlerts(OutcomeCounts counts, std::function<int()> waiting);
  // The public scan recorder's (chemledger_public_scan_records_total).
  void WatchPublicScanRecords(OutcomeCounts counts);
  // The access log's lines, written or dropped (chemledger_access_log_lines_total).
  void WatchAccessLog(OutcomeCounts counts);
  // A read replica's view of the writer, which `lag` tells when scraped
  // (chemledger_replica_head_read_age_seconds and
  // chemledger_replica_replay_lag_seconds).
  struct ReplicaLag {
    absl::Duration since_head_read;  // since the replica last read the writer's head
    bool at_standby = false;         // its database is a standby
    // At a standby: how long ago the primary committed the newest
    // transaction the standby has replayed; nullopt before it replays one.
    std::optional<absl::Duration> replay_lag;
  };
  void WatchReplica(std::function<ReplicaLag()> lag);

  // Everything, in Prometheus text exposition format.
  std::string Scrape() const;

  // Serves GET /metrics on `listen` (HOST:PORT, port 0 picks one) until
  // destroyed; returns the port.
  absl::StatusOr<int> Serve(const std::string& listen);

  // The metrics are plain HTTP: InvalidArgument, naming --metrics-listen,
  // for an address that is not loopback. For checking the flag before
  // anything starts serving.
  static absl::Status CheckListenAddress(absl::string_view listen);
  // Stops serving /metrics (and so calling the functions WatchLog,
  // WatchCache and WatchSlots were given): before what they read goes.
  void StopServing();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chemledger::server

#endif  // CHEMLEDGER_SERVICES_CHEMLEDGERD_METRICS_H_
