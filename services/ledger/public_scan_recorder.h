// The public scan recorder: told of every anonymous scan (label::
// PublicScanSink), it records those whose answer calls for it as public
// scan entries (public_scans.h): a package reported lost or stolen, or one
// consumed, disposed of or voided. The scan's answer never waits for it.
//
// Scanned() only decides and queues (bounded: beyond kMaxQueued, a scan is
// counted and dropped); one thread of its own submits, for each:
//   - skips a scan of the same code from the same client network in the
//     same hour as one already recorded (the entry's request key is the
//     same; the log would take it once anyway), and one of a code already
//     recorded this hour from kMaxNetworksPerCode networks (a label copied
//     and passed around is signalled, not written a thousand times);
//   - takes a token from the client network's bucket and one from the
//     process's (PublicScanLimits: a network 30 at once then 10 a minute,
//     all networks 600 at once then 120 a minute; beyond, counted, not
//     recorded), so that no one, however many networks it has, floods the
//     log;
//   - submits the entry; a refusal (the package found meanwhile) is
//     counted, and so is a failure to write (a later scan tries again).
// The limits and counters are per server process.
//
// Thread-safety: thread-safe. The ledger client must outlive the recorder;
// the destructor records what is queued (for at most a second), counts the
// rest as dropped, and stops.

#ifndef CHEMLEDGER_SERVICES_LEDGER_PUBLIC_SCAN_RECORDER_H_
#define CHEMLEDGER_SERVICES_LEDGER_PUBLIC_SCAN_RECORDER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "journal/ledger_client.h"
#include "services/common/background_queue.h"
#include "services/common/rate_limiter.h"
#include "services/label/public_scan_sink.h"

namespace chemledger::ledger {

// Whether an anonymous scan answered with `answer` is one to record: a
// label the log accounts for whose package is reported lost, has ended or
// whose code was voided.
bool CallsForPublicRecord(const v1::ResolveLabelResponse& answer);

// What one client network, and all of them together, may have recorded: a
// burst, then so many a minute.
struct PublicScanLimits {
  double per_network_per_minute = 10;
  double burst_per_network = 30;
  double all_per_minute = 120;
  double burst_all = 600;
};

class PublicScanRecorder final : public label::PublicScanSink {
 public:
  static constexpr size_t kMaxQueued = 4096;
  // Networks whose scans of one code are recorded in one hour.
  static constexpr size_t kMaxNetworksPerCode = 5;
  // Codes remembered in one hour (beyond, scans are counted, not recorded).
  static constexpr size_t kMaxCodesPerHour = 100000;

  // `clock` gives the scans' hours (empty: the real clock).
  explicit PublicScanRecorder(journal::LedgerClient* ledger,
                              std::function<absl::Time()> clock = {},
                              PublicScanLimits limits = PublicScanLimits());
  ~PublicScanRecorder() override;
  PublicScanRecorder(const PublicScanRecorder&) = delete;
  PublicScanRecorder& operator=(const PublicScanRecorder&) = delete;

  void Scanned(absl::string_view label_url, const v1::ResolveLabelResponse& answer,
               absl::string_view client_address, absl::string_view channel) override;

  // Waits until every scan queued so far is handled (for tests and an
  // orderly stop), at most `timeout`; whether it was.
  bool Flush(absl::Duration timeout);

  struct Counters {
    uint64_t recorded = 0;      // entries written
    uint64_t repeated = 0;      // the same code, network and hour as one before
    uint64_t capped = 0;        // a code already recorded from kMaxNetworksPerCode networks
    uint64_t rate_limited = 0;  // over the client network's or the process's budget
    uint64_t dropped = 0;       // the queue was full, or the recorder stopped first
    uint64_t refused = 0;       // the ledger refused the entry (the package found since)
    uint64_t failed = 0;        // the ledger could not write it
    std::vector<std::pair<std::string, uint64_t>> ByOutcome() const {
      return {{"recorded", recorded}, {"repeated", repeated},
              {"capped", capped},     {"rate_limited", rate_limited},
              {"dropped", dropped},   {"refused", refused},
              {"failed", failed}};
    }
  };
  Counters counters() const;

 private:
  struct Pending {
    std::string label_url;
    std::string code;
    std::string client_network;
    std::string channel;
    absl::Time scanned_at;
  };
  void Record(const Pending& p);

  journal::LedgerClient* const ledger_;
  const std::function<absl::Time()> clock_;
  RateLimiter per_network_;
  RateLimiter all_;
  mutable absl::Mutex mu_;
  Counters counters_ ABSL_GUARDED_BY(mu_);
  // Touched by the queue's thread only: this hour's recorded scans, by
  // code: the networks they came from.
  std::string hour_;
  absl::flat_hash_map<std::string, std::vector<std::string>> recorded_this_hour_;
  // The scans waiting to be recorded, and the thread recording them (last:
  // it stops before the members its tasks use are gone).
  BackgroundQueue queue_;
};

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_PUBLIC_SCAN_RECORDER_H_
