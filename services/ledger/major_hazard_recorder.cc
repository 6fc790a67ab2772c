#include "services/ledger/major_hazard_recorder.h"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "chemledger/v1/major_hazard.pb.h"
#include "services/ledger/major_hazard.h"

namespace chemledger::ledger {

MajorHazardAlertRecorder::MajorHazardAlertRecorder(journal::LedgerClient* ledger,
                                                   absl::Duration poll)
    : ledger_(ledger), poll_(poll), thread_([this] { Run(); }) {}

MajorHazardAlertRecorder::~MajorHazardAlertRecorder() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

MajorHazardAlertRecorder::Counters MajorHazardAlertRecorder::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

uint64_t MajorHazardAlertRecorder::scans() const {
  absl::MutexLock lock(&mu_);
  return scans_;
}

size_t MajorHazardAlertRecorder::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiting_;
}

namespace {

std::string AlertName(const v1::MajorHazardAlert& alert) {
  return absl::StrCat("site '", alert.site_id(), "' of ", alert.enterprise_uscc(), " (entry ",
                      alert.event_log_index(), ")");
}

}  // namespace

absl::StatusOr<int> MajorHazardAlertRecorder::RecordWaiting() {
  absl::MutexLock recording(&recording_);
  const absl::Time now = absl::Now();
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  std::vector<journal::Request> requests;
  std::vector<v1::MajorHazardAlert> alerts;
  absl::flat_hash_map<std::string, Retry> still_waiting;
  bool truncated = false;
  {
    absl::MutexLock lock(&mu_);
    ++scans_;
  }
  absl::Status scanned =
      ScanPendingMajorHazardAlerts(*snapshot, [&](const v1::MajorHazardAlert& alert) {
        const std::string name = AlertName(alert);
        if (auto it = retries_.find(name); it != retries_.end()) {
          still_waiting.insert(*it);
          if (it->second.next > now) return true;  // not yet
        }
        journal::Request entry;
        entry.envelope.set_payload_type(api::kMajorHazardAlertPayloadType);
        entry.envelope.set_payload(alert.SerializeAsString());
        requests.push_back(std::move(entry));
        alerts.push_back(alert);
        if (requests.size() < 256) return true;
        truncated = true;  // the rest on the next round
        return false;
      });
  if (!scanned.ok()) return scanned;
  // Alerts no longer waiting (recorded, by this recorder or another) are
  // forgotten; when the scan stopped early, those beyond it are kept.
  if (!truncated) retries_ = std::move(still_waiting);
  if (requests.empty()) {
    absl::MutexLock lock(&mu_);
    waiting_ = retries_.size();
    return 0;
  }
  std::vector<absl::StatusOr<journal::Receipt>> results = ledger_->Submit(std::move(requests));
  int recorded = 0, failed = 0;
  absl::Status first_failure = absl::OkStatus();
  for (size_t i = 0; i < results.size(); ++i) {
    const absl::StatusOr<journal::Receipt>& r = results[i];
    const std::string name = AlertName(alerts[i]);
    if (r.ok() || absl::IsAlreadyExists(r.status())) {
      // AlreadyExists: another recorder wrote it meanwhile.
      if (r.ok() && !r->replayed) ++recorded;
      retries_.erase(name);
      continue;
    }
    ++failed;
    if (first_failure.ok()) first_failure = r.status();
    auto [it, first] = retries_.try_emplace(name, Retry{now, absl::ZeroDuration()});
    if (first) {
      std::fprintf(stderr, "major hazard alert for %s not recorded: %s; trying again\n",
                   name.c_str(), r.status().ToString().c_str());
    }
    it->second.delay = std::min(absl::Minutes(1), std::max(absl::Seconds(1), 2 * it->second.delay));
    it->second.next = now + it->second.delay;
  }
  absl::MutexLock lock(&mu_);
  counters_.recorded += recorded;
  counters_.failed += failed;
  waiting_ = retries_.size();
  if (!first_failure.ok()) return first_failure;
  return recorded;
}

absl::Time MajorHazardAlertRecorder::NextRetry() {
  absl::MutexLock recording(&recording_);
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [name, retry] : retries_) next = std::min(next, retry.next);
  return next;
}

void MajorHazardAlertRecorder::Run() {
  uint64_t looked_at = 0;  // the log size last looked at with nothing left to do
  absl::Time next_retry = absl::InfiniteFuture();  // then: when a failed alert is due
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), poll_);
      if (stopping_) return;
    }
    if (!ledger_->Writable().ok()) continue;  // a read replica, or a store gone read-only
    const uint64_t size = ledger_->Latest()->size();
    if (size == looked_at && absl::Now() < next_retry) continue;
    absl::StatusOr<int> recorded = RecordWaiting();
    // Look again at once when it wrote (its own entries grew the log) or
    // failed; settle when a round found nothing to write now, until the log
    // grows or a failed alert is due (a quiet log may never grow again).
    if (recorded.ok() && *recorded == 0) {
      looked_at = size;
      next_retry = NextRetry();
    } else {
      looked_at = 0;
    }
  }
}

}  // namespace chemledger::ledger
