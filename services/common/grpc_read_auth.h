// gRPC glue for authenticated reads (read_auth.h): attaching the credentials
// to a client call, and taking them from a server call's metadata.
//
// Thread-safety: as the gRPC contexts they take.

#ifndef CHEMLEDGER_SERVICES_COMMON_GRPC_READ_AUTH_H_
#define CHEMLEDGER_SERVICES_COMMON_GRPC_READ_AUTH_H_

#include <string>

#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server_context.h"
#include "services/common/read_auth.h"

namespace chemledger::read_auth {

// Signs a read of `method` now and adds the metadata to `context`.
inline void AttachReadCredentials(grpc::ClientContext* context, absl::string_view method,
                                  const crypto::SigningKey& key) {
  ReadCredentials c = SignRead(method, key, absl::Now());
  context->AddMetadata(kKeyIdHeader, c.key_id);
  context->AddMetadata(kTimeHeader, c.time);
  context->AddMetadata(kSignatureHeader, c.signature);
}

// The credentials in a call's metadata (empty fields where absent).
inline ReadCredentials ReadCredentialsOf(const grpc::ServerContext& context) {
  ReadCredentials c;
  const auto& metadata = context.client_metadata();
  const auto get = [&](const char* name, std::string* out) {
    auto it = metadata.find(name);
    if (it != metadata.end()) out->assign(it->second.data(), it->second.size());
  };
  get(kKeyIdHeader, &c.key_id);
  get(kTimeHeader, &c.time);
  get(kSignatureHeader, &c.signature);
  return c;
}

}  // namespace chemledger::read_auth

#endif  // CHEMLEDGER_SERVICES_COMMON_GRPC_READ_AUTH_H_
