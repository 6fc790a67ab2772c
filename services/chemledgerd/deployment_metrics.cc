#include "services/chemledgerd/deployment_metrics.h"

#include <optional>

#include "absl/time/clock.h"
#include "storage/postgres_store.h"

namespace chemledger::server {

void WatchDeployment(ServerMetrics& metrics, const Deployment& deployment) {
  const Deployment* d = &deployment;
  if (d->journal() != nullptr) {  // none for a read replica
    metrics.WatchCache("sequencer_state", [d] { return d->journal()->StateCacheCounts(); });
  }
  if (d->refusals() != nullptr) {
    metrics.WatchRefusalRecords([d] { return d->refusals()->counters().ByOutcome(); });
  }
  if (d->major_hazard_alerts() != nullptr) {
    metrics.WatchMajorHazardAlerts(
        [d] { return d->major_hazard_alerts()->counters().ByOutcome(); },
        [d] { return static_cast<int>(d->major_hazard_alerts()->waiting()); });
  }
  // A read replica: how far behind the writer it is.
  if (storage::PostgresFollowStatus(*d->store())) {
    metrics.WatchReplica([d] {
      ServerMetrics::ReplicaLag lag;
      std::optional<storage::FollowStatus> follow = storage::PostgresFollowStatus(*d->store());
      if (!follow) return lag;
      lag.since_head_read = absl::Now() - follow->last_success;
      lag.at_standby = follow->at_standby;
      lag.replay_lag = follow->replay_lag;
      return lag;
    });
  }
}

}  // namespace chemledger::server
