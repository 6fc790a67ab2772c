// AdminService (proto/chemledger/v1/admin_service.proto) over a deployment:
// online backups, for platform administrators (read credentials). A thin
// adapter over Deployment::Backup (deployment.h), which allows one backup at a
// time.
// Backup is served raw (raw_unary.h): its read credentials are checked over
// the request's bytes as received.
//
// Thread-safety: thread-safe. The deployment and authenticator must
// outlive it.

#ifndef CHEMLEDGER_SERVICES_CHEMLEDGERD_ADMIN_SERVICE_H_
#define CHEMLEDGER_SERVICES_CHEMLEDGERD_ADMIN_SERVICE_H_

#include "absl/strings/string_view.h"
#include "chemledger/v1/admin_service.grpc.pb.h"
#include "services/chemledgerd/deployment.h"
#include "services/common/call_executor.h"
#include "services/registry/read_access.h"

namespace chemledger::server {

class AdminServiceImpl final
    : public v1::AdminService::WithRawCallbackMethod_Backup<v1::AdminService::Service> {
 public:
  AdminServiceImpl(const Deployment* deployment, registry::ReadAuthenticator* reads)
      : deployment_(deployment), reads_(reads) {}

  grpc::ServerUnaryReactor* Backup(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;

 private:
  grpc::Status ServeBackup(const grpc::ServerContextBase& context, absl::string_view request_bytes,
                           v1::BackupResponse* response);

  const Deployment* const deployment_;
  registry::ReadAuthenticator* const reads_;
  // Runs Backup's handler: a second backup asked for while one runs is
  // refused by Deployment::Backup, not queued behind it. Last, so that it stops
  // before the members its calls use go.
  CallExecutor executor_{2, 4, "admin-backup"};
};

}  // namespace chemledger::server

#endif  // CHEMLEDGER_SERVICES_CHEMLEDGERD_ADMIN_SERVICE_H_
