// Quantity flows: where each event moves a package's quantity, kept as
// state written in the same batch as the event, for the regulators'
// reconciliation (流向登记与统计, services/audit/reconciliation.h).
//
// A package's quantity always sits in one position (state::PositionKind)
// of one enterprise: its custodian's stock (held and recalled goods
// included), its shipments in transit (the shipper keeps custody until the
// consignee receives), its losses, or nowhere (ended: consumed, disposed of,
// voided; or not yet commissioned). An event that moves quantity from one
// position to another (of the same or another enterprise), or changes how
// much a position holds, leaves one state::FlowRecord with the position
// before and after it:
//
//   l/flow/<uscc>/<event time>/<log index>/<code>            under each
//       enterprise the event moved it for (before's holder, after's holder)
//   l/pflow/<issuer>/<product>/<event time>/<log index>/<code>
//
// (event time: microseconds since 1970 plus 2^63, 16 hex digits, so that
// keys sort by time; the log index, 16 hex digits.) Aggregates hold no
// quantity of their own and leave none; the packages on them do. Events
// that change no position (storing, packing, holds, observations) leave
// none either, and neither do movements of nothing (a misprinted label
// voided before it was used: no quantity before or after).
//
// Flows are keyed by event time, the time the enterprise says it happened,
// so a period's figures are the movements that happened in it; an event
// recorded late (up to its record time, never before the package's previous
// event) still lands in its own period (docs/audit.md).
//
// Thread-safe: free functions over a state reader; QuantityFlowChanges is
// used by one thread.

#ifndef CHEMLEDGER_SERVICES_LEDGER_QUANTITY_FLOWS_H_
#define CHEMLEDGER_SERVICES_LEDGER_QUANTITY_FLOWS_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "chemledger/state/state.pb.h"
#include "chemledger/v1/ledger.pb.h"
#include "services/ledger/code_state.h"
#include "storage/store.h"

namespace chemledger::ledger {

// Where `c`'s quantity counts now (HOLDING_NONE for an aggregate).
state::PackagePosition PositionOf(const CodeState& c);

// What one event does to packages' positions: Add each touched code's state
// before (nullopt: the event creates it) and after the event, then Write
// once.
class QuantityFlowChanges {
 public:
  void Add(const std::optional<CodeState>& before, const CodeState& after);

  // Writes a FlowRecord for each package whose position changed. `index` and
  // `when` are the event's log index and time; `waybill` the ref of the
  // waybill a shipment moves under ("" otherwise).
  void Write(const v1::Event& event, uint64_t index, absl::Time when, absl::string_view waybill,
             storage::StateWrites* changes) const;

 private:
  std::vector<state::FlowRecord> flows_;
};

// Calls `visit` for each flow of enterprise `uscc` with event time in
// [from, to), in time order (then log index, then code); stops when it
// returns false.
using FlowVisitor = std::function<bool(const state::FlowRecord& flow)>;
absl::Status ScanEnterpriseFlows(const storage::StateReader& state, absl::string_view uscc,
                                 absl::Time from, absl::Time to, const FlowVisitor& visit);
// The same for the packages of `issuer`'s product `product`, whoever held
// them.
absl::Status ScanProductFlows(const storage::StateReader& state, absl::string_view issuer,
                              absl::string_view product, absl::Time from, absl::Time to,
                              const FlowVisitor& visit);

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_QUANTITY_FLOWS_H_
