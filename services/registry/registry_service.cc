#include "services/registry/registry_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "chemledger/v1/log.pb.h"
#include "services/common/grpc_status.h"
#include "services/common/identifiers.h"
#include "services/common/incoming_call.h"
#include "services/common/page_size.h"
#include "services/common/raw_unary.h"
#include "services/common/snapshot_metadata.h"
#include "services/common/status_macros.h"
#include "services/registry/oversight.h"
#include "services/registry/product_flags.h"
#include "services/registry/read_access.h"
#include "services/registry/reference_tables.h"
#include "services/registry/registry_state.h"
#include "services/registry/shipped_catalogue.h"
#include "services/registry/signers.h"

namespace chemledger::registry {
namespace {

// The actor record of key `key_id` in `snapshot` (nullopt: never
// registered), for a read of `method` whose credentials `context` carries:
// the read checked, its log size told, the key id parsed (InvalidArgument
// naming the field).
absl::StatusOr<std::optional<state::ActorRecord>> ReadActorKey(
    const storage::Snapshot& snapshot, ReadAuthenticator& reads, grpc::ServerContextBase& context,
    absl::string_view method, absl::string_view request_bytes, const std::string& key_id,
    std::optional<crypto::KeyId>* id) {
  if (auto reader = reads.Authenticate(snapshot, context, method, request_bytes); !reader.ok()) {
    return reader.status();
  }
  TellServedAt(&context, snapshot);
  absl::StatusOr<crypto::KeyId> parsed = crypto::KeyId::Parse(key_id);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("key_id: ", parsed.status().message()));
  }
  *id = *parsed;
  return FindActor(snapshot, *parsed);
}

}  // namespace

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
                                                const v1::GetDeploymentRequest*,
                                                v1::Deployment* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
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

grpc::Status RegistryServiceImpl::ListBlacklist(grpc::ServerContext* context,
                                                const v1::ListBlacklistRequest* request,
                                                v1::ListBlacklistResponse* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  absl::StatusOr<size_t> limit = PageSizeOf(request->page_size(), 100);
  if (!limit.ok()) return ToGrpcStatus(limit.status());
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  TellServedAt(context, *snapshot);
  bool more = false;
  absl::StatusOr<std::vector<BlacklistedEnterprise>> listed =
      registry::ListBlacklist(*snapshot, request->page_token(),
                              *limit, &more);
  if (!listed.ok()) return ToGrpcStatus(listed.status());
  for (const BlacklistedEnterprise& e : *listed) *response->add_entries() = ToBlacklistEntry(e);
  if (more && !listed->empty()) response->set_next_page_token(listed->back().uscc);
  response->set_log_size(snapshot->size());
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* RegistryServiceImpl::GetEnterprise(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::GetEnterpriseRequest, v1::EnterpriseRecord>(
      context, request, response, read_executor_,
      [this, context](const v1::GetEnterpriseRequest* r, absl::string_view bytes, v1::EnterpriseRecord* out) {
        return ServeGetEnterprise(context, r, bytes, out);
      });
}

grpc::Status RegistryServiceImpl::ServeGetEnterprise(grpc::ServerContextBase* context,
                                             const v1::GetEnterpriseRequest* request,
                                             absl::string_view request_bytes,
                                             v1::EnterpriseRecord* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  if (auto reader = reads_->Authenticate(*snapshot, *context, kGetEnterpriseMethod, request_bytes); !reader.ok()) {
    return ToGrpcStatus(reader.status());
  }
  TellServedAt(context, *snapshot);
  absl::StatusOr<std::optional<EnterpriseRecord>> record = FindEnterprise(*snapshot, request->uscc());
  if (!record.ok()) return ToGrpcStatus(record.status());
  if (!*record) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("uscc: enterprise '", request->uscc(), "' is not registered"));
  }
  *response->mutable_enterprise() = (*record)->enterprise;
  response->set_blacklisted((*record)->blacklist_reason.has_value());
  response->set_registered_at((*record)->registered_at);
  if ((*record)->blacklist_reason) response->set_blacklist_reason(*(*record)->blacklist_reason);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* RegistryServiceImpl::GetProduct(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::GetProductRequest, v1::Product>(
      context, request, response, read_executor_,
      [this, context](const v1::GetProductRequest* r, absl::string_view bytes, v1::Product* out) {
        return ServeGetProduct(context, r, bytes, out);
      });
}

grpc::Status RegistryServiceImpl::ServeGetProduct(grpc::ServerContextBase* context,
                                             const v1::GetProductRequest* request,
                                             absl::string_view request_bytes,
                                             v1::Product* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  if (auto reader = reads_->Authenticate(*snapshot, *context, kGetProductMethod, request_bytes); !reader.ok()) {
    return ToGrpcStatus(reader.status());
  }
  TellServedAt(context, *snapshot);
  absl::StatusOr<std::optional<v1::Product>> product =
      FindProduct(*snapshot, request->enterprise_uscc(), request->product_number());
  if (!product.ok()) return ToGrpcStatus(product.status());
  if (!*product) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("product_number: '", request->product_number(),
                                     "' is not a registered product of '",
                                     request->enterprise_uscc(), "'"));
  }
  *response = **std::move(product);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* RegistryServiceImpl::ListProducts(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::ListProductsRequest, v1::ListProductsResponse>(
      context, request, response, read_executor_,
      [this, context](const v1::ListProductsRequest* r, absl::string_view bytes, v1::ListProductsResponse* out) {
        return ServeListProducts(context, r, bytes, out);
      });
}

grpc::Status RegistryServiceImpl::ServeListProducts(grpc::ServerContextBase* context,
                                             const v1::ListProductsRequest* request,
                                             absl::string_view request_bytes,
                                             v1::ListProductsResponse* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  if (auto reader = reads_->Authenticate(*snapshot, *context, kListProductsMethod, request_bytes); !reader.ok()) {
    return ToGrpcStatus(reader.status());
  }
  TellServedAt(context, *snapshot);
  absl::StatusOr<std::vector<v1::Product>> products =
      registry::ListProducts(*snapshot, request->enterprise_uscc());
  if (!products.ok()) return ToGrpcStatus(products.status());
  for (v1::Product& p : *products) *response->add_products() = std::move(p);
  return grpc::Status::OK;
}

grpc::Status RegistryServiceImpl::GetPark(grpc::ServerContext* context,
                                          const v1::GetParkRequest* request,
                                          v1::Park* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  TellServedAt(context, *snapshot);
  absl::StatusOr<std::optional<v1::Park>> park = registry::FindPark(*snapshot, request->park_id());
  if (!park.ok()) return ToGrpcStatus(park.status());
  if (!*park) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("park_id: '", request->park_id(), "' is not registered"));
  }
  *response = **std::move(park);
  return grpc::Status::OK;
}

grpc::Status RegistryServiceImpl::ListReferenceTables(grpc::ServerContext* context,
                                                      const v1::ListReferenceTablesRequest* request,
                                                      v1::ListReferenceTablesResponse* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  TellServedAt(context, *snapshot);
  absl::StatusOr<std::vector<v1::ReferenceTableVersion>> versions =
      ListReferenceTableVersions(*snapshot, request->table());
  if (!versions.ok()) return ToGrpcStatus(versions.status());
  for (v1::ReferenceTableVersion& v : *versions) *response->add_versions() = std::move(v);
  response->set_log_size(snapshot->size());
  return grpc::Status::OK;
}

grpc::Status RegistryServiceImpl::FindCatalogueEntries(
    grpc::ServerContext* context, const v1::FindCatalogueEntriesRequest* request,
    v1::FindCatalogueEntriesResponse* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  if (absl::Status s = ids::ValidateCas("cas", request->cas()); !s.ok()) return ToGrpcStatus(s);
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  TellServedAt(context, *snapshot);
  response->set_log_size(snapshot->size());
  absl::StatusOr<ControlListFlags> listed = ControlListFlagsFor(*snapshot, request->cas());
  if (!listed.ok()) return ToGrpcStatus(listed.status());
  for (const std::string& list : listed->lists) response->add_control_lists(list);
  if (listed->flags != 0) {
    for (absl::string_view flag : absl::StrSplit(ControlFlagsText(listed->flags), ',')) {
      response->add_control_list_flags(std::string(flag));
    }
  }
  absl::StatusOr<std::optional<v1::ReferenceTableVersion>> in_force =
      ReferenceTableInForce(*snapshot, v1::CATALOGUE);
  if (!in_force.ok()) return ToGrpcStatus(in_force.status());
  if (!*in_force) {
    absl::StatusOr<const Catalogue*> shipped = ShippedCatalogue();
    if (!shipped.ok()) return ToGrpcStatus(shipped.status());
    if (const CatalogueEntry* row = (*shipped)->FindByCas(request->cas())) {
      *response->add_rows() = ToCatalogueRow(*row);
    }
    return grpc::Status::OK;
  }
  response->set_catalogue_version((*in_force)->version());
  absl::StatusOr<std::vector<v1::CatalogueRow>> rows =
      FindCatalogueRows(*snapshot, (*in_force)->version(), request->cas());
  if (!rows.ok()) return ToGrpcStatus(rows.status());
  for (v1::CatalogueRow& row : *rows) *response->add_rows() = std::move(row);
  return grpc::Status::OK;
}

namespace {

// The enterprise whose product flag records `reader` asks for ("": every
// one it oversees), or why it may not.
absl::StatusOr<std::string> ProductFlagScope(const storage::StateReader& state,
                                             const v1::Actor& reader,
                                             const std::string& requested) {
  if (!requested.empty()) {
    if (absl::Status s = ids::ValidateUscc("enterprise_uscc", requested); !s.ok()) return s;
  }
  if (IsEnterpriseRole(reader.role())) {
    if (!requested.empty() && requested != reader.enterprise_uscc()) {
      return absl::PermissionDeniedError(
          "enterprise_uscc: an enterprise's actors read their own enterprise's products only");
    }
    return reader.enterprise_uscc();
  }
  if (!HasOversightRole(reader)) {
    return absl::PermissionDeniedError(
        "read credentials: products under review are read by their enterprise's actors, "
        "regulators and platform administrators");
  }
  if (!requested.empty()) {
    absl::StatusOr<bool> oversees = OverseesEnterprise(state, reader, requested);
    if (!oversees.ok()) return oversees.status();
    if (!*oversees) {
      return absl::PermissionDeniedError(absl::StrCat("enterprise_uscc: ", requested,
                                                      " is outside your jurisdiction (",
                                                      JurisdictionText(reader), ")"));
    }
  }
  return requested;
}

}  // namespace

grpc::ServerUnaryReactor* RegistryServiceImpl::ListPendingProducts(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::ListPendingProductsRequest, v1::ListPendingProductsResponse>(
      context, request, response, read_executor_,
      [this, context](const v1::ListPendingProductsRequest* r, absl::string_view bytes,
                      v1::ListPendingProductsResponse* out) {
        return ServeListPendingProducts(context, r, bytes, out);
      });
}

grpc::Status RegistryServiceImpl::ServeListPendingProducts(
    grpc::ServerContextBase* context, const v1::ListPendingProductsRequest* request,
    absl::string_view request_bytes, v1::ListPendingProductsResponse* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, kListPendingProductsMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  TellServedAt(context, *snapshot);
  absl::StatusOr<std::string> uscc =
      ProductFlagScope(*snapshot, *reader, request->enterprise_uscc());
  if (!uscc.ok()) return ToGrpcStatus(uscc.status());
  absl::StatusOr<std::vector<v1::PendingProduct>> pending =
      registry::ListPendingProducts(*snapshot, *uscc);
  if (!pending.ok()) return ToGrpcStatus(pending.status());
  OversightMemo oversees(*snapshot, *reader);
  for (v1::PendingProduct& p : *pending) {
    if (uscc->empty()) {
      absl::StatusOr<bool> shown = oversees.Enterprise(p.product().enterprise_uscc());
      if (!shown.ok()) return ToGrpcStatus(shown.status());
      if (!*shown) continue;
    }
    *response->add_products() = std::move(p);
  }
  response->set_log_size(snapshot->size());
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* RegistryServiceImpl::ListProductFlagChanges(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::ListProductFlagChangesRequest, v1::ListProductFlagChangesResponse>(
      context, request, response, read_executor_,
      [this, context](const v1::ListProductFlagChangesRequest* r, absl::string_view bytes,
                      v1::ListProductFlagChangesResponse* out) {
        return ServeListProductFlagChanges(context, r, bytes, out);
      });
}

grpc::Status RegistryServiceImpl::ServeListProductFlagChanges(
    grpc::ServerContextBase* context, const v1::ListProductFlagChangesRequest* request,
    absl::string_view request_bytes, v1::ListProductFlagChangesResponse* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, kListProductFlagChangesMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  TellServedAt(context, *snapshot);
  absl::StatusOr<std::string> uscc =
      ProductFlagScope(*snapshot, *reader, request->enterprise_uscc());
  if (!uscc.ok()) return ToGrpcStatus(uscc.status());
  absl::StatusOr<std::vector<v1::ProductFlagChange>> changes =
      registry::ListProductFlagChanges(*snapshot, *uscc);
  if (!changes.ok()) return ToGrpcStatus(changes.status());
  OversightMemo oversees(*snapshot, *reader);
  for (v1::ProductFlagChange& c : *changes) {
    if (uscc->empty()) {
      absl::StatusOr<bool> shown = oversees.Enterprise(c.enterprise_uscc());
      if (!shown.ok()) return ToGrpcStatus(shown.status());
      if (!*shown) continue;
    }
    *response->add_changes() = std::move(c);
  }
  response->set_log_size(snapshot->size());
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* RegistryServiceImpl::ListSites(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::ListSitesRequest, v1::ListSitesResponse>(
      context, request, response, read_executor_,
      [this, context](const v1::ListSitesRequest* r, absl::string_view bytes,
                      v1::ListSitesResponse* out) { return ServeListSites(context, r, bytes, out); });
}

grpc::Status RegistryServiceImpl::ServeListSites(grpc::ServerContextBase* context,
                                                 const v1::ListSitesRequest* request,
                                                 absl::string_view request_bytes,
                                                 v1::ListSitesResponse* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, kListSitesMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  TellServedAt(context, *snapshot);
  const std::string uscc =
      request->enterprise_uscc().empty() ? reader->enterprise_uscc() : request->enterprise_uscc();
  if (uscc.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "enterprise_uscc: is required (you belong to no enterprise)");
  }
  bool may = reader->enterprise_uscc() == uscc;
  if (!may) {
    absl::StatusOr<bool> oversees = OverseesAllOf(*snapshot, *reader, RecordKind::kSites, uscc);
    if (!oversees.ok()) return ToGrpcStatus(oversees.status());
    may = *oversees;
  }
  if (!may) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("enterprise_uscc: the sites of ", uscc,
                                     " are read by its own actors and the regulators whose "
                                     "department reads sites and whose jurisdiction holds it"));
  }
  absl::StatusOr<std::vector<v1::Site>> sites = registry::ListSites(*snapshot, uscc);
  if (!sites.ok()) return ToGrpcStatus(sites.status());
  for (v1::Site& site : *sites) *response->add_sites() = std::move(site);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* RegistryServiceImpl::GetActor(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::GetActorRequest, v1::Actor>(
      context, request, response, read_executor_,
      [this, context](const v1::GetActorRequest* r, absl::string_view bytes, v1::Actor* out) {
        return ServeGetActor(context, r, bytes, out);
      });
}

grpc::Status RegistryServiceImpl::ServeGetActor(grpc::ServerContextBase* context,
                                             const v1::GetActorRequest* request,
                                             absl::string_view request_bytes,
                                             v1::Actor* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  std::optional<crypto::KeyId> id;
  absl::StatusOr<std::optional<state::ActorRecord>> actor =
      ReadActorKey(*snapshot, *reads_, *context, kGetActorMethod, request_bytes,
                   request->key_id(), &id);
  if (!actor.ok()) return ToGrpcStatus(actor.status());
  if (!*actor || (*actor)->revoked()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("key_id: no active actor holds key ", id->ToString()));
  }
  *response = (*actor)->actor();
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* RegistryServiceImpl::GetActorKey(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::GetActorRequest, v1::ActorKeyRecord>(
      context, request, response, read_executor_,
      [this, context](const v1::GetActorRequest* r, absl::string_view bytes, v1::ActorKeyRecord* out) {
        return ServeGetActorKey(context, r, bytes, out);
      });
}

grpc::Status RegistryServiceImpl::ServeGetActorKey(grpc::ServerContextBase* context,
                                             const v1::GetActorRequest* request,
                                             absl::string_view request_bytes,
                                             v1::ActorKeyRecord* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  std::optional<crypto::KeyId> id;
  absl::StatusOr<std::optional<state::ActorRecord>> actor =
      ReadActorKey(*snapshot, *reads_, *context, kGetActorKeyMethod, request_bytes,
                   request->key_id(), &id);
  if (!actor.ok()) return ToGrpcStatus(actor.status());
  if (!*actor) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("key_id: no actor key ", id->ToString(), " was registered"));
  }
  const state::ActorRecord& r = **actor;
  *response->mutable_actor() = r.actor();
  response->set_key_id(id->ToString());
  response->set_added_at(r.added_at());
  response->set_revoked(r.revoked());
  absl::StatusOr<std::string> added = snapshot->Entry(r.added_at());
  if (!added.ok()) return ToGrpcStatus(added.status());
  response->set_registration_entry(*std::move(added));
  if (r.revoked()) {
    response->set_revoked_at(r.revoked_at());
    response->set_revoked_reason(r.revoked_reason());
    absl::StatusOr<std::string> revoked = snapshot->Entry(r.revoked_at());
    if (!revoked.ok()) return ToGrpcStatus(revoked.status());
    response->set_revocation_entry(*std::move(revoked));
  }
  return grpc::Status::OK;
}

namespace {

// Whether `reader` may read the registry entry `entry`. Most registry
// entries are what GetEnterprise, GetActor and GetProduct show any reader;
// two are not: a site's registration (its responsible persons and phones,
// what it may hold) is read as ListSites reads it, and a responder's
// break-glass grant (its reason, where it looked) by the responder, the
// enterprise it names and those who oversee that enterprise.
absl::Status MayReadRegistryEntry(const storage::StateReader& state, const v1::Actor& reader,
                                  const v1::LogEntry& entry) {
  v1::RegistryRequest request;
  if (!request.ParseFromString(entry.envelope().payload())) {
    return absl::DataLossError("is not a RegistryRequest");
  }
  if (request.has_register_site()) {
    const std::string& uscc = request.register_site().enterprise_uscc();
    if (reader.enterprise_uscc() == uscc) return absl::OkStatus();
    CL_ASSIGN_OR_RETURN(bool oversees, OverseesAllOf(state, reader, RecordKind::kSites, uscc));
    if (oversees) return absl::OkStatus();
    return absl::PermissionDeniedError(
        "registers a site: a site's registration is read by its enterprise's actors, platform "
        "administrators and the regulators who read its sites (as ListSites)");
  }
  if (request.has_break_glass()) {
    const v1::BreakGlass& glass = request.break_glass();
    const std::string& uscc =
        glass.enterprise_uscc().empty() ? glass.carrier_uscc() : glass.enterprise_uscc();
    if (!uscc.empty() && reader.enterprise_uscc() == uscc) return absl::OkStatus();
    if (entry.envelope().signatures_size() > 0) {
      if (absl::StatusOr<crypto::KeyId> signer =
              crypto::KeyId::Parse(entry.envelope().signatures(0).key_id());
          signer.ok()) {
        CL_ASSIGN_OR_RETURN(std::optional<state::ActorRecord> responder, FindActor(state, *signer));
        if (responder && responder->actor().public_key() == reader.public_key()) {
          return absl::OkStatus();
        }
      }
    }
    CL_ASSIGN_OR_RETURN(bool oversees, OverseesEnterprise(state, reader, uscc));
    if (oversees && HasOversightRole(reader)) return absl::OkStatus();
    return absl::PermissionDeniedError(
        "is a responder's break-glass grant: read by that responder, the enterprise it names "
        "and those who oversee that enterprise");
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* RegistryServiceImpl::GetRegistryEntry(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::GetRegistryEntryRequest, v1::RegistryEntry>(
      context, request, response, read_executor_,
      [this, context](const v1::GetRegistryEntryRequest* r, absl::string_view bytes, v1::RegistryEntry* out) {
        return ServeGetRegistryEntry(context, r, bytes, out);
      });
}

grpc::Status RegistryServiceImpl::ServeGetRegistryEntry(grpc::ServerContextBase* context,
                                             const v1::GetRegistryEntryRequest* request,
                                             absl::string_view request_bytes,
                                             v1::RegistryEntry* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, kGetRegistryEntryMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  TellServedAt(context, *snapshot);
  const grpc::Status none(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("log_index: ", request->log_index(),
                                       " is not a registry entry of this log"));
  if (request->log_index() >= snapshot->size()) return none;
  absl::StatusOr<std::string> bytes = snapshot->Entry(request->log_index());
  if (!bytes.ok()) return ToGrpcStatus(bytes.status());
  v1::LogEntry entry;
  if (!entry.ParseFromString(*bytes)) {
    return ToGrpcStatus(absl::DataLossError(
        absl::StrCat("log entry ", request->log_index(), " is not a LogEntry")));
  }
  // Entries of other kinds are not this call's: they hold enterprises'
  // business, read through their own services.
  if (entry.envelope().payload_type() != api::kRegistryContext.payload_type() &&
      entry.envelope().payload_type() != api::kGenesisContext.payload_type()) {
    return none;
  }
  if (entry.envelope().payload_type() == api::kRegistryContext.payload_type()) {
    absl::Status may = MayReadRegistryEntry(*snapshot, *reader, entry);
    if (!may.ok()) {
      return ToGrpcStatus(absl::Status(
          may.code(), absl::StrCat("log_index: entry ", request->log_index(), " ", may.message())));
    }
  }
  response->set_log_index(request->log_index());
  response->set_entry(*std::move(bytes));
  return grpc::Status::OK;
}

}  // namespace chemledger::registry
