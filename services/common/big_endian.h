// 64-bit unsigned integers as 8 big-endian bytes, for byte strings that must
// sort in numeric order or have a fixed layout (the ephemeral store's keys
// and records, the console's sign-in challenges).
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_SERVICES_COMMON_BIG_ENDIAN_H_
#define CHEMLEDGER_SERVICES_COMMON_BIG_ENDIAN_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace chemledger {

inline std::string BigEndian64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

// The integer in the first 8 bytes of `bytes` (the caller checks there are 8).
inline uint64_t FromBigEndian64(absl::string_view bytes) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  return v;
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_BIG_ENDIAN_H_
