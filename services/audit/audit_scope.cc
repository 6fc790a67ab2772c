#include "services/audit/audit_scope.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/identifiers.h"
#include "services/common/status_macros.h"
#include "services/registry/catalogue.h"
#include "services/registry/registry_state.h"

namespace chemledger::audit {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

bool Digits(absl::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

absl::StatusOr<absl::Time> PeriodBound(const google::protobuf::Timestamp& t,
                                       absl::string_view field) {
  if (t.seconds() < 0 || t.seconds() > 253402300799 || t.nanos() < 0 || t.nanos() > 999999999) {
    return Invalid(field, "seconds 0 to 253402300799 (1970 to 9999) and nanos 0 to 999999999");
  }
  return absl::FromUnixSeconds(t.seconds()) +
         absl::Microseconds((static_cast<int64_t>(t.nanos()) + 999) / 1000);
}

absl::StatusOr<AuditScope> AuditScope::Resolve(const storage::StateReader& state,
                                               const v1::Actor& reader,
                                               const GoodsSelector& goods,
                                               const PlaceSelector& place,
                                               registry::RecordKind records) {
  AuditScope scope(state, reader);
  CL_RETURN_IF_ERROR(scope.Check(goods, place, records));
  CL_RETURN_IF_ERROR(scope.ResolveProducts(goods));
  CL_RETURN_IF_ERROR(scope.ResolveEnterprises(place));
  return scope;
}

absl::Status AuditScope::Check(const GoodsSelector& g, const PlaceSelector& p,
                               registry::RecordKind records) {
  const int named = !g.cas.empty() + !g.un_number.empty() + (g.catalogue_number != 0) +
                    !g.control_flag.empty() + (!g.product_number.empty() || !g.product_uscc.empty());
  if (named > 1) {
    return Invalid("cas, un_number, catalogue_number, control_flag, product_number",
                   "name the goods by one of them at most");
  }
  if (g.product_number.empty() != g.product_uscc.empty()) {
    return Invalid(g.product_number.empty() ? "product_number" : "product_uscc",
                   "product_uscc and product_number go together");
  }
  if (!g.cas.empty()) CL_RETURN_IF_ERROR(ids::ValidateCas("cas", g.cas));
  if (!g.un_number.empty() && (g.un_number.size() != 4 || !Digits(g.un_number))) {
    return Invalid("un_number", "4 digits");
  }
  if (!g.product_uscc.empty()) CL_RETURN_IF_ERROR(ids::ValidateUscc("product_uscc", g.product_uscc));
  if (g.catalogue_number < 0 || g.catalogue_number > 2828) {
    return Invalid("catalogue_number", "the 危险化学品目录 (2015) has entries 1 to 2828");
  }
  if (!g.control_flag.empty()) {
    absl::StatusOr<uint8_t> flags = registry::ParseControlFlags(g.control_flag);
    if (!flags.ok() || *flags == 0 || (*flags & (*flags - 1)) != 0) {
      return Invalid("control_flag", "one of 剧毒, 易制爆, 易制毒, 重点监管, 高危");
    }
  }
  const int places = !p.enterprise_uscc.empty() + !p.region_prefix.empty() + !p.park_id.empty();
  if (places > 1) {
    return Invalid("enterprise_uscc, region_prefix, park_id", "name the place by one of them at most");
  }
  if (!p.enterprise_uscc.empty()) {
    CL_RETURN_IF_ERROR(ids::ValidateUscc("enterprise_uscc", p.enterprise_uscc));
  }
  if (!p.region_prefix.empty() &&
      (p.region_prefix.size() < 2 || p.region_prefix.size() > 6 || !Digits(p.region_prefix))) {
    return Invalid("region_prefix", "2 to 6 digits of a GB/T 2260 code");
  }

  // Who asks.
  const v1::Actor& reader = *reader_;
  if (registry::IsEnterpriseRole(reader.role())) {
    if (!p.region_prefix.empty() || !p.park_id.empty()) {
      return absl::PermissionDeniedError(
          "region_prefix, park_id: an enterprise reads its own books only (leave them empty, or "
          "give its own enterprise_uscc)");
    }
    if (!p.enterprise_uscc.empty() && p.enterprise_uscc != reader.enterprise_uscc()) {
      return absl::PermissionDeniedError(
          absl::StrCat("enterprise_uscc: an actor of ", reader.enterprise_uscc(),
                       " reads its own enterprise's books only"));
    }
    return absl::OkStatus();
  }
  if (!registry::HasOversightRole(reader)) {
    return absl::PermissionDeniedError(
        "the audit is for regulators, platform administrators and enterprises' own actors");
  }
  if (records != registry::RecordKind::kPackages) {
    if (registry::DepartmentReads(reader, records) == registry::Reads::kNone) {
      return absl::PermissionDeniedError(absl::StrCat(
          registry::DepartmentText(reader), " does not read these (docs/audit.md, \"Who reads\")"));
    }
    return absl::OkStatus();
  }
  switch (registry::DepartmentReads(reader, registry::RecordKind::kPackages)) {
    case registry::Reads::kAll:
      return absl::OkStatus();
    case registry::Reads::kControlledGoods:
      controlled_only_ = true;
      return absl::OkStatus();
    default:
      return absl::PermissionDeniedError(
          absl::StrCat(registry::DepartmentText(reader),
                       " does not read packages (docs/audit.md, \"Who reads\")"));
  }
}

absl::Status AuditScope::ResolveProducts(const GoodsSelector& g) {
  const bool named = !g.cas.empty() || !g.un_number.empty() || g.catalogue_number != 0 ||
                     !g.control_flag.empty() || !g.product_number.empty();
  if (!named && !controlled_only_) return absl::OkStatus();  // every product
  std::vector<v1::Product> candidates;
  if (!g.product_number.empty()) {
    CL_ASSIGN_OR_RETURN(std::optional<v1::Product> p,
                        registry::FindProduct(*state_, g.product_uscc, g.product_number));
    if (!p) {
      return absl::NotFoundError(absl::StrCat("product_number: ", g.product_uscc,
                                              " registered no product ", g.product_number));
    }
    candidates.push_back(*std::move(p));
  } else {
    CL_ASSIGN_OR_RETURN(candidates, registry::ListAllProducts(*state_));
  }
  products_.emplace();
  for (v1::Product& p : candidates) {
    if (!g.cas.empty() && p.cas() != g.cas) continue;
    if (!g.un_number.empty() && p.un_number() != g.un_number) continue;
    if (g.catalogue_number != 0 && p.catalogue_number() != g.catalogue_number) continue;
    if (!g.control_flag.empty() &&
        std::find(p.control_flags().begin(), p.control_flags().end(), g.control_flag) ==
            p.control_flags().end()) {
      continue;
    }
    if (controlled_only_ && !registry::IsControlledGood(p)) {
      if (!g.product_number.empty()) {
        return absl::PermissionDeniedError(absl::StrCat(
            "product_number: ", registry::DepartmentText(*reader_),
            " reads 剧毒, 易制爆 and 易制毒 goods only; ", p.product_number(), " is none"));
      }
      continue;
    }
    ProductKey key{p.enterprise_uscc(), p.product_number()};
    products_->insert(key);
    product_info_.emplace(std::move(key), std::move(p));
  }
  return absl::OkStatus();
}

absl::Status AuditScope::ResolveEnterprises(const PlaceSelector& p) {
  if (registry::IsEnterpriseRole(reader_->role())) {
    enterprises_ = std::set<std::string>{reader_->enterprise_uscc()};
    return absl::OkStatus();
  }
  if (!p.enterprise_uscc.empty()) {
    CL_ASSIGN_OR_RETURN(std::optional<registry::EnterpriseRecord> e,
                        registry::FindEnterprise(*state_, p.enterprise_uscc));
    CL_ASSIGN_OR_RETURN(bool oversees, memo_.Enterprise(p.enterprise_uscc));
    if (!e || !oversees) {
      // An unknown enterprise and one outside the jurisdiction read alike.
      return absl::PermissionDeniedError(absl::StrCat(
          "enterprise_uscc: ", p.enterprise_uscc, " is not within your jurisdiction (",
          registry::JurisdictionText(*reader_), ") or not registered"));
    }
    enterprises_ = std::set<std::string>{p.enterprise_uscc};
    return absl::OkStatus();
  }
  if (!p.park_id.empty()) {
    CL_ASSIGN_OR_RETURN(std::optional<v1::Park> park, registry::FindPark(*state_, p.park_id));
    if (!park) return absl::NotFoundError(absl::StrCat("park_id: no park ", p.park_id));
  }
  // No place: whoever the reader oversees, asked one by one (Covers).
  if (p.region_prefix.empty() && p.park_id.empty()) return absl::OkStatus();
  CL_ASSIGN_OR_RETURN(std::vector<registry::EnterpriseRecord> all,
                      registry::ListEnterprises(*state_));
  enterprises_.emplace();
  for (const registry::EnterpriseRecord& e : all) {
    const std::string& uscc = e.enterprise.uscc();
    if (!p.region_prefix.empty() &&
        !absl::StartsWith(e.enterprise.region_code(), p.region_prefix)) {
      continue;
    }
    if (!p.park_id.empty()) {
      CL_ASSIGN_OR_RETURN(std::vector<v1::Site> sites, registry::ListSites(*state_, uscc));
      bool in_park = false;
      for (const v1::Site& s : sites) in_park = in_park || s.park_id() == p.park_id;
      if (!in_park) continue;
    }
    CL_ASSIGN_OR_RETURN(bool oversees, memo_.Enterprise(uscc));
    if (!oversees) {
      ++outside_;
      continue;
    }
    enterprises_->insert(uscc);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> AuditScope::Covers(const std::string& uscc) {
  if (enterprises_) return enterprises_->count(uscc) > 0;
  return memo_.Enterprise(uscc);
}

absl::StatusOr<const v1::Product*> AuditScope::Product(const std::string& issuer,
                                                       const std::string& number) {
  auto it = product_info_.find({issuer, number});
  if (it == product_info_.end()) {
    CL_ASSIGN_OR_RETURN(std::optional<v1::Product> p,
                        registry::FindProduct(*state_, issuer, number));
    if (!p) return nullptr;
    it = product_info_.emplace(ProductKey{issuer, number}, *std::move(p)).first;
  }
  return &it->second;
}

}  // namespace chemledger::audit
