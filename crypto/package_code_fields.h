// The fields of a package's code, USCC.PRODUCT.BATCH.SERIAL
// (91350100M000100Y43.M01.B20261123.1), as a signed label carries them
// (crypto/label.h): one definition for the label, the code's parser
// (services/common/package_code.h), product registration and label
// issuance, so that none accepts what another refuses.
//
// Pure functions and constants; thread-safe.

#ifndef CHEMLEDGER_CRYPTO_PACKAGE_CODE_FIELDS_H_
#define CHEMLEDGER_CRYPTO_PACKAGE_CODE_FIELDS_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace chemledger::crypto {

// A product number: 1 to 16 of A-Z, 0-9.
inline constexpr size_t kMaxProductNumberLength = 16;
// A batch: 1 to 20 of A-Z, 0-9.
inline constexpr size_t kMaxBatchLength = 20;
// Serials run from 1 to this, per product and batch.
inline constexpr uint64_t kMaxSerial = 999999999;

// 1 to `max` of A-Z, 0-9.
inline bool IsCodeField(absl::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

inline bool IsProductNumber(absl::string_view s) {
  return IsCodeField(s, kMaxProductNumberLength);
}

inline bool IsBatch(absl::string_view s) { return IsCodeField(s, kMaxBatchLength); }

}  // namespace chemledger::crypto

#endif  // CHEMLEDGER_CRYPTO_PACKAGE_CODE_FIELDS_H_
