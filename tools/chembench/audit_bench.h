// chembench audit: the regulators' reads on a big ledger. It fills a
// chemledgerd with `codes` packages of one producer and `events` events in
// all (each code commissioned, then used a little at a time), dated over
// the past year, then measures, over gRPC with read credentials:
//   - AuditService.QueryEvents: latency of first pages (100 events) of
//     queries by enterprise and month, by CAS and month, and by step;
//   - AuditService.Reconcile of the chemical over the year;
//   - AuditService.GetHistoryBundle: events a second exported with their
//     inclusion proofs, cold (right after a restart) and warm.

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_AUDIT_BENCH_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_AUDIT_BENCH_H_

#include <string>

namespace chemledger::chembench {

struct AuditBenchOptions {
  std::string chemledgerd;
  std::string directory = "/var/tmp";
  int codes = 250000;
  int events = 1000000;
  int queries = 200;
  int bundles = 2000;
  int streams = 2;
  int window = 1024;
};

int RunAuditBench(const AuditBenchOptions& options);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_AUDIT_BENCH_H_
