// The refusal recorder: writes each request the ledger refused for breaking
// a rule into the log as a refusal entry of its own (refusals.h), so that
// the regulators' anomaly list holds them, provably. Best effort, not
// complete: the queue is in memory (a kill of the process loses what is
// still queued, in chemledgerd, ledgerd, labeld and waybilld alike), and
// the limits below count rather than record. It sits behind
// registry::RefusalSink, which the personalities' write path tells of each
// refusal (registry/signers.h).
//
// Recording never changes an answer and the answer never waits for it:
// Refused only queues (bounded by count and bytes; when full, the refusal
// is counted and dropped), and one thread of its own, for each refusal:
//   - skips a request the log already accepted (a replay of an accepted
//     request, e.g. after its key was revoked, is nobody's new attempt);
//   - skips one nobody can be shown to have signed (the signature must
//     verify with a registered key, revoked or not);
//   - skips one whose request is over kMaxRecordedRequestBytes (counted);
//   - takes a token from the signer's key's bucket: kRefusalBurstPerKey at
//     once, then kRefusalsPerKeyPerHour (a key holder cannot flood the log;
//     beyond it, refusals are counted, not recorded);
//   - submits the entry (the same refused request again is the same entry).
// The limits and counters are per server process.
//
// Thread-safety: thread-safe. The ledger client must outlive the recorder;
// the destructor records what is queued (for at most a second), counts the
// rest as dropped, and stops.

#ifndef CHEMLEDGER_SERVICES_AUDIT_REFUSAL_RECORDER_H_
#define CHEMLEDGER_SERVICES_AUDIT_REFUSAL_RECORDER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chemledger/v1/log.pb.h"
#include "journal/ledger_client.h"
#include "services/common/background_queue.h"
#include "services/common/rate_limiter.h"
#include "services/registry/signers.h"
#include "storage/store.h"

namespace chemledger::audit {

inline constexpr double kRefusalsPerKeyPerHour = 60;
inline constexpr double kRefusalBurstPerKey = 20;
inline constexpr size_t kRefusalQueueLimit = 4096;
inline constexpr size_t kRefusalQueueBytes = 64 << 20;
inline constexpr size_t kMaxRecordedRequestBytes = 256 << 10;

class RefusalRecorder final : public registry::RefusalSink {
 public:
  // Whether a request is one the log already accepted
  // (journal::AlreadyAccepted with its owner).
  using AcceptedCheck = std::function<absl::StatusOr<bool>(const storage::StateReader& state,
                                                           const v1::SignedEnvelope& request)>;

  // `clock` stamps refused_at (empty: the real clock); `accepted` (may be
  // empty: none is skipped as a replay).
  RefusalRecorder(journal::LedgerClient* ledger, std::function<absl::Time()> clock = nullptr,
                  AcceptedCheck accepted = nullptr);
  ~RefusalRecorder() override;

  void Refused(const v1::SignedEnvelope& request, const absl::Status& refusal) override;

  struct Counters {
    uint64_t recorded = 0;      // written to the log
    uint64_t repeated = 0;      // the same request's refusal was already recorded
    uint64_t replays = 0;       // the log had accepted the request itself
    uint64_t rate_limited = 0;  // over the signer's key's budget
    uint64_t too_large = 0;     // over kMaxRecordedRequestBytes
    uint64_t dropped = 0;       // the queue was full, or the recorder stopped first
    uint64_t unverified = 0;    // no registered key's signature verifies
    uint64_t failed = 0;        // the ledger could not write the entry
    // Each count with its name ("recorded", "dropped", ...), for metrics.
    std::vector<std::pair<std::string, uint64_t>> ByOutcome() const {
      return {{"recorded", recorded},         {"repeated", repeated},   {"replays", replays},
              {"rate_limited", rate_limited}, {"too_large", too_large}, {"dropped", dropped},
              {"unverified", unverified},     {"failed", failed}};
    }
  };
  Counters counters() const;
  // Waits until everything queued so far has been handled (for tests).
  void Flush();

 private:
  struct Pending {
    v1::SignedEnvelope request;
    absl::Status refusal;
    absl::Time refused_at;
    size_t bytes = 0;
  };
  void Record(const Pending& p);

  journal::LedgerClient* const ledger_;
  const std::function<absl::Time()> clock_;
  const AcceptedCheck accepted_;
  mutable absl::Mutex mu_;
  Counters counters_ ABSL_GUARDED_BY(mu_);
  // A bucket per signer's key id (a key forgotten only once its bucket
  // would be full again, so waiting never buys a fresh burst).
  RateLimiter budget_;
  // The refusals waiting to be recorded, and the thread recording them
  // (last: it stops before the members its tasks use are gone).
  BackgroundQueue queue_;
};

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_REFUSAL_RECORDER_H_
