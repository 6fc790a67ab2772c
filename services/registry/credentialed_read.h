// One shape for the reads that need read credentials, shared by the gRPC
// adapters (LedgerService, RegistryService, WaybillService; not
// ListWaybills, whose later pages are read at an earlier snapshot): the request
// arrives raw (raw_unary.h), its credentials are checked over its bytes as
// received against the latest committed state (ReadAuthenticator::
// BeginRead, which also tells the caller the log size), and a core's read
// answers at that snapshot. The adapter adds no rule and skips none.
//
// Thread-safety: as ServeRawUnary. The handler holds `reads`, `ledger` and
// `core` by reference (not by value, as raw_unary.h asks of other
// captures): they are the service's own long-lived members, and must
// outlive every call served, as `executor` must; a service declares its
// executor after them, so that it is destroyed first.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_CREDENTIALED_READ_H_
#define CHEMLEDGER_SERVICES_REGISTRY_CREDENTIALED_READ_H_

#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chemledger/v1/registry.pb.h"
#include "grpcpp/grpcpp.h"
#include "journal/ledger_client.h"
#include "services/common/call_executor.h"
#include "services/common/grpc_status.h"
#include "services/common/raw_unary.h"
#include "services/registry/read_access.h"
#include "storage/store.h"

namespace chemledger::registry {

// A core's read: the answer to `request` for `reader` at `snapshot`.
template <typename Core, typename Request, typename Response>
using CoreRead = absl::StatusOr<Response> (Core::*)(const storage::Snapshot& snapshot,
                                                    const v1::Actor& reader,
                                                    const Request& request) const;

// Serves a call of `method` with `read` of `core` on `executor`.
template <typename Request, typename Response, typename Core>
grpc::ServerUnaryReactor* ServeCredentialedRead(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* request,
                                                grpc::ByteBuffer* response, CallExecutor& executor,
                                                ReadAuthenticator& reads,
                                                journal::LedgerClient& ledger,
                                                absl::string_view method, const Core& core,
                                                CoreRead<Core, Request, Response> read) {
  return ServeRawUnary<Request, Response>(
      context, request, response, executor,
      [context, &reads, &ledger, method, &core, read](const Request* r, absl::string_view bytes,
                                                      Response* out) {
        absl::StatusOr<ReadAuthenticator::Reading> reading =
            reads.BeginRead(ledger, *context, method, bytes);
        if (!reading.ok()) return ToGrpcStatus(reading.status());
        absl::StatusOr<Response> answer = (core.*read)(*reading->snapshot, reading->reader, *r);
        if (!answer.ok()) return ToGrpcStatus(answer.status());
        *out = *std::move(answer);
        return grpc::Status::OK;
      });
}

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_CREDENTIALED_READ_H_
