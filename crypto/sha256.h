// SHA-256 (libsodium) and the fixed-size digest type used across ChemLedger:
// Merkle tree hashes, per-code hash chains, document hashes and key ids.
//
// Sha256Digest is a plain value type (32 bytes), cheap to copy and compare.
// All functions are thread-safe; they only need libsodium initialised, which
// Sha256() does itself (sodium_init is idempotent and thread-safe).

#ifndef CHEMLEDGER_CRYPTO_SHA256_H_
#define CHEMLEDGER_CRYPTO_SHA256_H_

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chemledger::crypto {

class Sha256Digest {
 public:
  static constexpr size_t kSize = 32;

  // The all-zero digest. Useful only as a placeholder.
  Sha256Digest() : bytes_{} {}

  // Parses exactly 32 raw bytes. Any other length is InvalidArgument.
  static absl::StatusOr<Sha256Digest> FromBytes(absl::string_view bytes);
  // Parses 64 hex digits (either case). Anything else is InvalidArgument.
  static absl::StatusOr<Sha256Digest> FromHex(absl::string_view hex);

  const std::array<uint8_t, kSize>& bytes() const { return bytes_; }
  uint8_t* mutable_data() { return bytes_.data(); }
  // The 32 raw bytes as a string (for storage and protobuf bytes fields).
  std::string ToBytes() const;
  // 64 lowercase hex digits.
  std::string ToHex() const;

  friend bool operator==(const Sha256Digest& a, const Sha256Digest& b) {
    return a.bytes_ == b.bytes_;
  }
  friend bool operator!=(const Sha256Digest& a, const Sha256Digest& b) {
    return !(a == b);
  }
  friend bool operator<(const Sha256Digest& a, const Sha256Digest& b) {
    return a.bytes_ < b.bytes_;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Sha256Digest& d) {
    return H::combine(std::move(h), d.bytes_);
  }

 private:
  std::array<uint8_t, kSize> bytes_;
};

// SHA-256 of `data`.
Sha256Digest Sha256(absl::string_view data);

// SHA-256 of the concatenation of `parts`, without building it in memory.
Sha256Digest Sha256Concat(std::initializer_list<absl::string_view> parts);

// Incremental SHA-256 for data that arrives in pieces. Not thread-safe.
class Sha256Hasher {
 public:
  Sha256Hasher();
  Sha256Hasher& Update(absl::string_view data);
  // Returns the digest. The hasher must not be used afterwards.
  Sha256Digest Finish();

 private:
  alignas(64) unsigned char state_[128];  // crypto_hash_sha256_state
};

// Hex helpers shared by tools and tests.
std::string HexEncode(absl::string_view bytes);
// Decodes hex digits (either case, even length); InvalidArgument otherwise.
absl::StatusOr<std::string> HexDecode(absl::string_view hex);

}  // namespace chemledger::crypto

#endif  // CHEMLEDGER_CRYPTO_SHA256_H_
