// Keeps a server's gRPC health status (grpc.health.v1) in step with the
// ledger (journal::LedgerClient::Healthy): SERVING while it accepts writes,
// NOT_SERVING once a write has failed (disk full, an I/O error) and the
// ledger is read-only. Reads still answer then; the health check tells load
// balancers and operators to look. It turns SERVING again only when the
// store is reopened: fix the cause, then restart chemledgerd
// (docs/deployment.md). A read replica's ledger (ledgerd --read-replica) is
// SERVING while it follows the writer's commits.
//
// The health service named kWriterHealthService says whether this server
// takes writes now: SERVING at the writer only, not at a read replica nor
// at a standby ledgerd still waiting for the lease. A load balancer in
// front of the writer and its standbys checks it to send writes to the one
// that holds the lease (docs/postgres.md). Only a server that holds the
// store (chemledgerd, ledgerd) reports it: a personality of the cluster
// (labeld, waybilld, verifyd, auditd) writes through ledgerd and does not
// know it by that name (NOT_FOUND).
//
// Thread-safety: owns one thread, which polls the ledger; construct and
// destroy it from one thread. The ledger client and the health service must
// outlive it.

#ifndef CHEMLEDGER_SERVICES_CHEMLEDGERD_SERVING_STATUS_H_
#define CHEMLEDGER_SERVICES_CHEMLEDGERD_SERVING_STATUS_H_

#include <functional>
#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/health_check_service_interface.h"
#include "journal/ledger_client.h"

namespace chemledger::server {

inline constexpr char kWriterHealthService[] = "chemledger.writer";

// Whether the server holds the store, and so reports kWriterHealthService.
enum class WriterHealth { kReported, kNotReported };

class ServingStatusReporter {
 public:
  // Sets the status now, then every `interval`. `on_change`, if given, is
  // called (on the reporter's thread) with the ledger's health whenever it
  // changes, for the server's log.
  ServingStatusReporter(journal::LedgerClient* ledger, grpc::HealthCheckServiceInterface* health,
                        absl::Duration interval = absl::Milliseconds(250),
                        std::function<void(const absl::Status&)> on_change = nullptr,
                        WriterHealth writer = WriterHealth::kReported);
  ~ServingStatusReporter();

  ServingStatusReporter(const ServingStatusReporter&) = delete;
  ServingStatusReporter& operator=(const ServingStatusReporter&) = delete;

 private:
  void Report();  // on the constructor's thread, then on thread_ only

  journal::LedgerClient* const ledger_;
  grpc::HealthCheckServiceInterface* const health_;
  const std::function<void(const absl::Status&)> on_change_;
  const WriterHealth writer_;
  std::optional<bool> last_;  // the status last set
  std::optional<bool> last_writes_;  // kWriterHealthService's last set
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace chemledger::server

#endif  // CHEMLEDGER_SERVICES_CHEMLEDGERD_SERVING_STATUS_H_
