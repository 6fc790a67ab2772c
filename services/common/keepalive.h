// Keepalive pings on gRPC connections, so that a peer that vanished without
// closing its connection (a host that died, a firewall or NAT that dropped
// the flow, a laptop that went to sleep) is found within a minute and a half
// (a server's pings) or half a minute (a client's), not
// after the hours TCP takes on an idle connection or the quarter of an hour
// of retransmissions on a busy one. A server then ends the vanished client's
// calls (a quiet SubscribeAnomalies stream would otherwise hold its thread
// and its place), and a client's channel reconnects (a personality to
// ledgerd after a failover) instead of waiting on a dead connection.
//
// The two sides agree: servers accept a client's pings as often as every
// kMinClientPingInterval, with or without calls in flight, and clients
// ping less often than that.
//
// Thread-safety: call before the builder builds or the channel is made.

#ifndef CHEMLEDGER_SERVICES_COMMON_KEEPALIVE_H_
#define CHEMLEDGER_SERVICES_COMMON_KEEPALIVE_H_

#include "absl/time/time.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/channel_arguments.h"

namespace chemledger {

struct KeepaliveTimes {
  absl::Duration every;    // a ping after this long without one
  absl::Duration timeout;  // the connection is closed when its answer takes longer
};

// A server's pings to its clients, and a client's to its server.
inline constexpr KeepaliveTimes kServerKeepalive{absl::Seconds(60), absl::Seconds(20)};
inline constexpr KeepaliveTimes kClientKeepalive{absl::Seconds(20), absl::Seconds(10)};
// The shortest interval between a client's pings that servers accept (more
// often, and gRPC ends the client's connection: "too many pings").
inline constexpr absl::Duration kMinClientPingInterval = absl::Seconds(10);

// `builder`'s server pings its clients as `times` says and accepts their
// pings (kMinClientPingInterval).
void KeepConnectionsAlive(grpc::ServerBuilder* builder, KeepaliveTimes times = kServerKeepalive);

// A channel made with `args` pings its server as `times` says, also while
// no call is in flight; `times.every` must not be below
// kMinClientPingInterval for a server of ours.
void KeepChannelAlive(grpc::ChannelArguments* args, KeepaliveTimes times = kClientKeepalive);

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_KEEPALIVE_H_
