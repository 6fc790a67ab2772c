#include "services/common/grpc_read_auth.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/impl/client_unary_call.h"
#include "grpcpp/impl/rpc_method.h"
#include "services/common/raw_unary.h"

namespace chemledger::read_auth {

void AttachCredentials(grpc::ClientContext* context, const ReadCredentials& credentials) {
  context->AddMetadata(kKeyIdHeader, credentials.key_id);
  context->AddMetadata(kTimeHeader, credentials.time);
  if (!credentials.nonce.empty()) context->AddMetadata(kNonceHeader, credentials.nonce);
  context->AddMetadata(kSignatureHeader, credentials.signature);
}

void AttachStreamCredentials(grpc::ClientContext* context, absl::string_view method,
                             const ReadSigner& signer) {
  AttachCredentials(context,
                    SignRead(ReadRequest{signer.origin, method, ""}, signer.key, absl::Now()));
}

grpc::Status SignedReadBytes(grpc::ChannelInterface& channel, grpc::ClientContext* context,
                             absl::string_view method, const std::string& request_bytes,
                             const ReadSigner& signer, std::string* response_bytes) {
  AttachCredentials(context, SignRead(ReadRequest{signer.origin, method, request_bytes},
                                      signer.key, absl::Now()));
  return UnaryCallBytes(channel, context, method, request_bytes, response_bytes);
}

grpc::Status UnaryCallBytes(grpc::ChannelInterface& channel, grpc::ClientContext* context,
                            absl::string_view method, const std::string& request_bytes,
                            std::string* response_bytes) {
  // The bytes go as they are: a blocking unary call of ByteBuffers, as the
  // generated stubs make it (on the calling thread, no callback hop).
  const std::string method_name(method);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status status = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      &channel,
      grpc::internal::RpcMethod(method_name.c_str(), grpc::internal::RpcMethod::NORMAL_RPC),
      context, request, &response);
  if (!status.ok()) return status;
  return BytesOf(response, response_bytes);
}

grpc::Status SignedRead(grpc::ChannelInterface& channel, grpc::ClientContext* context,
                        absl::string_view method, const google::protobuf::MessageLite& request,
                        const ReadSigner& signer, google::protobuf::MessageLite* response) {
  std::string bytes;
  if (!request.SerializeToString(&bytes)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("request: ", request.GetTypeName(), " could not be serialized"));
  }
  std::string answer;
  if (grpc::Status s = SignedReadBytes(channel, context, method, bytes, signer, &answer);
      !s.ok()) {
    return s;
  }
  if (!response->ParseFromString(answer)) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        absl::StrCat("response: not a serialized ", response->GetTypeName()));
  }
  return grpc::Status::OK;
}

ReadCredentials ReadCredentialsOf(const grpc::ServerContextBase& context) {
  ReadCredentials c;
  const auto& metadata = context.client_metadata();
  const auto get = [&](const char* name, std::string* out) {
    auto it = metadata.find(name);
    if (it != metadata.end()) out->assign(it->second.data(), it->second.size());
  };
  get(kKeyIdHeader, &c.key_id);
  get(kTimeHeader, &c.time);
  get(kNonceHeader, &c.nonce);
  get(kSignatureHeader, &c.signature);
  return c;
}

}  // namespace chemledger::read_auth
