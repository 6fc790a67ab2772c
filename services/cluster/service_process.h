// What every ChemLedger service that runs as a process of its own (ledgerd,
// labeld, waybilld, verifyd, auditd; docs/cluster.md) does alike: its
// command line and configuration file (a chemledger.config.ServiceConfig,
// flags override it), TLS on every port (mutual TLS between the services),
// the connection to ledgerd, the gRPC server with health checking,
// reflection, metrics and the access log, port files, and a graceful stop
// on SIGTERM or SIGINT (calls in progress finish, new ones are refused).
//
// Each binary's main() calls RunService with its spec and a function that
// builds its services (the same cores and adapters the all-in-one
// chemledgerd runs) and hands them to ServiceProcess::Serve.
//
// Thread-safety: a ServiceProcess is used from RunService's thread; the
// objects it hands out (ledger, metrics, access log) are thread-safe.

#ifndef CHEMLEDGER_SERVICES_CLUSTER_SERVICE_PROCESS_H_
#define CHEMLEDGER_SERVICES_CLUSTER_SERVICE_PROCESS_H_

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "journal/ledger_client.h"
#include "services/chemledgerd/access_log.h"
#include "services/chemledgerd/metrics.h"
#include "services/ledgerd/remote_ledger.h"
#include "tools/cli/args.h"

namespace chemledger::cluster {

struct ServiceSpec {
  std::string name;       // "labeld": also the common name of its certificate
  std::string usage;      // --help's text for its own flags and what it serves
  std::set<std::string> flags;  // its own flags (with a value), beyond the common ones
  std::string default_listen;   // its public gRPC port's default
  std::set<std::string> switches;  // its own flags without a value
};

class ServiceProcess {
 public:
  const cli::Args& args() const { return args_; }
  const std::string& name() const { return spec_.name; }
  // The --test-clock clock, or empty for the real one.
  const std::function<absl::Time()>& clock() const { return clock_; }
  // Null unless --metrics-listen / --access-log.
  server::ServerMetrics* metrics() const { return metrics_.get(); }
  server::AccessLog* access_log() const { return access_log_.get(); }
  // Whether --plaintext (loopback only) was asked for.
  bool plaintext() const { return plaintext_; }

  // Connects to ledgerd's internal port (--ledger) as this service: mutual
  // TLS with --tls-ca, --tls-cert and --tls-key (ledgerd's certificate must
  // name "ledgerd"), or plaintext on loopback. Waits up to a minute for
  // ledgerd to answer. Its cache counts go to the metrics.
  absl::StatusOr<std::unique_ptr<ledgerd::RemoteLedger>> ConnectLedger();

  struct Serving {
    // On --listen (TLS, no client certificate asked for).
    std::vector<grpc::Service*> services;
    // ledgerd's on --internal-listen (mutual TLS).
    std::vector<grpc::Service*> internal_services;
    // Health: NOT_SERVING while it is not writable.
    journal::LedgerClient* ledger = nullptr;
    // ledgerd, which holds the store: its health also says whether it is the
    // writer (chemledger.writer); the personalities' does not.
    bool holds_store = false;
    // What it says once serving (after the port files are written).
    std::string ready_line;
    // Called first when the stop signal comes, before the gRPC ports stop:
    // the HTTP pages of verifyd and auditd stop taking requests and finish
    // theirs.
    std::function<void()> stop_first;
    // When notified, serving ends as it does on a signal (a standby ledgerd
    // that took the writer's lease serves again, as the writer).
    absl::Notification* until = nullptr;
  };
  // Serves until SIGTERM or SIGINT (or `until`), then stops gracefully.
  absl::Status Serve(const Serving& serving);
  // Whether SIGTERM or SIGINT came: the process is to stop.
  bool stop_requested() const { return stop_signal_ != 0; }
  // Waits up to `timeout` for SIGTERM or SIGINT, for a process that is not
  // serving yet (and retries something); true, having said so, if one came.
  bool StopSignalWithin(absl::Duration timeout);

 private:
  friend int RunService(const ServiceSpec&, int, char**,
                        const std::function<absl::Status(ServiceProcess&)>&);
  ServiceProcess(ServiceSpec spec, cli::Args args) : spec_(std::move(spec)), args_(std::move(args)) {}
  absl::Status Prepare();

  const ServiceSpec spec_;
  const cli::Args args_;
  bool plaintext_ = false;
  int stop_signal_ = 0;  // the signal that asked to stop, once one came
  // The ports the last Serve bound (0: none), which the next one binds.
  int served_port_ = 0;
  int served_internal_port_ = 0;
  int served_metrics_port_ = 0;
  std::function<absl::Time()> clock_;
  // (In this order: the metrics, which read the access log's counts, go
  // first.)
  std::unique_ptr<server::AccessLog> access_log_;
  std::unique_ptr<server::ServerMetrics> metrics_;
};

// Parses the command line (and --config), answers --help, prepares TLS,
// metrics and the access log, and calls `run`. Returns the exit code: 0, 1
// for an error (one line "<name>: <reason>"), 2 for a bad command line.
int RunService(const ServiceSpec& spec, int argc, char** argv,
               const std::function<absl::Status(ServiceProcess&)>& run);

}  // namespace chemledger::cluster

#endif  // CHEMLEDGER_SERVICES_CLUSTER_SERVICE_PROCESS_H_
