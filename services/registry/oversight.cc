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

std::string JurisdictionText(const v1::Actor& reader) {
  const v1::Jurisdiction& j = reader.jurisdiction();
  if (!reader.has_jurisdiction() || j.national()) return "national";
  if (!j.region_prefix().empty()) return absl::StrCat("region ", j.region_prefix());
  return absl::StrCat("park ", j.park_id());
}

}  // namespace chemledger::registry
