#include "crypto/sha256.h"

#include <sodium.h>

#include <cstring>

#include "absl/base/call_once.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/internal/sodium.h"

namespace chemledger::crypto {
namespace {

static_assert(sizeof(crypto_hash_sha256_state) <= 128,
              "Sha256Hasher::state_ is too small");

using internal::EnsureSodium;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<Sha256Digest> Sha256Digest::FromBytes(absl::string_view bytes) {
  if (bytes.size() != kSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SHA-256 digest must be 32 bytes, got ", bytes.size()));
  }
  Sha256Digest d;
  std::memcpy(d.bytes_.data(), bytes.data(), kSize);
  return d;
}

absl::StatusOr<Sha256Digest> Sha256Digest::FromHex(absl::string_view hex) {
  if (hex.size() != 2 * kSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SHA-256 digest must be 64 hex digits, got ", hex.size(), " characters"));
  }
  absl::StatusOr<std::string> raw = HexDecode(hex);
  if (!raw.ok()) return raw.status();
  return FromBytes(*raw);
}

std::string Sha256Digest::ToBytes() const {
  return std::string(reinterpret_cast<const char*>(bytes_.data()), kSize);
}

std::string Sha256Digest::ToHex() const { return HexEncode(ToBytes()); }

Sha256Digest Sha256(absl::string_view data) {
  EnsureSodium();
  Sha256Digest d;
  crypto_hash_sha256(d.mutable_data(),
                     reinterpret_cast<const unsigned char*>(data.data()),
                     data.size());
  return d;
}

Sha256Digest Sha256Concat(std::initializer_list<absl::string_view> parts) {
  Sha256Hasher h;
  for (absl::string_view p : parts) h.Update(p);
  return h.Finish();
}

Sha256Hasher::Sha256Hasher() {
  EnsureSodium();
  crypto_hash_sha256_init(reinterpret_cast<crypto_hash_sha256_state*>(state_));
}

Sha256Hasher& Sha256Hasher::Update(absl::string_view data) {
  crypto_hash_sha256_update(
      reinterpret_cast<crypto_hash_sha256_state*>(state_),
      reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return *this;
}

Sha256Digest Sha256Hasher::Finish() {
  Sha256Digest d;
  crypto_hash_sha256_final(reinterpret_cast<crypto_hash_sha256_state*>(state_),
                           d.mutable_data());
  return d;
}

std::string HexEncode(absl::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    out[2 * i] = kDigits[b >> 4];
    out[2 * i + 1] = kDigits[b & 0xf];
  }
  return out;
}

absl::StatusOr<std::string> HexDecode(absl::string_view hex) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("hex string has odd length ", hex.size()));
  }
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      const size_t bad = hi < 0 ? 2 * i : 2 * i + 1;
      return absl::InvalidArgumentError(
          absl::StrCat("invalid hex digit at position ", bad));
    }
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

}  // namespace chemledger::crypto
