// A chemledgerd the benchmarks start as a separate process, and the setup
// they do through its gRPC API before they measure. The server runs on a
// new deployment in a scratch directory (`chemledgerd init` with a fresh
// platform administrator key, then `chemledgerd serve` on a free loopback
// port); the directory goes when the server does.
//
// Thread-safety: channel() may be used from any thread; the setup methods
// from one thread at a time.

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_BENCH_SERVER_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_BENCH_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/keys.h"
#include "grpcpp/channel.h"
#include "services/common/grpc_read_auth.h"
#include "tools/chembench/bench_enterprises.h"

namespace chemledger::chembench {

class BenchServer {
 public:
  // The deployment's name, which is its checkpoint origin: what read
  // credentials are bound to.
  static constexpr char kDeployment[] = "chembench";
  // Who signs reads and opens streams as `actor` on this deployment.
  static read_auth::ReadSigner Signer(const crypto::SigningKey& actor) {
    return read_auth::ReadSigner{actor, kDeployment};
  }
  // Makes the directory `directory`/chembench-`name`.XXXXXX, initialises a
  // deployment in it with the binary `chemledgerd`, and serves it (with
  // `serve_flags` added to `chemledgerd serve`).
  static absl::StatusOr<std::unique_ptr<BenchServer>> Start(
      const std::string& chemledgerd, const std::string& directory, const std::string& name,
      std::vector<std::string> serve_flags = {});
  // Deployments Start makes from now on keep their store on PostgreSQL
  // (chemledgerd init --postgres CONNINFO; the database must exist and be
  // empty). Set once, before any benchmark runs.
  static void StoreOnPostgres(const std::string& connection);
  // The same deployment served by the cluster (docs/cluster.md): ledgerd,
  // labeld, waybilld, verifyd and auditd from `cluster_bin`, started by the
  // script `cluster_script` (tools/cluster/cluster.sh) over TLS with a
  // development CA. channel() is then ledgerd's; ChannelFor names each
  // service's.
  static absl::StatusOr<std::unique_ptr<BenchServer>> StartCluster(
      const std::string& chemledgerd, const std::string& cluster_bin,
      const std::string& cluster_script, const std::string& directory, const std::string& name);
  // The channel to `service` ("chemledger.v1.LabelService"): channel() for
  // chemledgerd.
  std::shared_ptr<grpc::Channel> ChannelFor(absl::string_view service) const;
  // The server's processes (chemledgerd's; the cluster's five).
  std::vector<pid_t> pids() const;
  // Stops the server (SIGTERM) and serves the same data directory again;
  // returns how long it took from the start of the process until it
  // accepted calls.
  absl::StatusOr<absl::Duration> Restart();
  // The server process.
  pid_t pid() const { return pid_; }
  // Starts `ledgerd --read-replica` (the binary `ledgerd`) on a copy of the
  // deployment (its store on PostgreSQL: the replica reads the same
  // database), plaintext on loopback, and returns the channel to it once
  // it serves. It is stopped with this server.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> StartReadReplica(const std::string& ledgerd);
  // Bytes on disk in the data directory's store.
  uint64_t StoreBytes() const;
  // Stops the server (SIGTERM, then waits for it) and removes the directory.
  ~BenchServer();
  BenchServer(const BenchServer&) = delete;
  BenchServer& operator=(const BenchServer&) = delete;

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  // A channel to chemledgerd on a TCP connection of its own, as another
  // client's would be (channel() and the channels made alike share one).
  std::shared_ptr<grpc::Channel> NewConnection() const;
  // The port of the scan pages (HTTP on loopback).
  int http_port() const { return http_port_; }

  // Submits each of `steps` to RegistryService, signed by the platform
  // administrator or (by_admin false) by `actor`.
  absl::Status Register(const std::vector<BenchSetupStep>& steps, const crypto::SigningKey& actor);

  // Registers `count` admin actors of enterprise `uscc` and returns their
  // keys: a server lets one actor hold only a few streams open, so a
  // benchmark opens each of its streams as another actor.
  absl::StatusOr<std::vector<crypto::SigningKey>> StreamOpeners(const std::string& uscc,
                                                                int count);

  // Issues `count` labels of the benchmark product in `batch` (serials 1 to
  // count), signed by `producer`, in requests of the most packages a request
  // may hold. The labels' URLs go to *urls when it is given.
  absl::Status IssueLabels(const crypto::SigningKey& producer, const std::string& batch, int count,
                           std::vector<std::string>* urls = nullptr);

  // Issues `count` labels of the benchmark product in `batch` (serials 1 to
  // count), then commissions them at the producer's site, all signed by
  // `producer`, the producer's admin actor. The labels' URLs go to *urls
  // when it is given.
  absl::Status IssueAndCommission(const crypto::SigningKey& producer, const std::string& batch,
                                  int count, std::vector<std::string>* urls = nullptr);

  // Registers the benchmark producer (BenchProducerSetup) with `producer`
  // as its admin actor, then IssueAndCommission; a failure says which.
  absl::Status SetUpProducer(const crypto::SigningKey& producer, const std::string& batch,
                             int count, std::vector<std::string>* urls = nullptr);

 private:
  BenchServer(std::string scratch, crypto::SigningKey admin)
      : scratch_(std::move(scratch)), admin_(std::move(admin)) {}
  // Starts `chemledgerd serve` and connects once it accepts calls.
  absl::Status Serve();

  const std::string scratch_;
  std::string chemledgerd_;
  // The cluster's script and run directory; empty for chemledgerd.
  std::string cluster_script_;
  std::map<std::string, std::shared_ptr<grpc::Channel>, std::less<>> service_channels_;
  std::vector<std::string> serve_flags_;
  const crypto::SigningKey admin_;
  pid_t pid_ = -1;
  pid_t replica_pid_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  int next_request_ = 0;
};

// The code of package `serial` of the benchmark product in `batch`.
std::string BenchCode(const std::string& batch, int serial);

// Signs the producer's lifecycle events, each with a new event id starting
// with `id_prefix`, at its own site, all at one time: a minute before the
// signer was made (so later events never precede earlier ones).
class BenchEventSigner {
 public:
  BenchEventSigner(const crypto::SigningKey* producer, std::string id_prefix);

  // An event of `step` on packages `first` to first + count - 1 of `batch`,
  // at `site` ("" for the free-text site "bench").
  v1::SignedEnvelope Sign(v1::BusinessStep step, const std::string& batch, int first, int count,
                          const std::string& site = "");
  // An OBSERVING event of packages `first` to first + labels.size() - 1 of
  // `batch`, carrying `labels` (their label URLs, in order).
  v1::SignedEnvelope SignObservation(const std::string& batch, int first,
                                     const std::vector<std::string>& labels);

 private:
  // The event Sign signs (before signing).
  v1::Event NewEvent(v1::BusinessStep step, const std::string& batch, int first, int count,
                     const std::string& site);

  const crypto::SigningKey* const producer_;
  const std::string id_prefix_;
  const int64_t event_seconds_;
  int next_id_ = 0;
};

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_BENCH_SERVER_H_
