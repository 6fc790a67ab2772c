#include "services/chemledgerd/admin_service.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "services/common/grpc_status.h"
#include "services/common/raw_unary.h"

namespace chemledger::server {

grpc::ServerUnaryReactor* AdminServiceImpl::Backup(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::BackupRequest, v1::BackupResponse>(
      context, request, response, executor_,
      [this, context](const v1::BackupRequest*, absl::string_view bytes, v1::BackupResponse* out) {
        return ServeBackup(*context, bytes, out);
      });
}

grpc::Status AdminServiceImpl::ServeBackup(const grpc::ServerContextBase& context,
                                           absl::string_view request_bytes,
                                           v1::BackupResponse* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = deployment_->ledger_client()->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, context, api::kBackupMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  absl::StatusOr<BackupResult> backup = deployment_->Backup(*reader);
  if (!backup.ok()) return ToGrpcStatus(backup.status());
  std::cout << "backup of log size " << backup->size << " in " << backup->directory << " ("
            << backup->records << " records, " << absl::FormatDuration(backup->took) << ")"
            << std::endl;
  response->set_directory(backup->directory);
  v1::Checkpoint* checkpoint = response->mutable_checkpoint();
  checkpoint->set_origin(deployment_->note_signer().name());
  checkpoint->set_tree_size(backup->size);
  checkpoint->set_root_hash(backup->root.ToBytes());
  checkpoint->set_signed_note(backup->checkpoint_note);
  response->set_records(backup->records);
  response->set_seconds(absl::ToDoubleSeconds(backup->took));
  return grpc::Status::OK;
}

}  // namespace chemledger::server
