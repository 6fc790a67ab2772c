// Signed envelopes: how every write reaches ChemLedger. A client serializes
// its request message, signs PAE(context, bytes) with its actor key (DSSE,
// crypto/keys.h) and sends the bytes, its key id and the signature in a
// chemledger.v1.SignedEnvelope. The server verifies the envelope before it
// parses the bytes, and stores the envelope unchanged in the log entry, so the
// ledger can later prove who said what. docs/signatures.md shows how a client
// in another language signs.
//
// Pure functions; thread-safe if the key lookup is.

#ifndef CHEMLEDGER_SERVICES_COMMON_ENVELOPE_H_
#define CHEMLEDGER_SERVICES_COMMON_ENVELOPE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/keys.h"

namespace chemledger::envelope {

// Signs `payload` for `context` with `key`: one signature, key id in hex.
absl::StatusOr<v1::SignedEnvelope> Sign(const crypto::SignatureContext& context,
                                        std::string payload, const crypto::SigningKey& key);

// Finds the key that `key_id` names: NotFound for an unknown key,
// PermissionDenied for a revoked one (the message says why).
using KeyLookup =
    std::function<absl::StatusOr<crypto::VerifyingKey>(const crypto::KeyId& key_id)>;

// Checks that `envelope` is for `expected` (its payload_type), carries exactly
// one signature, by a key `lookup` knows, that verifies over the payload.
// Returns the signer's key id. Errors name the envelope field:
//   InvalidArgument   wrong payload_type, no or several signatures, a
//                     malformed key id or signature;
//   Unauthenticated   unknown key, or a signature that does not verify;
//   PermissionDenied  revoked key (from `lookup`).
absl::StatusOr<crypto::KeyId> Verify(const v1::SignedEnvelope& envelope,
                                     const crypto::SignatureContext& expected,
                                     const KeyLookup& lookup);

// Verify in two steps, for callers that check many envelopes and want the
// signature checks (the expensive part) outside their locks or in parallel:
// Resolve checks the form and finds the key (the errors of Verify, but
// never a bad signature); CheckSignature then verifies the signature.
struct ResolvedSignature {
  crypto::KeyId key_id;
  crypto::VerifyingKey key;
  crypto::Signature signature;
};
// The form checks of Resolve without the key lookup: payload type, exactly
// one signature, a well-formed key id and signature. Returns the key id.
absl::StatusOr<crypto::KeyId> SignerKeyId(const v1::SignedEnvelope& envelope,
                                          const crypto::SignatureContext& expected);

absl::StatusOr<ResolvedSignature> Resolve(const v1::SignedEnvelope& envelope,
                                          const crypto::SignatureContext& expected,
                                          const KeyLookup& lookup);
absl::Status CheckSignature(const v1::SignedEnvelope& envelope,
                            const crypto::SignatureContext& expected,
                            const ResolvedSignature& resolved);

}  // namespace chemledger::envelope

#endif  // CHEMLEDGER_SERVICES_COMMON_ENVELOPE_H_
