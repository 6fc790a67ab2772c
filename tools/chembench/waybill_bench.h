// chembench's e-waybill benchmark (see waybill_bench.cc for what it measures).

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_WAYBILL_BENCH_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_WAYBILL_BENCH_H_

#include <string>

namespace chemledger::chembench {

struct WaybillBenchOptions {
  std::string chemledgerd;             // path of the server binary to start
  std::string directory = "/var/tmp";  // where its scratch data directory goes
  int waybills = 20000;                // per round
  int codes_per_waybill = 1;           // each commissioned for this run
  int rounds = 3;
  int streams = 2;
  int window = 256;  // waybills in flight per stream (the server takes up to 256 at once)
};

// Prints a Markdown table to stdout; returns a process exit status.
int RunWaybillBench(const WaybillBenchOptions& options);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_WAYBILL_BENCH_H_
