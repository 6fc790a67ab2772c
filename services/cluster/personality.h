// What the personalities that run apart (labeld, waybilld, verifyd, auditd)
// set up alike once connected to ledgerd: the deployment they serve (read
// from the log's genesis), a test clock only for a test deployment, and
// the checker of read credentials for that deployment, and RegistryService's
// reads (every service answers GetDeployment, which clients ask first, and
// the registry's reads; registry changes go to ledgerd).
//
// Read credentials' nonces are remembered by ledgerd (its internal port's
// RememberNonce), one memory for every instance of every service: a
// credential used at one instance is refused at all of them. Credentials
// signed before this process, or ledgerd, started are refused.
//
// Thread-safety: as the objects it holds.

#ifndef CHEMLEDGER_SERVICES_CLUSTER_PERSONALITY_H_
#define CHEMLEDGER_SERVICES_CLUSTER_PERSONALITY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "chemledger/state/state.pb.h"
#include "services/cluster/service_process.h"
#include "services/ledgerd/remote_ledger.h"
#include "services/registry/read_access.h"
#include "services/registry/registry_service.h"

namespace chemledger::cluster {

struct Personality {
  std::unique_ptr<ledgerd::RemoteLedger> ledger;
  state::DeploymentRecord deployment;
  std::unique_ptr<registry::ReadAuthenticator> reads;
  std::unique_ptr<registry::RegistryServiceImpl> registry_reads;
};

absl::StatusOr<Personality> ConnectPersonality(ServiceProcess& process);

}  // namespace chemledger::cluster

#endif  // CHEMLEDGER_SERVICES_CLUSTER_PERSONALITY_H_
