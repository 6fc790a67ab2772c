// Dates as ChemLedger states them: licences, production dates and the day of
// a record are civil days in China Standard Time (UTC+8), whatever time zone
// the machine or an event's own offset is in.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_API_CHINA_TIME_H_
#define CHEMLEDGER_API_CHINA_TIME_H_

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "chemledger/v1/registry.pb.h"

namespace chemledger::api {

// The China Standard Time zone (UTC+8, no daylight saving).
absl::TimeZone ChinaTimeZone();
// The civil day of `t` in China Standard Time.
absl::CivilDay ChinaDay(absl::Time t);
// Today in China Standard Time (by this machine's clock).
absl::CivilDay TodayInChina();

// A civil day as a chemledger.v1.Date, and back (no validation).
v1::Date ToProtoDate(absl::CivilDay day);
absl::CivilDay FromProtoDate(const v1::Date& date);

}  // namespace chemledger::api

#endif  // CHEMLEDGER_API_CHINA_TIME_H_
