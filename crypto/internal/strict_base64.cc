#include "crypto/internal/strict_base64.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace chemledger::crypto::internal {

absl::StatusOr<std::string> StrictBase64Decode(absl::string_view text,
                                               absl::string_view what) {
  std::string decoded;
  if (text.size() % 4 != 0 || !absl::Base64Unescape(text, &decoded) ||
      absl::Base64Escape(decoded) != text) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": not canonical padded standard base64 (RFC 4648 section 4)"));
  }
  return decoded;
}

absl::StatusOr<std::string> StrictBase64DecodeSize(absl::string_view text,
                                                   size_t size,
                                                   absl::string_view what) {
  absl::StatusOr<std::string> decoded = StrictBase64Decode(text, what);
  if (!decoded.ok()) return decoded.status();
  if (decoded->size() != size) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": must decode to ", size, " bytes, got ", decoded->size()));
  }
  return decoded;
}

}  // namespace chemledger::crypto::internal
