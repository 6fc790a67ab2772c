// Checking the signatures of many signed envelopes at once, for the batch
// writers (ledger events, waybills): each signer's key is found in the
// registry's copy-on-write snapshot of active actor keys, so no registry
// write (which holds the registry's lock through its fsync) is waited for,
// and the Ed25519 checks, the expensive part, run on several threads outside
// any lock. The caller checks each signer again under the registry's lock
// (Registry::View::ActiveSigner) before it writes, since a key may be
// revoked in between.
//
// Thread-safety: thread-safe; the registry must outlive the call.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_SIGNERS_H_
#define CHEMLEDGER_SERVICES_REGISTRY_SIGNERS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/keys.h"
#include "services/common/envelope.h"
#include "services/registry/registry.h"

namespace chemledger::registry {

// For each of `envelopes`, its signer's key and signature, checked to verify
// over the envelope for `context` by a key of a registered, unrevoked actor;
// or why not, with the errors of Registry::View::VerifySigner (an unknown
// key and a revoked one told apart). Uses up to `threads` threads (small
// batches use one).
std::vector<absl::StatusOr<envelope::ResolvedSignature>> VerifyActorSignatures(
    const Registry& registry, absl::Span<const v1::SignedEnvelope* const> envelopes,
    const crypto::SignatureContext& context, size_t threads);

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_SIGNERS_H_
