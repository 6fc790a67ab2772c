// Validation of the identifiers ChemLedger takes from users: enterprise codes
// (统一社会信用代码, GB 32100), administrative region codes (GB/T 2260), CAS
// registry numbers, UN numbers, 危险化学品目录 entry numbers.
//
// Every function returns OK, or InvalidArgument whose message starts with the
// field name the caller passes (e.g. "enterprise.uscc") and says which rule the
// value breaks, so an API error points at the exact field. Nothing here has
// state; everything is thread-safe.

#ifndef CHEMLEDGER_SERVICES_COMMON_IDENTIFIERS_H_
#define CHEMLEDGER_SERVICES_COMMON_IDENTIFIERS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace chemledger::ids {

// 统一社会信用代码 (GB 32100-2015): 18 characters from
// "0123456789ABCDEFGHJKLMNPQRTUWXY" (no I, O, S, V, Z): registration authority
// (1), organisation type (1), region code (6, GB/T 2260), organisation code (9,
// GB 11714, with its own check character), check character (1).
absl::Status ValidateUscc(absl::string_view field, absl::string_view uscc);

// The GB 32100 check character for the first 17 characters of a code
// (which must be from the code's alphabet). For tools and tests.
char UsccCheckCharacter(absl::string_view first17);

// GB/T 2260 administrative division code: 6 digits whose first two name a
// province-level division (11 Beijing ... 65 Xinjiang, 71, 81, 82). Checks the
// province, not the full table of counties.
absl::Status ValidateRegionCode(absl::string_view field, absl::string_view code);

// CAS Registry Number: "NNNNNNN-NN-N", 2 to 7 digits (no leading zero), 2
// digits, 1 check digit = sum of the other digits times their position from
// the right, modulo 10.
absl::Status ValidateCas(absl::string_view field, absl::string_view cas);

// UN number (UN Model Regulations / GB 12268): exactly 4 digits, not 0000.
absl::Status ValidateUnNumber(absl::string_view field, absl::string_view un);

// Entry number in 危险化学品目录 (2015 edition): 1 to 2828.
absl::Status ValidateCatalogueNumber(absl::string_view field, int64_t number);

// A GHS hazard statement code: "H" or "EUH", three digits, and up to four
// letters (H225, H350i, H360FD, EUH014).
bool IsHazardStatementCode(absl::string_view code);

// A GHS precautionary statement code: "P" and three digits, or up to three
// of them joined by '+' (P210, P301+P310, P303+P361+P353).
bool IsPrecautionaryStatementCode(absl::string_view code);

// A GB 18218 hazard category code as a MAJOR_HAZARD_THRESHOLDS table keys
// it ("W5.1", "J1"): 1 to 16 of A-Z a-z 0-9 . -.
bool IsMajorHazardCategoryCode(absl::string_view code);
inline constexpr int64_t kCatalogueEntries = 2828;

}  // namespace chemledger::ids

#endif  // CHEMLEDGER_SERVICES_COMMON_IDENTIFIERS_H_
