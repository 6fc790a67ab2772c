#include "services/cluster/personality.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/registry/registry_state.h"

namespace chemledger::cluster {

absl::StatusOr<Personality> ConnectPersonality(ServiceProcess& process) {
  Personality p;
  const absl::Time started = absl::Now();
  absl::StatusOr<std::unique_ptr<ledgerd::RemoteLedger>> ledger = process.ConnectLedger();
  if (!ledger.ok()) return ledger.status();
  p.ledger = *std::move(ledger);
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
  read_options.not_before = started;
  read_options.origin = p.ledger->notary()->verifier().name();
  // Used credentials are remembered by ledgerd, for every instance.
  read_options.memory = p.ledger->nonce_memory();
  p.reads = std::make_unique<registry::ReadAuthenticator>(std::move(read_options));
  p.registry_reads = std::make_unique<registry::RegistryServiceImpl>(
      p.ledger->client(), p.reads.get(), nullptr,
      registry::RegistryServiceImpl::Answers::kReadsOnly);
  return p;
}

}  // namespace chemledger::cluster
