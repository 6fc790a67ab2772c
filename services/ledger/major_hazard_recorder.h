// The major hazard alert recorder: writes each alert an event left
// (major_hazard.h, "l/mhpend/") into the log as an alert entry of its own
// (api::kMajorHazardAlertPayloadType), so that every crossing of GB 18218's
// Σ q/Q = 1 and every change of grade is an entry a regulator can prove.
//
// One thread of its own looks at the latest state whenever the log has
// grown (at most every `poll`), and submits an entry for each alert waiting
// there, oldest first, at most 256 at a time. An alert whose entry could
// not be written is reported on stderr once and tried again after 1 s,
// then 2 s, ... up to a minute between tries, whether or not the log grows
// meanwhile; the others go on. While the log stays quiet and an alert waits
// for its next try, the state is not looked at again before that try is
// due. The alert's state machine accepts each alert
// once (the same alert again is "already recorded"), so two recorders, or one
// restarted after a crash between an event and its alert, record it once.
// An alert left by an event is never lost: it waits in the state, in the
// event's own atomic commit, until its entry is written.
//
// Thread-safety: thread-safe. The ledger client must outlive the recorder;
// the destructor stops the thread (alerts still waiting are recorded by the
// next recorder on the same store).

#ifndef CHEMLEDGER_SERVICES_LEDGER_MAJOR_HAZARD_RECORDER_H_
#define CHEMLEDGER_SERVICES_LEDGER_MAJOR_HAZARD_RECORDER_H_

#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "journal/ledger_client.h"

namespace chemledger::ledger {

class MajorHazardAlertRecorder {
 public:
  explicit MajorHazardAlertRecorder(journal::LedgerClient* ledger,
                                    absl::Duration poll = absl::Milliseconds(200));
  ~MajorHazardAlertRecorder();
  MajorHazardAlertRecorder(const MajorHazardAlertRecorder&) = delete;
  MajorHazardAlertRecorder& operator=(const MajorHazardAlertRecorder&) = delete;

  // Records the alerts waiting in the latest state now (those not waiting
  // to be tried again), on the caller's thread; how many entries it wrote
  // (an alert another recorder wrote first is not counted), or the first
  // failure.
  absl::StatusOr<int> RecordWaiting();

  struct Counters {
    uint64_t recorded = 0;  // alert entries written
    uint64_t failed = 0;    // submissions the ledger refused or could not write
    // Each count with its name, for metrics.
    std::vector<std::pair<std::string, uint64_t>> ByOutcome() const {
      return {{"recorded", recorded}, {"failed", failed}};
    }
  };
  Counters counters() const;
  // How many times the waiting alerts were looked for in the state (by the
  // thread or RecordWaiting): for tests and diagnosis.
  uint64_t scans() const;
  // How many alerts whose entry could not be written wait to be tried
  // again (as of the end of the last RecordWaiting).
  size_t waiting() const;

 private:
  void Run();
  // When the first alert that failed is due to be tried again
  // (InfiniteFuture: none waits).
  absl::Time NextRetry();

  journal::LedgerClient* const ledger_;
  const absl::Duration poll_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Counters counters_ ABSL_GUARDED_BY(mu_);
  uint64_t scans_ ABSL_GUARDED_BY(mu_) = 0;
  size_t waiting_ ABSL_GUARDED_BY(mu_) = 0;
  // Serialises RecordWaiting between the thread and callers.
  absl::Mutex recording_;
  // Alerts whose entry failed: when to try again, and the delay after that.
  struct Retry {
    absl::Time next;
    absl::Duration delay;
  };
  absl::flat_hash_map<std::string, Retry> retries_ ABSL_GUARDED_BY(recording_);
  std::thread thread_;
};

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_MAJOR_HAZARD_RECORDER_H_
