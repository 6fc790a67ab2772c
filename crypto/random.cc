#include "crypto/random.h"

#include "crypto/internal/sodium.h"
#include "sodium.h"

namespace chemledger::crypto {

std::string RandomBytes(size_t n) {
  internal::EnsureSodium();
  std::string out(n, '\0');
  randombytes_buf(out.data(), n);
  return out;
}

}  // namespace chemledger::crypto
