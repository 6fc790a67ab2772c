// Who is reading: the registry's check of a read call's credentials
// (services/common/read_auth.h), shared by the gRPC adapters. Any registered,
// unrevoked actor whose enterprise is not blacklisted may read the registry.
//
// Thread-safety: thread-safe, as the StateReader is.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_READ_ACCESS_H_
#define CHEMLEDGER_SERVICES_REGISTRY_READ_ACCESS_H_

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/server_context.h"
#include "services/common/grpc_read_auth.h"
#include "services/registry/registry_state.h"

namespace chemledger::registry {

// The actor whose read credentials `context` carries for `method`, checked
// against the registry in `state`; UNAUTHENTICATED or PERMISSION_DENIED
// (revoked key, blacklisted enterprise) otherwise, naming the metadata.
inline absl::StatusOr<v1::Actor> AuthenticateRead(const storage::StateReader& state,
                                                  const grpc::ServerContext& context,
                                                  absl::string_view method) {
  absl::StatusOr<v1::SignedEnvelope> envelope =
      read_auth::ReadEnvelope(read_auth::ReadCredentialsOf(context), method, absl::Now());
  if (!envelope.ok()) return envelope.status();
  absl::StatusOr<v1::Actor> actor = VerifySigner(state, *envelope, read_auth::kReadContext);
  if (!actor.ok()) {
    return absl::Status(actor.status().code(),
                        absl::StrCat("read credentials: ", actor.status().message()));
  }
  return actor;
}

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_READ_ACCESS_H_
