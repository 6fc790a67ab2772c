#include "web/api_bridge.h"

#include <chrono>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "api/wire.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "services/common/grpc_read_auth.h"
#include "services/common/grpc_status.h"
#include "services/common/read_auth.h"

namespace chemledger::web {
namespace {

// What the staff app needs, and nothing more: who it is, its sites, a
// waybill, the stock at a site, verdicts on what it scanned (and the label
// keys' trust list, for verdicts without a connection), and writing events.
// Every one but GetDeployment and GetTrustList needs a signature.
const absl::flat_hash_set<std::string>& CarriedMethods() {
  static const auto* methods = new absl::flat_hash_set<std::string>{
      api::kGetDeploymentMethod, api::kGetTrustListMethod, api::kGetActorMethod,
      api::kListSitesMethod,     api::kGetWaybillMethod,   api::kListStockMethod,
      api::kVerifyMethod,        api::kAppendMethod,
  };
  return *methods;
}

}  // namespace

std::string ErrorJson(grpc::StatusCode code, absl::string_view message) {
  google::protobuf::Struct error;
  (*error.mutable_fields())["code"].set_string_value(GrpcCodeName(code));
  (*error.mutable_fields())["message"].set_string_value(std::string(message));
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(error, &json);
  return json;
}

namespace {

bool IsLowerHex(absl::string_view s, size_t length) {
  return s.size() == length && s.find_first_not_of("0123456789abcdef") == absl::string_view::npos;
}

BridgeAnswer Refuse(grpc::StatusCode code, absl::string_view message) {
  return {HttpStatusOf(static_cast<int>(code)), ErrorJson(code, message)};
}

// The response message of `method` as JSON, from its bytes.
absl::StatusOr<std::string> ResponseJson(absl::string_view method, const std::string& bytes) {
  // "/chemledger.v1.LedgerService/Append" -> "chemledger.v1.LedgerService.Append"
  std::string name(absl::StripPrefix(method, "/"));
  const size_t slash = name.rfind('/');
  if (slash != std::string::npos) name[slash] = '.';
  const google::protobuf::MethodDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(name);
  if (descriptor == nullptr) {
    return absl::InternalError(absl::StrCat(method, " is not linked into this server"));
  }
  const google::protobuf::Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(
          descriptor->output_type());
  std::unique_ptr<google::protobuf::Message> response(prototype->New());
  if (!response->ParseFromString(bytes)) {
    return absl::InternalError(absl::StrCat("the answer of ", method, " does not parse"));
  }
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (auto s = google::protobuf::util::MessageToJsonString(*response, &json, options); !s.ok()) {
    return absl::InternalError(absl::StrCat("the answer of ", method, " cannot be written as JSON"));
  }
  return json;
}

}  // namespace

int HttpStatusOf(int grpc_code) {
  switch (static_cast<grpc::StatusCode>(grpc_code)) {
    case grpc::StatusCode::OK: return 200;
    case grpc::StatusCode::CANCELLED: return 499;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE: return 400;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return 504;
    case grpc::StatusCode::NOT_FOUND: return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED: return 409;
    case grpc::StatusCode::PERMISSION_DENIED: return 403;
    case grpc::StatusCode::UNAUTHENTICATED: return 401;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return 429;
    case grpc::StatusCode::UNIMPLEMENTED: return 501;
    case grpc::StatusCode::UNAVAILABLE: return 503;
    default: return 500;
  }
}

ApiBridge::ApiBridge(std::shared_ptr<grpc::ChannelInterface> channel, absl::Duration deadline)
    : channel_(std::move(channel)), deadline_(deadline) {}

bool ApiBridge::Carries(absl::string_view method) {
  return CarriedMethods().contains(method);
}

BridgeAnswer ApiBridge::Call(absl::string_view method, const std::string& request_bytes,
                             const BridgeCredentials& credentials) const {
  if (!Carries(method)) {
    return Refuse(grpc::StatusCode::UNIMPLEMENTED,
                  absl::StrCat("path: ", method, " is not carried over HTTP; use gRPC"));
  }
  const bool signed_in_body = method == api::kAppendMethod;
  const bool public_method =
      method == api::kGetDeploymentMethod || method == api::kGetTrustListMethod;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(deadline_));
  if (!signed_in_body && !public_method) {
    if (credentials.key_id.empty() || credentials.time.empty() || credentials.nonce.empty() ||
        credentials.signature_base64.empty()) {
      return Refuse(grpc::StatusCode::UNAUTHENTICATED,
                    absl::StrCat(method, " needs read credentials: the headers ",
                                 read_auth::kKeyIdHeader, ", ", read_auth::kTimeHeader, ", ",
                                 read_auth::kNonceHeader,
                                 " and chemledger-signature (base64) (docs/staff-app.md)"));
    }
    // Checked here, before they become gRPC metadata: gRPC takes only
    // printable ASCII in metadata values, and the services' own checks must
    // see what a gRPC client could have sent.
    if (!IsLowerHex(credentials.key_id, 16)) {
      return Refuse(grpc::StatusCode::UNAUTHENTICATED,
                    absl::StrCat(read_auth::kKeyIdHeader, ": 16 lowercase hex digits"));
    }
    if (credentials.time.size() > 20 ||
        credentials.time.find_first_not_of("0123456789") != std::string::npos) {
      return Refuse(grpc::StatusCode::UNAUTHENTICATED,
                    absl::StrCat(read_auth::kTimeHeader, ": Unix seconds, decimal"));
    }
    if (!IsLowerHex(credentials.nonce, 32)) {
      return Refuse(grpc::StatusCode::UNAUTHENTICATED,
                    absl::StrCat(read_auth::kNonceHeader, ": 32 lowercase hex digits"));
    }
    read_auth::ReadCredentials forwarded;
    forwarded.key_id = credentials.key_id;
    forwarded.time = credentials.time;
    forwarded.nonce = credentials.nonce;
    if (!absl::Base64Unescape(credentials.signature_base64, &forwarded.signature) ||
        forwarded.signature.size() != 64) {
      return Refuse(grpc::StatusCode::UNAUTHENTICATED,
                    "chemledger-signature: 64 bytes in standard base64");
    }
    read_auth::AttachCredentials(&context, forwarded);
  }
  std::string response_bytes;
  const grpc::Status status =
      read_auth::UnaryCallBytes(*channel_, &context, method, request_bytes, &response_bytes);
  if (!status.ok()) return Refuse(status.error_code(), status.error_message());
  absl::StatusOr<std::string> json = ResponseJson(method, response_bytes);
  if (!json.ok()) {
    const absl::Status reported = PublicStatus(json.status());
    return Refuse(static_cast<grpc::StatusCode>(reported.code()), reported.message());
  }
  return {200, *std::move(json)};
}

}  // namespace chemledger::web
