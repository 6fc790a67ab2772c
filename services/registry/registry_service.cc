#include "services/registry/registry_service.h"

#include "absl/strings/str_cat.h"
#include "services/common/grpc_status.h"
#include "services/registry/read_access.h"

namespace chemledger::registry {

grpc::Status RegistryServiceImpl::Submit(grpc::ServerContext*, const v1::SignedEnvelope* request,
                                         v1::SubmitResponse* response) {
  absl::StatusOr<Receipt> receipt = registry_->Apply(*request);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  response->set_log_index(receipt->log_index);
  response->set_replayed(receipt->replayed);
  return grpc::Status::OK;
}

grpc::Status RegistryServiceImpl::GetDeployment(grpc::ServerContext*,
                                                const v1::GetDeploymentRequest*,
                                                v1::Deployment* response) {
  response->set_deployment(registry_->deployment());
  response->set_resolver(registry_->resolver());
  response->set_log_size(log_->Size());
  return grpc::Status::OK;
}

grpc::Status RegistryServiceImpl::GetEnterprise(grpc::ServerContext* context,
                                                const v1::GetEnterpriseRequest* request,
                                                v1::EnterpriseRecord* response) {
  if (auto reader = AuthenticateRead(*registry_, *context, kGetEnterpriseMethod); !reader.ok()) {
    return ToGrpcStatus(reader.status());
  }
  std::optional<EnterpriseRecord> record = registry_->FindEnterpriseRecord(request->uscc());
  if (!record) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("uscc: enterprise '", request->uscc(), "' is not registered"));
  }
  *response->mutable_enterprise() = record->enterprise;
  response->set_blacklisted(record->blacklist_reason.has_value());
  if (record->blacklist_reason) response->set_blacklist_reason(*record->blacklist_reason);
  return grpc::Status::OK;
}

grpc::Status RegistryServiceImpl::GetProduct(grpc::ServerContext* context,
                                             const v1::GetProductRequest* request,
                                             v1::Product* response) {
  if (auto reader = AuthenticateRead(*registry_, *context, kGetProductMethod); !reader.ok()) {
    return ToGrpcStatus(reader.status());
  }
  std::optional<v1::Product> product =
      registry_->FindProduct(request->enterprise_uscc(), request->product_number());
  if (!product) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("product_number: '", request->product_number(),
                                     "' is not a registered product of '",
                                     request->enterprise_uscc(), "'"));
  }
  *response = *std::move(product);
  return grpc::Status::OK;
}

grpc::Status RegistryServiceImpl::ListProducts(grpc::ServerContext* context,
                                               const v1::ListProductsRequest* request,
                                               v1::ListProductsResponse* response) {
  if (auto reader = AuthenticateRead(*registry_, *context, kListProductsMethod); !reader.ok()) {
    return ToGrpcStatus(reader.status());
  }
  for (v1::Product& p : registry_->ListProducts(request->enterprise_uscc())) {
    *response->add_products() = std::move(p);
  }
  return grpc::Status::OK;
}

grpc::Status RegistryServiceImpl::GetActor(grpc::ServerContext* context,
                                           const v1::GetActorRequest* request,
                                           v1::Actor* response) {
  if (auto reader = AuthenticateRead(*registry_, *context, kGetActorMethod); !reader.ok()) {
    return ToGrpcStatus(reader.status());
  }
  absl::StatusOr<crypto::KeyId> id = crypto::KeyId::Parse(request->key_id());
  if (!id.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("key_id: ", id.status().message()));
  }
  std::optional<v1::Actor> actor = registry_->ActiveActor(*id);
  if (!actor) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("key_id: no active actor holds key ", id->ToString()));
  }
  *response = *std::move(actor);
  return grpc::Status::OK;
}

}  // namespace chemledger::registry
