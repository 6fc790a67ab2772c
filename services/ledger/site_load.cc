#include "services/ledger/site_load.h"

#include <optional>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "services/ledger/key_part.h"
#include "services/registry/registry_state.h"

namespace chemledger::ledger {
namespace {

std::string LoadPrefix(absl::string_view custodian, absl::string_view site) {
  return absl::StrCat("l/load/", custodian, "/", EscapedKeyPart(site), "/");
}

std::string LoadKey(absl::string_view custodian, absl::string_view site,
                    absl::string_view hazard_class, absl::string_view unit) {
  return absl::StrCat(LoadPrefix(custodian, site), EscapedKeyPart(hazard_class), "/", unit);
}

// What one flag is about: a capacity's class, or a chemical.
std::string FlagSubject(const state::SiteFlagRecord& r) {
  return r.cas().empty() ? absl::StrCat("class-", EscapedKeyPart(r.capacity_class()))
                         : absl::StrCat("cas-", r.cas());
}
std::string FlagKey(const state::SiteFlagRecord& r) {
  return absl::StrFormat("l/siteflag/%016x/%s/%s/%s", r.log_index(), r.custodian(),
                         EscapedKeyPart(r.site()), FlagSubject(r));
}
std::string FlagByKey(const state::SiteFlagRecord& r) {
  return absl::StrFormat("l/siteflag-by/%s/%016x/%s/%s", r.custodian(), r.log_index(),
                         EscapedKeyPart(r.site()), FlagSubject(r));
}

using LoadMap = std::map<std::pair<std::string, std::string>, uint64_t>;  // (class, unit)

absl::StatusOr<LoadMap> ReadLoads(const storage::StateReader& state, absl::string_view custodian,
                                  absl::string_view site) {
  LoadMap loads;
  const std::string prefix = LoadPrefix(custodian, site);
  bool malformed = false;
  absl::Status s = state.Scan(prefix, storage::PrefixEnd(prefix),
                              [&](absl::string_view key, absl::string_view value) {
                                std::vector<std::string> parts =
                                    absl::StrSplit(key.substr(prefix.size()), '/');
                                uint64_t milli = 0;
                                if (parts.size() != 2 || !absl::SimpleAtoi(value, &milli)) {
                                  malformed = true;
                                  return false;
                                }
                                loads[{UnescapedKeyPart(parts[0]), parts[1]}] = milli;
                                return true;
                              });
  if (!s.ok()) return s;
  if (malformed) {
    return absl::DataLossError(absl::StrCat("a site load under ", prefix, " is malformed"));
  }
  return loads;
}

// The load a capacity counts: every class it covers, in its unit.
uint64_t Covered(const v1::StorageCapacity& capacity, const LoadMap& loads) {
  uint64_t sum = 0;
  for (const auto& [key, milli] : loads) {
    if (key.second == capacity.unit() && CapacityCovers(capacity.hazard_class(), key.first)) {
      sum += milli;
    }
  }
  return sum;
}

}  // namespace

bool CapacityCovers(absl::string_view capacity_class, absl::string_view hazard_class) {
  return hazard_class == capacity_class ||
         (absl::StartsWith(hazard_class, capacity_class) &&
          hazard_class.size() > capacity_class.size() &&
          hazard_class[capacity_class.size()] == '.');
}

absl::StatusOr<std::vector<ClassLoad>> SiteLoads(const storage::StateReader& state,
                                                 absl::string_view custodian,
                                                 absl::string_view site) {
  absl::StatusOr<LoadMap> loads = ReadLoads(state, custodian, site);
  if (!loads.ok()) return loads.status();
  std::vector<ClassLoad> out;
  for (const auto& [key, milli] : *loads) out.push_back({key.first, key.second, milli});
  return out;
}

void SiteLoadChanges::Count(const CodeState& c, int sign) {
  // What the stock index lists (active, at a site), packages only: a
  // pallet's contents are counted as themselves.
  if (internal::StockKey(c).empty() || c.aggregate || c.remaining_milli == 0) return;
  deltas_[{c.custodian, c.site, c.enterprise, c.product, c.unit}] +=
      sign * static_cast<int64_t>(c.remaining_milli);
}

absl::Status SiteLoadChanges::Write(const storage::StateReader& state, uint64_t index,
                                    absl::Time when, uint32_t rules_epoch,
                                    storage::StateWrites* changes) const {
  // Net change per (custodian, site) and (class, unit).
  std::map<std::pair<std::string, std::string>, std::map<std::pair<std::string, std::string>, int64_t>>
      by_site;
  // issuer/product -> (class, CAS)
  absl::flat_hash_map<std::string, std::pair<std::string, std::string>> product_of;
  // (custodian, site) -> CAS numbers brought there
  std::map<std::pair<std::string, std::string>, std::set<std::string>> arriving;
  for (const auto& [key, delta] : deltas_) {
    if (delta == 0) continue;
    const auto& [custodian, site, issuer, product, unit] = key;
    const std::string product_key = absl::StrCat(issuer, "/", product);
    auto it = product_of.find(product_key);
    if (it == product_of.end()) {
      absl::StatusOr<std::optional<v1::Product>> p = registry::FindProduct(state, issuer, product);
      if (!p.ok()) return p.status();
      it = product_of
               .emplace(product_key, *p ? std::make_pair((*p)->hazard_class(), (*p)->cas())
                                        : std::make_pair(std::string(), std::string()))
               .first;
    }
    if (delta > 0 && !it->second.second.empty()) arriving[{custodian, site}].insert(it->second.second);
    if (it->second.first.empty()) continue;  // not a dangerous good: no class to count
    by_site[{custodian, site}][{it->second.first, unit}] += delta;
  }
  const auto flag_of = [&](const std::string& kind, const std::string& custodian,
                           const std::string& site) {
    state::SiteFlagRecord flag;
    flag.set_kind(kind);
    flag.set_custodian(custodian);
    flag.set_site(site);
    flag.set_log_index(index);
    flag.set_event_unix_seconds(absl::ToUnixSeconds(when));
    return flag;
  };
  const auto put = [&](const state::SiteFlagRecord& flag) {
    const std::string bytes = flag.SerializeAsString();
    changes->Put(FlagKey(flag), bytes);
    changes->Put(FlagByKey(flag), bytes);
  };
  // Each site's registration, read once for both kinds of flag.
  std::map<std::pair<std::string, std::string>, std::optional<v1::Site>> sites;
  const auto site_of = [&](const std::pair<std::string, std::string>& where)
      -> absl::StatusOr<const std::optional<v1::Site>*> {
    auto it = sites.find(where);
    if (it == sites.end()) {
      absl::StatusOr<std::optional<v1::Site>> found =
          registry::FindSite(state, where.first, where.second);
      if (!found.ok()) return found.status();
      it = sites.emplace(where, *std::move(found)).first;
    }
    return &it->second;
  };
  // Chemicals a registered site is not licensed to hold (when it lists any).
  for (const auto& [where, cas_numbers] : arriving) {
    absl::StatusOr<const std::optional<v1::Site>*> registered = site_of(where);
    if (!registered.ok()) return registered.status();
    if (!**registered || (**registered)->licensed_cas().empty()) continue;
    const std::set<std::string> licensed((**registered)->licensed_cas().begin(),
                                         (**registered)->licensed_cas().end());
    for (const std::string& cas : cas_numbers) {
      if (licensed.count(cas)) continue;
      state::SiteFlagRecord flag = flag_of("unlicensed-chemical", where.first, where.second);
      flag.set_cas(cas);
      put(flag);
    }
  }
  for (const auto& [where, deltas] : by_site) {
    const auto& [custodian, site] = where;
    absl::StatusOr<LoadMap> before = ReadLoads(state, custodian, site);
    if (!before.ok()) return before.status();
    LoadMap after = *before;
    bool grew = false;
    for (const auto& [load, delta] : deltas) {
      if (delta == 0) continue;
      uint64_t& milli = after[load];
      // Never below zero (a load is a sum of what is there).
      milli = delta < 0 && static_cast<uint64_t>(-delta) > milli ? 0 : milli + delta;
      grew |= delta > 0;
      const std::string key = LoadKey(custodian, site, load.first, load.second);
      if (milli == 0) {
        changes->Delete(key);
        after.erase(load);
      } else {
        changes->Put(key, absl::StrCat(milli));
      }
    }
    if (!grew) continue;
    absl::StatusOr<const std::optional<v1::Site>*> registered = site_of(where);
    if (!registered.ok()) return registered.status();
    if (!**registered) continue;
    for (const v1::StorageCapacity& capacity : (**registered)->capacities()) {
      const uint64_t was = Covered(capacity, *before), is = Covered(capacity, after);
      if (was > capacity.capacity_milli() || is <= capacity.capacity_milli()) continue;
      state::SiteFlagRecord flag = flag_of("over-capacity", custodian, site);
      flag.set_capacity_class(capacity.hazard_class());
      flag.set_unit(capacity.unit());
      flag.set_capacity_milli(capacity.capacity_milli());
      flag.set_load_milli(is);
      put(flag);
    }
  }
  return WriteMajorHazardChanges(state, deltas_, index, when, rules_epoch, changes);
}

absl::StatusOr<std::vector<state::SiteFlagRecord>> ListSiteFlags(const storage::StateReader& state,
                                                                 absl::string_view custodian,
                                                                 uint64_t after_index,
                                                                 size_t limit, bool* more) {
  *more = false;
  const std::string prefix =
      custodian.empty() ? "l/siteflag/" : absl::StrCat("l/siteflag-by/", custodian, "/");
  const std::string begin =
      after_index == 0 ? prefix : absl::StrCat(prefix, absl::StrFormat("%016x", after_index + 1));
  std::vector<state::SiteFlagRecord> out;
  bool malformed = false;
  absl::Status s = state.Scan(begin, storage::PrefixEnd(prefix),
                              [&](absl::string_view, absl::string_view value) {
                                state::SiteFlagRecord r;
                                if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
                                  malformed = true;
                                  return false;
                                }
                                // Pages end between events, never inside
                                // one (the next page starts after an index).
                                if (out.size() >= limit && r.log_index() != out.back().log_index()) {
                                  *more = true;
                                  return false;
                                }
                                out.push_back(std::move(r));
                                return true;
                              });
  if (!s.ok()) return s;
  if (malformed) return absl::DataLossError("a site flag record is malformed");
  return out;
}

SiteAssessment AssessSiteLoad(const v1::Site* site, const std::vector<ClassLoad>& loads,
                              const reference::ReferenceTables& tables) {
  SiteAssessment a;
  LoadMap map;
  for (const ClassLoad& l : loads) map[{l.hazard_class, l.unit}] += l.milli;
  std::set<std::pair<std::string, std::string>> covered;
  if (site != nullptr) {
    for (const v1::StorageCapacity& capacity : site->capacities()) {
      SiteAssessment::Capacity c;
      c.capacity = capacity;
      c.load_milli = Covered(capacity, map);
      c.over = c.load_milli > capacity.capacity_milli();
      a.capacities.push_back(std::move(c));
      for (const auto& [key, milli] : map) {
        if (key.second == capacity.unit() && CapacityCovers(capacity.hazard_class(), key.first)) {
          covered.insert(key);
        }
      }
    }
  }
  for (const ClassLoad& l : loads) {
    if (!covered.count({l.hazard_class, l.unit})) a.uncovered.push_back(l);
  }
  a.segregation_table_available = tables.HasSegregationTable();
  std::set<std::string> classes;
  for (const ClassLoad& l : loads) {
    if (l.milli > 0) classes.insert(l.hazard_class);
  }
  for (auto i = classes.begin(); i != classes.end(); ++i) {
    for (auto j = std::next(i); j != classes.end(); ++j) {
      std::optional<reference::SegregationRule> rule = tables.StorageSegregation(*i, *j);
      if (rule && !rule->same_site_allowed) a.incompatible.push_back({*i, *j, rule->requirement});
    }
  }
  return a;
}

}  // namespace chemledger::ledger
