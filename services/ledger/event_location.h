// Where an event was recorded, read from its serialized bytes without
// parsing the rest: an event names up to a thousand codes, and a read that
// only needs to know whose event it is (LedgerService.GetHistory deciding
// whether a reader sees it whole: event_view.h) should not pay for them.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_SERVICES_LEDGER_EVENT_LOCATION_H_
#define CHEMLEDGER_SERVICES_LEDGER_EVENT_LOCATION_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace chemledger::ledger {

// Event.location.enterprise_uscc of a serialized chemledger.v1.Event, by
// the parser's own rules: of repeated fields the last one wins, and repeated
// locations merge. For every payload that v1::Event parses, the same value
// the parser gives (tests/fuzz/event_location_fuzzer checks it). Nullopt
// when the wire format is broken (a length past the end, field number 0, a
// truncated field); it checks no more than that (not UTF-8, not the other
// fields): use it on payloads that were parsed whole before, such as
// logged events.
std::optional<std::string> EventLocationEnterprise(absl::string_view serialized_event);

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_EVENT_LOCATION_H_
