#include "crypto/internal/strict_base64.h"

#include <sodium.h>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace chemledger::crypto::internal {

namespace {

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Canonical padded standard base64, checked on the text itself (no
// re-encoded copy: the text may be a secret): only alphabet characters, then
// 0-2 '=' making the length a multiple of 4, and zero unused bits in the last
// character before the padding.
bool IsCanonicalBase64(absl::string_view text) {
  if (text.size() % 4 != 0) return false;
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  const absl::string_view data = text.substr(0, text.size() - pad);
  for (char c : data) {
    if (Base64Value(c) < 0) return false;
  }
  if (pad == 0 || data.empty()) return pad == 0;
  const int last = Base64Value(data.back());
  return pad == 1 ? (last & 0x3) == 0 : (last & 0xf) == 0;
}

}  // namespace

absl::StatusOr<std::string> StrictBase64Decode(absl::string_view text,
                                               absl::string_view what) {
  std::string decoded;
  if (!IsCanonicalBase64(text) || !absl::Base64Unescape(text, &decoded)) {
    sodium_memzero(decoded.data(), decoded.size());
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
    sodium_memzero(decoded->data(), decoded->size());
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": must decode to ", size, " bytes, got ", decoded->size()));
  }
  return decoded;
}

}  // namespace chemledger::crypto::internal
