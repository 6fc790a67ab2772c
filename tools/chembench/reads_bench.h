// chembench reads: do reads wait for writes? GetHistory latency at a fixed
// read rate, on an idle chemledgerd and while signed events stream in at a
// fixed write rate, with every fsync of the store slowed by a few
// milliseconds (chemledgerd serve --debug-sync-delay-ms). If reads waited
// for commits, their p99 would follow the slowed fsync.

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_READS_BENCH_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_READS_BENCH_H_

#include <string>

namespace chemledger::chembench {

struct ReadsBenchOptions {
  std::string chemledgerd;
  std::string directory = "/var/tmp";
  int write_rate = 5000;  // events per second
  int read_rate = 500;    // GetHistory calls per second
  int seconds = 10;       // per phase
  int rounds = 3;         // of an idle phase and a loaded one, alternated
  int sync_delay_ms = 5;
  int codes = 20000;
};

int RunReadsBench(const ReadsBenchOptions& options);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_READS_BENCH_H_
