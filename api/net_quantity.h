// Net quantities of packages as labels and requests state them: decimal text
// with up to three fraction digits, held as thousandths of a UNECE
// Recommendation 20 unit.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_API_NET_QUANTITY_H_
#define CHEMLEDGER_API_NET_QUANTITY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chemledger::api {

// Parses a net quantity ("25", "0.5", "200.125") into thousandths.
// InvalidArgument naming `field` unless it is a decimal with at most 3
// fraction digits, more than 0 and at most 4294967.295.
absl::StatusOr<uint32_t> ParseNetQuantity(absl::string_view field, absl::string_view text);
// The inverse: 25000 -> "25", 500 -> "0.5".
std::string FormatNetQuantity(uint64_t milli);

// The quantity as people read it on a label: (25000, "KGM") -> "25 kg".
std::string NetQuantityText(uint32_t milli, absl::string_view unit);

// UNECE Recommendation 20 units accepted for a package's net quantity: KGM
// (kg), GRM (g), TNE (t), LTR (L), MLT (mL), MTQ (m³).
bool IsNetQuantityUnit(absl::string_view unit);

}  // namespace chemledger::api

#endif  // CHEMLEDGER_API_NET_QUANTITY_H_
