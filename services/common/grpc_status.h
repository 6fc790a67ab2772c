// Converting between absl::Status (the cores) and grpc::Status (the service
// adapters and clients). The canonical codes have the same numbers in both.
//
// What a caller is told of a failure of the server itself: a refusal
// (INVALID_ARGUMENT, PERMISSION_DENIED, NOT_FOUND, FAILED_PRECONDITION, ...)
// names the field and the rule and reaches the caller as the core wrote it;
// a fault of the server (INTERNAL, UNKNOWN, DATA_LOSS: a store's I/O error
// with its file name, a record that does not parse) does not. Its text goes
// to the operator's log (standard error) under a reference, and the caller
// gets the code and that reference only, so a client learns nothing of the
// server's files or internals and an operator can still find the cause.
//
// Thread-safe: log lines are written whole.

#ifndef CHEMLEDGER_SERVICES_COMMON_GRPC_STATUS_H_
#define CHEMLEDGER_SERVICES_COMMON_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace chemledger {

// True for the codes that report a fault of the server rather than a
// refusal of the request: INTERNAL, UNKNOWN, DATA_LOSS.
bool IsServerFault(absl::StatusCode code);

// `status` as a caller outside the server may see it: itself, unless it is a
// server fault; then the same code with the message "the server failed
// (<CODE>); its log has the cause under reference <ref>", after writing
// "<program>: <ref>: <CODE>: <message>" to standard error. References are
// unique within the process (seconds since the epoch at start, then a count).
absl::Status PublicStatus(const absl::Status& status);

// PublicStatus, as a grpc::Status: what every service adapter answers with.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The status a client received, for its own callers (no masking: what the
// server sent is already public).
absl::Status FromGrpcStatus(const grpc::Status& status);

// The code's name, as gRPC and absl spell it ("INVALID_ARGUMENT");
// "UNKNOWN" for a number that is no code.
std::string GrpcCodeName(grpc::StatusCode code);

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_GRPC_STATUS_H_
