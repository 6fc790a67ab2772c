// How the ledger's state keys hold free text (a site as events name it, a
// hazard class): '%' and '/' escaped, so that a part never holds '/'.
//
// Thread-safe: pure functions.

#ifndef CHEMLEDGER_SERVICES_LEDGER_KEY_PART_H_
#define CHEMLEDGER_SERVICES_LEDGER_KEY_PART_H_

#include <string>

#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"

namespace chemledger::ledger {

inline std::string EscapedKeyPart(absl::string_view part) {
  return absl::StrReplaceAll(part, {{"%", "%25"}, {"/", "%2F"}});
}

inline std::string UnescapedKeyPart(absl::string_view part) {
  return absl::StrReplaceAll(part, {{"%2F", "/"}, {"%25", "%"}});
}

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_KEY_PART_H_
