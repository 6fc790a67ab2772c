// Event queries: the lifecycle events a regulator (or an enterprise, of
// its own) asks for by goods, place, step, site, waybill and time, read from
// the event index (services/ledger/event_index.h) at one snapshot, a page at
// a time, in event time order (then log order). The scope (which
// enterprises and goods the reader may read) is audit_scope.h's.
//
// A page reads a bounded number of index records (so a query that matches
// little in a long history answers in pages, some of them empty, instead of
// scanning it all in one call); where it stopped is the next page's start.
//
// Thread-safe: a pure function of a state reader.

#ifndef CHEMLEDGER_SERVICES_AUDIT_EVENT_QUERY_H_
#define CHEMLEDGER_SERVICES_AUDIT_EVENT_QUERY_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "services/ledger/event_index.h"
#include "storage/store.h"

namespace chemledger::audit {

// The most events a page holds, and the default.
inline constexpr uint32_t kMaxEventPageSize = 1000;
inline constexpr uint32_t kDefaultEventPageSize = 100;

struct EventQueryPage {
  std::vector<ledger::EventPosition> events;  // the events found, in order
  // Where the next page starts (the last event examined); nullopt: the
  // query is complete.
  std::optional<ledger::EventPosition> next;
};

// A page of the events `query` asks for, after `after` (nullopt: from the
// start), as `reader` may read them at `state`. The query's page fields are
// ignored (the caller passes the position and page size). InvalidArgument
// naming the field for a malformed query; PermissionDenied and NotFound as
// AuditScope::Resolve.
absl::StatusOr<EventQueryPage> QueryEvents(const storage::StateReader& state,
                                           const v1::Actor& reader, const v1::EventQuery& query,
                                           const std::optional<ledger::EventPosition>& after,
                                           uint32_t page_size);

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_EVENT_QUERY_H_
