#include "services/common/rate_limiter.h"

#include <algorithm>

namespace chemledger {

std::string ClientAddress(absl::string_view peer) {
  const size_t colon = peer.rfind(':');
  if (colon == absl::string_view::npos || colon <= peer.find(':')) return std::string(peer);
  return std::string(peer.substr(0, colon));
}

void RateLimiter::ForgetIdle(absl::Time now) {
  if (now - last_sweep_ < absl::Seconds(10)) return;
  last_sweep_ = now;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (now - it->second.updated > absl::Minutes(1)) {
      buckets_.erase(it++);
    } else {
      ++it;
    }
  }
}

bool RateLimiter::Take(absl::string_view client, double cost, absl::Time now) {
  if (cost <= 0) return true;
  absl::MutexLock lock(&mu_);
  ForgetIdle(now);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    // Beyond max_clients, new clients share one bucket: a flood from many
    // addresses slows those new clients, not the ones already known.
    const std::string key = buckets_.size() >= max_clients_ ? kOverflow : std::string(client);
    it = buckets_.find(key);
    if (it == buckets_.end()) it = buckets_.emplace(key, Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - b.updated));
  b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
  b.updated = std::max(b.updated, now);
  if (b.tokens < cost) return false;
  b.tokens -= cost;
  return true;
}

}  // namespace chemledger
