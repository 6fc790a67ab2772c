// Shipments in transit now, and the vehicles inside a park
// (AuditService.QueryInTransit; docs/audit.md, "In transit"): what a
// regulator, or an enterprise for its own shipments, sees moving on the roads
// of its jurisdiction. Read from the waybill book's index of shipments in
// progress (services/waybill/waybill_state.h, ShipmentsDueBefore), kept in
// the same batch as each waybill change, and from the park gates' record.
//
// Thread-safe: a pure function of the state.

#ifndef CHEMLEDGER_SERVICES_AUDIT_IN_TRANSIT_H_
#define CHEMLEDGER_SERVICES_AUDIT_IN_TRANSIT_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "storage/store.h"

namespace chemledger::audit {

// At most this many shipments in a report, of at most this many in transit
// looked at (beyond either, the report says it is truncated).
inline constexpr size_t kMaxShipmentsInTransit = 10000;
inline constexpr size_t kMaxShipmentsExamined = 1000000;

// The shipments in transit at `now` whose consignor, consignee or carrier
// `reader` oversees and `query` covers, as `reader`'s department reads
// waybills; with a park, the vehicles inside it (for departments that read
// vehicles). An enterprise's actors see their own enterprise's shipments.
// InvalidArgument naming the field for a malformed query; PermissionDenied
// for a place outside the reader's jurisdiction; NotFound for an unknown park.
absl::StatusOr<v1::InTransitReport> QueryInTransit(const storage::StateReader& state,
                                                   const v1::Actor& reader,
                                                   const v1::InTransitQuery& query,
                                                   absl::Time now);

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_IN_TRANSIT_H_
