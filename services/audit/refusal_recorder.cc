#include "services/audit/refusal_recorder.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "api/wire.h"
#include "chemledger/v1/refusal.pb.h"
#include "services/audit/refusals.h"
#include "services/common/refusal.h"

namespace chemledger::audit {
namespace {

constexpr double kTokensPerSecond = kRefusalsPerKeyPerHour / 3600.0;

}  // namespace

RefusalRecorder::RefusalRecorder(journal::LedgerClient* ledger, std::function<absl::Time()> clock,
                                 AcceptedCheck accepted)
    : ledger_(ledger),
      clock_(clock ? std::move(clock) : [] { return absl::Now(); }),
      accepted_(std::move(accepted)),
      budget_(kTokensPerSecond, kRefusalBurstPerKey, /*max_clients=*/100000),
      queue_("refusals", {kRefusalQueueLimit, kRefusalQueueBytes, /*drain=*/absl::Seconds(1)},
             [this](uint64_t dropped) {
               absl::MutexLock lock(&mu_);
               counters_.dropped += dropped;
             }) {}

RefusalRecorder::~RefusalRecorder() = default;

void RefusalRecorder::Refused(const v1::SignedEnvelope& request, const absl::Status& refusal) {
  const size_t bytes = request.ByteSizeLong();
  if (!queue_.Push([this, p = Pending{request, refusal, clock_(), bytes}] { Record(p); }, bytes)) {
    absl::MutexLock lock(&mu_);
    ++counters_.dropped;
  }
}

RefusalRecorder::Counters RefusalRecorder::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

void RefusalRecorder::Flush() { queue_.Flush(absl::InfiniteDuration()); }

void RefusalRecorder::Record(const Pending& p) {
  auto count = [this](uint64_t Counters::*field) {
    absl::MutexLock lock(&mu_);
    ++(counters_.*field);
  };
  if (p.bytes > kMaxRecordedRequestBytes) return count(&Counters::too_large);
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  // A request the log accepted, sent again, is not a new attempt.
  if (accepted_) {
    absl::StatusOr<bool> accepted = accepted_(*snapshot, p.request);
    if (accepted.ok() && *accepted) return count(&Counters::replays);
  }
  // Only a request its signer can be shown to have signed is recorded.
  if (!SignerOfRefused(*snapshot, p.request).ok()) return count(&Counters::unverified);
  if (!budget_.Take(p.request.signatures(0).key_id(), 1, absl::Now())) {
    absl::MutexLock lock(&mu_);
    ++counters_.rate_limited;
    return;
  }
  v1::RefusedRequest refused;
  *refused.mutable_request() = p.request;
  refused.set_code(static_cast<int>(p.refusal.code()));
  const std::optional<std::string> full = FullReason(p.refusal);
  refused.set_reason(full.value_or(std::string(p.refusal.message())));
  refused.set_redacted(full.has_value());
  v1::RefusalKind kind = v1::REFUSAL_KIND_UNSPECIFIED;
  if (std::optional<std::string> named = RefusalKindOf(p.refusal)) {
    if (!v1::RefusalKind_Parse(*named, &kind)) kind = v1::REFUSAL_KIND_UNSPECIFIED;
  }
  refused.set_kind(kind);
  refused.mutable_refused_at()->set_seconds(absl::ToUnixSeconds(p.refused_at));
  journal::Request entry;
  entry.envelope.set_payload_type(api::kRefusalPayloadType);
  entry.envelope.set_payload(refused.SerializeAsString());
  std::vector<journal::Request> one;
  one.push_back(std::move(entry));
  std::vector<absl::StatusOr<journal::Receipt>> result = ledger_->Submit(std::move(one));
  if (result[0].ok()) {
    count(result[0]->replayed ? &Counters::repeated : &Counters::recorded);
  } else if (absl::IsAlreadyExists(result[0].status())) {
    count(&Counters::repeated);  // the same request, refused again later
  } else {
    count(&Counters::failed);
  }
}

}  // namespace chemledger::audit
