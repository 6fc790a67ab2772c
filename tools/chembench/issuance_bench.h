// chembench's issuance benchmark (see issuance_bench.cc for what it measures).

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_ISSUANCE_BENCH_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_ISSUANCE_BENCH_H_

#include <string>

namespace chemledger::chembench {

struct IssuanceBenchOptions {
  std::string directory = "/var/tmp";  // where the scratch deployment goes
  int rounds = 5;                      // 100,000-label requests to time
};

// Prints a Markdown table to stdout; returns a process exit status.
int RunIssuanceBench(const IssuanceBenchOptions& options);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_ISSUANCE_BENCH_H_
