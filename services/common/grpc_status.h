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

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_GRPC_STATUS_H_
