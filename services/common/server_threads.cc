#include "services/common/server_threads.h"

#include <algorithm>

#include "grpcpp/resource_quota.h"

namespace chemledger {

void BoundCallThreads(const std::string& name, int max_threads, grpc::ServerBuilder* builder) {
  grpc::ResourceQuota quota(name);
  quota.SetMaxThreads(max_threads);
  builder->SetResourceQuota(quota);
  builder->SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                               std::min(kIdleCallThreads, max_threads));
}

}  // namespace chemledger
