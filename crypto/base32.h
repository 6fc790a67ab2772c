// RFC 4648 Base32 (section 6) with the standard upper-case alphabet A-Z2-7
// and no '=' padding.
//
// This is the encoding of the signed part of a ChemLedger label: it is
// upper-case only, so a whole label URL fits QR alphanumeric mode, and it is
// safe in a URL path. Decoding is strict: it accepts exactly the strings that
// Base32Encode() produces, so every byte string has one text form and a label
// cannot be re-encoded into a different-looking but equally valid symbol.
//
// Both functions are pure and thread-safe.

#ifndef CHEMLEDGER_CRYPTO_BASE32_H_
#define CHEMLEDGER_CRYPTO_BASE32_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chemledger::crypto {

// Encodes `bytes` as unpadded upper-case Base32. The result has
// ceil(8 * bytes.size() / 5) characters.
std::string Base32Encode(absl::string_view bytes);

// Decodes text produced by Base32Encode(). Returns InvalidArgument, naming the
// position and character, for: lower-case letters, '=' padding, any character
// outside A-Z2-7, a length that no byte string encodes to (length % 8 is 1, 3
// or 6), and non-zero unused bits in the last character (a non-canonical
// encoding).
absl::StatusOr<std::string> Base32Decode(absl::string_view text);

}  // namespace chemledger::crypto

#endif  // CHEMLEDGER_CRYPTO_BASE32_H_
