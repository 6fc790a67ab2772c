#include "api/china_time.h"

#include "absl/time/clock.h"

namespace chemledger::api {

absl::TimeZone ChinaTimeZone() { return absl::FixedTimeZone(8 * 3600); }

absl::CivilDay ChinaDay(absl::Time t) { return absl::ToCivilDay(t, ChinaTimeZone()); }

absl::CivilDay TodayInChina() { return ChinaDay(absl::Now()); }

v1::Date ToProtoDate(absl::CivilDay day) {
  v1::Date out;
  out.set_year(static_cast<int32_t>(day.year()));
  out.set_month(day.month());
  out.set_day(day.day());
  return out;
}

absl::CivilDay FromProtoDate(const v1::Date& date) {
  return absl::CivilDay(date.year(), date.month(), date.day());
}

}  // namespace chemledger::api
