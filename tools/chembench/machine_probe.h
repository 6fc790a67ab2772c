// What this machine itself does to a latency figure, measured in the same run
// as the figure: how long a fixed stretch of CPU work takes when it is due
// at a fixed rate on an otherwise idle machine (no server, no locks, no I/O),
// and how often a thread that never sleeps finds it was not running.
//
// On a virtual machine whose vCPUs the host deschedules, a thread loses the
// CPU for a millisecond or more a few times a second without the guest
// seeing it (no steal time is reported). No program on that machine answers
// faster than this at the 99th percentile; chembench reads and chembench
// pages print it beside their figures so that the two can be told apart.
//
// Thread-safety: the functions start and join their own threads; call them
// while nothing else runs.

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_MACHINE_PROBE_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_MACHINE_PROBE_H_

#include <string>

#include "absl/time/time.h"
#include "tools/chembench/fixed_rate.h"

namespace chemledger::chembench {

struct MachineProbe {
  absl::Duration work;  // the stretch of CPU work timed (run back to back)
  Percentiles work_ms;  // how long it took, ms, each due at a fixed rate
  // A spinning thread's view of `spun`: how many times it found the clock
  // had jumped by more than 1 ms between two reads, and the time lost so.
  absl::Duration spun;
  int stalls_over_1ms = 0;
  absl::Duration lost_in_stalls;
};

// Times `work` of CPU (a calibrated loop) `rate` times a second for
// `seconds` on one thread, then spins one thread for `seconds`.
MachineProbe ProbeMachine(absl::Duration work, int rate, int seconds);

// One line for a benchmark's output.
std::string MachineProbeLine(const MachineProbe& probe);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_MACHINE_PROBE_H_
