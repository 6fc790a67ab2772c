// Converting between absl::Status (the cores) and grpc::Status (the service
// adapters and clients). The canonical codes have the same numbers in both.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_SERVICES_COMMON_GRPC_STATUS_H_
#define CHEMLEDGER_SERVICES_COMMON_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace chemledger {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// The code's name, as gRPC and absl spell it ("INVALID_ARGUMENT");
// "UNKNOWN" for a number that is no code.
inline std::string GrpcCodeName(grpc::StatusCode code) {
  const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? "UNKNOWN" : name;
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_GRPC_STATUS_H_
