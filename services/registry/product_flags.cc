#include "services/registry/product_flags.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "chemledger/state/state.pb.h"
#include "services/common/envelope.h"
#include "services/registry/catalogue.h"
#include "services/registry/oversight.h"
#include "services/registry/registry_keys.h"
#include "services/registry/registry_state.h"

namespace chemledger::registry {
namespace {

constexpr char kPendingPrefix[] = "r/pend/";
constexpr char kFlagChangePrefix[] = "r/flagchg/";

std::string PendingKey(absl::string_view uscc, absl::string_view number) {
  return absl::StrCat(kPendingPrefix, uscc, "/", number);
}
std::string FlagChangeKey(absl::string_view uscc, absl::string_view number, uint64_t index) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(index));
  return absl::StrCat(kFlagChangePrefix, uscc, "/", number, "/", hex);
}
// Where the keys of `uscc` ("": everyone's) begin.
std::string PrefixOf(absl::string_view prefix, absl::string_view uscc) {
  return uscc.empty() ? std::string(prefix) : absl::StrCat(prefix, uscc, "/");
}

// The flag names of ControlFlag bits, in the canonical order.
std::vector<std::string> FlagNames(uint8_t flags) {
  if (flags == 0) return {};
  return absl::StrSplit(ControlFlagsText(flags), ',');
}

absl::StatusOr<uint8_t> FlagsOf(const google::protobuf::RepeatedPtrField<std::string>& names,
                                absl::string_view field) {
  absl::StatusOr<uint8_t> flags = ParseControlFlags(absl::StrJoin(names, ","));
  if (!flags.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", flags.status().message()));
  }
  return flags;
}

// Writes `product` with `flags` (provisional still, or not) and records the
// change.
void PutFlagChange(uint64_t index, v1::Product product, uint8_t flags, v1::ProductFlagChange change,
                   bool still_provisional, storage::StateWrites* changes) {
  change.set_enterprise_uscc(product.enterprise_uscc());
  change.set_product_number(product.product_number());
  change.set_log_index(index);
  *change.mutable_flags_before() = product.control_flags();
  change.set_was_provisional(product.flags_provisional());
  product.clear_control_flags();
  for (std::string& name : FlagNames(flags)) product.add_control_flags(std::move(name));
  *change.mutable_flags_after() = product.control_flags();
  if (product.flags_provisional() && !still_provisional) {
    changes->Delete(PendingKey(product.enterprise_uscc(), product.product_number()));
  }
  product.set_flags_provisional(still_provisional);
  changes->Put(FlagChangeKey(product.enterprise_uscc(), product.product_number(), index),
               change.SerializeAsString());
  changes->Put(keys::Product(product.enterprise_uscc(), product.product_number()),
               product.SerializeAsString());
}

}  // namespace

void PutProvisionalProduct(uint64_t entry_index, v1::Product product,
                           absl::string_view catalogue_version, storage::StateWrites* changes) {
  product.set_flags_provisional(true);
  state::PendingProductRecord pending;
  pending.set_registered_at(entry_index);
  pending.set_catalogue_version(std::string(catalogue_version));
  changes->Put(PendingKey(product.enterprise_uscc(), product.product_number()),
               pending.SerializeAsString());
  changes->Put(keys::Product(product.enterprise_uscc(), product.product_number()),
               product.SerializeAsString());
}

absl::Status DecideProductFlags(const journal::EntryContext& entry,
                                const v1::ProductFlagsDecision& decision, const v1::Actor& actor,
                                const storage::StateReader& state, storage::StateWrites* changes) {
  if (entry.rules_epoch < kReferenceTablesRulesEpoch) {
    return absl::InvalidArgumentError(
        absl::StrCat("decide_product_flags: from rules epoch ", kReferenceTablesRulesEpoch));
  }
  // A product record holds for the whole country: a park's regulator does
  // not decide it.
  if (actor.role() != v1::REGULATOR || actor.department() != v1::EMERGENCY_MANAGEMENT ||
      !actor.jurisdiction().park_id().empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "envelope.signatures[0].key_id: actor '", actor.name(), "' (",
        v1::ActorRole_Name(actor.role()),
        ") may not decide product flags: regulators of 应急管理 (EMERGENCY_MANAGEMENT) with a "
        "national or regional jurisdiction only"));
  }
  if (decision.reason().empty() || decision.reason().size() > 512) {
    return absl::InvalidArgumentError(
        "decide_product_flags.reason: is required, at most 512 bytes");
  }
  absl::StatusOr<uint8_t> flags =
      FlagsOf(decision.control_flags(), "decide_product_flags.control_flags");
  if (!flags.ok()) return flags.status();
  // Jurisdiction first: whether a product exists is no business of a
  // regulator outside it.
  absl::StatusOr<bool> oversees = OverseesEnterprise(state, actor, decision.enterprise_uscc());
  if (!oversees.ok()) return oversees.status();
  if (!*oversees) {
    return absl::PermissionDeniedError(absl::StrCat(
        "decide_product_flags.enterprise_uscc: ", decision.enterprise_uscc(),
        " is outside the jurisdiction of '", actor.name(), "' (", JurisdictionText(actor), ")"));
  }
  absl::StatusOr<std::optional<v1::Product>> product =
      FindProduct(state, decision.enterprise_uscc(), decision.product_number());
  if (!product.ok()) return product.status();
  if (!*product) {
    return absl::NotFoundError(
        absl::StrCat("decide_product_flags.product_number: ", decision.enterprise_uscc(), "/",
                     decision.product_number(), " is not registered"));
  }
  // The catalogue in force has the last word on the flags it gives; before
  // any import, the compiled-in catalogue's flags stand and no one decides.
  absl::StatusOr<std::optional<v1::ReferenceTableVersion>> in_force =
      ReferenceTableInForce(state, v1::CATALOGUE);
  if (!in_force.ok()) return in_force.status();
  if (!*in_force) {
    return absl::FailedPreconditionError(
        "decide_product_flags: no catalogue has been imported; until one is, the compiled-in "
        "catalogue's flags stand and no product is provisional");
  }
  absl::StatusOr<std::vector<v1::CatalogueRow>> rows =
      FindCatalogueRows(state, (*in_force)->version(), (*product)->cas());
  if (!rows.ok()) return rows.status();
  if (const v1::CatalogueRow* row = ChooseCatalogueRow(*rows, (*product)->catalogue_number())) {
    const uint8_t required = static_cast<uint8_t>(row->control_flags());
    if ((*flags & required) != required) {
      return absl::InvalidArgumentError(
          absl::StrCat("decide_product_flags.control_flags: must include ",
                       ControlFlagsText(required), ", which catalogue ", (*in_force)->version(),
                       " gives CAS ", (*product)->cas(), " (entry ", row->catalogue_number(), ")"));
    }
  }
  // So have the control lists in force, on the flags they set.
  absl::StatusOr<ControlListFlags> listed = ControlListFlagsFor(state, (*product)->cas());
  if (!listed.ok()) return listed.status();
  if ((*flags & listed->flags) != listed->flags) {
    return absl::InvalidArgumentError(
        absl::StrCat("decide_product_flags.control_flags: must include ",
                     ControlFlagsText(listed->flags), ", which the control lists in force (",
                     absl::StrJoin(listed->lists, ", "), ") give CAS ", (*product)->cas()));
  }
  // A provisional product's declaration is confirmed or corrected either
  // way; a decided one only gains flags.
  absl::StatusOr<uint8_t> current = FlagsOf((*product)->control_flags(), "product.control_flags");
  if (!current.ok()) return current.status();
  if (!(*product)->flags_provisional()) {
    if ((*flags & *current) != *current) {
      return absl::InvalidArgumentError(absl::StrCat(
          "decide_product_flags.control_flags: must include ", ControlFlagsText(*current),
          ": the product's flags are not provisional, and a decision only adds to them"));
    }
    if (*flags == *current) {
      return absl::FailedPreconditionError(
          "decide_product_flags.control_flags: the product carries these flags already");
    }
  }
  absl::StatusOr<crypto::KeyId> signer =
      envelope::SignerKeyId(*entry.envelope, api::kRegistryContext);
  if (!signer.ok()) return signer.status();
  v1::ProductFlagChange change;
  change.set_decided_by(signer->ToString());
  change.set_reason(decision.reason());
  PutFlagChange(entry.index, **std::move(product), *flags, std::move(change),
                /*still_provisional=*/false, changes);
  return absl::OkStatus();
}

// Whether `product` is what `row` says of its CAS number: the same entry
// number, and UN number and class where the row gives them.
bool MatchesRow(const v1::Product& product, const v1::CatalogueRow& row) {
  return product.catalogue_number() == row.catalogue_number() &&
         (row.un_number().empty() || row.un_number() == product.un_number()) &&
         (row.hazard_class().empty() || row.hazard_class() == product.hazard_class());
}

absl::Status AddImportedFlags(const journal::EntryContext& entry, const ImportedTable& imported,
                              const storage::StateReader& state, storage::StateWrites* changes) {
  absl::StatusOr<std::vector<v1::Product>> products = ListAllProducts(state);
  if (!products.ok()) return products.status();
  for (v1::Product& product : *products) {
    if (product.cas().empty()) continue;
    const auto it = imported.rows_by_cas.find(product.cas());
    if (it == imported.rows_by_cas.end()) continue;
    const v1::CatalogueRow* row = ChooseCatalogueRow(it->second, product.catalogue_number());
    absl::StatusOr<uint8_t> flags = FlagsOf(product.control_flags(), "product.control_flags");
    if (!flags.ok()) return flags.status();
    const uint8_t wanted = *flags | static_cast<uint8_t>(row->control_flags());
    // A provisional product stops waiting only when a catalogue's row is
    // its own (entry number, and UN number and class where the row gives
    // them; a control list settles nothing); the flags are added either way.
    const bool settles =
        imported.table == v1::CATALOGUE && product.flags_provisional() && MatchesRow(product, *row);
    if (wanted == *flags && !settles) continue;
    const bool still_provisional = product.flags_provisional() && !settles;
    v1::ProductFlagChange change;
    change.set_catalogue_version(imported.version);
    if (imported.table != v1::CATALOGUE) change.set_table(imported.table);
    PutFlagChange(entry.index, std::move(product), wanted, std::move(change), still_provisional,
                  changes);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::PendingProduct>> ListPendingProducts(
    const storage::StateReader& state, absl::string_view uscc) {
  const std::string prefix = PrefixOf(kPendingPrefix, uscc);
  std::vector<std::pair<std::string, state::PendingProductRecord>> found;
  bool malformed = false;
  absl::Status s = state.Scan(prefix, storage::PrefixEnd(prefix),
                              [&](absl::string_view key, absl::string_view value) {
                                auto& [name, record] = found.emplace_back();
                                name = std::string(key.substr(sizeof(kPendingPrefix) - 1));
                                malformed = !record.ParseFromString(std::string(value));
                                return !malformed;
                              });
  if (!s.ok()) return s;
  if (malformed) return absl::DataLossError("a pending product record is malformed");
  std::vector<v1::PendingProduct> out;
  for (auto& [name, record] : found) {
    const std::vector<std::string> parts = absl::StrSplit(name, absl::MaxSplits('/', 1));
    if (parts.size() != 2) return absl::DataLossError(absl::StrCat("pending key ", name));
    absl::StatusOr<std::optional<v1::Product>> product = FindProduct(state, parts[0], parts[1]);
    if (!product.ok()) return product.status();
    if (!*product) {
      return absl::DataLossError(absl::StrCat("pending product ", name, " is not registered"));
    }
    v1::PendingProduct& p = out.emplace_back();
    *p.mutable_product() = **std::move(product);
    p.set_registered_at(record.registered_at());
    p.set_catalogue_version(record.catalogue_version());
  }
  return out;
}

absl::StatusOr<std::vector<v1::ProductFlagChange>> ListProductFlagChanges(
    const storage::StateReader& state, absl::string_view uscc) {
  const std::string prefix = PrefixOf(kFlagChangePrefix, uscc);
  std::vector<v1::ProductFlagChange> out;
  bool malformed = false;
  absl::Status s = state.Scan(prefix, storage::PrefixEnd(prefix),
                              [&](absl::string_view, absl::string_view value) {
                                malformed = !out.emplace_back().ParseFromString(std::string(value));
                                return !malformed;
                              });
  if (!s.ok()) return s;
  if (malformed) return absl::DataLossError("a product flag change record is malformed");
  return out;
}

}  // namespace chemledger::registry
