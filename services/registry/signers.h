// The one path of a batch of signed writes (events, waybills, label
// issuances, registry changes) from a personality to the journal:
//   1. each signer is found in the registry at a snapshot (registered,
//      unrevoked, enterprise not blacklisted), and the Ed25519 signatures,
//      the expensive part, are checked on several threads, outside any lock,
//      each with the deployment its request names (request_binding.h);
//   2. the verified requests go to the journal in one submission, where
//      each owner's rules check them in order (its signer again, as of that
//      entry: a key may have been revoked in between), idempotent request ids
//      are answered by their first receipt, and the batch is committed;
//   3. one result per request, in order.
// SubmitSigned does both steps; a stream does step 1 of its next batch
// (VerifySigned) while step 2 of the one before it (SubmitVerified) waits
// for its commit.
//
// Thread-safety: thread-safe; the ledger client must outlive the call.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_SIGNERS_H_
#define CHEMLEDGER_SERVICES_REGISTRY_SIGNERS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/keys.h"
#include "journal/ledger_client.h"
#include "services/common/envelope.h"
#include "storage/store.h"

namespace chemledger::registry {

struct VerifiedSigner {
  v1::Actor actor;
  crypto::KeyId key_id;
};

// A check of a request's content that needs no order, only a snapshot (the
// signatures a request carries inside it, e.g. an observation's labels):
// run beside the request's own signature check, on the same threads, for
// requests whose signer holds. Its refusal answers the request; one marked
// with a refusal kind (services/common/refusal.h) is recorded as a rule's.
using ContentCheck = std::function<absl::Status(const storage::StateReader& state,
                                                const v1::SignedEnvelope& request)>;

// For each of `envelopes`, its signer, checked to be a registered, unrevoked
// actor whose enterprise is not blacklisted (in `state`) and whose signature
// verifies over the envelope for `context`; or why not, with the errors of
// VerifySigner (an unknown key and a revoked one told apart), a write
// request's binding (request_binding.h: Unauthenticated for another
// deployment's, InvalidArgument for a payload that is not a message), before
// the signer's standing, or `content_check`'s refusal (if
// given). Uses up to `threads` threads (small batches use one).
std::vector<absl::StatusOr<VerifiedSigner>> VerifyActorSignatures(
    const storage::StateReader& state, absl::Span<const v1::SignedEnvelope* const> envelopes,
    const crypto::SignatureContext& context, size_t threads,
    const ContentCheck& content_check = nullptr);

// Where refused requests go to be recorded (services/audit/refusal_recorder.h):
// told of each request refused for breaking a rule, after the refusal is
// decided and before it is answered. Must return at once (it may only
// queue) and be thread-safe.
class RefusalSink {
 public:
  virtual ~RefusalSink() = default;
  virtual void Refused(const v1::SignedEnvelope& request, const absl::Status& refusal) = 0;
};

// Whether `refusal` (of a request whose signer SubmitSigned identified, or
// one marked with a refusal kind, services/common/refusal.h) is one a rule
// made: InvalidArgument, FailedPrecondition, PermissionDenied, NotFound or
// OutOfRange. Not: a reused request id, an unknown signer or bad signature,
// a server or store fault, an overload.
bool IsRuleRefusal(const absl::Status& refusal);

struct SignedBatchOptions {
  size_t verify_threads = 2;
  // Told of each request refused for breaking a rule (null: nobody): those
  // the rules refused, and those whose signer's key is revoked or whose
  // enterprise is blacklisted; never one carrying a field this server does
  // not know, or one that holds one value sent twice (request_binding.h,
  // CheckFieldsKnown, as this build reads requests, whatever rules epoch
  // the deployment runs), whatever refused it.
  RefusalSink* refusals = nullptr;
  // What to propose for request i (journal::Request::proposal), if anything.
  std::function<std::string(size_t i)> proposal;
  // What else step 1 checks of each request (null: nothing).
  ContentCheck content_check;
};

// Verifies `envelopes` (VerifyActorSignatures at the ledger's latest
// snapshot) and submits the verified ones as one journal submission. One
// result per envelope, in order.
std::vector<absl::StatusOr<journal::Receipt>> SubmitSigned(
    journal::LedgerClient& ledger, absl::Span<const v1::SignedEnvelope* const> envelopes,
    const crypto::SignatureContext& context, const SignedBatchOptions& options = {});

// A batch whose signers are checked (step 1), ready to submit. It points at
// the envelopes, which must outlive it.
struct VerifiedBatch {
  std::vector<const v1::SignedEnvelope*> envelopes;
  std::vector<absl::StatusOr<VerifiedSigner>> signers;  // one per envelope
  std::shared_ptr<const storage::Snapshot> snapshot;    // the state they were checked in
};

// Step 1: `envelopes`' signers checked at `snapshot` (VerifyActorSignatures
// with options.verify_threads and options.content_check).
VerifiedBatch VerifySigned(std::shared_ptr<const storage::Snapshot> snapshot,
                           absl::Span<const v1::SignedEnvelope* const> envelopes,
                           const crypto::SignatureContext& context,
                           const SignedBatchOptions& options = {});

// Step 2: `batch`'s verified requests as one journal submission, the others
// answered with why their signer was refused; refusals told to
// options.refusals. One result per envelope, in order.
std::vector<absl::StatusOr<journal::Receipt>> SubmitVerified(
    journal::LedgerClient& ledger, const VerifiedBatch& batch,
    const crypto::SignatureContext& context, const SignedBatchOptions& options = {});

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_SIGNERS_H_
