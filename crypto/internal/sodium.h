// Internal to crypto/: initialises libsodium once, before its first use
// (sodium_init is idempotent and thread-safe; this only saves the calls).
//
// Thread-safe.

#ifndef CHEMLEDGER_CRYPTO_INTERNAL_SODIUM_H_
#define CHEMLEDGER_CRYPTO_INTERNAL_SODIUM_H_

#include <sodium.h>

#include <cstdlib>

#include "absl/base/call_once.h"

namespace chemledger::crypto::internal {

inline void EnsureSodium() {
  static absl::once_flag once;
  absl::call_once(once, [] {
    if (sodium_init() < 0) std::abort();  // Only fails without an entropy source.
  });
}

}  // namespace chemledger::crypto::internal

#endif  // CHEMLEDGER_CRYPTO_INTERNAL_SODIUM_H_
