// RegistryService (proto/chemledger/v1/registry_service.proto): the gRPC
// adapter over the registry: writes go to the ledger, whose registry rules
// (registry_rules.h) decide them; reads come from a snapshot, answered by
// registry_reads.h once read credentials are checked. It translates requests and statuses and
// nothing else.
//
// Thread-safety: safe for gRPC's concurrent handlers. The ledger client must
// outlive the service.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_SERVICE_H_
#define CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_SERVICE_H_

#include "api/wire.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "journal/ledger_client.h"
#include "services/common/call_executor.h"
#include "services/common/rate_limiter.h"
#include "services/registry/read_access.h"
#include "services/registry/registry_reads.h"
#include "services/registry/signers.h"

namespace chemledger::registry {

// Full method names, as read credentials sign them.
using api::kGetActorKeyMethod;
using api::kGetActorMethod;
using api::kGetEnterpriseMethod;
using api::kGetProductMethod;
using api::kGetRegistryEntryMethod;
using api::kListPendingProductsMethod;
using api::kListProductFlagChangesMethod;
using api::kListProductsMethod;
using api::kListSitesMethod;

// Submit carries its own signature; GetEnterprise, GetProduct, ListProducts,
// GetActor, GetActorKey and GetRegistryEntry need read credentials, checked
// over the request's bytes as received (raw methods: raw_unary.h);
// GetDeployment is open.
using RegistryServiceBase = v1::RegistryService::WithRawCallbackMethod_GetEnterprise<
    v1::RegistryService::WithRawCallbackMethod_GetProduct<
        v1::RegistryService::WithRawCallbackMethod_ListProducts<
            v1::RegistryService::WithRawCallbackMethod_GetActor<
                v1::RegistryService::WithRawCallbackMethod_GetActorKey<
                    v1::RegistryService::WithRawCallbackMethod_GetRegistryEntry<
                        v1::RegistryService::WithRawCallbackMethod_ListSites<
                            v1::RegistryService::WithRawCallbackMethod_ListPendingProducts<
                                v1::RegistryService::WithRawCallbackMethod_ListProductFlagChanges<
                                    v1::RegistryService::Service>>>>>>>>>;

class RegistryServiceImpl final : public RegistryServiceBase {
 public:
  // What a service answers: everything, or (on the cluster's personalities,
  // docs/cluster.md) the reads only, Submit refused with UNIMPLEMENTED
  // naming ledgerd, where registry changes go.
  enum class Answers { kAll, kReadsOnly };

  // `reads` checks read credentials; `refusals` (may be null) records
  // requests refused for breaking a rule; ListBlacklist (public, up to 1000
  // enterprises a page) charges a page to `anonymous_scans`, the process's
  // allowance per client address (rate_limiter.h; null: the service keeps
  // its own). All must outlive the service.
  RegistryServiceImpl(journal::LedgerClient* ledger, ReadAuthenticator* reads,
                      RefusalSink* refusals = nullptr, Answers answers = Answers::kAll,
                      RateLimiter* anonymous_scans = nullptr)
      : ledger_(ledger),
        reads_(reads),
        refusals_(refusals),
        answers_(answers),
        anonymous_(anonymous_scans != nullptr ? anonymous_scans : &own_anonymous_) {}

  grpc::Status Submit(grpc::ServerContext* context, const v1::SignedEnvelope* request,
                      v1::SubmitResponse* response) override;
  grpc::Status GetDeployment(grpc::ServerContext* context, const v1::GetDeploymentRequest* request,
                             v1::Deployment* response) override;
  // Open to anyone: the blacklist is public.
  grpc::Status ListBlacklist(grpc::ServerContext* context, const v1::ListBlacklistRequest* request,
                             v1::ListBlacklistResponse* response) override;
  grpc::Status GetPark(grpc::ServerContext* context, const v1::GetParkRequest* request,
                       v1::Park* response) override;
  // Open to anyone: reference tables are public regulations.
  grpc::Status ListReferenceTables(grpc::ServerContext* context,
                                   const v1::ListReferenceTablesRequest* request,
                                   v1::ListReferenceTablesResponse* response) override;
  grpc::Status FindCatalogueEntries(grpc::ServerContext* context,
                                    const v1::FindCatalogueEntriesRequest* request,
                                    v1::FindCatalogueEntriesResponse* response) override;
  grpc::Status GetStatementTexts(grpc::ServerContext* context,
                                 const v1::GetStatementTextsRequest* request,
                                 v1::GetStatementTextsResponse* response) override;
  grpc::ServerUnaryReactor* ListSites(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetEnterprise(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetProduct(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListProducts(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetActor(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetActorKey(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetRegistryEntry(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListPendingProducts(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* request,
                                                grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListProductFlagChanges(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) override;

 private:
  // Serves a read that needs read credentials for `method`: checks them over
  // the request's bytes, tells the log size and answers with `read`.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* ServeRead(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response, absl::string_view method,
      absl::StatusOr<Response> (RegistryReads::*read)(const storage::Snapshot&, const v1::Actor&,
                                                      const Request&) const);

  journal::LedgerClient* const ledger_;
  ReadAuthenticator* const reads_;
  RefusalSink* const refusals_;
  const Answers answers_;
  RateLimiter own_anonymous_ = AnonymousScanAllowance();
  RateLimiter* const anonymous_;
  const RegistryReads reads_core_{};
  // Runs the raw reads' handlers (raw_unary.h).
  CallExecutor read_executor_{8, 1024, "registry-read"};
};

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_SERVICE_H_
