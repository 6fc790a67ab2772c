// ledgerd: the one process of a cluster that owns the store and the journal
// (docs/cluster.md). It serves, on its public port, RegistryService and
// LedgerService (lifecycle events, checkpoints, witnesses) and AdminService
// (online backups), and on its
// internal port, over mutual TLS and behind the allow-list, the ledger to
// the other services (proto/chemledger/internal/ledger_store.proto). It
// holds the note key (DATA/keys/note.key) and no label key: those belong to
// labeld and waybilld, and ledgerd refuses to start while DATA/keys holds
// one.

#include <atomic>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "reference/reference_tables.h"
#include "services/chemledgerd/admin_service.h"
#include "services/chemledgerd/deployment.h"
#include "services/chemledgerd/deployment_metrics.h"
#include "services/chemledgerd/postgres_flags.h"
#include "services/cluster/service_process.h"
#include "services/common/ephemeral_store.h"
#include "services/ledger/ledger_service.h"
#include "services/ledgerd/ledger_store_service.h"
#include "services/ledgerd/peer_allow_list.h"
#include "services/registry/registry_service.h"
#include "services/registry/registry_state.h"

namespace chemledger::cluster {
namespace {

constexpr char kUsage[] =
    "ledgerd: the ledger of a ChemLedger cluster: the store, the journal, the note key.\n"
    "Serves RegistryService, LedgerService and AdminService on --listen, and the ledger to "
    "labeld,\n"
    "waybilld, verifyd and auditd on --internal-listen (mutual TLS, allow-list).\n"
    "\n"
    "  ledgerd --data DIR [--internal-listen HOST:PORT] [--internal-port-file F]\n"
    "          [--cache-mb N] (--tls-ca F --tls-cert F --tls-key F | --plaintext) ...\n"
    "\n"
    "  --data DIR                a deployment made by `chemledgerd init`, its label keys\n"
    "                            moved to labeld's and waybilld's --label-keys directory\n"
    "  --internal-listen HOST:PORT  the personalities' port (default 127.0.0.1:7453)\n"
    "  --cache-mb N              LevelDB's block cache (default 64)\n"
    "  --lease S, --lease-wait S|forever, --synchronous-standby required|optional\n"
    "                            for a store on PostgreSQL: the writer's lease (see\n"
    "                            chemledgerd serve --help; docs/postgres.md)\n"
    "  --read-replica            serve reads only, of a store on PostgreSQL that another\n"
    "                            ledgerd writes (DATA/store.postgres may name a hot\n"
    "                            standby): no lease, no journal; every write is refused,\n"
    "                            every read answer names the log size and root it was\n"
    "                            read at; point verifyd's and auditd's --ledger here\n";

absl::Status NoLabelKeysHere(const std::string& data) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(data + "/keys", error)) {
    const std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, "label-")) {
      return absl::FailedPreconditionError(absl::StrCat(
          data, "/keys/", name, " is a label key: in a cluster only labeld and waybilld hold "
          "label keys; move it to their --label-keys directory (docs/cluster.md)"));
    }
  }
  return absl::OkStatus();
}

// Serves `d` until stopped (or, for a standby's read replica, until
// `until` is notified).
absl::Status ServeDeployment(ServiceProcess& process, server::Deployment& d,
                             absl::Notification* until) {
  const absl::Time started = absl::Now();
  // The memory of used read credentials, which the personalities share
  // through the internal port, and the console's sign-in records, which
  // every auditd instance shares: on disk beside the store, so that a
  // restart of ledgerd forgets neither.
  absl::StatusOr<std::unique_ptr<EphemeralStore>> ephemera =
      EphemeralStore::Open(d.data_dir() + "/ephemeral", EphemeralStoreOptions(), started);
  if (!ephemera.ok()) return ephemera.status();
  const std::shared_ptr<read_auth::NonceMemory> nonces = (*ephemera)->nonces();
  const std::shared_ptr<EphemeralRecords> records = (*ephemera)->records();
  read_auth::ReadCredentialChecker::Options read_options;
  read_options.origin = d.note_signer().name();
  read_options.memory = nonces;
  registry::ReadAuthenticator reads(std::move(read_options));
  registry::RegistryServiceImpl registry_service(d.ledger_client(), &reads, d.refusals());
  ledger::LedgerServiceImpl ledger_service(d.ledger(), d.ledger_client(), &d.note_signer(), &reads,
                                           ledger::AppendStreamOptions(),
                                           &reference::ShippedReferenceTables(), d.cosignatures());
  // Without TLS there are no certificates to tell the callers apart: the
  // internal port then answers anyone, on loopback only.
  ledgerd::LedgerStoreServiceImpl store_service(
      d.ledger_client(), d.notary(), nonces.get(), records.get(),
      process.plaintext() ? ledgerd::PeerAllowList::Anyone()
                          : ledgerd::PeerAllowList::ClusterDefault(),
      /*verify_threads=*/2, d.rules_epoch());
  server::AdminServiceImpl admin_service(&d, &reads);
  std::shared_ptr<const storage::Snapshot> snapshot = d.ledger_client()->Latest();
  absl::StatusOr<state::DeploymentRecord> record = registry::ReadDeployment(*snapshot);
  if (!record.ok()) return record.status();
  // The metrics watch the writer's services only (a standby's read replica
  // goes, and its services with it, when it takes over).
  if (process.metrics() != nullptr && until == nullptr) {
    process.metrics()->WatchSlots(
        "ledger_streams", [&ledger_service] { return ledger_service.streams().open(); },
        ledger_service.streams().max_open());
    server::WatchDeployment(*process.metrics(), d);
  }
  ServiceProcess::Serving serving;
  serving.services = {&registry_service, &ledger_service, &admin_service};
  serving.internal_services = {&store_service};
  serving.ledger = d.ledger_client();
  serving.holds_store = true;
  serving.until = until;
  const bool replica = d.ledger_client()->ReadsOnly();
  serving.ready_line =
      absl::StrCat("serving deployment ", record->deployment(), replica ? " as a read replica" : "",
                   " (log size ", snapshot->size(), replica ? ", following the writer" : "", ")");
  return process.Serve(serving);
}

// Opens the deployment as a read replica, asking again each second while it
// cannot serve yet (its database out of reach, or no acknowledged commit
// recorded there yet: a writer of this version records one as it takes the
// lease); Cancelled once told to stop meanwhile. `who` names it in what it
// prints.
absl::StatusOr<std::unique_ptr<server::Deployment>> OpenReplicaWhenItCanServe(
    ServiceProcess& process, const std::string& data, const server::OpenOptions& options,
    absl::string_view who) {
  for (;;) {
    absl::StatusOr<std::unique_ptr<server::Deployment>> replica =
        server::Deployment::Open(data, options);
    if (replica.ok() || replica.status().code() != absl::StatusCode::kUnavailable) {
      return replica;
    }
    std::cout << "ledgerd: " << who << ": cannot serve reads yet (" << replica.status().message()
              << "); trying again" << std::endl;
    if (process.StopSignalWithin(absl::Seconds(1))) {
      return absl::CancelledError("stopped before serving");
    }
  }
}

absl::Status Run(ServiceProcess& process) {
  const cli::Args& args = process.args();
  absl::StatusOr<std::string> data = args.Required("data");
  if (!data.ok()) return data.status();
  if (absl::Status s = NoLabelKeysHere(*data); !s.ok()) return s;
  absl::StatusOr<uint64_t> cache_mb = args.Uint("cache-mb", 64);
  if (!cache_mb.ok()) return cache_mb.status();
  if (*cache_mb < 1 || *cache_mb > 65536) {
    return absl::InvalidArgumentError("--cache-mb: must be 1 to 65536");
  }
  server::OpenOptions open_options;
  open_options.block_cache_bytes = static_cast<size_t>(*cache_mb) << 20;
  open_options.clock = process.clock();
  // Every request of every personality opens a snapshot here.
  open_options.snapshot_retention.max_kept = 1024;
  if (process.metrics() != nullptr) {
    open_options.on_commit = [m = process.metrics()](const journal::CommittedBatch& b) {
      m->RecordCommit(b);
    };
  }
  open_options.read_replica = args.Bool("read-replica");
  if (open_options.read_replica) {
    for (const char* flag : {"lease", "lease-wait", "synchronous-standby"}) {
      if (args.Has(flag)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", flag, ": a read replica (--read-replica) takes no writer's lease"));
      }
    }
  } else if (absl::Status s = server::ReadPostgresFlags(args, "ledgerd", &open_options.postgres);
             !s.ok()) {
    return s;
  }
  open_options.migration_progress = [](uint64_t done, uint64_t total) {
    std::cout << "ledgerd: building the state from the log: " << done << " of " << total
              << " entries" << std::endl;
  };
  const bool standby = args.Get("lease-wait") == "forever";
  if (!standby || !server::StoreIsOnPostgres(*data)) {
    absl::StatusOr<std::unique_ptr<server::Deployment>> deployment =
        open_options.read_replica
            ? OpenReplicaWhenItCanServe(process, *data, open_options, "a read replica")
            : server::Deployment::Open(*data, open_options);
    if (deployment.status().code() == absl::StatusCode::kCancelled) return absl::OkStatus();
    if (!deployment.ok()) return deployment.status();
    return ServeDeployment(process, **deployment, nullptr);
  }
  // A standby: it serves reads, as a read replica, while another thread
  // waits for the writer's lease; once it holds it, the replica stops
  // (calls in progress finish) and the writer serves on the same ports.
  std::cout << "ledgerd: a standby: serving reads while waiting for the writer's lease"
            << std::endl;
  server::OpenOptions replica_options = open_options;
  replica_options.read_replica = true;
  absl::StatusOr<std::unique_ptr<server::Deployment>> replica =
      OpenReplicaWhenItCanServe(process, *data, replica_options, "a standby");
  if (replica.status().code() == absl::StatusCode::kCancelled) return absl::OkStatus();
  if (!replica.ok()) {
    return absl::Status(
        replica.status().code(),
        absl::StrCat("a standby serves reads as a read replica while it waits for the writer's "
                     "lease, and cannot: ",
                     replica.status().message(),
                     " (a writer of this version migrates the database and records what it "
                     "acknowledged: start one first; docs/postgres.md)"));
  }
  std::atomic<bool> give_up{false};
  open_options.postgres.give_up_waiting = [&give_up] { return give_up.load(); };
  absl::Notification lease_taken;
  absl::StatusOr<std::unique_ptr<server::Deployment>> writer = absl::CancelledError("not opened");
  std::thread opener([&] {
    // Until it holds the lease, or is told to stop; a database that cannot
    // be reached (a PostgreSQL failover in progress) is asked again.
    for (;;) {
      writer = server::Deployment::Open(*data, open_options);
      if (writer.ok() || give_up || writer.status().code() != absl::StatusCode::kUnavailable) {
        break;
      }
      std::cout << "ledgerd: a standby: " << writer.status().message() << "; trying again"
                << std::endl;
      absl::SleepFor(absl::Seconds(1));
    }
    lease_taken.Notify();
  });
  absl::Status served = ServeDeployment(process, **replica, &lease_taken);
  if (!served.ok() || process.stop_requested()) {
    give_up = true;
    opener.join();
    return served;
  }
  opener.join();
  // The replica's store goes beside the writer's start (its follower may
  // be in a query a while).
  std::thread closer([&replica] { replica->reset(); });
  absl::Status status = writer.status();
  if (writer.ok()) {
    std::cout << "ledgerd: took the writer's lease: serving as the writer" << std::endl;
    status = ServeDeployment(process, **writer, nullptr);
  }
  closer.join();
  return status;
}

}  // namespace
}  // namespace chemledger::cluster

int main(int argc, char** argv) {
  return chemledger::cluster::RunService(
      {"ledgerd",
       chemledger::cluster::kUsage,
       {"data", "internal-listen", "internal-port-file", "cache-mb", "lease", "lease-wait",
        "synchronous-standby"},
       "127.0.0.1:7443",
       {"read-replica"}},
      argc, argv, chemledger::cluster::Run);
}
