#include "services/audit/audit_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "services/audit/history_bundle.h"
#include "services/common/actor_roles.h"
#include "services/common/grpc_status.h"
#include "services/common/raw_unary.h"
#include "services/common/snapshot_metadata.h"

namespace chemledger::audit {

grpc::ServerUnaryReactor* AuditServiceImpl::GetHistoryBundle(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::GetHistoryBundleRequest, v1::HistoryBundle>(
      context, request, response, executor_,
      [this, context](const v1::GetHistoryBundleRequest* r, absl::string_view bytes,
                      v1::HistoryBundle* out) {
        return ServeGetHistoryBundle(context, r, bytes, out);
      });
}

grpc::Status AuditServiceImpl::ServeGetHistoryBundle(grpc::ServerContextBase* context,
                                                     const v1::GetHistoryBundleRequest* request,
                                                     absl::string_view request_bytes,
                                                     v1::HistoryBundle* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, api::kGetHistoryBundleMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  TellLogSize(context, snapshot->size());
  if (!ReadsEveryEnterprise(*reader)) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "AuditService is for regulators and platform administrators");
  }
  if (request->code().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "code: is required");
  }
  absl::StatusOr<v1::HistoryBundle> bundle = BuildHistoryBundle(
      *snapshot, *signer_, request->code(), request->consistency_from_size());
  if (!bundle.ok()) return ToGrpcStatus(bundle.status());
  *response = *std::move(bundle);
  return grpc::Status::OK;
}

}  // namespace chemledger::audit
