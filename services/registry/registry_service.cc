#include "services/registry/registry_service.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "chemledger/v1/log.pb.h"
#include "services/common/grpc_status.h"
#include "services/common/incoming_call.h"
#include "services/common/snapshot_metadata.h"
#include "services/registry/credentialed_read.h"
#include "services/registry/registry_state.h"
#include "services/registry/signers.h"

namespace chemledger::registry {

grpc::Status RegistryServiceImpl::Submit(grpc::ServerContext* context,
                                         const v1::SignedEnvelope* request,
                                         v1::SubmitResponse* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  if (answers_ == Answers::kReadsOnly) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "this service answers RegistryService's reads only: registry changes go "
                        "to ledgerd");
  }
  const v1::SignedEnvelope* one[] = {request};
  SignedBatchOptions options;
  options.verify_threads = 1;
  options.refusals = refusals_;
  absl::StatusOr<journal::Receipt> receipt =
      std::move(SubmitSigned(*ledger_, one, kRegistryContext, options)[0]);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  response->set_log_index(receipt->index);
  response->set_replayed(receipt->replayed);
  return grpc::Status::OK;
}

grpc::Status RegistryServiceImpl::GetDeployment(grpc::ServerContext* context,
                                                const v1::GetDeploymentRequest* request,
                                                v1::Deployment* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  if (grpc::Status s = CheckRequestFieldsKnown(*request); !s.ok()) return s;
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  TellServedAt(context, *snapshot);
  absl::StatusOr<state::DeploymentRecord> deployment = ReadDeployment(*snapshot);
  if (!deployment.ok()) return ToGrpcStatus(deployment.status());
  response->set_deployment(deployment->deployment());
  response->set_resolver(deployment->resolver());
  response->set_log_size(snapshot->size());
  // The note key is named after the deployment (chemledgerd init).
  response->set_checkpoint_origin(deployment->deployment());
  response->set_test_deployment(deployment->test_deployment());
  response->set_require_named_requests(deployment->require_named_requests());
  response->set_policy_log_index(deployment->policy_log_index());
  if (snapshot->size() > 0) {
    absl::StatusOr<std::string> latest = snapshot->Entry(snapshot->size() - 1);
    v1::LogEntry entry;
    if (!latest.ok()) return ToGrpcStatus(latest.status());
    if (!entry.ParseFromString(*latest)) {
      return ToGrpcStatus(
          absl::DataLossError(absl::StrCat("log entry ", snapshot->size() - 1, " does not parse")));
    }
    response->set_latest_rules_epoch(entry.rules_epoch());
  }
  return grpc::Status::OK;
}

namespace {

// An open read's answer, or its refusal.
template <typename Response>
grpc::Status Answer(absl::StatusOr<Response> answer, Response* response) {
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  *response = *std::move(answer);
  return grpc::Status::OK;
}

// An open read (no credentials, no charge): its request's fields checked,
// `read` at the latest snapshot (the size said in the answer's metadata).
template <typename Request, typename Response>
grpc::Status OpenRead(grpc::ServerContext* context, journal::LedgerClient* ledger,
                      const RegistryReads& reads, const Request& request, Response* response,
                      absl::StatusOr<Response> (RegistryReads::*read)(const storage::Snapshot&,
                                                                      const Request&) const) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  if (grpc::Status s = CheckRequestFieldsKnown(request); !s.ok()) return s;
  std::shared_ptr<const storage::Snapshot> snapshot = ledger->Latest();
  TellServedAt(context, *snapshot);
  return Answer((reads.*read)(*snapshot, request), response);
}

}  // namespace

grpc::Status RegistryServiceImpl::ListBlacklist(grpc::ServerContext* context,
                                                const v1::ListBlacklistRequest* request,
                                                v1::ListBlacklistResponse* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  if (grpc::Status s = CheckRequestFieldsKnown(*request); !s.ok()) return s;
  // A page costs a scan, as the blacklist page does (docs/scan-page.md).
  if (!anonymous_->Take(ClientAddress(context->peer()), 1, absl::Now())) {
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("the public reads of this address are limited (", anonymous_->rate(),
                     " a second, bursts of ", anonymous_->burst(), "): retry in a few seconds"));
  }
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  TellServedAt(context, *snapshot);
  return Answer(reads_core_.ListBlacklist(*snapshot, *request), response);
}

grpc::Status RegistryServiceImpl::GetPark(grpc::ServerContext* context,
                                          const v1::GetParkRequest* request, v1::Park* response) {
  return OpenRead(context, ledger_, reads_core_, *request, response, &RegistryReads::GetPark);
}

grpc::Status RegistryServiceImpl::ListReferenceTables(grpc::ServerContext* context,
                                                      const v1::ListReferenceTablesRequest* request,
                                                      v1::ListReferenceTablesResponse* response) {
  return OpenRead(context, ledger_, reads_core_, *request, response,
                  &RegistryReads::ListReferenceTables);
}

grpc::Status RegistryServiceImpl::FindCatalogueEntries(
    grpc::ServerContext* context, const v1::FindCatalogueEntriesRequest* request,
    v1::FindCatalogueEntriesResponse* response) {
  return OpenRead(context, ledger_, reads_core_, *request, response,
                  &RegistryReads::FindCatalogueEntries);
}

grpc::Status RegistryServiceImpl::GetStatementTexts(grpc::ServerContext* context,
                                                    const v1::GetStatementTextsRequest* request,
                                                    v1::GetStatementTextsResponse* response) {
  return OpenRead(context, ledger_, reads_core_, *request, response,
                  &RegistryReads::GetStatementTexts);
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* RegistryServiceImpl::ServeRead(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response, absl::string_view method,
    absl::StatusOr<Response> (RegistryReads::*read)(const storage::Snapshot&, const v1::Actor&,
                                                    const Request&) const) {
  return ServeCredentialedRead(context, request, response, read_executor_, *reads_, *ledger_,
                               method, reads_core_, read);
}

grpc::ServerUnaryReactor* RegistryServiceImpl::GetEnterprise(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kGetEnterpriseMethod, &RegistryReads::GetEnterprise);
}

grpc::ServerUnaryReactor* RegistryServiceImpl::GetProduct(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request,
                                                          grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kGetProductMethod, &RegistryReads::GetProduct);
}

grpc::ServerUnaryReactor* RegistryServiceImpl::ListProducts(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* request,
                                                            grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kListProductsMethod, &RegistryReads::ListProducts);
}

grpc::ServerUnaryReactor* RegistryServiceImpl::ListPendingProducts(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kListPendingProductsMethod,
                   &RegistryReads::ListPendingProducts);
}

grpc::ServerUnaryReactor* RegistryServiceImpl::ListProductFlagChanges(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kListProductFlagChangesMethod,
                   &RegistryReads::ListProductFlagChanges);
}

grpc::ServerUnaryReactor* RegistryServiceImpl::ListSites(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kListSitesMethod, &RegistryReads::ListSites);
}

grpc::ServerUnaryReactor* RegistryServiceImpl::GetActor(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request,
                                                        grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kGetActorMethod, &RegistryReads::GetActor);
}

grpc::ServerUnaryReactor* RegistryServiceImpl::GetActorKey(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kGetActorKeyMethod, &RegistryReads::GetActorKey);
}

grpc::ServerUnaryReactor* RegistryServiceImpl::GetRegistryEntry(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kGetRegistryEntryMethod,
                   &RegistryReads::GetRegistryEntry);
}

}  // namespace chemledger::registry
