#include "services/ledger/major_hazard.h"

#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "api/wire.h"
#include "services/common/status_macros.h"
#include "services/ledger/key_part.h"
#include "services/registry/reference_tables.h"
#include "services/registry/registry_rules.h"
#include "services/registry/registry_state.h"
#include "services/registry/state_record.h"

namespace chemledger::ledger {
namespace {

constexpr absl::string_view kProductLoads = "l/pload/";
constexpr absl::string_view kStatuses = "l/mh/";
constexpr absl::string_view kPending = "l/mhpend/";
constexpr absl::string_view kAlerts = "l/mhalert/";
constexpr absl::string_view kAlertsBy = "l/mhalert-by/";

constexpr uint64_t kBillion = 1000000000;

std::string SitePart(absl::string_view custodian, absl::string_view site) {
  return absl::StrCat(custodian, "/", EscapedKeyPart(site));
}
std::string LoadPrefix(absl::string_view custodian, absl::string_view site) {
  return absl::StrCat(kProductLoads, SitePart(custodian, site), "/");
}
std::string StatusKey(absl::string_view custodian, absl::string_view site) {
  return absl::StrCat(kStatuses, SitePart(custodian, site));
}
std::string PendingKey(uint64_t event_index, absl::string_view custodian, absl::string_view site) {
  return absl::StrFormat("%s%016x/%s", kPending, event_index, SitePart(custodian, site));
}

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

// The mass in milligrams of `milli` thousandths of `unit`; nullopt for a
// volume without a density (or a unit that is neither).
std::optional<unsigned __int128> Milligrams(absl::string_view unit, uint64_t milli,
                                            uint32_t density_grams_per_litre) {
  using U = unsigned __int128;
  if (unit == "GRM") return U{milli};            // thousandths of a gram
  if (unit == "KGM") return U{milli} * 1000;     // grams
  if (unit == "TNE") return U{milli} * 1000000;  // kilograms
  if (density_grams_per_litre == 0) return std::nullopt;
  const U d = density_grams_per_litre;            // mg per mL
  if (unit == "MLT") return U{milli} * d / 1000;  // microlitres
  if (unit == "LTR") return U{milli} * d;         // millilitres
  if (unit == "MTQ") return U{milli} * d * 1000;  // litres
  return std::nullopt;
}

uint64_t Saturated(unsigned __int128 v) {
  return v > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(v);
}

// The threshold row for `product` in `version`: its CAS number's named row,
// else the lowest threshold among its categories (the larger β on a tie).
absl::StatusOr<std::optional<v1::ThresholdRow>> ThresholdFor(const storage::StateReader& state,
                                                             absl::string_view version,
                                                             const v1::Product& product) {
  if (!product.cas().empty()) {
    CL_ASSIGN_OR_RETURN(std::optional<v1::ThresholdRow> named,
                        registry::FindThresholdRow(state, version, false, product.cas()));
    if (named) return named;
  }
  std::optional<v1::ThresholdRow> lowest;
  for (const std::string& category : product.major_hazard_categories()) {
    CL_ASSIGN_OR_RETURN(std::optional<v1::ThresholdRow> row,
                        registry::FindThresholdRow(state, version, true, category));
    if (!row || row->threshold_kg() == 0) continue;
    if (!lowest || row->threshold_kg() < lowest->threshold_kg() ||
        (row->threshold_kg() == lowest->threshold_kg() &&
         row->beta_hundredths() > lowest->beta_hundredths())) {
      lowest = std::move(row);
    }
  }
  return lowest;
}

bool SameIdentification(bool was_major, v1::MajorHazardGrade was_grade,
                        const v1::MajorHazardAssessment& now) {
  return was_major == now.major_hazard() && (!was_major || was_grade == now.grade());
}

}  // namespace

absl::StatusOr<std::vector<ProductLoad>> SiteProductLoads(const storage::StateReader& state,
                                                          absl::string_view custodian,
                                                          absl::string_view site) {
  std::vector<ProductLoad> out;
  const std::string prefix = LoadPrefix(custodian, site);
  bool malformed = false;
  CL_RETURN_IF_ERROR(state.Scan(
      prefix, storage::PrefixEnd(prefix), [&](absl::string_view key, absl::string_view value) {
        std::vector<std::string> parts = absl::StrSplit(key.substr(prefix.size()), '/');
        ProductLoad load;
        if (parts.size() != 3 || !absl::SimpleAtoi(value, &load.milli)) {
          malformed = true;
          return false;
        }
        load.issuer = parts[0];
        load.product = parts[1];
        load.unit = parts[2];
        out.push_back(std::move(load));
        return true;
      }));
  if (malformed) {
    return absl::DataLossError(absl::StrCat("a product load under ", prefix, " is malformed"));
  }
  return out;
}

v1::MajorHazardGrade GradeForR(uint64_t r_billionths) {
  if (r_billionths >= 100 * kBillion) return v1::GRADE_1;
  if (r_billionths >= 50 * kBillion) return v1::GRADE_2;
  if (r_billionths >= 10 * kBillion) return v1::GRADE_3;
  return v1::GRADE_4;
}

namespace {

// The identification of `loads` under thresholds `version` (one in force).
absl::StatusOr<v1::MajorHazardAssessment> AssessUnder(const storage::StateReader& state,
                                                      const std::string& version,
                                                      const std::vector<ProductLoad>& loads,
                                                      uint32_t exposure_correction_tenths) {
  v1::MajorHazardAssessment a;
  a.set_thresholds_version(version);
  a.set_exposure_correction_tenths(exposure_correction_tenths);
  // Mass per product, summed over its units; what cannot be weighed is
  // listed apart.
  std::map<std::pair<std::string, std::string>, unsigned __int128> milligrams;
  std::map<std::pair<std::string, std::string>, std::optional<v1::Product>> products;
  const auto uncounted = [&](const ProductLoad& l, const std::optional<v1::Product>& p,
                             absl::string_view reason) {
    v1::MajorHazardUncounted* u = a.add_uncounted();
    u->set_issuer_uscc(l.issuer);
    u->set_product_number(l.product);
    if (p) {
      u->set_name_zh(p->name_zh());
      u->set_cas(p->cas());
    }
    u->set_unit(l.unit);
    u->set_quantity_milli(l.milli);
    u->set_reason(std::string(reason));
  };
  for (const ProductLoad& l : loads) {
    const std::pair<std::string, std::string> id{l.issuer, l.product};
    auto it = products.find(id);
    if (it == products.end()) {
      CL_ASSIGN_OR_RETURN(std::optional<v1::Product> p,
                          registry::FindProduct(state, l.issuer, l.product));
      it = products.emplace(id, std::move(p)).first;
    }
    if (!it->second) {
      uncounted(l, it->second, "unknown-product");
      continue;
    }
    std::optional<unsigned __int128> mg =
        Milligrams(l.unit, l.milli, it->second->density_grams_per_litre());
    if (!mg) {
      uncounted(l, it->second, "no-density");
      continue;
    }
    milligrams[id] += *mg;
  }
  unsigned __int128 sum = 0, weighted = 0;  // billionths; β-weighted in hundredths
  for (const auto& [id, mg] : milligrams) {
    const v1::Product& p = *products[id];
    CL_ASSIGN_OR_RETURN(std::optional<v1::ThresholdRow> row, ThresholdFor(state, version, p));
    if (!row || row->threshold_kg() == 0) {
      ProductLoad whole{id.first, id.second, "GRM", Saturated(mg)};
      uncounted(whole, p, "no-threshold");
      continue;
    }
    // q/Q with q in mg and Q in kg: mg * 10^9 / (kg * 10^6).
    const unsigned __int128 ratio = mg * 1000 / row->threshold_kg();
    sum += ratio;
    weighted += ratio * row->beta_hundredths();
    v1::MajorHazardContribution* c = a.add_contributions();
    c->set_issuer_uscc(id.first);
    c->set_product_number(id.second);
    c->set_name_zh(p.name_zh());
    c->set_cas(p.cas());
    c->set_quantity_grams(Saturated(mg / 1000));
    c->set_by_category(row->category());
    c->set_threshold_key(row->key());
    c->set_threshold_kg(row->threshold_kg());
    c->set_beta_hundredths(row->beta_hundredths());
    c->set_ratio_billionths(Saturated(ratio));
  }
  a.set_sum_billionths(Saturated(sum));
  a.set_major_hazard(sum >= kBillion);
  if (!a.major_hazard()) {
    a.set_grade(v1::NOT_A_MAJOR_HAZARD);
  } else if (exposure_correction_tenths != 0) {
    // α (tenths) × Σ β (hundredths) q/Q (billionths).
    const uint64_t r = Saturated(weighted * exposure_correction_tenths / 1000);
    a.set_r_billionths(r);
    a.set_grade(GradeForR(r));
  }
  return a;
}

}  // namespace

absl::StatusOr<v1::MajorHazardAssessment> AssessMajorHazard(const storage::StateReader& state,
                                                            const std::vector<ProductLoad>& loads,
                                                            uint32_t exposure_correction_tenths) {
  CL_ASSIGN_OR_RETURN(std::optional<v1::ReferenceTableVersion> table,
                      registry::ReferenceTableInForce(state, v1::MAJOR_HAZARD_THRESHOLDS));
  if (!table) return v1::MajorHazardAssessment();
  return AssessUnder(state, table->version(), loads, exposure_correction_tenths);
}

absl::Status WriteMajorHazardChanges(const storage::StateReader& state,
                                     const ProductLoadDeltas& deltas, uint64_t index,
                                     absl::Time when, uint32_t rules_epoch,
                                     storage::StateWrites* changes) {
  // (custodian, site) -> the changes there.
  std::map<std::pair<std::string, std::string>,
           std::map<std::tuple<std::string, std::string, std::string>, int64_t>>
      by_site;
  for (const auto& [key, delta] : deltas) {
    if (delta == 0) continue;
    const auto& [custodian, site, issuer, product, unit] = key;
    by_site[{custodian, site}][{issuer, product, unit}] += delta;
  }
  // The thresholds in force, read once for the event (and only from the
  // epoch that identifies sites).
  std::optional<v1::ReferenceTableVersion> thresholds;
  if (rules_epoch >= kMajorHazardRulesEpoch && !by_site.empty()) {
    CL_ASSIGN_OR_RETURN(thresholds,
                        registry::ReferenceTableInForce(state, v1::MAJOR_HAZARD_THRESHOLDS));
  }
  for (const auto& [where, site_deltas] : by_site) {
    const auto& [custodian, site] = where;
    // The stock per product: a point read and write of each one touched.
    std::map<std::tuple<std::string, std::string, std::string>, uint64_t> changed;
    for (const auto& [id, delta] : site_deltas) {
      if (delta == 0) continue;
      const std::string key = absl::StrCat(LoadPrefix(custodian, site), std::get<0>(id), "/",
                                           std::get<1>(id), "/", std::get<2>(id));
      CL_ASSIGN_OR_RETURN(std::optional<std::string> stored, state.Get(key));
      uint64_t milli = 0;
      if (stored && !absl::SimpleAtoi(*stored, &milli)) {
        return absl::DataLossError(absl::StrCat("product load ", key, " is malformed"));
      }
      // Never below zero (a load is a sum of what is there).
      milli = delta < 0 && static_cast<uint64_t>(-delta) > milli ? 0 : milli + delta;
      changed[id] = milli;
      if (milli == 0) {
        changes->Delete(key);
      } else {
        changes->Put(key, absl::StrCat(milli));
      }
    }
    if (!thresholds || changed.empty()) continue;
    // Identification is for registered sites (a free-text site is no unit
    // the standard knows).
    CL_ASSIGN_OR_RETURN(std::optional<v1::Site> registered,
                        registry::FindSite(state, custodian, site));
    if (!registered) continue;
    // The whole stock of the site after the event.
    CL_ASSIGN_OR_RETURN(std::vector<ProductLoad> before, SiteProductLoads(state, custodian, site));
    std::map<std::tuple<std::string, std::string, std::string>, uint64_t> after;
    for (const ProductLoad& l : before) after[{l.issuer, l.product, l.unit}] = l.milli;
    for (const auto& [id, milli] : changed) {
      if (milli == 0) {
        after.erase(id);
      } else {
        after[id] = milli;
      }
    }
    std::vector<ProductLoad> loads;
    for (const auto& [id, milli] : after) {
      loads.push_back({std::get<0>(id), std::get<1>(id), std::get<2>(id), milli});
    }
    CL_ASSIGN_OR_RETURN(
        v1::MajorHazardAssessment now,
        AssessUnder(state, thresholds->version(), loads, registered->exposure_correction_tenths()));
    CL_ASSIGN_OR_RETURN(std::optional<state::MajorHazardStatus> status,
                        FindMajorHazardStatus(state, custodian, site));
    const bool was_major = status.has_value();
    const v1::MajorHazardGrade was_grade =
        status ? status->assessment().grade() : v1::NOT_A_MAJOR_HAZARD;
    const bool changed_identification = !SameIdentification(was_major, was_grade, now);
    if (changed_identification) {
      v1::MajorHazardAlert alert;
      alert.set_enterprise_uscc(custodian);
      alert.set_site_id(site);
      alert.set_event_log_index(index);
      alert.set_event_unix_seconds(absl::ToUnixSeconds(when));
      alert.set_was_major_hazard(was_major);
      alert.set_previous_grade(was_grade);
      alert.set_major_hazard(now.major_hazard());
      alert.set_grade(now.grade());
      alert.set_sum_billionths(now.sum_billionths());
      alert.set_r_billionths(now.r_billionths());
      alert.set_exposure_correction_tenths(now.exposure_correction_tenths());
      alert.set_thresholds_version(now.thresholds_version());
      changes->Put(PendingKey(index, custodian, site), alert.SerializeAsString());
    }
    if (!now.major_hazard()) {
      if (was_major) changes->Delete(StatusKey(custodian, site));
      continue;
    }
    // The figures only: each product's share is read live (GetSiteLoad).
    now.clear_contributions();
    now.clear_uncounted();
    state::MajorHazardStatus next;
    *next.mutable_assessment() = std::move(now);
    next.set_log_index(index);
    next.set_changed_at_log_index(changed_identification ? index : status->changed_at_log_index());
    next.set_alert_log_index(changed_identification ? 0 : status->alert_log_index());
    changes->Put(StatusKey(custodian, site), next.SerializeAsString());
  }
  return absl::OkStatus();
}

std::string MajorHazardGradeText(v1::MajorHazardGrade grade) {
  switch (grade) {
    case v1::GRADE_1:
      return "一级";
    case v1::GRADE_2:
      return "二级";
    case v1::GRADE_3:
      return "三级";
    case v1::GRADE_4:
      return "四级";
    case v1::NOT_A_MAJOR_HAZARD:
      return "非重大危险源";
    default:
      return "未定级";
  }
}

std::string BillionthsText(uint64_t billionths) {
  return absl::StrFormat("%d.%03d", billionths / kBillion, (billionths % kBillion) / 1000000);
}

std::string MajorHazardAlertText(const v1::MajorHazardAlert& alert) {
  std::string what;
  if (!alert.major_hazard()) {
    what = "不再构成重大危险源";
  } else if (!alert.was_major_hazard()) {
    what = absl::StrCat("构成重大危险源 ", MajorHazardGradeText(alert.grade()));
  } else {
    what = absl::StrCat("重大危险源级别 ", MajorHazardGradeText(alert.previous_grade()), " → ",
                        MajorHazardGradeText(alert.grade()));
  }
  std::string figures = absl::StrCat("S = ", BillionthsText(alert.sum_billionths()));
  if (alert.major_hazard() && alert.exposure_correction_tenths() != 0) {
    absl::StrAppend(&figures, ", R = ", BillionthsText(alert.r_billionths()));
  } else if (alert.major_hazard()) {
    absl::StrAppend(&figures, ", R not computed: the site's registration gives no α");
  }
  return absl::StrCat("site '", alert.site_id(), "': ", what, " (", figures, "), entry ",
                      alert.event_log_index(), ", thresholds ", alert.thresholds_version());
}

absl::StatusOr<std::optional<state::MajorHazardStatus>> FindMajorHazardStatus(
    const storage::StateReader& state, absl::string_view custodian, absl::string_view site) {
  return registry::ReadStateRecord<state::MajorHazardStatus>(state, StatusKey(custodian, site));
}

absl::Status ScanMajorHazardStatuses(const storage::StateReader& state, absl::string_view custodian,
                                     const MajorHazardStatusVisitor& visit) {
  const std::string prefix =
      custodian.empty() ? std::string(kStatuses) : absl::StrCat(kStatuses, custodian, "/");
  absl::Status bad = absl::OkStatus();
  CL_RETURN_IF_ERROR(state.Scan(
      prefix, storage::PrefixEnd(prefix), [&](absl::string_view key, absl::string_view value) {
        std::vector<absl::string_view> parts =
            absl::StrSplit(key.substr(kStatuses.size()), absl::MaxSplits('/', 1));
        state::MajorHazardStatus status;
        if (parts.size() != 2 || !status.ParseFromArray(value.data(), value.size())) {
          bad = absl::DataLossError(absl::StrCat("major hazard status ", key, " is malformed"));
          return false;
        }
        return visit(parts[0], UnescapedKeyPart(parts[1]), status);
      }));
  return bad;
}

absl::Status ScanPendingMajorHazardAlerts(
    const storage::StateReader& state,
    const std::function<bool(const v1::MajorHazardAlert& alert)>& visit) {
  absl::Status bad = absl::OkStatus();
  CL_RETURN_IF_ERROR(state.Scan(
      kPending, storage::PrefixEnd(kPending), [&](absl::string_view key, absl::string_view value) {
        v1::MajorHazardAlert alert;
        if (!alert.ParseFromArray(value.data(), value.size())) {
          bad = absl::DataLossError(absl::StrCat("pending alert ", key, " is malformed"));
          return false;
        }
        return visit(alert);
      }));
  return bad;
}

absl::Status ScanMajorHazardAlerts(
    const storage::StateReader& state, absl::string_view custodian, uint64_t after,
    const std::function<bool(const v1::RecordedMajorHazardAlert& alert)>& visit) {
  const std::string prefix =
      custodian.empty() ? std::string(kAlerts) : absl::StrCat(kAlertsBy, custodian, "/");
  const std::string begin = absl::StrCat(prefix, absl::StrFormat("%016x", after + 1));
  absl::Status bad = absl::OkStatus();
  CL_RETURN_IF_ERROR(state.Scan(
      begin, storage::PrefixEnd(prefix), [&](absl::string_view key, absl::string_view value) {
        v1::RecordedMajorHazardAlert recorded;
        if (!recorded.ParseFromArray(value.data(), value.size())) {
          bad = absl::DataLossError(absl::StrCat("major hazard alert ", key, " is malformed"));
          return false;
        }
        return visit(recorded);
      }));
  return bad;
}

std::vector<std::string> MajorHazardAlertRules::OwnedPayloadTypes() const {
  return {api::kMajorHazardAlertPayloadType};
}

absl::StatusOr<std::optional<journal::RequestId>> MajorHazardAlertRules::RequestKey(
    const v1::SignedEnvelope& envelope) const {
  v1::MajorHazardAlert alert;
  if (!alert.ParseFromString(envelope.payload())) {
    return Invalid("envelope.payload", "not a MajorHazardAlert");
  }
  const std::string id = absl::StrCat(alert.event_log_index(), "/", alert.enterprise_uscc(), "/",
                                      EscapedKeyPart(alert.site_id()));
  return journal::RequestId{absl::StrCat("mhalert/", id), "alert", id, "major hazard alert",
                            "mhalert"};
}

absl::StatusOr<std::string> MajorHazardAlertRules::RequestScope(const v1::SignedEnvelope&,
                                                                const storage::StateReader&) const {
  return std::string(registry::kPlatformRequestScope);
}

absl::Status MajorHazardAlertRules::Apply(const journal::EntryContext& entry,
                                          const storage::StateReader& state,
                                          storage::StateWrites* changes) const {
  if (entry.envelope->payload_type() != api::kMajorHazardAlertPayloadType) {
    return absl::OkStatus();
  }
  if (entry.envelope->signatures_size() != 0) {
    return Invalid("envelope.signatures", "a major hazard alert is the server's: unsigned");
  }
  v1::MajorHazardAlert alert;
  if (!alert.ParseFromString(entry.envelope->payload())) {
    return Invalid("envelope.payload", "not a MajorHazardAlert");
  }
  const std::string pending_key =
      PendingKey(alert.event_log_index(), alert.enterprise_uscc(), alert.site_id());
  CL_ASSIGN_OR_RETURN(std::optional<std::string> pending, state.Get(pending_key));
  if (!pending) {
    return absl::FailedPreconditionError(
        absl::StrCat("alert: entry ", alert.event_log_index(), " left no alert for site '",
                     alert.site_id(), "' of ", alert.enterprise_uscc(), " (or it was recorded)"));
  }
  v1::MajorHazardAlert left;
  if (!left.ParseFromString(*pending) || left.SerializeAsString() != alert.SerializeAsString()) {
    return Invalid("alert", absl::StrCat("does not state the change entry ",
                                         alert.event_log_index(), " made"));
  }
  changes->Delete(pending_key);
  v1::RecordedMajorHazardAlert recorded;
  recorded.set_log_index(entry.index);
  *recorded.mutable_alert() = alert;
  const std::string bytes = recorded.SerializeAsString();
  const std::string index = absl::StrFormat("%016x", entry.index);
  changes->Put(absl::StrCat(kAlerts, index), bytes);
  changes->Put(absl::StrCat(kAlertsBy, alert.enterprise_uscc(), "/", index), bytes);
  // The site's status names the entry that recorded its last change.
  CL_ASSIGN_OR_RETURN(std::optional<state::MajorHazardStatus> status,
                      FindMajorHazardStatus(state, alert.enterprise_uscc(), alert.site_id()));
  if (status && status->changed_at_log_index() == alert.event_log_index()) {
    status->set_alert_log_index(entry.index);
    changes->Put(StatusKey(alert.enterprise_uscc(), alert.site_id()), status->SerializeAsString());
  }
  return absl::OkStatus();
}

}  // namespace chemledger::ledger
