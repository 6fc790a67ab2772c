#include "crypto/keys.h"

#include <sodium.h>
#include <stdio.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ostream>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crypto/internal/strict_base64.h"
#include "crypto/sha256.h"
#include "crypto/internal/sodium.h"

namespace chemledger::crypto {

static_assert(VerifyingKey::kSize == crypto_sign_PUBLICKEYBYTES, "");
static_assert(Signature::kSize == crypto_sign_BYTES, "");
static_assert(SecretSeed::kSize == crypto_sign_SEEDBYTES, "");

namespace {

constexpr absl::string_view kKeyIdDomain("chemledger key id v1\0\x01", 22);

using internal::EnsureSodium;

const unsigned char* U(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

// ---- KeyId ----------------------------------------------------------------

absl::StatusOr<KeyId> KeyId::Parse(absl::string_view text) {
  if (text.size() != 2 * kSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key id: must be ", 2 * kSize, " lowercase hex digits, got ",
        text.size(), " characters"));
  }
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "key id: character %d is not a lowercase hex digit", i));
    }
  }
  absl::StatusOr<std::string> raw = HexDecode(text);
  if (!raw.ok()) return raw.status();
  return FromBytes(*raw);
}

absl::StatusOr<KeyId> KeyId::FromBytes(absl::string_view raw) {
  if (raw.size() != kSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key id: must be ", kSize, " bytes, got ", raw.size()));
  }
  KeyId id;
  std::memcpy(id.bytes_.data(), raw.data(), kSize);
  return id;
}

std::string KeyId::ToString() const { return HexEncode(ToBytes()); }

std::string KeyId::ToBytes() const {
  return std::string(reinterpret_cast<const char*>(bytes_.data()), kSize);
}

std::ostream& operator<<(std::ostream& os, const KeyId& id) {
  return os << id.ToString();
}

// ---- SignatureContext / PAE -----------------------------------------------

absl::Status SignatureContext::Validate() const {
  if (type_.empty()) {
    return absl::InvalidArgumentError("signature context: must not be empty");
  }
  if (type_.size() > kMaxLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "signature context: at most ", kMaxLength, " characters, got ",
        type_.size()));
  }
  for (size_t i = 0; i < type_.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(type_[i]);
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "signature context: byte 0x%02x at position %d is not printable "
          "ASCII (0x21-0x7e)",
          c, i));
    }
  }
  return absl::OkStatus();
}

std::string PreAuthEncode(const SignatureContext& context,
                          absl::string_view body) {
  const absl::string_view type = context.payload_type();
  return absl::StrCat("DSSEv1 ", type.size(), " ", type, " ", body.size(), " ",
                      body);
}

// ---- Signature ------------------------------------------------------------

absl::StatusOr<Signature> Signature::FromBytes(absl::string_view raw) {
  if (raw.size() != kSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "signature: must be ", kSize, " bytes, got ", raw.size()));
  }
  Signature sig;
  std::memcpy(sig.bytes_.data(), raw.data(), kSize);
  return sig;
}

std::string Signature::ToBytes() const {
  return std::string(reinterpret_cast<const char*>(bytes_.data()), kSize);
}

// ---- VerifyingKey ---------------------------------------------------------

namespace {

// Public keys already found to be valid points. The check costs about as
// much as verifying a signature, and servers parse the same few keys (their
// actors') again and again. Bounded: emptied when it grows past kMaxKeys.
class ValidPointCache {
 public:
  static ValidPointCache& Get() {
    static ValidPointCache* cache = new ValidPointCache();
    return *cache;
  }
  bool Contains(absl::string_view raw) {
    absl::MutexLock lock(&mu_);
    return keys_.contains(raw);
  }
  void Add(absl::string_view raw) {
    absl::MutexLock lock(&mu_);
    if (keys_.size() >= kMaxKeys) keys_.clear();
    keys_.insert(std::string(raw));
  }

 private:
  static constexpr size_t kMaxKeys = 65536;
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<VerifyingKey> VerifyingKey::FromBytes(absl::string_view raw) {
  if (raw.size() != kSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Ed25519 public key: must be ", kSize, " bytes, got ", raw.size()));
  }
  EnsureSodium();
  ValidPointCache& valid = ValidPointCache::Get();
  if (valid.Contains(raw)) {
    VerifyingKey key;
    std::memcpy(key.bytes_.data(), raw.data(), kSize);
    return key;
  }
  if (crypto_core_ed25519_is_valid_point(U(raw)) != 1) {
    return absl::InvalidArgumentError(
        "Ed25519 public key: not a valid point (non-canonical encoding, not on "
        "the curve, or of small order)");
  }
  valid.Add(raw);
  VerifyingKey key;
  std::memcpy(key.bytes_.data(), raw.data(), kSize);
  return key;
}

absl::StatusOr<VerifyingKey> VerifyingKey::FromBase64(absl::string_view text) {
  absl::StatusOr<std::string> raw =
      internal::StrictBase64DecodeSize(text, kSize, "Ed25519 public key");
  if (!raw.ok()) return raw.status();
  return FromBytes(*raw);
}

std::string VerifyingKey::ToBytes() const {
  return std::string(reinterpret_cast<const char*>(bytes_.data()), kSize);
}

std::string VerifyingKey::ToBase64() const {
  return absl::Base64Escape(ToBytes());
}

KeyId VerifyingKey::key_id() const {
  const Sha256Digest h = Sha256Concat({kKeyIdDomain, ToBytes()});
  KeyId id;
  std::memcpy(id.bytes_.data(), h.bytes().data(), KeyId::kSize);
  return id;
}

absl::Status VerifyingKey::Verify(const SignatureContext& context,
                                  absl::string_view message,
                                  const Signature& signature) const {
  absl::Status valid = context.Validate();
  if (!valid.ok()) return valid;
  EnsureSodium();
  const std::string pae = PreAuthEncode(context, message);
  if (crypto_sign_verify_detached(signature.bytes().data(), U(pae), pae.size(),
                                  bytes_.data()) != 0) {
    return absl::UnauthenticatedError(absl::StrCat(
        "signature does not verify for key ", key_id().ToString(),
        " and context ", context.payload_type()));
  }
  return absl::OkStatus();
}

// ---- SecretSeed -----------------------------------------------------------

absl::StatusOr<SecretSeed> SecretSeed::FromBytes(absl::string_view raw) {
  if (raw.size() != kSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Ed25519 seed: must be ", kSize, " bytes, got ", raw.size()));
  }
  SecretSeed seed;
  std::memcpy(seed.bytes_.data(), raw.data(), kSize);
  return seed;
}

SecretSeed::SecretSeed(SecretSeed&& other) noexcept : bytes_(other.bytes_) {
  sodium_memzero(other.bytes_.data(), kSize);
}

SecretSeed& SecretSeed::operator=(SecretSeed&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    sodium_memzero(other.bytes_.data(), kSize);
  }
  return *this;
}

SecretSeed::~SecretSeed() { sodium_memzero(bytes_.data(), kSize); }

// ---- SigningKey -----------------------------------------------------------

void SigningKey::SecretDeleter::operator()(Secret* secret) const {
  static_assert(sizeof(Secret::sk) == crypto_sign_SECRETKEYBYTES,
                "SigningKey::Secret must hold libsodium's secret key");
  sodium_memzero(secret->sk, sizeof(secret->sk));
  delete secret;
}

const SigningKey::Secret& SigningKey::secret() const {
  if (secret_ == nullptr) {
    fprintf(stderr, "chemledger: use of a moved-from SigningKey\n");
    abort();
  }
  return *secret_;
}

SigningKey SigningKey::Generate() {
  EnsureSodium();
  std::unique_ptr<Secret, SecretDeleter> secret(new Secret);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_keypair(pk, secret->sk);
  return SigningKey(std::move(secret));
}

SigningKey SigningKey::FromSeed(const SecretSeed& seed) {
  EnsureSodium();
  std::unique_ptr<Secret, SecretDeleter> secret(new Secret);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_seed_keypair(pk, secret->sk, seed.bytes_.data());
  return SigningKey(std::move(secret));
}

VerifyingKey SigningKey::verifying_key() const {
  VerifyingKey key;
  std::memcpy(key.bytes_.data(), secret().sk + crypto_sign_SEEDBYTES,
              VerifyingKey::kSize);
  return key;
}

absl::StatusOr<Signature> SigningKey::Sign(const SignatureContext& context,
                                           absl::string_view message) const {
  if (secret_ == nullptr) {
    return absl::FailedPreconditionError("SigningKey was moved from");
  }
  absl::Status valid = context.Validate();
  if (!valid.ok()) return valid;
  const std::string pae = PreAuthEncode(context, message);
  Signature sig;
  crypto_sign_detached(sig.bytes_.data(), nullptr, U(pae), pae.size(),
                       secret_->sk);
  return sig;
}

}  // namespace chemledger::crypto
