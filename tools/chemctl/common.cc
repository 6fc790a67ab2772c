#include "tools/chemctl/common.h"

#include <sodium.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "services/common/grpc_status.h"
#include "services/common/keepalive.h"
#include "tools/cli/plaintext_target.h"

namespace chemledger::chemctl {

absl::StatusOr<absl::CivilDay> DayArg(absl::string_view flag, absl::string_view text) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(text, &day) || absl::FormatCivilTime(day) != text) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " '", text, "' must be a date YYYY-MM-DD"));
  }
  return day;
}

absl::Status WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> ServerChannel(const cli::Args& args) {
  std::string target = args.Get("server", "127.0.0.1:7443");
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (args.Has("tls-ca")) {
    absl::StatusOr<std::string> ca = cli::ReadFileOrStdin(args.Get("tls-ca"), 1 << 20);
    if (!ca.ok()) return ca.status();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *ca;
    credentials = grpc::SslCredentials(ssl);
  } else {
    // Plaintext only to this machine: requests are signed, but labels and
    // registry answers would travel unprotected.
    absl::StatusOr<std::string> loopback = cli::PlaintextTarget("--server", target);
    if (!loopback.ok()) return loopback.status();
    target = *std::move(loopback);
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(64 << 20);
  // A server that vanished fails the call (a --follow stream, which has no
  // deadline, included) instead of leaving it waiting for good.
  KeepChannelAlive(&channel_args);
  return grpc::CreateCustomChannel(target, credentials, channel_args);
}

std::string RequestId(const cli::Args& args) {
  if (args.Has("request-id")) return args.Get("request-id");
  unsigned char random[16];
  randombytes_buf(random, sizeof random);
  return absl::StrCat("chemctl-",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(random), sizeof random)));
}

cli::FlagSpec ServerFlags(std::set<std::string> with_value, std::set<std::string> boolean) {
  for (const char* f : kServerFlags) with_value.insert(f);
  return {with_value, boolean};
}

cli::FlagSpec WriteFlags(std::set<std::string> with_value, std::set<std::string> boolean) {
  for (const char* f : {"key", "passphrase-file", "request-id"}) with_value.insert(f);
  return ServerFlags(std::move(with_value), std::move(boolean));
}

cli::FlagSpec ReadFlags(std::set<std::string> with_value, std::set<std::string> boolean) {
  with_value.insert("key");
  with_value.insert("passphrase-file");
  return ServerFlags(std::move(with_value), std::move(boolean));
}

std::string PrintJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

absl::StatusOr<std::string> ReadJsonText(const std::string& path) {
  return cli::ReadFileOrStdin(path, 1 << 20);
}

absl::Status ParseJson(const std::string& path, absl::string_view what, const std::string& text,
                       google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  if (auto s = google::protobuf::util::JsonStringToMessage(text, message, options); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a ", what, " in JSON: ", s.message().as_string()));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::SubmitResponse> SubmitRegistryRequest(const cli::Args& args,
                                                         v1::RegistryRequest request,
                                                         const std::string& default_request_id) {
  absl::StatusOr<crypto::SigningKey> key = cli::SigningKeyArg(args, "key");
  if (!key.ok()) return key.status();
  request.set_request_id(args.Has("request-id") || default_request_id.empty() ? RequestId(args)
                                                                              : default_request_id);
  absl::StatusOr<std::string> deployment = ServedDeployment(args);
  if (!deployment.ok()) return deployment.status();
  request.set_deployment(*deployment);
  absl::StatusOr<v1::SignedEnvelope> envelope =
      envelope::Sign(api::kRegistryContext, request.SerializeAsString(), *key);
  if (!envelope.ok()) return envelope.status();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ServerChannel(args);
  if (!channel.ok()) return channel.status();
  v1::SubmitResponse response;
  grpc::Status status =
      v1::RegistryService::NewStub(*channel)->Submit(Context().get(), *envelope, &response);
  if (!status.ok()) return WriteError(status, absl::StrCat("--request-id ", request.request_id()));
  std::cout << (response.replayed() ? "already recorded" : "recorded") << " at log index "
            << response.log_index() << " (request " << request.request_id() << ")\n";
  return response;
}

absl::StatusOr<std::string> ServedDeployment(const cli::Args& args) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ServerChannel(args);
  if (!channel.ok()) return channel.status();
  v1::Deployment deployment;
  grpc::Status status = v1::RegistryService::NewStub(*channel)->GetDeployment(
      Context().get(), v1::GetDeploymentRequest(), &deployment);
  if (!status.ok()) return ServerError(status);
  if (deployment.checkpoint_origin().empty()) {
    return absl::FailedPreconditionError("the server names no deployment (GetDeployment)");
  }
  return deployment.checkpoint_origin();
}

std::unique_ptr<grpc::ClientContext> Context(int seconds) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

absl::StatusOr<ReadSession> ReadSession::Open(const cli::Args& args) {
  absl::StatusOr<crypto::SigningKey> key = cli::SigningKeyArg(args, "key");
  if (!key.ok()) return key.status();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ServerChannel(args);
  if (!channel.ok()) return channel.status();
  std::unique_ptr<v1::RegistryService::Stub> registry = v1::RegistryService::NewStub(*channel);
  v1::Deployment deployment;
  grpc::Status status =
      registry->GetDeployment(Context().get(), v1::GetDeploymentRequest(), &deployment);
  if (!status.ok()) return ServerError(status);
  return ReadSession(*std::move(channel), *std::move(key), deployment.checkpoint_origin());
}

absl::Status ReadSession::Call(const char* method, const google::protobuf::Message& request,
                               google::protobuf::Message* response, int timeout_seconds) {
  std::unique_ptr<grpc::ClientContext> context = Context(timeout_seconds);
  grpc::Status status = read_auth::SignedRead(*channel_, context.get(), method, request,
                                              read_auth::ReadSigner{key_, origin_}, response);
  if (!status.ok()) return ServerError(status);
  return absl::OkStatus();
}

absl::Status ServerError(const grpc::Status& status) {
  absl::Status s = FromGrpcStatus(status);
  return absl::Status(s.code(), absl::StrCat("server: ", s.message()));
}

bool OutcomeUnknown(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
      return true;
    default:
      return false;
  }
}

absl::Status WriteError(const grpc::Status& status, absl::string_view resend) {
  if (!OutcomeUnknown(status)) return ServerError(status);
  absl::Status s = FromGrpcStatus(status);
  return absl::Status(
      s.code(), absl::StrCat("server: ", s.message(),
                             "; the outcome is unknown: it may have been recorded. Send the same "
                             "request again with ",
                             resend, " (recorded once; a new request would be recorded twice)"));
}

}  // namespace chemledger::chemctl
