// What the latency benchmarks share (chembench reads, chembench pages):
// calls made at a fixed rate, each on its own schedule, while signed events
// stream into the server at a fixed rate of their own; and the percentiles
// of the latencies.

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_FIXED_RATE_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_FIXED_RATE_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/keys.h"
#include "grpcpp/channel.h"
#include "tools/chembench/bench_server.h"

namespace chemledger::chembench {

// CPU time (user and system) process `pid` has used so far, in seconds;
// 0 if /proc does not say.
double ProcessCpuSeconds(int pid);

struct Percentiles {
  size_t count = 0;
  double p50 = 0, p99 = 0, max = 0;
};
Percentiles PercentilesOf(std::vector<double> latencies_ms);

// Makes `rate` calls a second for `seconds`: call number i (from 0) is due
// at start + i / rate, made by one of `threads` threads that share the
// schedule (so one slow call does not hold up the calls due after it).
// `call(thread, i)` returns whether it succeeded; failures are counted in
// *errors. Returns every call's latency in milliseconds.
std::vector<double> CallAtRate(int rate, int seconds, int threads,
                               const std::function<bool(int thread, int i)>& call,
                               std::atomic<int>* errors);

// Streams `events` (signed, in order) on one LedgerService.AppendStream
// opened as `opener`, one every 1/`rate` s, from a thread of its own, and
// reads their answers.
class EventStreamAtRate {
 public:
  EventStreamAtRate(std::shared_ptr<grpc::Channel> channel, const crypto::SigningKey& opener,
                    std::vector<v1::SignedEnvelope> events, int rate);
  // Waits for every answer.
  ~EventStreamAtRate();

  // Waits for every answer; then: events written per second, their
  // latencies from send to durable answer, and how many failed.
  struct Result {
    double per_second = 0;
    Percentiles latency;
    int errors = 0;
  };
  Result Finish();

 private:
  std::vector<v1::SignedEnvelope> events_;
  std::vector<double> latencies_;
  std::atomic<int> errors_{0};
  std::atomic<int> written_{0};
  absl::Time start_;
  absl::Time end_;
  std::thread thread_;
};

// Rounds of an idle phase (calls only) and a loaded one (the same calls
// while signed events stream in at a fixed rate), alternated so that what
// else the machine does falls on both alike.
struct IdleAndLoadedRound {
  Percentiles idle, loaded;
  double idle_cores = 0, loaded_cores = 0;  // the server's CPU in each phase
  double written_per_second = 0;
  Percentiles write_latency;
};
struct IdleAndLoadedRounds {
  std::vector<IdleAndLoadedRound> rounds;
  std::vector<double> all_idle, all_loaded;  // every call's latency, ms
  int errors = 0;                            // calls and writes that failed

  // A Markdown table, a row per round (`what`: "pages", "reads"), then the
  // medians of the rounds' p99s and the pooled percentiles.
  std::string Report(const std::string& what) const;
};
// The loaded phase's writes: `per_phase` STORING events signed by `signer`
// on packages 1 to `codes` of `batch` in turn, streamed at `rate` a second.
struct LoadedWrites {
  BenchEventSigner* signer;
  std::string batch;
  int codes;
  int per_phase;
  int rate;
};
// Runs `rounds` rounds: `phase()` makes one phase's calls and returns their
// latencies (counting its failures itself, in what `phase_errors` reads);
// the loaded phases stream `writes` on `channel`, opened as `opener`.
// `server_pid` is the process whose CPU is counted.
IdleAndLoadedRounds RunIdleAndLoadedRounds(int rounds, int server_pid,
                                           const std::function<std::vector<double>()>& phase,
                                           const std::function<int()>& phase_errors,
                                           const LoadedWrites& writes,
                                           std::shared_ptr<grpc::Channel> channel,
                                           const crypto::SigningKey& opener);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_FIXED_RATE_H_
