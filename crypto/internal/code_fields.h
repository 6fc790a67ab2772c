// Field encodings shared by the signed codes that QR symbols carry (package
// labels, crypto/label.h; waybill codes, crypto/waybill_code.h): big-endian
// integers, days since 2000-01-01, and the character classes their URLs
// allow. Internal to //crypto.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_CRYPTO_INTERNAL_CODE_FIELDS_H_
#define CHEMLEDGER_CRYPTO_INTERNAL_CODE_FIELDS_H_

#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace chemledger::crypto::internal {

// Day 0 of the 2-byte day fields: 2000-01-01 (the last is 2179-06-06).
inline const absl::CivilDay kCodeEpoch(2000, 1, 1);

inline void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// The `bytes`-byte big-endian integer at `offset` (the caller checks the size).
inline uint64_t GetBigEndian(absl::string_view in, size_t offset, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | static_cast<uint8_t>(in[offset + i]);
  return v;
}

inline bool IsUpperAlnum(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && !(c >= 'A' && c <= 'Z')) {
      return false;
    }
  }
  return true;
}

// Non-empty and only 0-9.
inline bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}

// 18 characters of the 统一社会信用代码 alphabet (GB 32100; the check
// character is the registry's business, not the code's).
inline bool LooksLikeUscc(absl::string_view s) {
  return s.size() == 18 &&
         s.find_first_not_of("0123456789ABCDEFGHJKLMNPQRTUWXY") == absl::string_view::npos;
}

}  // namespace chemledger::crypto::internal

#endif  // CHEMLEDGER_CRYPTO_INTERNAL_CODE_FIELDS_H_
