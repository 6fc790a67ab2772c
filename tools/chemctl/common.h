// Helpers shared by chemctl's commands: reading dates, keys and files from
// the command line, and talking to a chemledgerd server.

#ifndef CHEMLEDGER_TOOLS_CHEMCTL_COMMON_H_
#define CHEMLEDGER_TOOLS_CHEMCTL_COMMON_H_

#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/registry_service.pb.h"
#include "crypto/keys.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "tools/cli/args.h"
#include "tools/cli/key_args.h"

namespace chemledger::chemctl {

// A date "YYYY-MM-DD"; InvalidArgument naming `flag` otherwise.
absl::StatusOr<absl::CivilDay> DayArg(absl::string_view flag, absl::string_view text);

// Writes `bytes` to `path` (replacing it).
absl::Status WriteFile(const std::string& path, const std::string& bytes);

// The flags every server command takes: --server HOST:PORT (default
// 127.0.0.1:7443) and --tls-ca FILE (TLS with that root; plaintext without).
inline constexpr const char* kServerFlags[] = {"server", "tls-ca"};

// A channel to the server the flags name.
absl::StatusOr<std::shared_ptr<grpc::Channel>> ServerChannel(const cli::Args& args);

// The name of the deployment the server serves (its checkpoint origin, from
// GetDeployment), which every signed write names (its `deployment` field),
// so that no other deployment takes the request.
absl::StatusOr<std::string> ServedDeployment(const cli::Args& args);

// A fresh random request id ("chemctl-" + 32 hex digits), or --request-id.
std::string RequestId(const cli::Args& args);

// Flag sets of the server commands, plus the command's own: every server
// command's (--server, --tls-ca); a write's (and --key, --passphrase-file,
// --request-id); a signed read's (and --key, --passphrase-file).
cli::FlagSpec ServerFlags(std::set<std::string> with_value, std::set<std::string> boolean = {});
cli::FlagSpec WriteFlags(std::set<std::string> with_value, std::set<std::string> boolean = {});
cli::FlagSpec ReadFlags(std::set<std::string> with_value = {}, std::set<std::string> boolean = {});

// Their help lines.
inline constexpr char kServerHelp[] =
    "  --server HOST:PORT     chemledgerd to talk to (default 127.0.0.1:7443)\n"
    "  --tls-ca FILE          use TLS, trusting this CA certificate (PEM)\n";
inline constexpr char kWriteHelp[] =
    "  --key FILE             your actor key (signs the request here)\n"
    "  --passphrase-file F    passphrase of a sealed --key\n"
    "  --request-id ID        idempotency id (default: random); resending the same\n"
    "                         signed request with it is safe\n";

// A message as indented JSON with the .proto field names.
std::string PrintJson(const google::protobuf::Message& m);

// The JSON message in the file at `path` ("-": standard input, at most 1 MiB);
// InvalidArgument naming the file and `what` (e.g. "chemledger.v1.Waybill").
absl::StatusOr<std::string> ReadJsonText(const std::string& path);
absl::Status ParseJson(const std::string& path, absl::string_view what, const std::string& text,
                       google::protobuf::Message* message);
template <typename M>
absl::StatusOr<M> ReadJson(const std::string& path, absl::string_view what) {
  absl::StatusOr<std::string> text = ReadJsonText(path);
  if (!text.ok()) return text.status();
  M message;
  if (absl::Status s = ParseJson(path, what, *text, &message); !s.ok()) return s;
  return message;
}

// Signs `request` with the actor key of --key (its request_id set here:
// --request-id, else `default_request_id`, else a fresh one), submits it to
// RegistryService.Submit, and prints "recorded at log index N (request ID)"
// ("already recorded" for a retry).
absl::StatusOr<v1::SubmitResponse> SubmitRegistryRequest(
    const cli::Args& args, v1::RegistryRequest request, const std::string& default_request_id = "");

// A client context with a deadline `seconds` from now.
std::unique_ptr<grpc::ClientContext> Context(int seconds = 30);

// Signed reads as the actor of --key (read.v2: each call's credentials are
// bound to its request's bytes and to the deployment the server names in
// GetDeployment, asked once when the session opens).
class ReadSession {
 public:
  static absl::StatusOr<ReadSession> Open(const cli::Args& args);

  // Calls `method` with `request` (a fresh context with a deadline
  // `timeout_seconds` from now); a refusal as ServerError.
  absl::Status Call(const char* method, const google::protobuf::Message& request,
                    google::protobuf::Message* response, int timeout_seconds = 30);

  // The server, and the actor's key (to sign writes in the same session).
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  const crypto::SigningKey& key() const { return key_; }
  // The deployment's checkpoint origin, which read credentials name.
  const std::string& origin() const { return origin_; }

 private:
  ReadSession(std::shared_ptr<grpc::Channel> channel, crypto::SigningKey key, std::string origin)
      : channel_(std::move(channel)), key_(std::move(key)), origin_(std::move(origin)) {}

  std::shared_ptr<grpc::Channel> channel_;
  crypto::SigningKey key_;
  std::string origin_;
};

// A server's refusal, as "server: <its message>" with its code.
absl::Status ServerError(const grpc::Status& status);

// A write that failed: ServerError for a refusal; but when the call ended
// without the server's answer (the connection lost, the deadline passed, the
// call cancelled or broken), the write may have been recorded all the same,
// and the error says so and how to send the very same request again
// (`resend`: the flags that make it the same, e.g. "--request-id X"), which
// the server records once and answers as already recorded. A new request
// (a new id) would be recorded a second time.
absl::Status WriteError(const grpc::Status& status, absl::string_view resend);

// Whether a write that ended with `status` may have been recorded all the
// same: it ended without the server's answer (UNAVAILABLE,
// DEADLINE_EXCEEDED, CANCELLED, UNKNOWN, INTERNAL), not with a refusal.
bool OutcomeUnknown(const grpc::Status& status);

}  // namespace chemledger::chemctl

#endif  // CHEMLEDGER_TOOLS_CHEMCTL_COMMON_H_
