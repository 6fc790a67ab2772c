#include "services/cluster/personality.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/registry/registry_state.h"

namespace chemledger::cluster {

absl::StatusOr<Personality> ConnectPersonality(ServiceProcess& process, Needs needs) {
  Personality p;
  if (needs.signs) {
    absl::StatusOr<std::string> key_dir = process.args().Required("label-keys");
    if (!key_dir.ok()) return key_dir.status();
    absl::StatusOr<std::unique_ptr<label::LabelKeyring>> keyring =
        label::LabelKeyring::Open(*key_dir);
    if (!keyring.ok()) {
      return absl::Status(keyring.status().code(),
                          absl::StrCat("--label-keys: ", keyring.status().message()));
    }
    p.label_keys = *std::move(keyring);
  }
  absl::StatusOr<std::unique_ptr<ledgerd::RemoteLedger>> ledger = process.ConnectLedger();
  if (!ledger.ok()) return ledger.status();
  p.ledger = *std::move(ledger);
  if (needs.signs && p.ledger->client()->ReadsOnly()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--ledger ", process.args().Get("ledger"), ": that ledgerd is a read replica, and ",
        process.name(), " writes: point it at the writer (docs/postgres.md)"));
  }
  std::shared_ptr<const storage::Snapshot> snapshot = p.ledger->client()->Latest();
  absl::StatusOr<state::DeploymentRecord> record = registry::ReadDeployment(*snapshot);
  if (!record.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("ledgerd's log has no deployment record: ", record.status().message()));
  }
  p.deployment = *std::move(record);
  if (process.clock() && !p.deployment.test_deployment()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--test-clock: ", p.deployment.deployment(), " is not a test deployment"));
  }
  read_auth::ReadCredentialChecker::Options read_options;
  read_options.origin = p.ledger->notary()->verifier().name();
  // Used credentials are remembered by ledgerd, for every instance.
  read_options.memory = p.ledger->nonce_memory();
  p.reads = std::make_unique<registry::ReadAuthenticator>(std::move(read_options));
  p.anonymous_scans.reset(new RateLimiter(AnonymousScanAllowance()));
  p.registry_reads = std::make_unique<registry::RegistryServiceImpl>(
      p.ledger->client(), p.reads.get(), nullptr,
      registry::RegistryServiceImpl::Answers::kReadsOnly, p.anonymous_scans.get());
  p.public_scans =
      std::make_unique<ledger::PublicScanRecorder>(p.ledger->client(), process.clock());
  if (process.metrics() != nullptr) {
    process.metrics()->WatchPublicScanRecords(
        [r = p.public_scans.get()] { return r->counters().ByOutcome(); });
  }
  if (needs.signs) {
    absl::StatusOr<std::unique_ptr<registry::Catalogue>> catalogue = server::ShippedCatalogue();
    if (!catalogue.ok()) return catalogue.status();
    p.catalogue = *std::move(catalogue);
    p.machines = std::make_unique<server::StateMachines>(p.catalogue.get());
    p.refusals =
        server::NewRefusalRecorder(p.ledger->client(), p.machines.get(), process.clock());
  }
  return p;
}

absl::Status ServePersonality(ServiceProcess& process, Personality& personality,
                              grpc::Service* service, std::string ready_line,
                              std::function<void()> stop_first) {
  ServiceProcess::Serving serving;
  serving.stop_first = std::move(stop_first);
  serving.services = {service, personality.registry_reads.get()};
  serving.ledger = personality.ledger->client();
  serving.ready_line = personality.ledger->client()->ReadsOnly()
                           ? absl::StrCat(ready_line,
                                          "; reads from a read replica, where anonymous "
                                          "scans are not recorded (point --ledger at the "
                                          "writer to record them)")
                           : std::move(ready_line);
  return process.Serve(serving);
}

}  // namespace chemledger::cluster
