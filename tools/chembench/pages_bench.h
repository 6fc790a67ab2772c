// chembench pages: the public scan pages under load. GET of random label
// pages (each a full resolution: signature, issuance, the package's state,
// the product, the page) at a fixed rate, on an idle chemledgerd and while
// signed events stream in at a fixed rate; p50/p99 of each. The requests
// come as from many phones behind a TLS terminator on the same machine
// (X-Forwarded-For), so the per-address limit does not apply to the sum.

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_PAGES_BENCH_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_PAGES_BENCH_H_

#include <string>

namespace chemledger::chembench {

struct PagesBenchOptions {
  std::string chemledgerd;
  std::string directory = "/var/tmp";
  int page_rate = 500;    // page requests per second
  int write_rate = 5000;  // events per second, in the second phase
  int seconds = 10;       // per phase
  int rounds = 3;         // of an idle phase and a loaded one, alternated
  int codes = 2000;       // labels issued, commissioned, and scanned at random
};

int RunPagesBench(const PagesBenchOptions& options);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_PAGES_BENCH_H_
