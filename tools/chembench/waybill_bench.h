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
  int streams = 4;
  // Waybills in flight per stream: four of the server's batches of 256, so
  // that it can check the next batch while one commits.
  int window = 1024;
  // 0: SubmitStream, one request a message; N: SubmitBatches, N requests a
  // message (window ÷ N messages in flight; latency per message).
  int batch = 0;
};

// Prints a Markdown table to stdout; returns a process exit status.
int RunWaybillBench(const WaybillBenchOptions& options);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_WAYBILL_BENCH_H_
