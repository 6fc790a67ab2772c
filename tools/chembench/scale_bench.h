// chembench scale: a chemledgerd with many packages and events. It measures
// the time from starting `chemledgerd serve` until it accepts calls on a
// fresh deployment and again after 1,000,000 commissioned codes and
// 2,000,000 events, and the server's resident memory at that size (before
// and after the restart).

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_SCALE_BENCH_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_SCALE_BENCH_H_

#include <string>

namespace chemledger::chembench {

struct ScaleBenchOptions {
  std::string chemledgerd;
  std::string directory = "/var/tmp";
  int codes = 1000000;   // packages issued and commissioned, one event each
  int events = 2000000;  // events in all (the rest store the codes again)
  int streams = 2;
  int window = 1024;
  int restarts = 3;
};

int RunScaleBench(const ScaleBenchOptions& options);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_SCALE_BENCH_H_
