// Keys that sort by event time: the indexes of the lifecycle state
// (quantity_flows.h, event_index.h) put an event's time in their keys as 16
// hex digits of its microseconds since 1970 plus 2^63 (offset binary), so
// that byte order is time order, times before 1970 included.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_SERVICES_LEDGER_TIME_KEY_H_
#define CHEMLEDGER_SERVICES_LEDGER_TIME_KEY_H_

#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace chemledger::ledger {

inline std::string TimeKey(int64_t unix_micros) {
  return absl::StrFormat("%016x", static_cast<uint64_t>(unix_micros) ^ (uint64_t{1} << 63));
}

// Infinite past and future sort before and after every time.
inline std::string TimeKey(absl::Time t) {
  if (t == absl::InfinitePast()) return TimeKey(std::numeric_limits<int64_t>::min());
  if (t == absl::InfiniteFuture()) return TimeKey(std::numeric_limits<int64_t>::max());
  return TimeKey(absl::ToUnixMicros(t));
}

// A log index as 16 hex digits.
inline std::string IndexKey(uint64_t index) { return absl::StrFormat("%016x", index); }

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_TIME_KEY_H_
