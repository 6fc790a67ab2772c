// RegistryService (proto/chemledger/v1/registry_service.proto): the gRPC
// adapter over the registry core (registry.h). It translates requests and
// statuses and nothing else; every rule lives in the core.
//
// Thread-safety: as the Registry (safe for gRPC's concurrent handlers). The
// Registry and Log must outlive the service.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_SERVICE_H_
#define CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_SERVICE_H_

#include "chemledger/v1/registry_service.grpc.pb.h"
#include "services/registry/registry.h"
#include "storage/log.h"

namespace chemledger::registry {

// Full method names, as read credentials sign them.
inline constexpr char kGetEnterpriseMethod[] = "/chemledger.v1.RegistryService/GetEnterprise";
inline constexpr char kGetProductMethod[] = "/chemledger.v1.RegistryService/GetProduct";
inline constexpr char kListProductsMethod[] = "/chemledger.v1.RegistryService/ListProducts";
inline constexpr char kGetActorMethod[] = "/chemledger.v1.RegistryService/GetActor";

// Submit carries its own signature; GetEnterprise, GetProduct, ListProducts
// and GetActor need read credentials (read_access.h); GetDeployment is open.
class RegistryServiceImpl final : public v1::RegistryService::Service {
 public:
  RegistryServiceImpl(Registry* registry, const storage::Log* log)
      : registry_(registry), log_(log) {}

  grpc::Status Submit(grpc::ServerContext* context, const v1::SignedEnvelope* request,
                      v1::SubmitResponse* response) override;
  grpc::Status GetDeployment(grpc::ServerContext* context, const v1::GetDeploymentRequest* request,
                             v1::Deployment* response) override;
  grpc::Status GetEnterprise(grpc::ServerContext* context, const v1::GetEnterpriseRequest* request,
                             v1::EnterpriseRecord* response) override;
  grpc::Status GetProduct(grpc::ServerContext* context, const v1::GetProductRequest* request,
                          v1::Product* response) override;
  grpc::Status ListProducts(grpc::ServerContext* context, const v1::ListProductsRequest* request,
                            v1::ListProductsResponse* response) override;
  grpc::Status GetActor(grpc::ServerContext* context, const v1::GetActorRequest* request,
                        v1::Actor* response) override;

 private:
  Registry* const registry_;
  const storage::Log* const log_;
};

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_SERVICE_H_
