#include "crypto/internal/raw_ed25519.h"

#include <sodium.h>

namespace chemledger::crypto::internal {

Signature RawEd25519::Sign(const SigningKey& key, absl::string_view message) {
  Signature sig;
  crypto_sign_detached(sig.bytes_.data(), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), key.secret().sk);
  return sig;
}

bool RawEd25519::Verify(const VerifyingKey& key, absl::string_view message,
                        const Signature& signature) {
  return crypto_sign_verify_detached(
             signature.bytes().data(),
             reinterpret_cast<const unsigned char*>(message.data()),
             message.size(), key.bytes_.data()) == 0;
}

}  // namespace chemledger::crypto::internal
