// What the benchmarks that push signed requests into chemledgerd report: the
// rate, p50/p99 latency, and the limit they are held against, one core's bare
// Ed25519 verify rate measured in the same run.

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_BENCH_FIGURES_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_BENCH_FIGURES_H_

#include <cstddef>
#include <vector>

#include "absl/time/time.h"

namespace chemledger::chembench {

// Bare libsodium crypto_sign_verify_detached of one signed message of
// `message_bytes`, on the calling thread, for `seconds`: verifies per second.
double VerifyRate(double seconds, size_t message_bytes);

struct RateFigures {
  double per_second = 0;
  double p50_ms = 0, p99_ms = 0;
};

// `count` requests answered in `elapsed`; the latencies (ms) of each
// client thread or stream, in any order.
RateFigures Summarise(size_t count, absl::Duration elapsed,
                      const std::vector<std::vector<double>>& latencies_ms);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_BENCH_FIGURES_H_
