// A token bucket per client (its address, as gRPC names the peer: see
// ClientAddress): how much an anonymous caller may ask for (scans verified),
// `rate` a second with bursts of `burst`. Per server process: several processes behind one address
// each keep their own. Clients unseen for a minute, or for as long as their bucket takes to fill
// again if that is longer, are forgotten (a forgotten client comes back with a full bucket, no more
// than it would have had), and at most `max_clients` are remembered: beyond that, new clients share
// a bucket per network (ClientNetwork: an IPv4 /24, an IPv6 /48), for at most max_clients / 4
// networks, and then one bucket, until some are forgotten (memory stays bounded, the clients
// already known keep theirs, and one network's flood does not spend the allowance of new clients
// elsewhere). With a NetworkAllowance, each network (ClientNetwork) has a bucket of its own as
// well, which every call from its addresses also takes from: the addresses of one IPv6 /48
// (65,536 /64s, each a client) or IPv4 /24 share that much; at most max_clients / 4 networks
// are remembered, and beyond them new networks share one such bucket until some are forgotten.
// A call that costs nothing takes nothing.
//
// Thread-safety: thread-safe.

#ifndef CHEMLEDGER_SERVICES_COMMON_RATE_LIMITER_H_
#define CHEMLEDGER_SERVICES_COMMON_RATE_LIMITER_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chemledger {

// The client's address without its port ("ipv4:10.0.0.7:51234" ->
// "ipv4:10.0.0.7"), from a gRPC peer string: what rate limits are per. An
// IPv6 address counts by its /64 (a host may take any address of its
// network's /64), however it is written; an IPv4-mapped one as IPv4.
std::string ClientAddress(absl::string_view peer);

// The network of a client address as ClientAddress gives it, coarse enough
// to say where a scan came from without naming its device: an IPv4 /24
// ("ipv4:203.0.113.0/24"), an IPv6 /48 ("ipv6:2001:db8:1::/48"); "" for
// anything else.
std::string ClientNetwork(absl::string_view client_address);

// What one client address may ask of the public scan without credentials
// (LabelService.ResolveLabel, VerifyService.Verify,
// WaybillService.ResolveWaybillCode, the scan pages), per server process: a
// second, and in a burst. A process serving several of them gives them one
// RateLimiter, so that an address has one allowance there, not one per
// entry point.
inline constexpr double kAnonymousScansPerSecond = 60;
inline constexpr double kAnonymousScanBurst = 600;
// A registered actor's signed scans, per actor: far more, but bounded, so
// that one actor cannot take a service's threads from everyone.
inline constexpr double kSignedScansPerSecond = 2000;
inline constexpr double kSignedScanBurst = 20000;

class RateLimiter {
 public:
  // What all the addresses of one network may take together; {} (zeros):
  // no bound.
  struct NetworkAllowance {
    double rate;
    double burst;
  };

  static constexpr size_t kDefaultMaxClients = 100000;

  RateLimiter(double rate, double burst, size_t max_clients = kDefaultMaxClients,
              NetworkAllowance per_network = {})
      : rate_(rate), burst_(burst), max_clients_(max_clients), per_network_(per_network) {}

  // Takes `cost` tokens from `client`'s bucket at `now`; false (and takes
  // nothing) when it holds fewer.
  bool Take(absl::string_view client, double cost, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  // The most one call may ever take (a cost above it never passes).
  double burst() const { return burst_; }
  // Tokens a second each bucket gains.
  double rate() const { return rate_; }

 private:
  struct Bucket {
    double tokens;
    absl::Time updated;
    // Refills at `rate` up to `burst` by `now`; whether it holds `cost`.
    bool Holds(double cost, double rate, double burst, absl::Time now);
  };
  void ForgetIdle(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The bucket of `client`'s network (ClientNetwork), or null without a
  // network allowance or a network.
  Bucket* NetworkBucket(absl::string_view client, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static constexpr char kOverflow[] = "(new clients beyond the table)";

  const double rate_;
  const double burst_;
  const size_t max_clients_;
  const NetworkAllowance per_network_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  // Per network, with a NetworkAllowance (at most max_clients_ / 4, then
  // one shared).
  absl::flat_hash_map<std::string, Bucket> networks_ ABSL_GUARDED_BY(mu_);
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// The allowance of the public scan without credentials, per server process:
// `rate` a second and bursts of `burst` per client address, and
// kAnonymousAddressesPerNetwork addresses' worth for all the addresses of one
// network (an IPv4 /24, an IPv6 /48) together; without that, the /64s of one
// /48 would be 65,536 clients of their own.
inline constexpr int kAnonymousAddressesPerNetwork = 16;
inline RateLimiter AnonymousScanAllowance(double rate = kAnonymousScansPerSecond,
                                          double burst = kAnonymousScanBurst) {
  return RateLimiter(rate, burst, RateLimiter::kDefaultMaxClients,
                     {kAnonymousAddressesPerNetwork * rate, kAnonymousAddressesPerNetwork * burst});
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_RATE_LIMITER_H_
