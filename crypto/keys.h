// Ed25519 keys and signatures (libsodium) for every signature ChemLedger makes
// or checks: actor-signed write envelopes, label claims, e-waybill QR codes.
//
// Every signature is made over a purpose, a SignatureContext, using DSSE v1
// pre-authentication encoding (PAE):
//
//   PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
//
// where LEN is the byte length in ASCII decimal and type is the context's
// DSSE payloadType. A signature made for one context therefore never verifies
// for another, and a client in any language can produce one without our code:
// it signs PreAuthEncode(context, bytes) with a standard Ed25519 library.
//
// The API is typed so that it is hard to misuse: raw key bytes only appear at
// the edges (FromBytes/ToBytes), secrets live in move-only types that zero
// their memory on destruction (SecretSeed, SigningKey), and there is no
// public way to sign bytes without a context. The one exception, signed
// notes (C2SP signed-note, used for checkpoints), signs note text as-is; that
// lives in crypto/internal/raw_ed25519.h, visible only to //crypto targets. A
// PAE message always begins with "DSSEv1 ", and the checkpoint code refuses
// any origin (the note's first line) beginning with "DSSEv1", so a note
// signature can never be replayed as a DSSE signature or the reverse.
//
// This header does no file I/O: key files (saving and loading keys, sealed
// with a passphrase or not) are in crypto/key_files.h.
//
// Thread-safety: all types are immutable after construction and safe to use
// from several threads at once (SigningKey::Sign is const and reentrant).
// Moving from a SigningKey leaves it empty; it must not be used afterwards.

#ifndef CHEMLEDGER_CRYPTO_KEYS_H_
#define CHEMLEDGER_CRYPTO_KEYS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chemledger::crypto {

namespace internal {
class KeyFileAccess;  // crypto/key_files.cc: reads the seed to save it.
class RawEd25519;
}  // namespace internal

class SigningKey;

// Stable identifier of an Ed25519 public key: the first 8 bytes of
//   SHA-256("chemledger key id v1" || 0x00 || 0x01 || 32-byte public key)
// (0x01 names the algorithm, Ed25519). Its text form is 16 lowercase hex
// digits. A cheap value type.
class KeyId {
 public:
  static constexpr size_t kSize = 8;

  // Parses 16 lowercase hex digits; anything else is InvalidArgument.
  static absl::StatusOr<KeyId> Parse(absl::string_view text);
  // Exactly 8 raw bytes (for compact encodings such as labels).
  static absl::StatusOr<KeyId> FromBytes(absl::string_view raw);

  // 16 lowercase hex digits.
  std::string ToString() const;
  // The 8 raw bytes.
  std::string ToBytes() const;
  const std::array<uint8_t, kSize>& bytes() const { return bytes_; }

  friend bool operator==(const KeyId& a, const KeyId& b) {
    return a.bytes_ == b.bytes_;
  }
  friend bool operator!=(const KeyId& a, const KeyId& b) { return !(a == b); }
  friend bool operator<(const KeyId& a, const KeyId& b) {
    return a.bytes_ < b.bytes_;
  }
  template <typename H>
  friend H AbslHashValue(H h, const KeyId& id) {
    return H::combine(std::move(h), id.bytes_);
  }
  friend std::ostream& operator<<(std::ostream& os, const KeyId& id);

 private:
  friend class VerifyingKey;
  KeyId() : bytes_{} {}
  std::array<uint8_t, kSize> bytes_;
};

// What a signature is for: a DSSE payloadType such as
// "application/vnd.chemledger.event.v1+protobuf". Define contexts as
// constants next to the message they sign:
//
//   inline constexpr SignatureContext kEventContext(
//       "application/vnd.chemledger.event.v1+protobuf");
//
// Only string literals (and other static char arrays) are accepted, so the
// context cannot dangle. A valid context is 1 to 128 printable ASCII
// characters (0x21..0x7e); Sign and Verify return InvalidArgument for any
// other. IsValid() is constexpr, so a constant can be checked with
// static_assert.
class SignatureContext {
 public:
  static constexpr size_t kMaxLength = 128;

  template <size_t N>
  constexpr explicit SignatureContext(const char (&literal)[N])
      : type_(literal, N - 1) {}

  constexpr absl::string_view payload_type() const { return type_; }

  // OK, or InvalidArgument naming the rule broken.
  absl::Status Validate() const;
  constexpr bool IsValid() const {
    if (type_.empty() || type_.size() > kMaxLength) return false;
    for (char c : type_) {
      if (c < 0x21 || c > 0x7e) return false;
    }
    return true;
  }

 private:
  absl::string_view type_;  // Points at static storage.
};

// DSSE v1 pre-authentication encoding of `body` for `context` (see the top of
// this file). These are the exact bytes Ed25519 signs. Exposed so that docs
// and other-language clients can be checked against it.
std::string PreAuthEncode(const SignatureContext& context,
                          absl::string_view body);

// A 64-byte Ed25519 signature. A cheap value type.
class Signature {
 public:
  static constexpr size_t kSize = 64;

  // Exactly 64 bytes; anything else is InvalidArgument.
  static absl::StatusOr<Signature> FromBytes(absl::string_view raw);
  std::string ToBytes() const;
  const std::array<uint8_t, kSize>& bytes() const { return bytes_; }

  friend bool operator==(const Signature& a, const Signature& b) {
    return a.bytes_ == b.bytes_;
  }
  friend bool operator!=(const Signature& a, const Signature& b) {
    return !(a == b);
  }

 private:
  friend class SigningKey;
  friend class internal::RawEd25519;
  Signature() : bytes_{} {}
  std::array<uint8_t, kSize> bytes_;
};

// An Ed25519 public key. A cheap value type.
class VerifyingKey {
 public:
  static constexpr size_t kSize = 32;

  // Exactly 32 bytes encoding a valid point of the prime-order subgroup; a
  // wrong length, a non-canonical encoding or a small-order point is
  // InvalidArgument.
  static absl::StatusOr<VerifyingKey> FromBytes(absl::string_view raw);
  // Text form: the 32 bytes in padded standard base64 (as in key files).
  static absl::StatusOr<VerifyingKey> FromBase64(absl::string_view text);

  std::string ToBytes() const;
  std::string ToBase64() const;
  KeyId key_id() const;

  // OK if `signature` is this key's signature of PreAuthEncode(context,
  // message). InvalidArgument if the context is invalid; otherwise
  // Unauthenticated("signature does not verify for key <id> and context
  // <context>").
  absl::Status Verify(const SignatureContext& context,
                      absl::string_view message,
                      const Signature& signature) const;

  friend bool operator==(const VerifyingKey& a, const VerifyingKey& b) {
    return a.bytes_ == b.bytes_;
  }
  friend bool operator!=(const VerifyingKey& a, const VerifyingKey& b) {
    return !(a == b);
  }
  template <typename H>
  friend H AbslHashValue(H h, const VerifyingKey& key) {
    return H::combine(std::move(h), key.bytes_);
  }

 private:
  friend class SigningKey;
  friend class internal::RawEd25519;
  VerifyingKey() : bytes_{} {}
  std::array<uint8_t, kSize> bytes_;
};

// The 32-byte secret from which an Ed25519 key pair is derived (RFC 8032's
// "private key"). For deterministic tests and key import; production keys
// come from SigningKey::Generate(). Move-only; zeroes its memory on
// destruction.
class SecretSeed {
 public:
  static constexpr size_t kSize = 32;

  // Copies exactly 32 bytes; anything else is InvalidArgument. The caller
  // should wipe its own copy.
  static absl::StatusOr<SecretSeed> FromBytes(absl::string_view raw);

  SecretSeed(SecretSeed&& other) noexcept;
  SecretSeed& operator=(SecretSeed&& other) noexcept;
  SecretSeed(const SecretSeed&) = delete;
  SecretSeed& operator=(const SecretSeed&) = delete;
  ~SecretSeed();

 private:
  friend class SigningKey;
  SecretSeed() : bytes_{} {}
  std::array<uint8_t, kSize> bytes_;
};

// An Ed25519 private key. Owns libsodium's 64-byte secret key (seed || public
// key) on the heap and zeroes it on destruction. Move-only: a moved-from key
// is empty and must not be used (Sign returns FailedPrecondition; the other
// accessors abort).
class SigningKey {
 public:
  // A fresh key from the operating system's CSPRNG.
  static SigningKey Generate();
  // The key pair RFC 8032 derives from `seed`.
  static SigningKey FromSeed(const SecretSeed& seed);

  SigningKey(SigningKey&&) noexcept = default;
  SigningKey& operator=(SigningKey&&) noexcept = default;
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;
  ~SigningKey() = default;

  VerifyingKey verifying_key() const;
  KeyId key_id() const { return verifying_key().key_id(); }

  // Signs PreAuthEncode(context, message). InvalidArgument if the context is
  // invalid.
  absl::StatusOr<Signature> Sign(const SignatureContext& context,
                                 absl::string_view message) const;

 private:
  friend class internal::KeyFileAccess;
  friend class internal::RawEd25519;

  // libsodium's secret key: the RFC 8032 seed followed by the public key.
  struct Secret {
    unsigned char sk[64];
  };
  struct SecretDeleter {  // Zeroes, then frees.
    void operator()(Secret* secret) const;
  };

  explicit SigningKey(std::unique_ptr<Secret, SecretDeleter> secret)
      : secret_(std::move(secret)) {}
  const Secret& secret() const;  // Aborts if moved from.

  std::unique_ptr<Secret, SecretDeleter> secret_;
};

}  // namespace chemledger::crypto

#endif  // CHEMLEDGER_CRYPTO_KEYS_H_
