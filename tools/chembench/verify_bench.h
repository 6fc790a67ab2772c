// chembench verify: VerifyService throughput. Client threads call Verify
// with batches of label URLs (1000 a call) and then with photos holding QR
// codes (16 images a call), signed by registered actors in turn (enough
// that the per-actor limit does not cap the sum), for a fixed time each; codes
// verified per second, next to the bare Ed25519 verify rate of all the
// machine's cores measured in the same run (each code costs at least one
// verification).

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_VERIFY_BENCH_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_VERIFY_BENCH_H_

#include <string>

namespace chemledger::chembench {

struct VerifyBenchOptions {
  std::string chemledgerd;
  std::string directory = "/var/tmp";
  int clients = 4;    // client threads
  int seconds = 10;   // per phase
  int codes = 5000;   // labels issued and commissioned
};

int RunVerifyBench(const VerifyBenchOptions& options);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_VERIFY_BENCH_H_
