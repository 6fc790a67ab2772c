// A short fuzzing run without libFuzzer, for the test suite: every seed of
// the target (FuzzSeeds), then random mutations of them (bit flips, byte
// changes, insertions, deletions, truncations, splices) for --seconds
// (default 2), from a fixed PRNG seed so that a failure repeats. It has no
// coverage feedback: tools/fuzz.sh runs the same targets under libFuzzer
// for that. `--write-seeds DIR` writes the seeds as libFuzzer's starting
// corpus instead. A crash is the test's failure.

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

std::string Mutate(const std::vector<std::string>& seeds, std::mt19937_64& rng) {
  std::string s = seeds[rng() % seeds.size()];
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t at = s.empty() ? 0 : rng() % s.size();
    switch (rng() % 7) {
      case 0:
        if (!s.empty()) s[at] = static_cast<char>(s[at] ^ (1u << (rng() % 8)));
        break;
      case 1:
        if (!s.empty()) s[at] = static_cast<char>(rng());
        break;
      case 2:
        s.insert(at, 1, static_cast<char>(rng()));
        break;
      case 3:
        if (!s.empty()) s.erase(at, 1 + rng() % 8);
        break;
      case 4:
        s.resize(at);
        break;
      case 5: {
        const std::string& other = seeds[rng() % seeds.size()];
        if (!other.empty()) s.insert(at, other.substr(rng() % other.size(), 1 + rng() % 16));
        break;
      }
      default:
        if (!s.empty()) s[at] = "09AZaz/.:+=-_ \n\xff"[rng() % 16];
    }
  }
  return s;
}

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  std::string write_seeds;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--seconds=", 0) == 0 && absl::SimpleAtod(a.substr(10), &seconds)) continue;
    if (a.rfind("--write-seeds=", 0) == 0) {
      write_seeds = a.substr(14);
      continue;
    }
    std::cerr << "usage: " << argv[0] << " [--seconds=N] [--write-seeds=DIR]\n";
    return 2;
  }
  const std::vector<std::string> seeds = chemledger::fuzz::FuzzSeeds();
  if (!write_seeds.empty()) {
    for (size_t i = 0; i < seeds.size(); ++i) {
      std::ofstream(absl::StrCat(write_seeds, "/seed-", i), std::ios::binary) << seeds[i];
    }
    std::cout << seeds.size() << " seeds written to " << write_seeds << "\n";
    return 0;
  }
  if (seeds.empty()) {
    std::cerr << "the target gives no seeds\n";
    return 1;
  }
  for (const std::string& s : seeds) Run(s);
  Run("");
  std::mt19937_64 rng(20261130);
  const absl::Time end = absl::Now() + absl::Seconds(seconds);
  uint64_t runs = seeds.size() + 1;
  while (absl::Now() < end) {
    for (int i = 0; i < 100; ++i, ++runs) Run(Mutate(seeds, rng));
  }
  std::cout << runs << " inputs run (" << seeds.size() << " seeds, then mutations), no crash\n";
  return 0;
}
