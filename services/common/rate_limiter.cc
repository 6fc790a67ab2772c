#include "services/common/rate_limiter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace chemledger {

namespace {

// gRPC writes an IPv6 peer as a URI, its brackets percent-encoded
// ("ipv6:%5B::1%5D:443", gRPC 1.48 and later) or not ("ipv6:[::1]:443",
// earlier): the brackets, either way.
std::string WithBrackets(absl::string_view peer) {
  return absl::StrReplaceAll(peer, {{"%5B", "["}, {"%5b", "["}, {"%5D", "]"}, {"%5d", "]"}});
}

}  // namespace

std::string ClientAddress(absl::string_view given_peer) {
  // "ipv6:[2001:db8:1:2:3:4:5:6]:51234": one client is a /64 (a host may
  // take any address in its network's /64), however the address is written
  // ("::" compressed or not, brackets percent-encoded or not). An
  // IPv4-mapped address counts as IPv4.
  const std::string bracketed = WithBrackets(given_peer);
  const absl::string_view peer = bracketed;
  if (absl::StartsWith(peer, "ipv6:[")) {
    const size_t close = peer.find(']');
    if (close != absl::string_view::npos) {
      const std::string address(peer.substr(6, close - 6));
      unsigned char bytes[16];
      if (inet_pton(AF_INET6, address.c_str(), bytes) == 1) {
        static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::equal(kMapped, kMapped + 12, bytes)) {
          return absl::StrFormat("ipv4:%d.%d.%d.%d", bytes[12], bytes[13], bytes[14], bytes[15]);
        }
        return absl::StrFormat("ipv6:%x:%x:%x:%x::/64", bytes[0] << 8 | bytes[1],
                               bytes[2] << 8 | bytes[3], bytes[4] << 8 | bytes[5],
                               bytes[6] << 8 | bytes[7]);
      }
      return absl::StrCat("ipv6:", address);
    }
  }
  const size_t colon = peer.rfind(':');
  if (colon == absl::string_view::npos || colon <= peer.find(':')) return std::string(peer);
  return std::string(peer.substr(0, colon));
}

std::string ClientNetwork(absl::string_view client_address) {
  if (absl::ConsumePrefix(&client_address, "ipv4:")) {
    std::vector<absl::string_view> octets = absl::StrSplit(client_address, '.');
    int value = 0;
    if (octets.size() != 4) return "";
    for (absl::string_view o : octets) {
      if (o.empty() || o.size() > 3 || !absl::SimpleAtoi(o, &value) || value > 255) return "";
    }
    return absl::StrCat("ipv4:", octets[0], ".", octets[1], ".", octets[2], ".0/24");
  }
  if (absl::ConsumePrefix(&client_address, "ipv6:") &&
      absl::ConsumeSuffix(&client_address, "::/64")) {
    std::vector<absl::string_view> groups = absl::StrSplit(client_address, ':');
    if (groups.size() != 4) return "";
    return absl::StrCat("ipv6:", groups[0], ":", groups[1], ":", groups[2], "::/48");
  }
  return "";
}

void RateLimiter::ForgetIdle(absl::Time now) {
  if (now - last_sweep_ < absl::Seconds(10)) return;
  last_sweep_ = now;
  // Not before its bucket would be full again: forgetting it earlier would
  // hand it tokens it has not waited for.
  const absl::Duration idle =
      std::max(absl::Minutes(1), rate_ > 0 ? absl::Seconds(burst_ / rate_) : absl::Minutes(1));
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (now - it->second.updated > idle) {
      buckets_.erase(it++);
    } else {
      ++it;
    }
  }
  const absl::Duration network_idle =
      std::max(absl::Minutes(1), per_network_.rate > 0
                                     ? absl::Seconds(per_network_.burst / per_network_.rate)
                                     : absl::Minutes(1));
  for (auto it = networks_.begin(); it != networks_.end();) {
    if (now - it->second.updated > network_idle) {
      networks_.erase(it++);
    } else {
      ++it;
    }
  }
}

bool RateLimiter::Bucket::Holds(double cost, double rate, double burst, absl::Time now) {
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - updated));
  tokens = std::min(burst, tokens + elapsed * rate);
  updated = std::max(updated, now);
  return tokens >= cost;
}

RateLimiter::Bucket* RateLimiter::NetworkBucket(absl::string_view client, absl::Time now) {
  if (per_network_.burst <= 0) return nullptr;
  std::string network = ClientNetwork(client);
  if (network.empty()) return nullptr;
  auto it = networks_.find(network);
  if (it == networks_.end()) {
    if (networks_.size() >= max_clients_ / 4) network = kOverflow;
    it = networks_.find(network);
    if (it == networks_.end()) {
      it = networks_.emplace(network, Bucket{per_network_.burst, now}).first;
    }
  }
  return &it->second;
}

bool RateLimiter::Take(absl::string_view client, double cost, absl::Time now) {
  if (cost <= 0) return true;
  absl::MutexLock lock(&mu_);
  ForgetIdle(now);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    // Beyond max_clients, new clients share a bucket per network (an IPv4
    // /24, an IPv6 /48: ClientNetwork), for at most max_clients / 4
    // networks more, and then one bucket: a flood from many addresses (the
    // /64s of one /48 fill the table) slows the new clients of its own
    // networks, not those of others, nor the clients already known.
    std::string key(client);
    if (buckets_.size() >= max_clients_) {
      const std::string network = ClientNetwork(client);
      key = network.empty() || buckets_.size() >= max_clients_ + max_clients_ / 4
                ? std::string(kOverflow)
                : absl::StrCat(kOverflow, " ", network);
    }
    it = buckets_.find(key);
    if (it == buckets_.end()) it = buckets_.emplace(key, Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  if (!b.Holds(cost, rate_, burst_, now)) return false;
  Bucket* network = NetworkBucket(client, now);
  if (network != nullptr && !network->Holds(cost, per_network_.rate, per_network_.burst, now)) {
    return false;
  }
  b.tokens -= cost;
  if (network != nullptr) network->tokens -= cost;
  return true;
}

}  // namespace chemledger
