#include "services/registry/registry_reads.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/wire.h"
#include "chemledger/v1/log.pb.h"
#include "services/common/identifiers.h"
#include "services/common/page_size.h"
#include "services/common/status_macros.h"
#include "services/registry/logged_reference_tables.h"
#include "services/registry/oversight.h"
#include "services/registry/product_flags.h"
#include "services/registry/reference_tables.h"
#include "services/registry/registry_state.h"
#include "services/registry/shipped_catalogue.h"

namespace chemledger::registry {
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

// Moves into `out` the records of `all` that `reader` sees: every one when
// they are one enterprise's (`uscc`, which ProductFlagScope allowed), else
// those of the enterprises it oversees (`enterprise_of` names a record's).
template <typename Record, typename EnterpriseOf>
absl::Status AddOverseen(const storage::StateReader& state, const v1::Actor& reader,
                         const std::string& uscc, std::vector<Record>& all,
                         EnterpriseOf enterprise_of,
                         google::protobuf::RepeatedPtrField<Record>* out) {
  OversightMemo oversees(state, reader);
  for (Record& record : all) {
    if (uscc.empty()) {
      CL_ASSIGN_OR_RETURN(bool shown, oversees.Enterprise(enterprise_of(record)));
      if (!shown) continue;
    }
    *out->Add() = std::move(record);
  }
  return absl::OkStatus();
}

// Whether `reader` may read the registry entry `entry`. Most registry
// entries are what GetEnterprise, GetActor and GetProduct show any reader;
// three are not: a site's registration (its responsible persons and phones,
// what it may hold) is read as ListSites reads it, a responder's
// break-glass grant (its reason, where it looked) by the responder, the
// enterprise it names and those who oversee that enterprise, and a
// regulator's decision on a product's flags (its reason) as
// ListProductFlagChanges reads it.
absl::Status MayReadRegistryEntry(const storage::StateReader& state, const v1::Actor& reader,
                                  const v1::LogEntry& entry) {
  v1::RegistryRequest request;
  if (!ParseLoggedRegistryRequest(entry.envelope().payload(), entry.rules_epoch(), &request)) {
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
  if (request.has_decide_product_flags()) {
    const std::string& uscc = request.decide_product_flags().enterprise_uscc();
    if (!uscc.empty() && reader.enterprise_uscc() == uscc) return absl::OkStatus();
    if (HasOversightRole(reader)) {
      CL_ASSIGN_OR_RETURN(bool oversees, OverseesEnterprise(state, reader, uscc));
      if (oversees) return absl::OkStatus();
    }
    return absl::PermissionDeniedError(
        "is a regulator's decision on a product's flags: read by the product's enterprise and "
        "those who oversee it (as ListProductFlagChanges)");
  }
  return absl::OkStatus();
}

// The key id of a GetActor request, parsed (InvalidArgument naming the
// field).
absl::StatusOr<crypto::KeyId> RequestedKeyId(const v1::GetActorRequest& request) {
  absl::StatusOr<crypto::KeyId> parsed = crypto::KeyId::Parse(request.key_id());
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("key_id: ", parsed.status().message()));
  }
  return parsed;
}

}  // namespace

absl::StatusOr<v1::ListBlacklistResponse> RegistryReads::ListBlacklist(
    const storage::Snapshot& snapshot, const v1::ListBlacklistRequest& request) const {
  CL_ASSIGN_OR_RETURN(size_t limit, PageSizeOf(request.page_size(), 100));
  bool more = false;
  CL_ASSIGN_OR_RETURN(std::vector<BlacklistedEnterprise> listed,
                      registry::ListBlacklist(snapshot, request.page_token(), limit, &more));
  v1::ListBlacklistResponse response;
  for (const BlacklistedEnterprise& e : listed) *response.add_entries() = ToBlacklistEntry(e);
  if (more && !listed.empty()) response.set_next_page_token(listed.back().uscc);
  response.set_log_size(snapshot.size());
  return response;
}

absl::StatusOr<v1::Park> RegistryReads::GetPark(const storage::Snapshot& snapshot,
                                                const v1::GetParkRequest& request) const {
  CL_ASSIGN_OR_RETURN(std::optional<v1::Park> park, FindPark(snapshot, request.park_id()));
  if (!park) {
    return absl::NotFoundError(
        absl::StrCat("park_id: '", request.park_id(), "' is not registered"));
  }
  return *std::move(park);
}

absl::StatusOr<v1::ListReferenceTablesResponse> RegistryReads::ListReferenceTables(
    const storage::Snapshot& snapshot, const v1::ListReferenceTablesRequest& request) const {
  CL_ASSIGN_OR_RETURN(std::vector<v1::ReferenceTableVersion> versions,
                      ListReferenceTableVersions(snapshot, request.table()));
  v1::ListReferenceTablesResponse response;
  for (v1::ReferenceTableVersion& v : versions) *response.add_versions() = std::move(v);
  response.set_log_size(snapshot.size());
  return response;
}

absl::StatusOr<v1::FindCatalogueEntriesResponse> RegistryReads::FindCatalogueEntries(
    const storage::Snapshot& snapshot, const v1::FindCatalogueEntriesRequest& request) const {
  v1::FindCatalogueEntriesResponse response;
  if (absl::Status s = ids::ValidateCas("cas", request.cas()); !s.ok()) return s;
  response.set_log_size(snapshot.size());
  CL_ASSIGN_OR_RETURN(ControlListFlags listed, ControlListFlagsFor(snapshot, request.cas()));
  for (const std::string& list : listed.lists) response.add_control_lists(list);
  if (listed.flags != 0) {
    for (absl::string_view flag : absl::StrSplit(ControlFlagsText(listed.flags), ',')) {
      response.add_control_list_flags(std::string(flag));
    }
  }
  CL_ASSIGN_OR_RETURN(std::optional<v1::ReferenceTableVersion> in_force,
                      ReferenceTableInForce(snapshot, v1::CATALOGUE));
  if (!in_force) {
    CL_ASSIGN_OR_RETURN(const Catalogue* shipped, ShippedCatalogue());
    if (const CatalogueEntry* row = shipped->FindByCas(request.cas())) {
      *response.add_rows() = ToCatalogueRow(*row);
    }
    return response;
  }
  response.set_catalogue_version(in_force->version());
  CL_ASSIGN_OR_RETURN(std::vector<v1::CatalogueRow> rows,
                      FindCatalogueRows(snapshot, in_force->version(), request.cas()));
  for (v1::CatalogueRow& row : rows) *response.add_rows() = std::move(row);
  return response;
}

absl::StatusOr<v1::GetStatementTextsResponse> RegistryReads::GetStatementTexts(
    const storage::Snapshot& snapshot, const v1::GetStatementTextsRequest& request) const {
  if (request.codes_size() > kMaxStatementCodesAsked) {
    return absl::InvalidArgumentError(absl::StrCat("codes: ", request.codes_size(),
                                                   " asked for; at most ", kMaxStatementCodesAsked,
                                                   " a call"));
  }
  for (int i = 0; i < request.codes_size(); ++i) {
    const std::string& code = request.codes(i);
    if (!ids::IsHazardStatementCode(code) && !ids::IsPrecautionaryStatementCode(code)) {
      return absl::InvalidArgumentError(
          absl::StrCat("codes[", i, "]: '", absl::CHexEscape(code.substr(0, 32)),
                       "' is not a GHS statement code such as H225, P210 or P301+P310"));
    }
  }
  v1::GetStatementTextsResponse response;
  response.set_log_size(snapshot.size());
  CL_ASSIGN_OR_RETURN(std::optional<v1::ReferenceTableVersion> in_force,
                      ReferenceTableInForce(snapshot, v1::STATEMENT_TEXTS));
  if (in_force) response.set_statements_version(in_force->version());
  // As the scan pages read them.
  const LoggedReferenceTables tables(snapshot, reference::ShippedReferenceTables());
  for (const std::string& code : request.codes()) {
    v1::StatementText* text = response.add_texts();
    text->set_code(code);
    text->set_text_zh(tables.StatementText(code, reference::Language::kChinese).value_or(""));
    text->set_text_en(tables.StatementText(code, reference::Language::kEnglish).value_or(""));
  }
  return response;
}

absl::StatusOr<v1::EnterpriseRecord> RegistryReads::GetEnterprise(
    const storage::Snapshot& snapshot, const v1::Actor&,
    const v1::GetEnterpriseRequest& request) const {
  CL_ASSIGN_OR_RETURN(std::optional<EnterpriseRecord> record,
                      FindEnterprise(snapshot, request.uscc()));
  if (!record) {
    return absl::NotFoundError(
        absl::StrCat("uscc: enterprise '", request.uscc(), "' is not registered"));
  }
  v1::EnterpriseRecord response;
  *response.mutable_enterprise() = record->enterprise;
  response.set_blacklisted(record->blacklist_reason.has_value());
  response.set_registered_at(record->registered_at);
  if (record->blacklist_reason) response.set_blacklist_reason(*record->blacklist_reason);
  return response;
}

absl::StatusOr<v1::Product> RegistryReads::GetProduct(const storage::Snapshot& snapshot,
                                                      const v1::Actor&,
                                                      const v1::GetProductRequest& request) const {
  CL_ASSIGN_OR_RETURN(std::optional<v1::Product> product,
                      FindProduct(snapshot, request.enterprise_uscc(), request.product_number()));
  if (!product) {
    return absl::NotFoundError(absl::StrCat("product_number: '", request.product_number(),
                                            "' is not a registered product of '",
                                            request.enterprise_uscc(), "'"));
  }
  return *std::move(product);
}

absl::StatusOr<v1::ListProductsResponse> RegistryReads::ListProducts(
    const storage::Snapshot& snapshot, const v1::Actor&,
    const v1::ListProductsRequest& request) const {
  CL_ASSIGN_OR_RETURN(std::vector<v1::Product> products,
                      registry::ListProducts(snapshot, request.enterprise_uscc()));
  v1::ListProductsResponse response;
  for (v1::Product& p : products) *response.add_products() = std::move(p);
  return response;
}

absl::StatusOr<v1::ListPendingProductsResponse> RegistryReads::ListPendingProducts(
    const storage::Snapshot& snapshot, const v1::Actor& reader,
    const v1::ListPendingProductsRequest& request) const {
  CL_ASSIGN_OR_RETURN(std::string uscc,
                      ProductFlagScope(snapshot, reader, request.enterprise_uscc()));
  CL_ASSIGN_OR_RETURN(std::vector<v1::PendingProduct> pending,
                      registry::ListPendingProducts(snapshot, uscc));
  v1::ListPendingProductsResponse response;
  CL_RETURN_IF_ERROR(AddOverseen(
      snapshot, reader, uscc, pending,
      [](const v1::PendingProduct& p) { return p.product().enterprise_uscc(); },
      response.mutable_products()));
  response.set_log_size(snapshot.size());
  return response;
}

absl::StatusOr<v1::ListProductFlagChangesResponse> RegistryReads::ListProductFlagChanges(
    const storage::Snapshot& snapshot, const v1::Actor& reader,
    const v1::ListProductFlagChangesRequest& request) const {
  CL_ASSIGN_OR_RETURN(std::string uscc,
                      ProductFlagScope(snapshot, reader, request.enterprise_uscc()));
  CL_ASSIGN_OR_RETURN(std::vector<v1::ProductFlagChange> changes,
                      registry::ListProductFlagChanges(snapshot, uscc));
  v1::ListProductFlagChangesResponse response;
  CL_RETURN_IF_ERROR(AddOverseen(
      snapshot, reader, uscc, changes,
      [](const v1::ProductFlagChange& c) { return c.enterprise_uscc(); },
      response.mutable_changes()));
  response.set_log_size(snapshot.size());
  return response;
}

absl::StatusOr<v1::ListSitesResponse> RegistryReads::ListSites(
    const storage::Snapshot& snapshot, const v1::Actor& reader,
    const v1::ListSitesRequest& request) const {
  const std::string uscc =
      request.enterprise_uscc().empty() ? reader.enterprise_uscc() : request.enterprise_uscc();
  if (uscc.empty()) {
    return absl::InvalidArgumentError("enterprise_uscc: is required (you belong to no enterprise)");
  }
  bool may = reader.enterprise_uscc() == uscc;
  if (!may) {
    CL_ASSIGN_OR_RETURN(may, OverseesAllOf(snapshot, reader, RecordKind::kSites, uscc));
  }
  if (!may) {
    return absl::PermissionDeniedError(
        absl::StrCat("enterprise_uscc: the sites of ", uscc,
                     " are read by its own actors and the regulators whose "
                     "department reads sites and whose jurisdiction holds it"));
  }
  // One more than are listed, to tell whether there are more.
  CL_ASSIGN_OR_RETURN(std::vector<v1::Site> sites,
                      registry::ListSites(snapshot, uscc, kMaxSitesListed + 1));
  v1::ListSitesResponse response;
  if (sites.size() > kMaxSitesListed) {
    sites.resize(kMaxSitesListed);
    response.set_truncated(true);
  }
  for (v1::Site& site : sites) *response.add_sites() = std::move(site);
  return response;
}

absl::StatusOr<v1::Actor> RegistryReads::GetActor(const storage::Snapshot& snapshot,
                                                  const v1::Actor&,
                                                  const v1::GetActorRequest& request) const {
  CL_ASSIGN_OR_RETURN(crypto::KeyId id, RequestedKeyId(request));
  CL_ASSIGN_OR_RETURN(std::optional<state::ActorRecord> actor, FindActor(snapshot, id));
  if (!actor || actor->revoked()) {
    return absl::NotFoundError(absl::StrCat("key_id: no active actor holds key ", id.ToString()));
  }
  return actor->actor();
}

absl::StatusOr<v1::ActorKeyRecord> RegistryReads::GetActorKey(
    const storage::Snapshot& snapshot, const v1::Actor&, const v1::GetActorRequest& request) const {
  CL_ASSIGN_OR_RETURN(crypto::KeyId id, RequestedKeyId(request));
  CL_ASSIGN_OR_RETURN(std::optional<state::ActorRecord> actor, FindActor(snapshot, id));
  if (!actor) {
    return absl::NotFoundError(
        absl::StrCat("key_id: no actor key ", id.ToString(), " was registered"));
  }
  const state::ActorRecord& r = *actor;
  v1::ActorKeyRecord response;
  *response.mutable_actor() = r.actor();
  response.set_key_id(id.ToString());
  response.set_added_at(r.added_at());
  response.set_revoked(r.revoked());
  CL_ASSIGN_OR_RETURN(std::string added, snapshot.Entry(r.added_at()));
  response.set_registration_entry(std::move(added));
  if (r.revoked()) {
    response.set_revoked_at(r.revoked_at());
    response.set_revoked_reason(r.revoked_reason());
    CL_ASSIGN_OR_RETURN(std::string revoked, snapshot.Entry(r.revoked_at()));
    response.set_revocation_entry(std::move(revoked));
  }
  return response;
}

absl::StatusOr<v1::RegistryEntry> RegistryReads::GetRegistryEntry(
    const storage::Snapshot& snapshot, const v1::Actor& reader,
    const v1::GetRegistryEntryRequest& request) const {
  const absl::Status none = absl::NotFoundError(
      absl::StrCat("log_index: ", request.log_index(), " is not a registry entry of this log"));
  if (request.log_index() >= snapshot.size()) return none;
  CL_ASSIGN_OR_RETURN(std::string bytes, snapshot.Entry(request.log_index()));
  v1::LogEntry entry;
  if (!entry.ParseFromString(bytes)) {
    return absl::DataLossError(
        absl::StrCat("log entry ", request.log_index(), " is not a LogEntry"));
  }
  // Entries of other kinds are not this call's: they hold enterprises'
  // business, read through their own services.
  if (entry.envelope().payload_type() != api::kRegistryContext.payload_type() &&
      entry.envelope().payload_type() != api::kGenesisContext.payload_type()) {
    return none;
  }
  if (entry.envelope().payload_type() == api::kRegistryContext.payload_type()) {
    absl::Status may = MayReadRegistryEntry(snapshot, reader, entry);
    if (!may.ok()) {
      return absl::Status(
          may.code(), absl::StrCat("log_index: entry ", request.log_index(), " ", may.message()));
    }
  }
  v1::RegistryEntry response;
  response.set_log_index(request.log_index());
  response.set_entry(std::move(bytes));
  return response;
}

}  // namespace chemledger::registry
