// How long free text is for the rules that bound it ("site: 1 to 64
// characters"): in characters (Unicode code points), as the people who type
// it count them, not in bytes (a Chinese character takes 3 bytes of UTF-8).
// The protos say "characters" for these fields, and mean this.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_SERVICES_COMMON_TEXT_LENGTH_H_
#define CHEMLEDGER_SERVICES_COMMON_TEXT_LENGTH_H_

#include <algorithm>
#include <cstddef>

#include "absl/strings/string_view.h"

namespace chemledger {

// The code points of UTF-8 `text` (a protobuf string field, which parsing
// has checked is UTF-8): its bytes that do not continue a character.
inline size_t CharacterCount(absl::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// The first `most` characters of UTF-8 `text` (all of it when it has no
// more), never cut inside a character.
inline absl::string_view FirstCharacters(absl::string_view text, size_t most) {
  size_t characters = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // continues one
    if (++characters > most) return text.substr(0, i);
  }
  return text;
}

// Whether `text` has 1 to `most` characters.
inline bool HasOneToCharacters(absl::string_view text, size_t most) {
  return !text.empty() && CharacterCount(text) <= most;
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_TEXT_LENGTH_H_
