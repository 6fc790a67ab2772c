// Live identification of major hazard sources (重大危险源) under GB 18218.
//
// The ledger keeps, per custodian and site, the remaining quantity of the
// active packages there per product and unit (beside the per-class loads of
// site_load.h):
//
//   l/pload/<custodian>/<site>/<issuer>/<product>/<unit>   decimal thousandths of <unit>
//
// From it and the MAJOR_HAZARD_THRESHOLDS version in force it computes, for
// a registered site, S = Σ q/Q (q the mass of a product there, Q its
// critical quantity: the named chemical's row for its CAS number, else the
// lowest of its categories' rows) and, where S ≥ 1 and the site's
// registration gives α, R = α Σ β q/Q and the grade (R ≥ 100 一级, ≥ 50
// 二级, ≥ 10 三级, else 四级). Quantities are exact integers: q in
// milligrams, ratios in billionths rounded down per product.
//
// Each event that moves goods at a registered site recomputes it, in the
// event's own state changes. A site that is a major hazard source keeps its
// status:
//
//   l/mh/<custodian>/<site>   state::MajorHazardStatus (none: not one)
//
// and an event that makes it cross S = 1 (either way) or change grade
// leaves an alert for the server to record as an entry of its own
// (MajorHazardAlertRules; the alert recorder submits it):
//
//   l/mhpend/<event index, 16 hex>/<custodian>/<site>   v1::MajorHazardAlert
//   l/mhalert/<alert index, 16 hex>                     v1::RecordedMajorHazardAlert
//   l/mhalert-by/<custodian>/<alert index, 16 hex>      the same
//
// A new thresholds version or a re-registered α takes effect at the site's
// next event. docs/major-hazards.md.
//
// Thread-safety: free functions over a state reader, and a stateless state
// machine; all thread-safe.

#ifndef CHEMLEDGER_SERVICES_LEDGER_MAJOR_HAZARD_H_
#define CHEMLEDGER_SERVICES_LEDGER_MAJOR_HAZARD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chemledger/state/state.pb.h"
#include "chemledger/v1/major_hazard.pb.h"
#include "journal/state_machine.h"
#include "storage/store.h"

namespace chemledger::ledger {

// One product's stock at a site.
struct ProductLoad {
  std::string issuer;   // the product's enterprise
  std::string product;  // its product number
  std::string unit;     // UNECE Rec 20
  uint64_t milli = 0;   // thousandths of `unit`
};

// The stock at `site` of `custodian` per product and unit.
absl::StatusOr<std::vector<ProductLoad>> SiteProductLoads(const storage::StateReader& state,
                                                          absl::string_view custodian,
                                                          absl::string_view site);

// GB 18218's grade for R (in billionths): GRADE_1 (R ≥ 100) to GRADE_4.
v1::MajorHazardGrade GradeForR(uint64_t r_billionths);

// The identification of `loads` under the MAJOR_HAZARD_THRESHOLDS version in
// force in `state`, with α `exposure_correction_tenths` (0: not given). An
// empty assessment (no thresholds_version) when no version was imported.
absl::StatusOr<v1::MajorHazardAssessment> AssessMajorHazard(const storage::StateReader& state,
                                                            const std::vector<ProductLoad>& loads,
                                                            uint32_t exposure_correction_tenths);

// Signed changes of one event to stock per (custodian, site, issuer,
// product, unit), in thousandths of the unit.
using ProductLoadDeltas =
    std::map<std::tuple<std::string, std::string, std::string, std::string, std::string>, int64_t>;

// The rules epoch from which sites are identified (journal/state_machine.h).
// The arithmetic here is that epoch's: alert entries in the log must equal
// what a rebuild computes, so a change to it is a new epoch, with the old
// arithmetic kept for the entries before it.
inline constexpr uint32_t kMajorHazardRulesEpoch = 7;

// Writes what the event at log index `index` (time `when`, rules epoch
// `rules_epoch`) does to the per-product stock of the sites it touches and,
// from kMajorHazardRulesEpoch on, once a thresholds table is in force, to
// the identification of the registered ones: the status (S, R, grade: the
// figures, not the shares), and an alert left for recording when a site
// crosses S = 1 or changes grade.
absl::Status WriteMajorHazardChanges(const storage::StateReader& state,
                                     const ProductLoadDeltas& deltas, uint64_t index,
                                     absl::Time when, uint32_t rules_epoch,
                                     storage::StateWrites* changes);

// The status of `site` of `custodian` if it is a major hazard source now.
absl::StatusOr<std::optional<state::MajorHazardStatus>> FindMajorHazardStatus(
    const storage::StateReader& state, absl::string_view custodian, absl::string_view site);

// Every site that is a major hazard source now, of `custodian` ("": of
// all), by custodian and site; stops when `visit` returns false.
using MajorHazardStatusVisitor = std::function<bool(
    absl::string_view custodian, absl::string_view site, const state::MajorHazardStatus& status)>;
absl::Status ScanMajorHazardStatuses(const storage::StateReader& state, absl::string_view custodian,
                                     const MajorHazardStatusVisitor& visit);

// Alerts waiting to be recorded, oldest event first.
absl::Status ScanPendingMajorHazardAlerts(
    const storage::StateReader& state,
    const std::function<bool(const v1::MajorHazardAlert& alert)>& visit);

// Recorded alerts after alert log index `after` (0: from the start), in log
// order, of `custodian` ("": all); stops when `visit` returns false.
absl::Status ScanMajorHazardAlerts(
    const storage::StateReader& state, absl::string_view custodian, uint64_t after,
    const std::function<bool(const v1::RecordedMajorHazardAlert& alert)>& visit);

// "一级" .. "四级", "非重大危险源", or "未定级" (S ≥ 1 without α).
std::string MajorHazardGradeText(v1::MajorHazardGrade grade);
// A decimal of billionths with three places ("1.250").
std::string BillionthsText(uint64_t billionths);
// What an alert says, for people: "site 'A1': 构成重大危险源 三级 (S = 1.250,
// R = 12.500), entry 41".
std::string MajorHazardAlertText(const v1::MajorHazardAlert& alert);

// The state machine of the alert entries (api::kMajorHazardAlertPayloadType):
// an unsigned server entry, accepted only when it states exactly an alert
// an event left (l/mhpend/), once.
class MajorHazardAlertRules final : public journal::StateMachine {
 public:
  absl::string_view name() const override { return "major-hazard-alerts"; }
  std::vector<std::string> OwnedPayloadTypes() const override;
  // "mhalert/<event index>/<custodian>/<site>".
  absl::StatusOr<std::optional<journal::RequestId>> RequestKey(
      const v1::SignedEnvelope& envelope) const override;
  absl::StatusOr<std::string> RequestScope(const v1::SignedEnvelope& envelope,
                                           const storage::StateReader& state) const override;
  absl::Status Apply(const journal::EntryContext& entry, const storage::StateReader& state,
                     storage::StateWrites* changes) const override;
};

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_MAJOR_HAZARD_H_
