// AdminService (proto/chemledger/v1/admin_service.proto) over a deployment:
// online backups, for platform administrators (read credentials). A thin
// adapter over BackupDeployment (deployment.h); one backup at a time.
//
// Thread-safety: thread-safe. The deployment and authenticator must
// outlive it.

#ifndef CHEMLEDGER_SERVICES_CHEMLEDGERD_ADMIN_SERVICE_H_
#define CHEMLEDGER_SERVICES_CHEMLEDGERD_ADMIN_SERVICE_H_

#include "absl/synchronization/mutex.h"
#include "chemledger/v1/admin_service.grpc.pb.h"
#include "services/chemledgerd/deployment.h"
#include "services/registry/read_access.h"

namespace chemledger::server {

class AdminServiceImpl final : public v1::AdminService::Service {
 public:
  AdminServiceImpl(const Deployment* deployment, registry::ReadAuthenticator* reads)
      : deployment_(deployment), reads_(reads) {}

  grpc::Status Backup(grpc::ServerContext* context, const v1::BackupRequest* request,
                      v1::BackupResponse* response) override;

 private:
  const Deployment* const deployment_;
  registry::ReadAuthenticator* const reads_;
  absl::Mutex backing_up_;
};

}  // namespace chemledger::server

#endif  // CHEMLEDGER_SERVICES_CHEMLEDGERD_ADMIN_SERVICE_H_
