// Base32 (crypto/base32.h): any text decodes or is refused, and what
// decodes encodes back to the same text.

#include <cstdlib>

#include "absl/strings/string_view.h"
#include "crypto/base32.h"
#include "tests/fuzz/fuzz_target.h"

namespace chemledger::fuzz {
std::vector<std::string> FuzzSeeds() {
  return {crypto::Base32Encode("hello, label"), crypto::Base32Encode(std::string(40, '\xff')),
          crypto::Base32Encode("")};
}
}  // namespace chemledger::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::string> bytes = chemledger::crypto::Base32Decode(text);
  if (bytes.ok() && chemledger::crypto::Base32Encode(*bytes) != text) std::abort();
  return 0;
}
