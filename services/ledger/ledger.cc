#include "services/ledger/ledger.h"

#include <utility>

#include "services/ledger/observation_labels.h"
#include "services/registry/signers.h"

namespace chemledger::ledger {

absl::StatusOr<EventReceipt> Ledger::Append(const v1::SignedEnvelope& event) {
  const v1::SignedEnvelope* one[] = {&event};
  return std::move(AppendBatch(one)[0]);
}

std::vector<absl::StatusOr<EventReceipt>> Ledger::AppendBatch(
    absl::Span<const v1::SignedEnvelope> events) {
  std::vector<const v1::SignedEnvelope*> pointers;
  pointers.reserve(events.size());
  for (const v1::SignedEnvelope& e : events) pointers.push_back(&e);
  return AppendBatch(pointers);
}

std::vector<absl::StatusOr<EventReceipt>> Ledger::AppendBatch(
    absl::Span<const v1::SignedEnvelope* const> events) {
  return AppendVerified(VerifyBatch(ledger_->Latest(), events));
}

registry::VerifiedBatch Ledger::VerifyBatch(std::shared_ptr<const storage::Snapshot> snapshot,
                                            absl::Span<const v1::SignedEnvelope* const> events) {
  registry::SignedBatchOptions options;
  options.verify_threads = verify_threads_;
  options.content_check = EventContentCheck(rules_epoch_);
  return registry::VerifySigned(std::move(snapshot), events, kEventContext, options);
}

std::vector<absl::StatusOr<EventReceipt>> Ledger::AppendVerified(
    const registry::VerifiedBatch& batch) {
  registry::SignedBatchOptions options;
  options.refusals = refusals_;
  std::vector<absl::StatusOr<journal::Receipt>> receipts =
      registry::SubmitVerified(*ledger_, batch, kEventContext, options);
  std::vector<absl::StatusOr<EventReceipt>> results;
  results.reserve(receipts.size());
  for (absl::StatusOr<journal::Receipt>& r : receipts) {
    if (r.ok()) {
      results.push_back(EventReceipt{r->index, r->replayed, r->leaf_hash});
    } else {
      results.push_back(r.status());
    }
  }
  return results;
}

}  // namespace chemledger::ledger
