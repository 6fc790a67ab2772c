// How long free text is for the rules that bound it ("site: 1 to 64
// characters"): in characters (Unicode code points), as the people who type
// it count them, not in bytes (a Chinese character takes 3 bytes of UTF-8).
// The protos say "characters" for these fields, and mean this. And where a
// character of bytes not yet checked ends (Utf8SequenceLength), for the
// readers of text that no protobuf parser has checked (CSV files, HTML to
// escape, log lines).
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

// The length of the well-formed UTF-8 sequence at the start of `s` (1 to 4
// bytes), or 0 when `s` is empty or does not start with one: a stray
// continuation byte, a truncated sequence, an overlong form, a surrogate
// (U+D800 to U+DFFF) or a code point beyond U+10FFFF.
inline size_t Utf8SequenceLength(absl::string_view s) {
  if (s.empty()) return 0;
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto continues = [&](size_t i) { return i < s.size() && (byte(i) & 0xC0) == 0x80; };
  const unsigned char b = byte(0);
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return continues(1) ? 2 : 0;
  if (b >= 0xE0 && b <= 0xEF) {
    if (!continues(1) || !continues(2)) return 0;
    if (b == 0xE0 && byte(1) < 0xA0) return 0;   // overlong
    if (b == 0xED && byte(1) >= 0xA0) return 0;  // a surrogate
    return 3;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    if (!continues(1) || !continues(2) || !continues(3)) return 0;
    if (b == 0xF0 && byte(1) < 0x90) return 0;   // overlong
    if (b == 0xF4 && byte(1) >= 0x90) return 0;  // beyond U+10FFFF
    return 4;
  }
  return 0;  // a continuation byte, an overlong lead (C0, C1) or F5 to FF
}

// Whether `text` has 1 to `most` characters.
inline bool HasOneToCharacters(absl::string_view text, size_t most) {
  return !text.empty() && CharacterCount(text) <= most;
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_TEXT_LENGTH_H_
