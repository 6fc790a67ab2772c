// The gRPC API over HTTP, for the staff app in a browser (web/staff_app/),
// which cannot speak gRPC itself: a small gateway in the manner of
// grpc-gateway, for a fixed list of methods.
//
//   POST /app/rpc/<full gRPC method name>     e.g. /app/rpc/chemledger.v1.LedgerService/Append
//   body: the serialized request message (Content-Type application/x-protobuf),
//         exactly as the caller signed it
//   headers (reads): chemledger-key-id, chemledger-time, chemledger-nonce and
//         chemledger-signature (the 64-byte signature in standard base64; it
//         goes on as chemledger-signature-bin)
//   answer: 200 and the response message as JSON (Protobuf's JSON mapping,
//         proto field names), or the gRPC status as an HTTP status and
//         {"code": "FAILED_PRECONDITION", "message": "..."}
//
// The bytes go on unchanged to the gRPC services over `channel` (in
// chemledgerd, the server's in-process channel), so every rule, every
// signature check and every refusal is the gRPC API's own: the bridge
// decides nothing but which methods it carries. It carries only methods
// whose callers prove who they are (a signed envelope in the body, or read
// credentials), besides GetDeployment, which is public, so the anonymous
// limits per client address (which an in-process call would bypass) are
// never at stake.
//
// Thread-safety: Call may be called from many threads at once.

#ifndef CHEMLEDGER_WEB_API_BRIDGE_H_
#define CHEMLEDGER_WEB_API_BRIDGE_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"

namespace chemledger::web {

// What the bridge answers over HTTP.
struct BridgeAnswer {
  int http_status = 200;
  std::string json;
};

// Credentials as the HTTP request carried them (empty where absent).
struct BridgeCredentials {
  std::string key_id;
  std::string time;
  std::string nonce;
  std::string signature_base64;
};

class ApiBridge {
 public:
  // `channel` reaches the gRPC services; calls through it end after `deadline`.
  explicit ApiBridge(std::shared_ptr<grpc::ChannelInterface> channel,
                     absl::Duration deadline = absl::Seconds(30));

  // Whether `method` ("/chemledger.v1.LedgerService/Append") is carried.
  static bool Carries(absl::string_view method);

  // Calls `method` with `request_bytes` and `credentials`; never fails
  // itself (a refusal is an answer).
  BridgeAnswer Call(absl::string_view method, const std::string& request_bytes,
                    const BridgeCredentials& credentials) const;

 private:
  std::shared_ptr<grpc::ChannelInterface> channel_;
  absl::Duration deadline_;
};

// The HTTP status for a gRPC status code (as grpc-gateway maps them).
int HttpStatusOf(int grpc_code);

// {"code": "<the code's name>", "message": "<message>"}, escaped.
std::string ErrorJson(grpc::StatusCode code, absl::string_view message);

}  // namespace chemledger::web

#endif  // CHEMLEDGER_WEB_API_BRIDGE_H_
