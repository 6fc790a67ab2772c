#include "services/ledger/major_hazard_recorder.h"

#include <utility>
#include <vector>

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

absl::StatusOr<int> MajorHazardAlertRecorder::RecordWaiting() {
  absl::MutexLock recording(&recording_);
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  std::vector<journal::Request> requests;
  absl::Status scanned =
      ScanPendingMajorHazardAlerts(*snapshot, [&](const v1::MajorHazardAlert& alert) {
        journal::Request entry;
        entry.envelope.set_payload_type(api::kMajorHazardAlertPayloadType);
        entry.envelope.set_payload(alert.SerializeAsString());
        requests.push_back(std::move(entry));
        return requests.size() < 256;  // the rest on the next round
      });
  if (!scanned.ok()) return scanned;
  if (requests.empty()) return 0;
  std::vector<absl::StatusOr<journal::Receipt>> results = ledger_->Submit(std::move(requests));
  int recorded = 0, failed = 0;
  absl::Status first_failure = absl::OkStatus();
  for (const absl::StatusOr<journal::Receipt>& r : results) {
    if (r.ok()) {
      if (!r->replayed) ++recorded;
    } else if (!absl::IsAlreadyExists(r.status()) && !absl::IsFailedPrecondition(r.status())) {
      // AlreadyExists or FailedPrecondition: another recorder wrote it
      // between the snapshot and the submission.
      ++failed;
      if (first_failure.ok()) first_failure = r.status();
    }
  }
  absl::MutexLock lock(&mu_);
  counters_.recorded += recorded;
  counters_.failed += failed;
  if (!first_failure.ok()) return first_failure;
  return recorded;
}

void MajorHazardAlertRecorder::Run() {
  uint64_t looked_at = 0;  // the log size last looked at with nothing left to do
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), poll_);
      if (stopping_) return;
    }
    if (!ledger_->Writable().ok()) continue;  // a read replica, or a store gone read-only
    const uint64_t size = ledger_->Latest()->size();
    if (size == looked_at) continue;
    absl::StatusOr<int> recorded = RecordWaiting();
    // Look again at once when it wrote (its own entries grew the log) or
    // failed; settle when a round found nothing.
    if (recorded.ok() && *recorded == 0) looked_at = size;
  }
}

}  // namespace chemledger::ledger
