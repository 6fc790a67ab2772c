// WaybillService's credentialed reads (proto/chemledger/v1/
// waybill_service.proto: GetWaybill, ListWaybills, ListVehiclesInPark),
// answered from a snapshot for a reader whose read credentials were
// checked: who may read a waybill, a listing or the vehicles in a park is
// decided here, not in the gRPC adapter (waybill_service.h), which
// authenticates the reader, picks the snapshot (a listing's later pages are
// read at its first page's) and translates the status. Tests and the fuzz
// targets call these without the network.
//
// Who reads what (registry/oversight.h says which department reads what):
//   - A waybill: its carrier, consignor and consignee; platform
//     administrators; regulators whose department reads waybills (all,
//     controlled goods or waste) with one of its parties in their
//     jurisdiction; a responder who broke glass for it
//     (RegistryRequest.break_glass), when the carrier is named.
//     Whether a waybill that may not be read exists is told only to those
//     whose jurisdiction covers everything (platform administrators,
//     national regulators of any department: NOT_FOUND for a waybill that is
//     not there, PERMISSION_DENIED for one their department does not read)
//     and to a responder whose grant names it; anyone else is refused with
//     PERMISSION_DENIED whether it exists or not.
//   - A listing: the waybills among the matching ones the reader may read;
//     an enterprise's listing reads only waybills it is party to.
//   - The vehicles in a park: the park's gates, platform administrators and
//     regulators whose department reads vehicles and whose jurisdiction
//     holds the park.
//
// Refusals say the rule, and name the request field when one is at fault
// (a reader who may not read is refused naming the read credentials); none
// is the server's fault but a store that cannot be read or a record that
// does not parse.
//
// Thread-safety: thread-safe (const, no state of its own). `book` is not
// owned and must outlive the object.

#ifndef CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_READS_H_
#define CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_READS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/waybill_service.pb.h"
#include "services/waybill/waybills.h"
#include "storage/store.h"

namespace chemledger::waybill {

// Where a listing's next page starts: the log size its first page was read
// at (later pages read the same snapshot) and the last waybill examined.
// Carried sealed in ListWaybillsResponse.next_page_token (page_cursor.h):
// the last waybill examined may be one the reader does not see.
struct WaybillListPosition {
  uint64_t log_size = 0;
  std::string after;
};
std::string ListWaybillsToken(const WaybillListPosition& position);
// InvalidArgument naming page_token for anything ListWaybillsToken did not
// make.
absl::StatusOr<WaybillListPosition> OpenListWaybillsToken(absl::string_view token);

class WaybillReads {
 public:
  // `book` gives the key the records' waybill codes are signed with
  // (WaybillBook::CodeKey; without one, records carry no code); `clock`
  // says when "now" is for break-glass grants (empty: the real clock).
  explicit WaybillReads(const WaybillBook* book, std::function<absl::Time()> clock = nullptr);

  // One waybill with its code and every signed change of it (each with its
  // entry's exact bytes). Without carrier_uscc, the one waybill of that
  // number the reader may read (several: InvalidArgument, name the carrier).
  absl::StatusOr<v1::WaybillRecord> GetWaybill(const storage::Snapshot& snapshot,
                                               const v1::Actor& reader,
                                               const v1::GetWaybillRequest& request) const;

  // A page of the listing, read at `snapshot` from `after` (empty: the
  // first page). The response carries the log size, and resume_after where
  // the next page starts (empty when this page is the last).
  struct ListWaybillsPage {
    v1::ListWaybillsResponse response;
    std::string resume_after;  // empty: no further page
  };
  absl::StatusOr<ListWaybillsPage> ListWaybills(const storage::Snapshot& snapshot,
                                                const v1::Actor& reader,
                                                const v1::ListWaybillsRequest& request,
                                                const std::string& after) const;

  absl::StatusOr<v1::VehiclesInPark> ListVehiclesInPark(
      const storage::Snapshot& snapshot, const v1::Actor& reader,
      const v1::ListVehiclesInParkRequest& request) const;

 private:
  const WaybillBook* const book_;
  const std::function<absl::Time()> clock_;
};

}  // namespace chemledger::waybill

#endif  // CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_READS_H_
