#include "services/common/grpc_server.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpc/grpc.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/server_builder.h"
#include "services/common/keepalive.h"
#include "services/common/server_threads.h"

namespace chemledger {

absl::StatusOr<int> ReadMaxThreads(const cli::Args& args) {
  absl::StatusOr<uint64_t> max_threads = args.Uint("max-threads", 1024);
  if (!max_threads.ok()) return max_threads.status();
  if (*max_threads < 8 || *max_threads > 10000) {
    return absl::InvalidArgumentError("--max-threads: must be 8 to 10000");
  }
  return static_cast<int>(*max_threads);
}

absl::StatusOr<bool> ReadGrpcReflection(const cli::Args& args) {
  const std::string value = args.Get("grpc-reflection", "off");
  if (value != "on" && value != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("--grpc-reflection: on or off, not '", value, "'"));
  }
  return value == "on";
}

namespace {

// Takes gRPC's reflection plugin out of one server's build. The plugin is
// registered for every server of the process once registered at all
// (InitProtoReflectionServerBuilderPlugin), so a server without reflection
// removes it here.
class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->erase(
        std::remove_if(plugins->begin(), plugins->end(),
                       [](const std::unique_ptr<grpc::ServerBuilderPlugin>& p) {
                         return dynamic_cast<grpc::reflection::ProtoServerReflectionPlugin*>(
                                    p.get()) != nullptr;
                       }),
        plugins->end());
  }
};

}  // namespace

absl::StatusOr<StartedGrpcServer> StartGrpcServer(GrpcServerOptions options,
                                                  absl::string_view flag) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (!options.reflection) builder.SetOption(std::make_unique<WithoutReflection>());
  // Bound the threads gRPC may start for calls (each call in progress holds
  // one), so a flood of requests cannot exhaust the machine; the bound is
  // high enough that hundreds of concurrent calls are served rather than
  // refused. Threads that finish a call stay for the next (server_threads.h).
  BoundCallThreads(options.name, options.max_threads, &builder);
  // A client that vanished without closing its connection is found within
  // a minute and a half, and its calls end (keepalive.h).
  KeepConnectionsAlive(&builder);
  // A port another process listens on is refused, not shared: gRPC's
  // default (SO_REUSEPORT) would let a second server on the same port take
  // half of the first one's connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  StartedGrpcServer started;
  builder.AddListeningPort(options.listen, options.credentials, &started.port);
  if (options.max_message_bytes > 0) {
    builder.SetMaxReceiveMessageSize(options.max_message_bytes);
    builder.SetMaxSendMessageSize(options.max_message_bytes);
  }
  for (grpc::Service* service : options.services) builder.RegisterService(service);
  if (!options.interceptors.empty()) {
    builder.experimental().SetInterceptorCreators(std::move(options.interceptors));
  }
  started.server = builder.BuildAndStart();
  if (started.server == nullptr || started.port == 0) {
    return absl::UnavailableError(absl::StrCat(flag, ": cannot listen on ", options.listen));
  }
  return started;
}

void StopGrpcServers(const std::vector<grpc::Server*>& servers, absl::Duration grace) {
  const auto deadline = std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace);
  std::vector<grpc::Server*> live;
  for (grpc::Server* server : servers) {
    if (server != nullptr) live.push_back(server);
  }
  // Shutdown returns once the server's calls have finished (or been
  // cancelled at the deadline): all but the last are shut down on threads
  // of their own, so that every server refuses new calls at once.
  std::vector<std::thread> stopping;
  for (size_t i = 0; i + 1 < live.size(); ++i) {
    try {
      stopping.emplace_back([server = live[i], deadline] { server->Shutdown(deadline); });
    } catch (const std::system_error&) {
      live[i]->Shutdown(deadline);  // no thread to be had: one after the other
    }
  }
  if (!live.empty()) live.back()->Shutdown(deadline);
  for (std::thread& t : stopping) t.join();
  for (grpc::Server* server : live) server->Wait();
}

}  // namespace chemledger
