// Ed25519 over message bytes as they are, without DSSE pre-authentication
// encoding. Internal to //crypto: Bazel visibility limits it to crypto
// targets, and it exists only for C2SP signed notes (crypto/checkpoint.h),
// which sign the note text directly so that any note verifier (Go's
// sumdb/note, sigsum, ...) can check our checkpoints.
//
// Why a raw note signature can never be taken for a DSSE signature, or the
// reverse: every message SigningKey::Sign signs is a PAE string, and a PAE
// string always begins with "DSSEv1 ". A note's text begins with its first
// line, the checkpoint origin, and the checkpoint code refuses to sign or
// accept any origin beginning with "DSSEv1". So the two sets of signed
// messages are disjoint even when one key signs both.
//
// Do not add other callers; sign with SigningKey::Sign and a
// SignatureContext instead.
//
// Stateless; thread-safe.

#ifndef CHEMLEDGER_CRYPTO_INTERNAL_RAW_ED25519_H_
#define CHEMLEDGER_CRYPTO_INTERNAL_RAW_ED25519_H_

#include "absl/strings/string_view.h"
#include "crypto/keys.h"

namespace chemledger::crypto::internal {

class RawEd25519 {
 public:
  // RFC 8032 Ed25519 signature of `message`. `key` must not be moved from.
  static Signature Sign(const SigningKey& key, absl::string_view message);
  // True if `signature` is `key`'s RFC 8032 signature of `message`.
  static bool Verify(const VerifyingKey& key, absl::string_view message,
                     const Signature& signature);
};

}  // namespace chemledger::crypto::internal

#endif  // CHEMLEDGER_CRYPTO_INTERNAL_RAW_ED25519_H_
