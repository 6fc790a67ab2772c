// Signed envelopes (services/common/envelope.h), whatever bytes arrive where
// a SignedEnvelope is expected: the form checks, the key lookup and the
// signature check never crash, and an envelope they accept is one its
// registered key signed for the context expected.

#include <cstdio>
#include <cstdlib>

#include "api/wire.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/label_testing.h"
#include "services/common/envelope.h"
#include "tests/fuzz/fuzz_target.h"

namespace chemledger::fuzz {
namespace {

const crypto::SigningKey& Signer() {
  static const crypto::SigningKey* key = new crypto::SigningKey(crypto::testing::TestKey(1));
  return *key;
}

absl::StatusOr<crypto::VerifyingKey> Lookup(const crypto::KeyId& key_id) {
  if (key_id == Signer().key_id()) return Signer().verifying_key();
  if (key_id == crypto::testing::TestKey(2).key_id()) {
    return absl::PermissionDeniedError("the key was revoked");
  }
  return absl::NotFoundError("no such key");
}

}  // namespace

std::vector<std::string> FuzzSeeds() {
  std::vector<std::string> seeds;
  const std::vector<std::string> payloads = {"", "an event", std::string(300, 'x')};
  for (const std::string& payload : payloads) {
    seeds.push_back(envelope::Sign(api::kEventContext, payload, Signer())->SerializeAsString());
  }
  v1::SignedEnvelope other = *envelope::Sign(api::kWaybillContext, "waybill", Signer());
  seeds.push_back(other.SerializeAsString());
  v1::SignedEnvelope revoked =
      *envelope::Sign(api::kEventContext, "event", crypto::testing::TestKey(2));
  seeds.push_back(revoked.SerializeAsString());
  v1::SignedEnvelope twice = *envelope::Sign(api::kEventContext, "event", Signer());
  *twice.add_signatures() = twice.signatures(0);
  seeds.push_back(twice.SerializeAsString());
  return seeds;
}

}  // namespace chemledger::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chemledger;
  v1::SignedEnvelope envelope;
  if (!envelope.ParseFromArray(data, static_cast<int>(size))) return 0;
  (void)envelope::SignerKeyId(envelope, api::kEventContext);
  absl::StatusOr<crypto::KeyId> signer =
      envelope::Verify(envelope, api::kEventContext, fuzz::Lookup);
  if (signer.ok()) {
    // Accepted: the context expected, one signature, by the one known key,
    // and the same answer from the two-step form.
    if (envelope.payload_type() != api::kEventContext.payload_type() ||
        envelope.signatures_size() != 1 || !(*signer == fuzz::Signer().key_id())) {
      fprintf(stderr, "signed_envelope_fuzzer: accepted an envelope it should not have\n");
      abort();
    }
    absl::StatusOr<envelope::ResolvedSignature> resolved =
        envelope::Resolve(envelope, api::kEventContext, fuzz::Lookup);
    if (!resolved.ok() ||
        !envelope::CheckSignature(envelope, api::kEventContext, *resolved).ok()) {
      fprintf(stderr, "signed_envelope_fuzzer: Verify and Resolve+CheckSignature disagree\n");
      abort();
    }
  }
  return 0;
}
