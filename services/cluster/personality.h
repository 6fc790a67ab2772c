// What the personalities that run apart (labeld, waybilld, verifyd, auditd)
// set up alike once connected to ledgerd: the deployment they serve (read
// from the log's genesis), a test clock only for a test deployment, and
// the checker of read credentials for that deployment, and RegistryService's
// reads (every service answers GetDeployment, which clients ask first, and
// the registry's reads; registry changes go to ledgerd).
//
// Read credentials' nonces are remembered by ledgerd (its internal port's
// RememberNonce), one memory for every instance of every service: a
// credential used at one instance is refused at all of them. ledgerd keeps
// them on disk (services/common/ephemeral_store.h), so neither this
// process's restart nor ledgerd's forgets one.
//
// Thread-safety: as the objects it holds.

#ifndef CHEMLEDGER_SERVICES_CLUSTER_PERSONALITY_H_
#define CHEMLEDGER_SERVICES_CLUSTER_PERSONALITY_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "chemledger/state/state.pb.h"
#include "services/audit/refusal_recorder.h"
#include "services/chemledgerd/state_machines.h"
#include "services/cluster/service_process.h"
#include "services/common/rate_limiter.h"
#include "services/label/label_keyring.h"
#include "services/ledger/public_scan_recorder.h"
#include "services/ledgerd/remote_ledger.h"
#include "services/registry/read_access.h"
#include "services/registry/registry_service.h"

namespace chemledger::cluster {

struct Personality {
  std::unique_ptr<ledgerd::RemoteLedger> ledger;
  state::DeploymentRecord deployment;
  std::unique_ptr<registry::ReadAuthenticator> reads;
  // The process's one allowance of anonymous scans per client address
  // (rate_limiter.h): RegistryService.ListBlacklist here, and the service's
  // own anonymous entry points (ResolveLabel, ResolveWaybillCode, Verify, the
  // scan pages) draw on it together.
  std::unique_ptr<RateLimiter> anonymous_scans;
  std::unique_ptr<registry::RegistryServiceImpl> registry_reads;
  // With Needs::signs (labeld, waybilld): the label keys (--label-keys) and
  // the recorder of refused requests (with the state machines it asks
  // whether a refused request is a retry of an accepted one).
  std::unique_ptr<label::LabelKeyring> label_keys;
  std::unique_ptr<registry::Catalogue> catalogue;
  std::unique_ptr<server::StateMachines> machines;
  std::unique_ptr<audit::RefusalRecorder> refusals;
  // Records the anonymous scans of lost, ended or voided packages
  // (ledger/public_scan_recorder.h), for the services that answer scans.
  std::unique_ptr<ledger::PublicScanRecorder> public_scans;
};

struct Needs {
  bool signs = false;  // holds the label keys and records refusals
};

absl::StatusOr<Personality> ConnectPersonality(ServiceProcess& process, Needs needs = {});

// Serves `service` and RegistryService's reads until stopped
// (ServiceProcess::Serve), healthy while ledgerd is writable.
// `stop_first`: see ServiceProcess::Serving.
absl::Status ServePersonality(ServiceProcess& process, Personality& personality,
                              grpc::Service* service, std::string ready_line,
                              std::function<void()> stop_first = nullptr);

}  // namespace chemledger::cluster

#endif  // CHEMLEDGER_SERVICES_CLUSTER_PERSONALITY_H_
