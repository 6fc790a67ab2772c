// The gRPC health check (grpc.health.v1.Health/Check) as tests call it,
// without generated stubs: raw bytes over a generic stub.
//
// Thread-safety: a function; safe from any thread.

#ifndef CHEMLEDGER_TESTS_GRPC_HEALTH_H_
#define CHEMLEDGER_TESTS_GRPC_HEALTH_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace chemledger::testing {

// grpc.health.v1.HealthCheckResponse.ServingStatus
inline constexpr int kServing = 1;
inline constexpr int kNotServing = 2;

// Health/Check of `service` ("" for the whole server), within 5 s: the
// status number, or -1 when the call fails.
inline int CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                       const std::string& service = "") {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  // HealthCheckRequest: field 1, the service name.
  std::string encoded;
  if (!service.empty()) {
    encoded = std::string(1, '\x0a') + static_cast<char>(service.size()) + service;
  }
  grpc::Slice slice{encoded};
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  // Field 1 (varint): 0x08, then the status; nothing for UNKNOWN (0).
  if (bytes.size() == 2 && bytes[0] == 0x08) return bytes[1];
  return bytes.empty() ? 0 : -1;
}

}  // namespace chemledger::testing

#endif  // CHEMLEDGER_TESTS_GRPC_HEALTH_H_
