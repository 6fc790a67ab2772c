#include "crypto/base32.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace chemledger::crypto {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// Value of a Base32 digit, or -1 if `c` is not one.
int DigitValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

// Printable form of a character for error messages.
std::string Quote(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return absl::StrCat("'", std::string(1, c), "'");
  return absl::StrFormat("byte 0x%02x", u);
}

}  // namespace

std::string Base32Encode(absl::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  uint32_t buffer = 0;  // Holds at most 12 pending bits.
  int bits = 0;
  for (unsigned char b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kAlphabet[(buffer >> bits) & 0x1f]);
    }
    buffer &= (1u << bits) - 1;
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 0x1f]);
  return out;
}

absl::StatusOr<std::string> Base32Decode(absl::string_view text) {
  const size_t rem = text.size() % 8;
  if (rem == 1 || rem == 3 || rem == 6) {
    return absl::InvalidArgumentError(absl::StrCat(
        "base32: invalid length ", text.size(),
        " (length % 8 must not be 1, 3 or 6; no byte string encodes to it)"));
  }
  std::string out;
  out.reserve(text.size() * 5 / 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const int v = DigitValue(c);
    if (v < 0) {
      std::string why;
      if (c == '=') {
        why = " (padding is not allowed)";
      } else if (c >= 'a' && c <= 'z') {
        why = " (lower case is not allowed)";
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "base32: invalid character ", Quote(c), " at position ", i, why));
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
      buffer &= (1u << bits) - 1;
    }
  }
  // At most 4 bits are left over; in a canonical encoding they are zero.
  if (buffer != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "base32: non-canonical encoding: the last character ",
        Quote(text.back()), " at position ", text.size() - 1,
        " has non-zero unused low bits"));
  }
  return out;
}

}  // namespace chemledger::crypto
