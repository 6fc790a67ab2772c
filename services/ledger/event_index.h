// The event index: every lifecycle event (observations, holds and error
// declarations included) listed by time under the enterprise that recorded
// it, under each product it touched, under the waybill it moved under, and
// in one list of everything, each with what queries filter on
// (state::EventIndexRecord):
//
//   l/ev/<uscc>/<event time>/<log index>                the record
//   l/evt/<event time>/<log index>                      <uscc>
//   l/pev/<issuer>/<product>/<event time>/<log index>   <uscc>
//   l/wev/<carrier>/<number>/<log index>                <uscc>/<event time>/<log index>
//
// (event time and log index as in quantity_flows.h: 16 hex digits each,
// sorting as times and numbers do). Written by the lifecycle rules in the
// same batch as the event; read by the regulators' queries
// (services/audit/event_query.h).
//
// Thread-safe: free functions over a state reader.

#ifndef CHEMLEDGER_SERVICES_LEDGER_EVENT_INDEX_H_
#define CHEMLEDGER_SERVICES_LEDGER_EVENT_INDEX_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "chemledger/state/state.pb.h"
#include "storage/store.h"

namespace chemledger::ledger {

// Writes `record`'s index keys.
void WriteEventIndex(const state::EventIndexRecord& record, storage::StateWrites* changes);

// Where a listing is: the event time and log index of the last event
// examined (time order, then log order).
struct EventPosition {
  int64_t event_unix_micros = 0;
  uint64_t log_index = 0;
  bool operator<(const EventPosition& o) const {
    return event_unix_micros != o.event_unix_micros ? event_unix_micros < o.event_unix_micros
                                                    : log_index < o.log_index;
  }
  bool operator==(const EventPosition& o) const {
    return event_unix_micros == o.event_unix_micros && log_index == o.log_index;
  }
};

// The lists an index keeps.
enum class EventList { kEnterprise, kAll, kProduct };

// Calls `visit` for each event of a list with event time in [from, to) after
// `after` (nullptr: from the start), in time order then log order; stops
// when it returns false. `key` names the list: the USCC (kEnterprise),
// "<issuer>/<product>" (kProduct) or "" (kAll).
using EventIndexVisitor = std::function<bool(const state::EventIndexRecord& event)>;
absl::Status ScanEventIndex(const storage::StateReader& state, EventList list,
                            absl::string_view key, absl::Time from, absl::Time to,
                            const EventPosition* after, const EventIndexVisitor& visit);

// Losses of controlled goods (剧毒, 易制爆, 易制毒), kept for the anomaly
// list at once: "l/closs/<log index, 16 hex>/<code>" holds the custodian
// that reported the package lost.
void WriteControlledLoss(uint64_t log_index, absl::string_view code,
                         absl::string_view custodian, storage::StateWrites* changes);
struct ControlledLoss {
  uint64_t log_index = 0;
  std::string code;
  std::string custodian;
};
// The losses after log index `after` (0: all), in log order; stops when
// `visit` returns false.
absl::Status ScanControlledLosses(const storage::StateReader& state, uint64_t after,
                                  const std::function<bool(const ControlledLoss&)>& visit);

// The events that moved under waybill `carrier`/`number`, in log order.
absl::Status ScanWaybillEvents(const storage::StateReader& state, absl::string_view carrier,
                               absl::string_view number, const EventIndexVisitor& visit);

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_EVENT_INDEX_H_
