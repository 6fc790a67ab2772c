#include "tools/chembench/bench_figures.h"

#include <sodium.h>

#include <algorithm>
#include <vector>

#include "absl/time/clock.h"

namespace chemledger::chembench {

double VerifyRate(double seconds, size_t message_bytes) {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  std::vector<unsigned char> message(message_bytes, 1);
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, message.data(), message.size(), sk);
  uint64_t n = 0;
  const absl::Time start = absl::Now(), end = start + absl::Seconds(seconds);
  while (absl::Now() < end) {
    for (int i = 0; i < 100; ++i) {
      n += crypto_sign_verify_detached(sig, message.data(), message.size(), pk) == 0;
    }
  }
  return n / absl::ToDoubleSeconds(absl::Now() - start);
}

RateFigures Summarise(size_t count, absl::Duration elapsed,
                      const std::vector<std::vector<double>>& latencies_ms) {
  std::vector<double> all;
  for (const std::vector<double>& v : latencies_ms) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  RateFigures f;
  f.per_second = count / absl::ToDoubleSeconds(elapsed);
  if (!all.empty()) {
    f.p50_ms = all[all.size() / 2];
    f.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return f;
}

}  // namespace chemledger::chembench
