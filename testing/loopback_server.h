// Test-only: a gRPC server on a free loopback port (plaintext) serving the
// given services, and a channel to it; for tests of the pieces gRPC handlers
// are built from (stream plumbing, watchdogs, keepalive) over real gRPC.
//
// Thread-safety: as grpc::Server's and grpc::Channel's.

#ifndef CHEMLEDGER_TESTING_LOOPBACK_SERVER_H_
#define CHEMLEDGER_TESTING_LOOPBACK_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"

namespace chemledger::testing {

struct LoopbackServer {
  std::unique_ptr<grpc::Server> server;  // null when it did not start
  int port = 0;
  std::shared_ptr<grpc::Channel> channel;  // plaintext, default arguments
};

// Builds `builder` (null: a default one; the arguments a test set on it are
// kept) with a listening port on 127.0.0.1 and `services` (not owned; they
// must outlive the server).
inline LoopbackServer ServeOnLoopback(const std::vector<grpc::Service*>& services,
                                      grpc::ServerBuilder* builder = nullptr) {
  grpc::ServerBuilder default_builder;
  if (builder == nullptr) builder = &default_builder;
  LoopbackServer served;
  builder->AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &served.port);
  for (grpc::Service* service : services) builder->RegisterService(service);
  served.server = builder->BuildAndStart();
  if (served.server != nullptr) {
    served.channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", served.port),
                                         grpc::InsecureChannelCredentials());
  }
  return served;
}

}  // namespace chemledger::testing

#endif  // CHEMLEDGER_TESTING_LOOPBACK_SERVER_H_
