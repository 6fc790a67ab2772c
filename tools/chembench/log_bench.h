// chembench's log benchmark (see log_bench.cc for what it measures).

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_LOG_BENCH_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_LOG_BENCH_H_

#include <cstdint>
#include <string>

namespace chemledger::chembench {

struct LogBenchOptions {
  std::string directory;            // a scratch directory is made (and removed) in it
  double seconds = 3;               // per throughput figure
  uint64_t proof_entries = 1000000; // log size for the proof latencies
  bool keep = false;                // keep the scratch directory
};

// Prints Markdown tables to stdout; returns a process exit status.
int RunLogBench(const LogBenchOptions& options);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_LOG_BENCH_H_
