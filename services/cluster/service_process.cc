#include "services/cluster/service_process.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <iostream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "chemledger/config/config.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "services/chemledgerd/serve_config.h"
#include "services/chemledgerd/serving_status.h"
#include "services/chemledgerd/test_clock.h"
#include "services/common/grpc_server.h"
#include "services/common/listen_address.h"
#include "services/common/stop_signals.h"
#include "services/common/tls_credentials.h"
#include "services/ledgerd/ledger_store_service.h"

namespace chemledger::cluster {
namespace {

// The flags every service takes.
const std::set<std::string>& CommonFlags() {
  static const std::set<std::string>* const flags = new std::set<std::string>{
      "listen",         "port-file",         "tls-ca",     "tls-cert",    "tls-key",
      "metrics-listen", "metrics-port-file", "access-log", "max-threads", "grpc-reflection",
      "test-clock"};
  return *flags;
}

constexpr char kCommonUsage[] =
    "Common flags:\n"
    "  --listen HOST:PORT      the public gRPC port\n"
    "  --port-file F           write the port there once serving\n"
    "  --tls-ca F --tls-cert F --tls-key F\n"
    "                          PEM files: the cluster's CA, this service's certificate (its\n"
    "                          common name is the service's name) and key (mode 0600).\n"
    "                          Every port serves TLS; calls between services are mutual TLS\n"
    "  --plaintext             no TLS: only when every address is loopback (tests, demos)\n"
    "  --metrics-listen HOST:PORT [--metrics-port-file F]\n"
    "                          Prometheus metrics (plain HTTP, so on a loopback address\n"
    "                          only)\n"
    "  --access-log FILE|-     one JSON object per call (request id, method, code, actor key)\n"
    "  --max-threads N         threads gRPC may start for calls (default 1024)\n"
    "  --grpc-reflection on|off\n"
    "                          serve gRPC server reflection (default off: each open\n"
    "                          reflection stream holds a call thread, without credentials)\n"
    "  --test-clock FILE       test deployments only\n"
    "  --config FILE           the flags from a chemledger.config.ServiceConfig (text format)\n";

}  // namespace

absl::Status ServiceProcess::Prepare() {
  if (args_.Has("metrics-listen")) {
    if (absl::Status s = server::ServerMetrics::CheckListenAddress(args_.Get("metrics-listen"));
        !s.ok()) {
      return s;
    }
  }
  plaintext_ = args_.Bool("plaintext");
  if (plaintext_) {
    for (const char* flag : {"listen", "internal-listen", "ledger", "http-listen"}) {
      if (!args_.Has(flag)) continue;
      const std::string address = args_.Get(flag);
      if (address != "none" && !IsLoopback(address)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--plaintext: --", flag, " ", address,
            " is not a loopback address; beyond this machine every port needs TLS"));
      }
    }
    if (args_.Has("tls-cert") || args_.Has("tls-ca") || args_.Has("tls-key")) {
      return absl::InvalidArgumentError("--plaintext: not with --tls-ca, --tls-cert or --tls-key");
    }
  } else {
    for (const char* flag : {"tls-ca", "tls-cert", "tls-key"}) {
      if (!args_.Has(flag)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--", flag, ": needed (every port serves TLS; tools/cluster/make-dev-ca.sh makes a "
            "development CA), or --plaintext on loopback"));
      }
    }
  }
  if (args_.Has("test-clock")) {
    absl::StatusOr<std::function<absl::Time()>> clock =
        server::OpenTestClock(args_.Get("test-clock"));
    if (!clock.ok()) return clock.status();
    clock_ = *std::move(clock);
  }
  if (args_.Has("access-log")) {
    absl::StatusOr<std::unique_ptr<server::AccessLog>> opened =
        server::AccessLog::Open(args_.Get("access-log"));
    if (!opened.ok()) return opened.status();
    access_log_ = *std::move(opened);
  }
  if (args_.Has("metrics-listen")) {
    metrics_ = std::make_unique<server::ServerMetrics>(
        args_.Has("data") ? absl::StrCat(args_.Get("data"), "/log") : "");
    if (access_log_) {
      metrics_->WatchAccessLog([log = access_log_.get()] { return log->LinesByOutcome(); });
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ledgerd::RemoteLedger>> ServiceProcess::ConnectLedger() {
  absl::StatusOr<std::string> address = args_.Required("ledger");
  if (!address.ok()) return address.status();
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  grpc::ChannelArguments channel_args = ledgerd::RemoteLedgerChannelArguments();
  if (plaintext_) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> tls = TlsChannelCredentials(
        {args_.Get("tls-ca"), args_.Get("tls-cert"), args_.Get("tls-key")});
    if (!tls.ok()) return tls.status();
    credentials = *std::move(tls);
    // ledgerd's certificate names it, wherever it runs.
    channel_args.SetSslTargetNameOverride("ledgerd");
  }
  absl::StatusOr<std::unique_ptr<ledgerd::RemoteLedger>> ledger = ledgerd::RemoteLedger::Connect(
      grpc::CreateCustomChannel(*address, credentials, channel_args), {}, absl::Minutes(1));
  if (!ledger.ok()) {
    return absl::Status(ledger.status().code(),
                        absl::StrCat("--ledger ", *address, ": ", ledger.status().message()));
  }
  if (metrics_) {
    ledgerd::RemoteLedger* remote = ledger->get();
    metrics_->WatchCache("ledger_entries", [remote] {
      const ledgerd::RemoteLedgerStats s = remote->stats();
      return std::make_pair(s.entry_cache_hits, s.entry_cache_misses);
    });
    metrics_->WatchCache("ledger_state", [remote] {
      const ledgerd::RemoteLedgerStats s = remote->stats();
      return std::make_pair(s.state_cache_hits, s.state_cache_misses);
    });
  }
  return ledger;
}

bool ServiceProcess::StopSignalWithin(absl::Duration timeout) {
  // This caller takes them from now on (a standby serving reads while it
  // waits, a read replica between its attempts to open).
  EndStartup();
  const sigset_t stop_signals = StopSignalSet();
  const timespec wait = absl::ToTimespec(timeout);
  const int got = sigtimedwait(&stop_signals, nullptr, &wait);
  if (got <= 0) return false;
  stop_signal_ = got;
  std::cout << spec_.name << ": " << StopSignalName(got) << ", stopping" << std::endl;
  return true;
}

absl::Status ServiceProcess::Serve(const Serving& serving) {
  absl::StatusOr<int> max_threads = ReadMaxThreads(args_);
  if (!max_threads.ok()) return max_threads.status();
  absl::StatusOr<bool> reflection = ReadGrpcReflection(args_);
  if (!reflection.ok()) return reflection.status();
  std::shared_ptr<grpc::ServerCredentials> public_credentials;
  std::shared_ptr<grpc::ServerCredentials> internal_credentials;
  if (plaintext_) {
    public_credentials = internal_credentials = grpc::InsecureServerCredentials();
  } else {
    const TlsFiles files{args_.Get("tls-ca"), args_.Get("tls-cert"), args_.Get("tls-key")};
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> tls = TlsServerCredentials(files, false);
    if (!tls.ok()) return tls.status();
    public_credentials = *std::move(tls);
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> mutual =
        TlsServerCredentials(files, true);
    if (!mutual.ok()) return mutual.status();
    internal_credentials = *std::move(mutual);
  }
  const auto start = [&](const std::string& listen,
                         const std::shared_ptr<grpc::ServerCredentials>& credentials,
                         const std::vector<grpc::Service*>& services,
                         bool internal) -> absl::StatusOr<StartedGrpcServer> {
    GrpcServerOptions options;
    options.name = absl::StrCat(spec_.name, internal ? "-internal" : "");
    options.max_threads = *max_threads;
    options.reflection = *reflection;
    options.listen = listen;
    options.credentials = credentials;
    options.services = services;
    if (internal) options.max_message_bytes = ledgerd::kMaxMessageBytes;
    if (metrics_) options.interceptors.push_back(metrics_->InterceptorFactory());
    if (access_log_ && !internal) options.interceptors.push_back(access_log_->InterceptorFactory());
    return StartGrpcServer(std::move(options), internal ? "--internal-listen" : "--listen");
  };
  // Serving again in this process (a standby that took the lease): the
  // same ports, also where the flags asked for any free one.
  const auto again = [](std::string address, int before) {
    if (before != 0 && absl::EndsWith(address, ":0")) {
      address = absl::StrCat(address.substr(0, address.size() - 1), before);
    }
    return address;
  };
  const std::string listen = again(args_.Get("listen", spec_.default_listen), served_port_);
  int port = 0;
  std::unique_ptr<grpc::Server> server;
  // From here the service takes calls: a stop signal waits for the graceful
  // stop below (stop_signals.h).
  EndStartup();
  if (!serving.services.empty()) {
    absl::StatusOr<StartedGrpcServer> started =
        start(listen, public_credentials, serving.services, false);
    if (!started.ok()) return started.status();
    server = std::move(started->server);
    port = started->port;
  }
  int internal_port = 0;
  std::unique_ptr<grpc::Server> internal;
  if (!serving.internal_services.empty()) {
    const std::string internal_listen =
        again(args_.Get("internal-listen", "127.0.0.1:7453"), served_internal_port_);
    absl::StatusOr<StartedGrpcServer> started =
        start(internal_listen, internal_credentials, serving.internal_services, true);
    if (!started.ok()) return started.status();
    internal = std::move(started->server);
    internal_port = started->port;
  }
  if (metrics_) {
    if (serving.ledger != nullptr) metrics_->WatchLog(serving.ledger);
    absl::StatusOr<int> metrics_port =
        metrics_->Serve(again(args_.Get("metrics-listen"), served_metrics_port_));
    if (!metrics_port.ok()) return metrics_port.status();
    served_metrics_port_ = *metrics_port;
    if (args_.Has("metrics-port-file")) {
      if (absl::Status s = WritePortFile(args_.Get("metrics-port-file"), *metrics_port); !s.ok()) {
        return s;
      }
    }
  }
  served_port_ = port;
  served_internal_port_ = internal_port;
  std::vector<std::unique_ptr<server::ServingStatusReporter>> health;
  if (serving.ledger != nullptr) {
    for (grpc::Server* s : {server.get(), internal.get()}) {
      if (s == nullptr) continue;
      health.push_back(std::make_unique<server::ServingStatusReporter>(
          serving.ledger, s->GetHealthCheckService(), absl::Milliseconds(250),
          [name = spec_.name](const absl::Status& writable) {
            if (!writable.ok()) {
              std::cerr << name << ": NOT_SERVING: " << cli::OneLine(writable.message())
                        << std::endl;
            }
          },
          serving.holds_store ? server::WriterHealth::kReported
                              : server::WriterHealth::kNotReported));
    }
  }
  if (internal && args_.Has("internal-port-file")) {
    if (absl::Status s = WritePortFile(args_.Get("internal-port-file"), internal_port); !s.ok()) {
      return s;
    }
  }
  // Written last: once it is there, every port accepts calls.
  if (server && args_.Has("port-file")) {
    if (absl::Status s = WritePortFile(args_.Get("port-file"), port); !s.ok()) return s;
  }
  std::cout << spec_.name << ": " << serving.ready_line;
  if (server) std::cout << "; gRPC on port " << port;
  if (internal) std::cout << "; internal port " << internal_port;
  std::cout << (plaintext_ ? " (plaintext, loopback)" : " (TLS)") << std::endl;

  stop_signal_ = WaitForStopSignal(serving.until);
  if (stop_signal_ != 0) {
    std::cout << spec_.name << ": " << StopSignalName(stop_signal_)
              << ", stopping: calls in progress finish, new ones are refused" << std::endl;
  }
  health.clear();
  if (serving.stop_first) serving.stop_first();
  // Both ports refuse new calls at once, and the calls in progress on
  // either finish (or are cancelled at the deadline). ledgerd's public calls
  // need nothing of its internal port; the internal port's in-flight calls
  // are other processes' writes, which finish too.
  StopGrpcServers({server.get(), internal.get()});
  // The metrics read the services, which go when the caller returns.
  if (metrics_) metrics_->StopServing();
  return absl::OkStatus();
}

int RunService(const ServiceSpec& spec, int argc, char** argv,
               const std::function<absl::Status(ServiceProcess&)>& run) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  umask(077);
  // A client that goes away mid-write must cost that write only.
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> argv_list(argv + 1, argv + argc);
  absl::StatusOr<std::vector<std::string>> configured =
      server::WithConfigFile(argv_list, config::ServiceConfig::default_instance());
  if (!configured.ok()) {
    std::cerr << spec.name << ": " << cli::OneLine(configured.status().message()) << "\n";
    return 2;
  }
  cli::FlagSpec flags;
  flags.with_value = CommonFlags();
  flags.with_value.insert(spec.flags.begin(), spec.flags.end());
  flags.boolean = {"plaintext"};
  flags.boolean.insert(spec.switches.begin(), spec.switches.end());
  if (spec.flags.count("http-listen")) {
    flags.boolean.insert("http-plaintext");
    flags.with_value.insert("trusted-proxy");
  }
  absl::StatusOr<cli::Args> args = cli::Args::Parse(*configured, flags);
  if (!args.ok()) {
    std::cerr << spec.name << ": " << cli::OneLine(args.status().message()) << " (see --help)\n";
    return 2;
  }
  if (args->help()) {
    std::cout << spec.usage << "\n"
              << kCommonUsage << "\n"
              << server::ConfigFileHelp(*config::ServiceConfig::descriptor());
    return 0;
  }
  // Block the stop signals in every thread: one that comes while the
  // process starts ends it at once; Serve (or a standby's wait) takes them
  // from then on (stop_signals.h).
  BlockStopSignalsWhileStarting(spec.name);
  // A hang-up does not stop a service (as chemledgerd: nothing to reload).
  signal(SIGHUP, SIG_IGN);
  ServiceProcess process(spec, *std::move(args));
  absl::Status status = process.Prepare();
  if (status.ok()) status = run(process);
  if (!status.ok()) {
    std::cerr << spec.name << ": " << cli::OneLine(status.message()) << "\n";
    return 1;
  }
  return 0;
}

}  // namespace chemledger::cluster
