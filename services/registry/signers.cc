#include "services/registry/signers.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <thread>
#include <utility>

#include "api/wire.h"
#include "services/common/refusal.h"
#include "services/common/worker_pool.h"
#include "services/registry/registry_state.h"
#include "services/registry/request_binding.h"

namespace chemledger::registry {
namespace {

// How much less CPU a batch's signature checks get than calls being answered.
constexpr int kBatchWorkerNice = 10;

// The workers that check batches' signatures, one per core, started on first
// use and shared by every batch (services/common/worker_pool.h).
WorkerPool& VerifyPool() {
  static WorkerPool* const pool = new WorkerPool(
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency())), kBatchWorkerNice,
      "verify-batch");
  return *pool;
}

}  // namespace

std::vector<absl::StatusOr<VerifiedSigner>> VerifyActorSignatures(
    const storage::StateReader& state, absl::Span<const v1::SignedEnvelope* const> envelopes,
    const crypto::SignatureContext& context, size_t threads, const ContentCheck& content_check) {
  const size_t n = envelopes.size();
  std::vector<absl::StatusOr<VerifiedSigner>> signers;
  std::vector<std::optional<envelope::ResolvedSignature>> resolved(n);
  // Each signer's standing (revoked, blacklisted), told only once the
  // signature holds (ResolvedSigner::standing).
  std::vector<absl::Status> standing(n);
  signers.reserve(n);
  // A batch usually has few signers: each is looked up (and its key parsed,
  // which checks the point: as costly as a verification) once.
  struct Signer {
    v1::Actor actor;
    crypto::VerifyingKey key;
    absl::Status standing;
  };
  std::map<std::string, Signer> looked_up;
  for (size_t i = 0; i < n; ++i) {
    const v1::SignedEnvelope& e = *envelopes[i];
    const std::string key_id = e.signatures_size() == 1 ? e.signatures(0).key_id() : "";
    auto known = looked_up.find(key_id);
    if (known != looked_up.end()) {
      // The signer is known (its standing comes with it); only the
      // envelope's own form is left to check.
      absl::StatusOr<envelope::ResolvedSignature> r = envelope::Resolve(
          e, context, [&](const crypto::KeyId&) -> absl::StatusOr<crypto::VerifyingKey> {
            return known->second.key;
          });
      if (!r.ok()) {
        signers.push_back(r.status());
        continue;
      }
      resolved[i] = *std::move(r);
      standing[i] = known->second.standing;
      signers.push_back(VerifiedSigner{known->second.actor, resolved[i]->key_id});
      continue;
    }
    absl::StatusOr<ResolvedSigner> r = ResolveSigner(state, e, context);
    if (!r.ok()) {
      signers.push_back(r.status());
      continue;
    }
    looked_up.insert_or_assign(key_id, Signer{r->actor, r->signature.key, r->standing});
    resolved[i] = std::move(r->signature);
    standing[i] = std::move(r->standing);
    signers.push_back(VerifiedSigner{std::move(r->actor), resolved[i]->key_id});
  }
  // Only the write requests carry the fields (a test's context may not).
  const bool bound = IsSignedWriteRequest(context);
  // This deployment's name, for the requests that name theirs
  // (request_binding.h): read once a batch of them.
  absl::StatusOr<std::string> origin = absl::UnknownError("not read");
  if (bound && n > 0) {
    absl::StatusOr<state::DeploymentRecord> deployment = ReadDeployment(state);
    if (deployment.ok()) {
      origin = deployment->deployment();
    } else {
      origin = deployment.status();
    }
  }
  // Another deployment's request is refused here. The rules, after a retry
  // of a recorded request is answered, refuse what else a request's
  // binding or form forbids (one that names no deployment where the policy
  // requires it; a field this server does not know), so that a retry still
  // gets its receipt.
  const auto check_binding = [&origin, bound](const v1::SignedEnvelope& e) -> absl::Status {
    if (!bound) return absl::OkStatus();
    absl::StatusOr<RequestBinding> binding = ReadRequestBinding(e.payload());
    if (!binding.ok()) return binding.status();
    if (binding->deployment.empty()) return absl::OkStatus();
    if (!origin.ok()) return origin.status();
    return CheckNamedDeployment(*binding, ThisDeployment{*origin});
  };
  const auto check_range = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      if (!signers[i].ok()) continue;
      if (absl::Status s = envelope::CheckSignature(*envelopes[i], context, *resolved[i]); !s.ok()) {
        signers[i] = s;
      } else if (absl::Status bound = check_binding(*envelopes[i]); !bound.ok()) {
        // Another deployment's request: not this one's to refuse by its rules.
        signers[i] = bound;
      } else if (!standing[i].ok()) {
        signers[i] = standing[i];
      } else if (content_check) {
        if (absl::Status s = content_check(state, *envelopes[i]); !s.ok()) signers[i] = s;
      }
    }
  };
  // A single write is checked here, at once.
  if (n <= 1) {
    check_range(0, n);
    return signers;
  }
  // A batch's checks (a stream's) run on the pool's workers only, of lower
  // priority than the threads that answer calls: a read or a single write
  // arriving meanwhile is served first, and the batch takes what CPU is
  // left. This thread (a stream's checker, or a handler, at the callers'
  // priority) waits.
  const size_t workers_wanted =
      n < 16 ? 1 : std::min<size_t>(std::max<size_t>(threads, 1), n / 8);
  const size_t per = (n + workers_wanted - 1) / workers_wanted;
  std::vector<std::shared_ptr<WorkerPool::Task>> tasks;
  tasks.reserve(workers_wanted);
  for (size_t t = 0; t < workers_wanted; ++t) {
    tasks.push_back(VerifyPool().Run(
        [&, t] { check_range(std::min(n, t * per), std::min(n, (t + 1) * per)); }));
  }
  for (const std::shared_ptr<WorkerPool::Task>& task : tasks) task->Wait();
  return signers;
}

std::vector<absl::StatusOr<journal::Receipt>> SubmitSigned(
    journal::LedgerClient& ledger, absl::Span<const v1::SignedEnvelope* const> envelopes,
    const crypto::SignatureContext& context, const SignedBatchOptions& options) {
  return SubmitVerified(ledger, VerifySigned(ledger.Latest(), envelopes, context, options), context,
                        options);
}

VerifiedBatch VerifySigned(std::shared_ptr<const storage::Snapshot> snapshot,
                           absl::Span<const v1::SignedEnvelope* const> envelopes,
                           const crypto::SignatureContext& context,
                           const SignedBatchOptions& options) {
  VerifiedBatch batch;
  batch.envelopes.assign(envelopes.begin(), envelopes.end());
  batch.snapshot = std::move(snapshot);
  batch.signers = VerifyActorSignatures(*batch.snapshot, envelopes, context, options.verify_threads,
                                        options.content_check);
  return batch;
}

std::vector<absl::StatusOr<journal::Receipt>> SubmitVerified(
    journal::LedgerClient& ledger, const VerifiedBatch& batch,
    const crypto::SignatureContext& context, const SignedBatchOptions& options) {
  const std::vector<const v1::SignedEnvelope*>& envelopes = batch.envelopes;
  const std::vector<absl::StatusOr<VerifiedSigner>>& signers = batch.signers;
  const storage::Snapshot* snapshot = batch.snapshot.get();
  const size_t n = envelopes.size();
  std::vector<absl::StatusOr<journal::Receipt>> results(n, absl::UnknownError("not processed"));
  std::vector<journal::Request> requests;
  std::vector<size_t> positions;
  requests.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (!signers[i].ok()) {
      results[i] = signers[i].status();
      continue;
    }
    journal::Request r;
    r.envelope = *envelopes[i];
    if (options.proposal) r.proposal = options.proposal(i);
    requests.push_back(std::move(r));
    positions.push_back(i);
  }
  if (!requests.empty()) {
    std::vector<absl::StatusOr<journal::Receipt>> submitted = ledger.Submit(std::move(requests));
    for (size_t j = 0; j < positions.size(); ++j) results[positions[j]] = std::move(submitted[j]);
  }
  // Refusals of known signers go to be recorded; the answers do not wait.
  if (options.refusals != nullptr) {
    for (size_t i = 0; i < n; ++i) {
      if (results[i].ok()) continue;
      const absl::Status& refusal = results[i].status();
      if (!IsRuleRefusal(refusal)) continue;
      // Refused before the journal (a revoked key, a blacklisted
      // enterprise): recorded only if the key's holder is shown to have
      // signed it.
      if (!signers[i].ok() && (!RefusalKindOf(refusal) ||
                               !CheckSignatureOfRegistered(*snapshot, *envelopes[i], context).ok())) {
        continue;
      }
      // A request with a field this server does not know is never
      // recorded, whichever check refused it first (a revoked key's, a
      // forged label's): it may be sound, for a newer server.
      if (!CheckFieldsKnown(context, envelopes[i]->payload()).ok()) continue;
      options.refusals->Refused(*envelopes[i], refusal);
    }
  }
  return results;
}

bool IsRuleRefusal(const absl::Status& refusal) {
  switch (refusal.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

}  // namespace chemledger::registry
