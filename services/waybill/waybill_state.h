// The e-waybill book's state (电子运单): each waybill as its latest change
// left it, and which open waybill lists each code. Read from the store (at a
// snapshot, or in the journal's view while an entry is checked); changed
// only by WaybillRules (waybill_rules.h). Key layout in the .cc and
// docs/architecture.md.
//
// Pure functions over a storage::StateReader; thread-safe as the reader is.

#ifndef CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_STATE_H_
#define CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_STATE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "api/wire.h"
#include "chemledger/state/state.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "chemledger/v1/waybill_service.pb.h"
#include "crypto/keys.h"
#include "storage/store.h"

namespace chemledger::waybill {

using api::kMaxWaybillEntryBytes;
using api::kWaybillContext;

struct WaybillState {
  v1::Waybill waybill;
  v1::WaybillStatus status = v1::OPEN;
  uint64_t log_index = 0;           // of its latest change
  uint64_t content_log_index = 0;   // of its submission or latest amendment
  std::set<std::string> shipped;    // codes shipped under it
  std::set<std::string> received;   // codes received under it
  v1::WaybillStatus status_before_close = v1::WAYBILL_STATUS_UNSPECIFIED;  // while CLOSED
};

// A waybill is named by its carrier and its number: numbers are unique per
// carrier (two carriers may use the same number). Its ref, "<carrier>/
// <number>", names it in the state (neither part holds a '/').
std::string WaybillRef(absl::string_view carrier, absl::string_view number);
std::string NumberOfRef(absl::string_view ref);
std::string CarrierOfRef(absl::string_view ref);

absl::StatusOr<std::optional<WaybillState>> FindWaybill(const storage::StateReader& state,
                                                        absl::string_view carrier,
                                                        absl::string_view number);
absl::StatusOr<std::optional<WaybillState>> FindWaybillByRef(const storage::StateReader& state,
                                                             absl::string_view ref);
// Every carrier's waybill numbered `number`, by carrier.
absl::StatusOr<std::vector<WaybillState>> WaybillsNumbered(const storage::StateReader& state,
                                                           absl::string_view number);
// The open waybill that lists `code`, if it is numbered `number` and
// `consignor` is its consignor: the one a shipment of `code` under that
// number goes on.
absl::StatusOr<std::optional<WaybillState>> OpenShipmentWaybill(
    const storage::StateReader& state, absl::string_view number, absl::string_view consignor,
    absl::string_view code);
// The waybill numbered `number` that `consignor` ships (or shipped) `code`
// under: the open one that lists it, else the consignor's waybill of that
// number that counts it as shipped (cancelled since).
absl::StatusOr<std::optional<WaybillState>> ShipmentWaybill(const storage::StateReader& state,
                                                            absl::string_view number,
                                                            absl::string_view consignor,
                                                            absl::string_view code);
// The ref of the open (not closed, not cancelled) waybill listing `code`,
// if any.
absl::StatusOr<std::optional<std::string>> OpenWaybillOf(const storage::StateReader& state,
                                                         absl::string_view code);
// The open waybill `code` is held for (rules epoch 9): the one listing it,
// unless that waybill ARRIVED without shipping it (its trip is over without
// the code: an arrival from rules epoch 9 releases such codes, and waybills
// that arrived before still list them).
struct WaybillHolder {
  std::string ref;
  v1::WaybillStatus status = v1::WAYBILL_STATUS_UNSPECIFIED;
};
absl::StatusOr<std::optional<WaybillHolder>> WaybillHolderOf(const storage::StateReader& state,
                                                             absl::string_view code);
// A page of a listing: the waybills kept, by ref (carrier, then number),
// and where the next page begins (empty: the listing is complete).
struct WaybillPage {
  std::vector<WaybillState> waybills;
  std::string resume_after;  // a waybill ref: list after it
};
// A listing examines at most this many waybills per page, kept or not, so a
// filter that keeps few costs a bounded read per call.
inline constexpr size_t kMaxWaybillsExamined = 10000;

// Waybills after `after` (a waybill ref; "" from the start), by ref,
// for which `keep` is true: at most `limit`, examining at most
// `max_examined` (the page then ends early, with resume_after set).
absl::StatusOr<WaybillPage> ListWaybills(const storage::StateReader& state,
                                         const std::string& after, size_t limit,
                                         const std::function<bool(const WaybillState&)>& keep,
                                         size_t max_examined = kMaxWaybillsExamined);
// The same among the waybills `party` is the carrier, consignor or consignee
// of (read through an index: the work is proportional to that party's
// waybills, not to all).
absl::StatusOr<WaybillPage> ListWaybillsOf(const storage::StateReader& state,
                                           absl::string_view party, const std::string& after,
                                           size_t limit,
                                           const std::function<bool(const WaybillState&)>& keep,
                                           size_t max_examined = kMaxWaybillsExamined);

// The enterprises a waybill's index lists it under: its carrier, consignor
// and consignee.
std::set<std::string> PartiesOf(const v1::Waybill& w);

// The log indexes of the changes to waybill `ref` (submission,
// amendments, consent, cancellation, departure, arrival), in order; recorded
// from rules epoch 3 on, so a waybill changed before lists only later changes.
absl::StatusOr<std::vector<uint64_t>> WaybillChanges(const storage::StateReader& state,
                                                     absl::string_view ref);

// Whether `consignor` has authorised `carrier` to submit its waybills on
// `day` (a China day): a standing CarrierAuthorization valid then.
absl::StatusOr<bool> CarrierAuthorized(const storage::StateReader& state,
                                       absl::string_view consignor, absl::string_view carrier,
                                       absl::CivilDay day);

// A vehicle inside a park: the waybill it travels on, where and when it
// entered (GatePassage).
struct VehicleInPark {
  std::string waybill_ref;
  std::string gate_id;
  absl::Time entered;
  uint64_t log_index = 0;
  std::string plate;  // of the vehicle that entered; empty before rules epoch 9
};
// The vehicles inside `park_id` now, by waybill ref, at most `limit`.
absl::StatusOr<std::vector<VehicleInPark>> VehiclesInPark(const storage::StateReader& state,
                                                          absl::string_view park_id,
                                                          size_t limit = 10000);

// `v` as the reads of who is inside a park answer it
// (WaybillService.ListVehiclesInPark, AuditService.QueryInTransit), with the
// waybill it travels on (`w`; null when it is not found): the plate of the
// vehicle that entered, which an amendment of the waybill since does not
// change (the waybill's own before rules epoch 9, when the gate did not
// record it), and the UN numbers of the waybill's goods.
void DescribeVehicleInPark(const VehicleInPark& v, const WaybillState* w,
                           v1::VehiclesInPark::Vehicle* out);

// Every code a waybill lists, line by line.
std::vector<std::string> CodesOf(const v1::Waybill& w);

// Shipments in progress by planned arrival: a waybill is listed while some
// of the goods shipped on it are not received (and it is neither closed nor
// cancelled), under its planned arrival time:
//   w/due/<planned arrival, 16 hex µs, offset binary>/<ref>   ""
// Visits the waybills listed with a planned arrival before `before`, oldest
// first, one at a time, until `visit` returns false (or an error, which is
// returned); the anomaly list's overdue shipments and the audit's shipments
// in transit read them so.
absl::Status VisitShipmentsDueBefore(
    const storage::StateReader& state, absl::Time before,
    const std::function<absl::StatusOr<bool>(const WaybillState&)>& visit);

namespace internal {
// For WaybillRules: the state keys and records.
std::string WaybillKey(absl::string_view ref);
std::string NumberKey(absl::string_view number, absl::string_view carrier);
std::string OpenKey(absl::string_view code);
std::string ReceivedKey(absl::string_view code);
// The value under ReceivedKey: the waybill a code was last received under
// and the log index of that receipt (state format 14; before, the ref
// alone, and a value of that form reads as log index 0).
struct Receipt {
  std::string ref;
  uint64_t log_index = 0;
};
std::string ReceiptValue(absl::string_view ref, uint64_t log_index);
Receipt ParseReceiptValue(absl::string_view value);
std::string AuthorizationKey(absl::string_view consignor, absl::string_view carrier);
std::string ChangeKey(absl::string_view ref, uint64_t log_index);
std::string PartyKey(absl::string_view party, absl::string_view ref);
std::string InParkKey(absl::string_view park_id, absl::string_view ref);
std::string InParkPlateKey(absl::string_view park_id, absl::string_view plate);
// The due key of waybill `ref` as `s` leaves it, or "" when it is not due
// (VisitShipmentsDueBefore).
std::string DueKey(const WaybillState& s, absl::string_view ref);
state::WaybillRecord ToRecord(const WaybillState& s);
WaybillState FromRecord(const state::WaybillRecord& r);
}  // namespace internal

}  // namespace chemledger::waybill

#endif  // CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_STATE_H_
