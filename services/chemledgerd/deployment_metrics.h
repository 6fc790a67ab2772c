// What the metrics (metrics.h) watch of a deployment that holds the store,
// alike in chemledgerd and a cluster's ledgerd: the sequencer's state cache
// (where there is a journal), the recorders of refusals and of major hazard
// alerts, and, for a read replica on PostgreSQL, how far behind the writer
// it is. The log itself is watched by whoever serves it (WatchLog), and
// what a process serves besides (its services' slots, the public scans it
// records) by that process.
//
// Thread-safety: call before the metrics serve. `deployment` must outlive
// `metrics`' serving.

#ifndef CHEMLEDGER_SERVICES_CHEMLEDGERD_DEPLOYMENT_METRICS_H_
#define CHEMLEDGER_SERVICES_CHEMLEDGERD_DEPLOYMENT_METRICS_H_

#include "services/chemledgerd/deployment.h"
#include "services/chemledgerd/metrics.h"

namespace chemledger::server {

void WatchDeployment(ServerMetrics& metrics, const Deployment& deployment);

}  // namespace chemledger::server

#endif  // CHEMLEDGER_SERVICES_CHEMLEDGERD_DEPLOYMENT_METRICS_H_
