#include "services/common/envelope.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace chemledger::envelope {

absl::StatusOr<v1::SignedEnvelope> Sign(const crypto::SignatureContext& context,
                                        std::string payload, const crypto::SigningKey& key) {
  absl::StatusOr<crypto::Signature> sig = key.Sign(context, payload);
  if (!sig.ok()) return sig.status();
  v1::SignedEnvelope env;
  env.set_payload_type(std::string(context.payload_type()));
  env.set_payload(std::move(payload));
  v1::Signature* s = env.add_signatures();
  s->set_key_id(key.key_id().ToString());
  s->set_sig(sig->ToBytes());
  return env;
}

namespace {

// The form of `envelope` for `expected`: its key id and signature.
absl::StatusOr<std::pair<crypto::KeyId, crypto::Signature>> SignatureForm(
    const v1::SignedEnvelope& envelope, const crypto::SignatureContext& expected) {
  if (envelope.payload_type() != expected.payload_type()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "envelope.payload_type: '", envelope.payload_type(), "' is not the expected '",
        expected.payload_type(), "'"));
  }
  if (envelope.signatures_size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "envelope.signatures: exactly one signature is required, got ",
        envelope.signatures_size(), envelope.signatures_size() == 0 ? " (unsigned request)" : ""));
  }
  const v1::Signature& s = envelope.signatures(0);
  absl::StatusOr<crypto::KeyId> key_id = crypto::KeyId::Parse(s.key_id());
  if (!key_id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("envelope.signatures[0].key_id: ", key_id.status().message()));
  }
  absl::StatusOr<crypto::Signature> sig = crypto::Signature::FromBytes(s.sig());
  if (!sig.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("envelope.signatures[0].sig: ", sig.status().message()));
  }
  return std::make_pair(*key_id, *sig);
}

}  // namespace

absl::StatusOr<crypto::KeyId> SignerKeyId(const v1::SignedEnvelope& envelope,
                                          const crypto::SignatureContext& expected) {
  absl::StatusOr<std::pair<crypto::KeyId, crypto::Signature>> form =
      SignatureForm(envelope, expected);
  if (!form.ok()) return form.status();
  return form->first;
}

absl::StatusOr<ResolvedSignature> Resolve(const v1::SignedEnvelope& envelope,
                                          const crypto::SignatureContext& expected,
                                          const KeyLookup& lookup) {
  absl::StatusOr<std::pair<crypto::KeyId, crypto::Signature>> form =
      SignatureForm(envelope, expected);
  if (!form.ok()) return form.status();
  const crypto::KeyId& key_id = form->first;
  absl::StatusOr<crypto::VerifyingKey> key = lookup(key_id);
  if (!key.ok()) {
    if (absl::IsNotFound(key.status())) {
      return absl::UnauthenticatedError(absl::StrCat(
          "envelope.signatures[0].key_id: key ", key_id.ToString(), " is not registered"));
    }
    absl::Status refused(key.status().code(),
                         absl::StrCat("envelope.signatures[0].key_id: ", key.status().message()));
    // The lookup's payloads (what kind of refusal it is) go along.
    key.status().ForEachPayload([&](absl::string_view type, const absl::Cord& payload) {
      refused.SetPayload(type, payload);
    });
    return refused;
  }
  return ResolvedSignature{key_id, *key, form->second};
}

absl::Status CheckSignature(const v1::SignedEnvelope& envelope,
                            const crypto::SignatureContext& expected,
                            const ResolvedSignature& resolved) {
  if (absl::Status v = resolved.key.Verify(expected, envelope.payload(), resolved.signature);
      !v.ok()) {
    return absl::UnauthenticatedError(absl::StrCat("envelope.signatures[0].sig: ", v.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<crypto::KeyId> Verify(const v1::SignedEnvelope& envelope,
                                     const crypto::SignatureContext& expected,
                                     const KeyLookup& lookup) {
  absl::StatusOr<ResolvedSignature> resolved = Resolve(envelope, expected, lookup);
  if (!resolved.ok()) return resolved.status();
  if (absl::Status s = CheckSignature(envelope, expected, *resolved); !s.ok()) return s;
  return resolved->key_id;
}

}  // namespace chemledger::envelope
