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
      thread_([this] { Run(); }) {}

RefusalRecorder::~RefusalRecorder() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void RefusalRecorder::Refused(const v1::SignedEnvelope& request, const absl::Status& refusal) {
  const absl::Time now = clock_();
  const size_t bytes = request.ByteSizeLong();
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= kRefusalQueueLimit ||
      queued_bytes_ + bytes > kRefusalQueueBytes) {
    ++counters_.dropped;
    return;
  }
  queue_.push_back(Pending{request, refusal, now, bytes});
  queued_bytes_ += bytes;
  ++queued_;
}

RefusalRecorder::Counters RefusalRecorder::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

void RefusalRecorder::Flush() {
  absl::MutexLock lock(&mu_);
  struct Until {
    const uint64_t* handled;
    uint64_t target;
  } until{&handled_, queued_};
  mu_.Await(absl::Condition(+[](Until* u) { return *u->handled >= u->target; }, &until));
}

void RefusalRecorder::Run() {
  absl::Time stop_by = absl::InfiniteFuture();
  for (;;) {
    Pending next;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](RefusalRecorder* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
                                 return !r->queue_.empty() || r->stopping_;
                               },
                               this),
                           absl::Milliseconds(100));
      if (stopping_ && stop_by == absl::InfiniteFuture()) stop_by = absl::Now() + absl::Seconds(1);
      if (stopping_ && (queue_.empty() || absl::Now() > stop_by)) {
        // What is left is dropped, and counted.
        counters_.dropped += queue_.size();
        handled_ += queue_.size();
        queue_.clear();
        queued_bytes_ = 0;
        return;
      }
      if (queue_.empty()) continue;
      next = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= next.bytes;
    }
    Record(next);
    absl::MutexLock lock(&mu_);
    ++handled_;
  }
}

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
