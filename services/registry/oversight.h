// Oversight: what a regulator's jurisdiction covers (docs/audit.md, "Who
// reads"). Every service asks here before it shows a regulator another
// enterprise's records, so one rule holds everywhere:
//
//   - platform administrators oversee everything;
//   - a regulator with a national jurisdiction oversees every enterprise;
//   - one with a region prefix, every enterprise whose registered region
//     (Enterprise.region_code, GB/T 2260) begins with it;
//   - one with a park, every enterprise that has a registered site in the
//     park, and the park itself;
//   - a regulator registered before jurisdictions existed (rules epoch 3 or
//     earlier) and not yet assigned one (RegistryRequest.assign_regulator)
//     oversees everything, as all regulators did then.
// Anyone else oversees nothing (their own enterprise's records are theirs to
// read by other rules).
//
// Within its jurisdiction, a department reads the records it supervises
// (DepartmentReads; the details that depend on the record, such as whether
// a package is a controlled good, are checked where the record is read):
//
//   department             packages            sites   scan signals  waybills          vehicles in parks
//   应急管理, park admin.    all                 all     all           all               all
//   交通运输                 -                   -       -             all               all
//   公安                     剧毒/易制爆/易制毒   -       all           with a toxic or   all
//                                                                      precursor permit
//   生态环境                 disposed of         -       -             with a waste      -
//                                                                      manifest
//   市场监管                 all                 -       all           -                 -
//
// Platform administrators, and regulators registered before departments
// existed and not yet assigned one, read all kinds.
//
// Thread-safe: pure functions of a state reader.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_OVERSIGHT_H_
#define CHEMLEDGER_SERVICES_REGISTRY_OVERSIGHT_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "storage/store.h"

namespace chemledger::registry {

// Whether `reader` is a platform administrator or a regulator (the roles
// oversight applies to).
bool HasOversightRole(const v1::Actor& reader);

// The kinds of records departments read.
enum class RecordKind {
  kPackages,     // a code's history and events, its audit bundle
  kSites,        // what is at a site, its load and flags
  kScanSignals,  // clone signals from scans
  kWaybills,     // e-waybills
  kVehicles,     // vehicles inside a park
};
// What the departments read of each kind.
enum class Reads {
  kNone,
  kAll,
  kControlledGoods,  // packages of 剧毒, 易制爆 or 易制毒 products; waybills of them
                     // (a permit, or the products listed: waybill/controlled_goods.h)
  kWaste,            // packages disposed of; waybills with a waste manifest
};
// What `reader` reads of `kind` by its role and department (kNone for
// anyone without an oversight role).
Reads DepartmentReads(const v1::Actor& reader, RecordKind kind);
// Whether `product` is one 公安 supervises: 剧毒, 易制爆 or 易制毒.
bool IsControlledGood(const v1::Product& product);
// Whether a waybill carries waste (a transfer manifest), as the waybill
// states it. (Controlled goods: waybill/controlled_goods.h, which reads the
// products of what it lists: 易制爆 goods need no permit.)
bool CarriesWaste(const v1::Waybill& waybill);
// The department's name for refusals ("交通运输 (TRANSPORT)").
std::string DepartmentText(const v1::Actor& reader);

// Whether `reader`'s jurisdiction covers every enterprise (no lookups
// needed): platform administrators, national and unassigned regulators.
bool OverseesEverything(const v1::Actor& reader);

// Whether `reader` oversees the enterprise `uscc` (false for an unknown one,
// unless `reader` oversees everything).
absl::StatusOr<bool> OverseesEnterprise(const storage::StateReader& state,
                                        const v1::Actor& reader, absl::string_view uscc);

// Whether `reader` reads every record of `kind` of the enterprise `uscc`:
// its department reads all of that kind, and its jurisdiction holds the
// enterprise.
absl::StatusOr<bool> OverseesAllOf(const storage::StateReader& state, const v1::Actor& reader,
                                   RecordKind kind, absl::string_view uscc);

// Whether `reader` oversees the park `park_id`: its own park, or a region
// that holds the park's registered region.
absl::StatusOr<bool> OverseesPark(const storage::StateReader& state, const v1::Actor& reader,
                                  absl::string_view park_id);

// OverseesEnterprise remembered for one call: a listing asks about the same
// few enterprises many times. Not thread-safe; lives for one request.
class OversightMemo {
 public:
  OversightMemo(const storage::StateReader& state, const v1::Actor& reader)
      : state_(state), reader_(reader) {}
  absl::StatusOr<bool> Enterprise(const std::string& uscc);
  const storage::StateReader& state() const { return state_; }

 private:
  const storage::StateReader& state_;
  const v1::Actor& reader_;
  std::map<std::string, bool> known_;
};

// "national", "region 3501" or "park FZ-JIANGYIN", for refusals.
std::string JurisdictionText(const v1::Actor& reader);

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_OVERSIGHT_H_
