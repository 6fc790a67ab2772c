// gRPC glue for authenticated reads (read_auth.h): making a signed read as a
// client, opening a stream with credentials, and taking the credentials from
// a server call's metadata.
//
// Thread-safety: as the gRPC objects they take.

#ifndef CHEMLEDGER_SERVICES_COMMON_GRPC_READ_AUTH_H_
#define CHEMLEDGER_SERVICES_COMMON_GRPC_READ_AUTH_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server_context.h"
#include "services/common/read_auth.h"

namespace chemledger::read_auth {

// Who signs reads, for which deployment. `key` must outlive the signer.
struct ReadSigner {
  const crypto::SigningKey& key;
  std::string origin;  // Deployment.checkpoint_origin of the server called
};

// Calls the unary method `method` with `request` as `signer`: serializes the
// request once, signs those bytes and sends exactly them (a generic call),
// then parses the answer into `response`. `context` may carry a deadline and
// more metadata; it must be fresh (a gRPC context serves one call).
grpc::Status SignedRead(grpc::ChannelInterface& channel, grpc::ClientContext* context,
                        absl::string_view method, const google::protobuf::MessageLite& request,
                        const ReadSigner& signer, google::protobuf::MessageLite* response);

// The same for bytes the caller serialized itself.
grpc::Status SignedReadBytes(grpc::ChannelInterface& channel, grpc::ClientContext* context,
                             absl::string_view method, const std::string& request_bytes,
                             const ReadSigner& signer, std::string* response_bytes);

// Calls the unary method `method` with `request_bytes` exactly as they are
// (no serializer in between) and returns the answer's bytes: the call a
// caller that signs, or forwards, bytes it did not serialize makes.
grpc::Status UnaryCallBytes(grpc::ChannelInterface& channel, grpc::ClientContext* context,
                            absl::string_view method, const std::string& request_bytes,
                            std::string* response_bytes);

// Adds credentials for opening a stream of `method` (signed over no bytes)
// to `context`.
void AttachStreamCredentials(grpc::ClientContext* context, absl::string_view method,
                             const ReadSigner& signer);

// Adds `credentials` as they are (tests; clients that sign elsewhere).
void AttachCredentials(grpc::ClientContext* context, const ReadCredentials& credentials);

// The credentials in a call's metadata (empty fields where absent).
ReadCredentials ReadCredentialsOf(const grpc::ServerContextBase& context);

}  // namespace chemledger::read_auth

#endif  // CHEMLEDGER_SERVICES_COMMON_GRPC_READ_AUTH_H_
