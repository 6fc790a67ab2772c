#include "tools/chembench/machine_probe.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace chemledger::chembench {
namespace {

// A loop the compiler cannot drop; `iterations` of it, timed by the caller.
uint64_t Spin(uint64_t iterations) {
  volatile uint64_t sink = 0;
  for (uint64_t i = 0; i < iterations; ++i) sink = sink + i * i;
  return sink;
}

// How many iterations of Spin take `work` here, run back to back (the
// median of a few tries, so that one stall does not skew it). Run after a
// sleep, as the probe runs it, the same loop can take longer: the figures
// printed are what it took.
uint64_t Calibrate(absl::Duration work) {
  constexpr uint64_t kTrial = 1'000'000;
  std::vector<absl::Duration> tries;
  for (int i = 0; i < 9; ++i) {
    const absl::Time start = absl::Now();
    Spin(kTrial);
    tries.push_back(absl::Now() - start);
  }
  std::sort(tries.begin(), tries.end());
  const absl::Duration median = tries[tries.size() / 2];
  if (median <= absl::ZeroDuration()) return kTrial;
  return static_cast<uint64_t>(kTrial * absl::FDivDuration(work, median));
}

}  // namespace

MachineProbe ProbeMachine(absl::Duration work, int rate, int seconds) {
  MachineProbe probe;
  probe.work = work;
  const uint64_t iterations = Calibrate(work);
  std::vector<double> took;
  const int total = rate * seconds;
  took.reserve(total);
  const absl::Time start = absl::Now();
  for (int i = 0; i < total; ++i) {
    absl::SleepFor(start + absl::Seconds(1) * i / rate - absl::Now());
    const absl::Time began = absl::Now();
    Spin(iterations);
    took.push_back(absl::ToDoubleMilliseconds(absl::Now() - began));
  }
  probe.work_ms = PercentilesOf(std::move(took));

  probe.spun = absl::Seconds(seconds);
  const absl::Time spin_start = absl::Now();
  absl::Time last = spin_start;
  while (last - spin_start < probe.spun) {
    const absl::Time now = absl::Now();
    if (now - last > absl::Milliseconds(1)) {
      ++probe.stalls_over_1ms;
      probe.lost_in_stalls += now - last;
    }
    last = now;
  }
  return probe;
}

std::string MachineProbeLine(const MachineProbe& probe) {
  const double seconds = absl::ToDoubleSeconds(probe.spun);
  return absl::StrFormat(
      "this machine, same run, nothing else running: %.2f ms of CPU work due %d times took "
      "p50 %.2f / p99 %.2f / max %.2f ms; a spinning thread lost the CPU for over 1 ms %.1f "
      "times a second (%.1f ms a second in all)",
      absl::ToDoubleMilliseconds(probe.work), static_cast<int>(probe.work_ms.count),
      probe.work_ms.p50, probe.work_ms.p99, probe.work_ms.max,
      seconds > 0 ? probe.stalls_over_1ms / seconds : 0,
      seconds > 0 ? absl::ToDoubleMilliseconds(probe.lost_in_stalls) / seconds : 0);
}

}  // namespace chemledger::chembench
