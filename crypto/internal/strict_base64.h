// Strict standard Base64 (RFC 4648 section 4, padded) for ChemLedger's text
// formats (key files, signed notes). Internal to //crypto.
//
// absl::Base64Unescape is lenient: it accepts missing padding, and non-zero
// unused bits, so several strings decode to the same bytes. The formats here
// require the one canonical encoding, so StrictBase64Decode decodes and then
// re-encodes and compares.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_CRYPTO_INTERNAL_STRICT_BASE64_H_
#define CHEMLEDGER_CRYPTO_INTERNAL_STRICT_BASE64_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chemledger::crypto::internal {

// Decodes canonical padded standard Base64. `what` names the field in error
// messages, e.g. "root hash". Errors are InvalidArgument. The input is not
// echoed in the error (it may be secret).
absl::StatusOr<std::string> StrictBase64Decode(absl::string_view text,
                                               absl::string_view what);

// As above, and the decoded value must be exactly `size` bytes.
absl::StatusOr<std::string> StrictBase64DecodeSize(absl::string_view text,
                                                   size_t size,
                                                   absl::string_view what);

}  // namespace chemledger::crypto::internal

#endif  // CHEMLEDGER_CRYPTO_INTERNAL_STRICT_BASE64_H_
