// RegistryService (proto/chemledger/v1/registry_service.proto): the gRPC
// adapter over the registry: writes go to the ledger, whose registry rules
// (registry_rules.h) decide them; reads come from a snapshot
// (registry_state.h). It translates requests and statuses and nothing else.
//
// Thread-safety: safe for gRPC's concurrent handlers. The ledger client must
// outlive the service.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_SERVICE_H_
#define CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_SERVICE_H_

#include "api/wire.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "journal/ledger_client.h"

namespace chemledger::registry {

// Full method names, as read credentials sign them.
using api::kGetActorKeyMethod;
using api::kGetRegistryEntryMethod;
using api::kGetActorMethod;
using api::kGetEnterpriseMethod;
using api::kGetProductMethod;
using api::kListProductsMethod;

// Submit carries its own signature; GetEnterprise, GetProduct, ListProducts
// GetActor and GetActorKey need read credentials (read_access.h); GetDeployment is open.
class RegistryServiceImpl final : public v1::RegistryService::Service {
 public:
  explicit RegistryServiceImpl(journal::LedgerClient* ledger) : ledger_(ledger) {}

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
  grpc::Status GetActorKey(grpc::ServerContext* context, const v1::GetActorRequest* request,
                           v1::ActorKeyRecord* response) override;
  grpc::Status GetRegistryEntry(grpc::ServerContext* context,
                                const v1::GetRegistryEntryRequest* request,
                                v1::RegistryEntry* response) override;

 private:
  journal::LedgerClient* const ledger_;
};

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_SERVICE_H_
