// Unpredictable bytes from the operating system (libsodium randombytes), for
// nonces. Thread-safe.

#ifndef CHEMLEDGER_CRYPTO_RANDOM_H_
#define CHEMLEDGER_CRYPTO_RANDOM_H_

#include <cstddef>
#include <string>

namespace chemledger::crypto {

// `n` random bytes.
std::string RandomBytes(size_t n);

}  // namespace chemledger::crypto

#endif  // CHEMLEDGER_CRYPTO_RANDOM_H_
