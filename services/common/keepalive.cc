#include "services/common/keepalive.h"

#include "grpc/grpc.h"

namespace chemledger {
namespace {

int Milliseconds(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

}  // namespace

void KeepConnectionsAlive(grpc::ServerBuilder* builder, KeepaliveTimes times) {
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Milliseconds(times.every));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Milliseconds(times.timeout));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                              Milliseconds(kMinClientPingInterval));
}

void KeepChannelAlive(grpc::ChannelArguments* args, KeepaliveTimes times) {
  args->SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, Milliseconds(times.every));
  args->SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Milliseconds(times.timeout));
  args->SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args->SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
}

}  // namespace chemledger
