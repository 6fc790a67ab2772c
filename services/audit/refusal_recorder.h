// The refusal recorder: writes each request the ledger refused for breaking
// a rule into the log as a refusal entry of its own (refusals.h), so that
// the regulators' anomaly list is complete and provable. It sits behind
// registry::RefusalSink, which the personalities' write path tells of each
// refusal (registry/signers.h).
//
// It never delays or changes an answer: Refused only queues (a bounded
// queue; when full, the refusal is dropped and counted), and one thread of
// its own verifies the request's signature (a request nobody can be shown
// to have signed is not recorded), takes a token from the signer's key's
// bucket (kRefusalsPerKeyPerHour, bursts of kRefusalBurstPerKey: a key
// holder cannot flood the log; beyond it, refusals are counted, not
// recorded) and submits the entry. The limits are per server process.
//
// Thread-safety: thread-safe. The ledger client must outlive the recorder;
// the destructor records what is queued (for at most a second) and stops.

#ifndef CHEMLEDGER_SERVICES_AUDIT_REFUSAL_RECORDER_H_
#define CHEMLEDGER_SERVICES_AUDIT_REFUSAL_RECORDER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chemledger/v1/log.pb.h"
#include "journal/ledger_client.h"
#include "services/common/rate_limiter.h"
#include "services/registry/signers.h"

namespace chemledger::audit {

inline constexpr double kRefusalsPerKeyPerHour = 60;
inline constexpr double kRefusalBurstPerKey = 20;
inline constexpr size_t kRefusalQueueLimit = 4096;

class RefusalRecorder final : public registry::RefusalSink {
 public:
  // `clock` stamps refused_at (empty: the real clock).
  explicit RefusalRecorder(journal::LedgerClient* ledger,
                           std::function<absl::Time()> clock = nullptr);
  ~RefusalRecorder() override;

  void Refused(const v1::SignedEnvelope& request, const absl::Status& refusal) override;

  struct Counters {
    uint64_t recorded = 0;        // written to the log (or already there)
    uint64_t rate_limited = 0;    // over the signer's key's budget
    uint64_t queue_full = 0;      // the queue was full
    uint64_t unverified = 0;      // no registered key's signature verifies
    uint64_t failed = 0;          // the ledger refused the entry or could not write
  };
  Counters counters() const;
  // Waits until everything queued so far has been handled (for tests).
  void Flush();

 private:
  struct Pending {
    v1::SignedEnvelope request;
    absl::Status refusal;
    absl::Time refused_at;
  };
  void Run();
  void Record(const Pending& p);

  journal::LedgerClient* const ledger_;
  const std::function<absl::Time()> clock_;
  RateLimiter per_key_;
  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t queued_ ABSL_GUARDED_BY(mu_) = 0;    // ever queued
  uint64_t handled_ ABSL_GUARDED_BY(mu_) = 0;   // ever handled
  Counters counters_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_REFUSAL_RECORDER_H_
