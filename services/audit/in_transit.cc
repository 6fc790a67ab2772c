#include "services/audit/in_transit.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/audit/audit_scope.h"
#include "services/common/status_macros.h"
#include "services/registry/oversight.h"
#include "services/registry/registry_state.h"
#include "services/waybill/controlled_goods.h"
#include "services/waybill/waybill_state.h"

namespace chemledger::audit {

absl::StatusOr<v1::InTransitReport> QueryInTransit(const storage::StateReader& state,
                                                   const v1::Actor& reader,
                                                   const v1::InTransitQuery& query,
                                                   absl::Time now) {
  CL_ASSIGN_OR_RETURN(
      AuditScope scope,
      AuditScope::Resolve(state, reader, GoodsSelector(),
                          PlaceSelector{query.enterprise_uscc(), query.region_prefix(),
                                        query.park_id()},
                          registry::RecordKind::kWaybills));
  // What the reader's department reads of waybills; an enterprise, its own.
  const registry::Reads reads =
      registry::IsEnterpriseRole(reader.role())
          ? registry::Reads::kAll
          : registry::DepartmentReads(reader, registry::RecordKind::kWaybills);
  v1::InTransitReport report;
  report.set_log_size(state.size());
  // Every shipment in progress, by planned arrival (a hundred years ahead
  // covers them all), visited one at a time (a report holds the reader's
  // only, up to its bound, never every shipment in transit).
  size_t examined = 0;
  CL_RETURN_IF_ERROR(waybill::VisitShipmentsDueBefore(
      state, now + absl::Hours(24 * 365 * 100),
      [&](const waybill::WaybillState& w) -> absl::StatusOr<bool> {
        if (++examined > kMaxShipmentsExamined) {
          report.set_truncated(true);
          return false;
        }
        const v1::Waybill& b = w.waybill;
        // Told from the products listed (reads), so only for a reader that
        // reads controlled goods alone, and otherwise for the rows listed.
        std::optional<bool> controlled;
        if (reads == registry::Reads::kControlledGoods) {
          CL_ASSIGN_OR_RETURN(controlled, waybill::CarriesControlledGoods(state, b));
          if (!*controlled) return true;
        }
        const bool waste = registry::CarriesWaste(b);
        if ((reads == registry::Reads::kWaste && !waste) || reads == registry::Reads::kNone) {
          return true;
        }
        bool covered = false;
        for (const std::string* party :
             {&b.consignor().uscc(), &b.consignee().uscc(), &b.carrier_uscc()}) {
          CL_ASSIGN_OR_RETURN(bool c, scope.Covers(*party));
          covered = covered || c;
        }
        if (!covered) return true;
        size_t received = 0;
        for (const std::string& code : w.shipped) received += w.received.count(code);
        if (received == w.shipped.size()) return true;
        // Truncated only when one more of the reader's would be listed.
        if (static_cast<size_t>(report.shipments_size()) >= kMaxShipmentsInTransit) {
          report.set_truncated(true);
          return false;
        }
        v1::ShipmentInTransit* s = report.add_shipments();
        s->set_waybill_number(b.waybill_number());
        s->set_carrier_uscc(b.carrier_uscc());
        s->set_carrier_name(b.carrier_name());
        s->set_consignor_uscc(b.consignor().uscc());
        s->set_consignee_uscc(b.consignee().uscc());
        s->set_vehicle_plate(b.vehicle().plate());
        for (const v1::GoodsLine& g : b.goods()) s->add_un_numbers(g.un_number());
        *s->mutable_planned_departure() = b.planned_departure();
        *s->mutable_planned_arrival() = b.planned_arrival();
        s->set_packages_shipped(static_cast<uint32_t>(w.shipped.size()));
        s->set_packages_received(static_cast<uint32_t>(received));
        s->set_overdue(absl::FromUnixSeconds(b.planned_arrival().seconds()) < now);
        s->set_log_index(w.log_index);
        if (!controlled) {
          CL_ASSIGN_OR_RETURN(controlled, waybill::CarriesControlledGoods(state, b));
        }
        s->set_controlled_goods(*controlled);
        s->set_waste(waste);
        return true;
      }));
  // The vehicles inside a park, for departments that read them in a park
  // within their jurisdiction.
  bool vehicles = !query.park_id().empty() && !registry::IsEnterpriseRole(reader.role()) &&
                  registry::DepartmentReads(reader, registry::RecordKind::kVehicles) ==
                      registry::Reads::kAll;
  if (vehicles) {
    CL_ASSIGN_OR_RETURN(vehicles, registry::OverseesPark(state, reader, query.park_id()));
  }
  if (vehicles) {
    CL_ASSIGN_OR_RETURN(std::vector<waybill::VehicleInPark> inside,
                        waybill::VehiclesInPark(state, query.park_id()));
    for (const waybill::VehicleInPark& v : inside) {
      CL_ASSIGN_OR_RETURN(std::optional<waybill::WaybillState> w,
                          waybill::FindWaybillByRef(state, v.waybill_ref));
      waybill::DescribeVehicleInPark(v, w ? &*w : nullptr, report.add_vehicles_in_park());
    }
  }
  return report;
}

}  // namespace chemledger::audit
