#include "services/audit/refusal_recorder.h"

#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "api/wire.h"
#include "chemledger/v1/refusal.pb.h"
#include "services/audit/refusals.h"
#include "services/common/refusal.h"

namespace chemledger::audit {

RefusalRecorder::RefusalRecorder(journal::LedgerClient* ledger,
                                 std::function<absl::Time()> clock)
    : ledger_(ledger),
      clock_(clock ? std::move(clock) : [] { return absl::Now(); }),
      per_key_(kRefusalsPerKeyPerHour / 3600.0, kRefusalBurstPerKey),
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
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= kRefusalQueueLimit) {
    ++counters_.queue_full;
    return;
  }
  queue_.push_back(Pending{request, refusal, now});
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
      if (queue_.empty() || absl::Now() > stop_by) {
        if (stopping_) return;
        continue;
      }
      next = std::move(queue_.front());
      queue_.pop_front();
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
  // Only a request its signer can be shown to have signed is recorded.
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  if (!SignerOfRefused(*snapshot, p.request).ok()) return count(&Counters::unverified);
  if (!per_key_.Take(p.request.signatures(0).key_id(), 1, absl::Now())) {
    return count(&Counters::rate_limited);
  }
  v1::RefusedRequest refused;
  *refused.mutable_request() = p.request;
  refused.set_code(static_cast<int>(p.refusal.code()));
  refused.set_reason(FullReason(p.refusal).value_or(std::string(p.refusal.message())));
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
  count(result[0].ok() ? &Counters::recorded : &Counters::failed);
}

}  // namespace chemledger::audit
