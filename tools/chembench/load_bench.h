// chembench load: a mixed workload against chemledgerd or the cluster
// (docs/cluster.md): label issuances, lifecycle events, waybills, signed
// scans, history reads and audit queries, from several client threads, at a
// set rate or flat out, with progress each second; throughput and
// p50/p99/p999 latency per operation.

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_LOAD_BENCH_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_LOAD_BENCH_H_

#include <string>

namespace chemledger::chembench {

struct LoadBenchOptions {
  std::string chemledgerd;
  std::string directory = "/var/tmp";
  // The cluster: the directory of ledgerd, labeld, waybilld, verifyd and
  // auditd, and tools/cluster/cluster.sh. Empty: chemledgerd.
  std::string cluster_bin;
  std::string cluster_script = "tools/cluster/cluster.sh";
  int clients = 8;    // client threads
  int seconds = 20;
  int rate = 0;       // operations a second in all; 0: flat out
};

int RunLoadBench(const LoadBenchOptions& options);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_LOAD_BENCH_H_
