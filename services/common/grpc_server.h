// How a ChemLedger process builds a gRPC server, the same in chemledgerd
// and in every cluster service: the call threads bounded by --max-threads
// and kept for the next call (server_threads.h), vanished clients found by
// keepalive (keepalive.h), the health service on, server reflection on
// request only (--grpc-reflection on), the process's interceptors (metrics,
// access log), one listening port that no other process shares (no
// SO_REUSEPORT).
//
// Thread-safety: StartGrpcServer from the thread that starts the process's
// servers.

#ifndef CHEMLEDGER_SERVICES_COMMON_GRPC_SERVER_H_
#define CHEMLEDGER_SERVICES_COMMON_GRPC_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/support/server_interceptor.h"
#include "tools/cli/args.h"

namespace chemledger {

// --max-threads (default 1024): the most threads serving one server's
// calls. InvalidArgument naming the flag outside 8 to 10000.
absl::StatusOr<int> ReadMaxThreads(const cli::Args& args);

// --grpc-reflection on|off (default off): whether the server answers gRPC
// server reflection (grpcurl and grpc_cli without the protos). Off by
// default because gRPC's reflection service is synchronous: each open
// reflection stream holds one of the --max-threads call threads, and it
// needs no credentials, so anyone reaching the port could hold them all.
// InvalidArgument naming the flag for another value.
absl::StatusOr<bool> ReadGrpcReflection(const cli::Args& args);

struct GrpcServerOptions {
  // The call threads' resource quota (as metrics and gRPC's logs name it).
  std::string name;
  int max_threads = 1024;
  // HOST:PORT; port 0 picks a free one.
  std::string listen;
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // Not owned; they must outlive the server.
  std::vector<grpc::Service*> services;
  // The largest message either way; 0: gRPC's defaults.
  int max_message_bytes = 0;
  // Serve gRPC server reflection (ReadGrpcReflection).
  bool reflection = false;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
};

struct StartedGrpcServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// Builds and starts the server; Unavailable naming `flag` (the flag that
// gave the address, e.g. "--listen") when it cannot listen there.
absl::StatusOr<StartedGrpcServer> StartGrpcServer(GrpcServerOptions options,
                                                  absl::string_view flag);

// How long a stopping process lets the calls in progress finish before it
// cancels them.
inline constexpr absl::Duration kGracefulStopTime = absl::Seconds(10);

// Stops `servers` (null ones are skipped) together, as a process does on
// SIGTERM: each refuses new calls at once, and the calls in progress on any
// of them finish until `grace` has passed, when those left are cancelled.
// Returns once every server has stopped. Stopped together, not one after
// the other, so that a call on one that waits for a call on another (a
// personality's write through ledgerd's internal port) is not cut off
// early.
void StopGrpcServers(const std::vector<grpc::Server*>& servers,
                     absl::Duration grace = kGracefulStopTime);

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_GRPC_SERVER_H_
