#include "services/registry/oversight.h"

#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/registry/registry_state.h"

namespace chemledger::registry {

bool HasOversightRole(const v1::Actor& reader) {
  return reader.role() == v1::REGULATOR || reader.role() == v1::PLATFORM_ADMIN;
}

Reads DepartmentReads(const v1::Actor& reader, RecordKind kind) {
  if (reader.role() == v1::PLATFORM_ADMIN) return Reads::kAll;
  if (reader.role() != v1::REGULATOR) return Reads::kNone;
  switch (reader.department()) {
    case v1::DEPARTMENT_UNSPECIFIED:  // registered before departments
    case v1::EMERGENCY_MANAGEMENT:
    case v1::PARK_ADMINISTRATION:
      return Reads::kAll;
    case v1::TRANSPORT:
      return kind == RecordKind::kWaybills || kind == RecordKind::kVehicles ? Reads::kAll
                                                                            : Reads::kNone;
    case v1::PUBLIC_SECURITY:
      switch (kind) {
        case RecordKind::kPackages:
        case RecordKind::kWaybills: return Reads::kControlledGoods;
        case RecordKind::kScanSignals:
        case RecordKind::kVehicles: return Reads::kAll;
        case RecordKind::kSites: return Reads::kNone;
      }
      return Reads::kNone;
    case v1::ECOLOGY_ENVIRONMENT:
      return kind == RecordKind::kPackages || kind == RecordKind::kWaybills ? Reads::kWaste
                                                                              : Reads::kNone;
    case v1::MARKET_REGULATION:
      return kind == RecordKind::kPackages || kind == RecordKind::kScanSignals ? Reads::kAll
                                                                               : Reads::kNone;
    default:
      return Reads::kNone;
  }
}

bool IsControlledGood(const v1::Product& product) {
  for (const std::string& flag : product.control_flags()) {
    if (flag == "剧毒" || flag == "易制爆" || flag == "易制毒") return true;
  }
  return false;
}

bool CarriesWaste(const v1::Waybill& waybill) { return !waybill.waste_manifest().empty(); }

std::string DepartmentText(const v1::Actor& reader) {
  switch (reader.department()) {
    case v1::EMERGENCY_MANAGEMENT: return "应急管理 (EMERGENCY_MANAGEMENT)";
    case v1::TRANSPORT: return "交通运输 (TRANSPORT)";
    case v1::PUBLIC_SECURITY: return "公安 (PUBLIC_SECURITY)";
    case v1::ECOLOGY_ENVIRONMENT: return "生态环境 (ECOLOGY_ENVIRONMENT)";
    case v1::MARKET_REGULATION: return "市场监管 (MARKET_REGULATION)";
    case v1::PARK_ADMINISTRATION: return "园区管委会 (PARK_ADMINISTRATION)";
    default: return "no department";
  }
}

bool OverseesEverything(const v1::Actor& reader) {
  if (reader.role() == v1::PLATFORM_ADMIN) return true;
  if (reader.role() != v1::REGULATOR) return false;
  return !reader.has_jurisdiction() || reader.jurisdiction().national();
}

absl::StatusOr<bool> OverseesEnterprise(const storage::StateReader& state,
                                        const v1::Actor& reader, absl::string_view uscc) {
  if (OverseesEverything(reader)) return true;
  if (reader.role() != v1::REGULATOR) return false;
  const v1::Jurisdiction& j = reader.jurisdiction();
  if (!j.region_prefix().empty()) {
    absl::StatusOr<std::optional<EnterpriseRecord>> e = FindEnterprise(state, uscc);
    if (!e.ok()) return e.status();
    return e->has_value() &&
           absl::StartsWith((*e)->enterprise.region_code(), j.region_prefix());
  }
  if (!j.park_id().empty()) {
    absl::StatusOr<std::vector<v1::Site>> sites = ListSites(state, uscc);
    if (!sites.ok()) return sites.status();
    for (const v1::Site& site : *sites) {
      if (site.park_id() == j.park_id()) return true;
    }
  }
  return false;
}

absl::StatusOr<bool> OverseesAllOf(const storage::StateReader& state, const v1::Actor& reader,
                                   RecordKind kind, absl::string_view uscc) {
  if (DepartmentReads(reader, kind) != Reads::kAll) return false;
  return OverseesEnterprise(state, reader, uscc);
}

absl::StatusOr<bool> OverseesPark(const storage::StateReader& state, const v1::Actor& reader,
                                  absl::string_view park_id) {
  if (OverseesEverything(reader)) return true;
  if (reader.role() != v1::REGULATOR) return false;
  const v1::Jurisdiction& j = reader.jurisdiction();
  if (!j.park_id().empty()) return j.park_id() == park_id;
  if (j.region_prefix().empty()) return false;
  absl::StatusOr<std::optional<v1::Park>> park = FindPark(state, park_id);
  if (!park.ok()) return park.status();
  return park->has_value() && absl::StartsWith((*park)->region_code(), j.region_prefix());
}

absl::StatusOr<bool> OversightMemo::Enterprise(const std::string& uscc) {
  if (auto it = known_.find(uscc); it != known_.end()) return it->second;
  absl::StatusOr<bool> oversees = OverseesEnterprise(state_, reader_, uscc);
  if (!oversees.ok()) return oversees.status();
  known_.emplace(uscc, *oversees);
  return *oversees;
}

std::string JurisdictionText(const v1::Actor& reader) {
  const v1::Jurisdiction& j = reader.jurisdiction();
  if (!reader.has_jurisdiction() || j.national()) return "national";
  if (!j.region_prefix().empty()) return absl::StrCat("region ", j.region_prefix());
  return absl::StrCat("park ", j.park_id());
}

}  // namespace chemledger::registry
