#include "tools/chemaudit/console_login.h"

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "api/wire.h"
#include "chemledger/v1/console.pb.h"
#include "google/protobuf/util/json_util.h"
#include "httplib.h"

namespace chemledger::chemaudit {
namespace {

std::string PercentEncode(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

// POSTs `request` as JSON to `path` and reads the answer into `response`.
absl::Status Call(httplib::Client& client, const std::string& console, const std::string& path,
                  const google::protobuf::Message& request, google::protobuf::Message* response) {
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  std::string body;
  if (!google::protobuf::util::MessageToJsonString(request, &body, print).ok()) {
    return absl::InternalError("cannot write the request as JSON");
  }
  httplib::Result result = client.Post(path.c_str(), body, "application/json");
  if (!result) {
    return absl::UnavailableError(absl::StrCat(
        console, path, ": ", httplib::to_string(result.error()),
        result.error() == httplib::Error::SSLServerVerification
            ? " (the server's certificate: --tls-ca names the CA that signed it)"
            : ""));
  }
  if (result->status != 200) {
    return absl::Status(result->status == 401   ? absl::StatusCode::kUnauthenticated
                        : result->status == 403 ? absl::StatusCode::kPermissionDenied
                        : result->status == 400 ? absl::StatusCode::kInvalidArgument
                                                : absl::StatusCode::kUnavailable,
                        absl::StrCat(console, path, ": HTTP ", result->status, ": ",
                                     absl::StripAsciiWhitespace(result->body)));
  }
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(result->body, response, parse).ok()) {
    return absl::DataLossError(absl::StrCat(console, path, ": the answer is not a ",
                                            response->GetTypeName(), " (is this a ChemLedger "
                                            "console?)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ConsoleEntry> SignInToConsole(const std::string& console_arg,
                                             const crypto::SigningKey& key,
                                             const crypto::NoteVerifier& note_key,
                                             const std::string& tls_ca_file) {
  std::string console(absl::StripSuffix(console_arg, "/"));
  if (!absl::StartsWith(console, "https://") && !absl::StartsWith(console, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--console: '", console_arg, "' must be https://HOST:PORT (or http:// on "
                     "loopback)"));
  }
  if (absl::StartsWith(console, "http://")) {
    absl::string_view host = absl::string_view(console).substr(7);
    host = host.substr(0, host[0] == '[' ? host.find(']') + 1 : host.find(':'));
    if (host != "127.0.0.1" && host != "localhost" && host != "[::1]") {
      return absl::InvalidArgumentError(absl::StrCat(
          "--console: '", console_arg, "': plain http:// only on loopback (127.0.0.1, "
          "localhost, [::1]); beyond it https:// and --tls-ca"));
    }
  }
  httplib::Client client(console);
  if (!client.is_valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--console: '", console_arg, "' is not a server address"));
  }
  if (!tls_ca_file.empty()) client.set_ca_cert_path(tls_ca_file.c_str());
  client.enable_server_certificate_verification(true);
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(30, 0);

  v1::ConsoleChallenge challenge;
  if (absl::Status s = Call(client, console, "/console/login/challenge", v1::ConsoleChallenge(),
                            &challenge);
      !s.ok()) {
    return s;
  }
  // A console of another deployment than the pinned key's would show
  // proofs the page cannot check: said here, before anything is signed.
  if (challenge.origin() != note_key.name()) {
    return absl::FailedPreconditionError(absl::StrCat(
        console, " is the console of '", challenge.origin(), "', and --note-key is pinned for '",
        note_key.name(), "'"));
  }
  v1::ConsoleLogin login;
  login.set_origin(challenge.origin());
  login.set_challenge(challenge.challenge());
  login.set_key_id(key.key_id().ToString());
  login.set_console(console);
  v1::ConsoleLoginRequest request;
  request.set_login(login.SerializeAsString());
  absl::StatusOr<crypto::Signature> signature =
      key.Sign(api::kConsoleLoginContext, request.login());
  if (!signature.ok()) return signature.status();
  request.set_signature(signature->ToBytes());
  v1::ConsoleTicket ticket;
  if (absl::Status s = Call(client, console, "/console/login", request, &ticket); !s.ok()) {
    return s;
  }
  // Only a ticket: nothing else of the server's goes into the address,
  // least of all another log key in the fragment.
  absl::string_view ticket_value = ticket.enter_path();
  if (!absl::ConsumePrefix(&ticket_value, "/console/enter?ticket=") || ticket_value.empty() ||
      ticket_value.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789-_") != absl::string_view::npos) {
    return absl::DataLossError(
        absl::StrCat(console, ": the ticket's path '", ticket.enter_path(), "' is not the console's"));
  }
  return ConsoleEntry{
      absl::StrCat(console, ticket.enter_path(), "#note-key=",
                   PercentEncode(note_key.VerifierKeyString())),
      absl::FromUnixSeconds(ticket.expires_unix_seconds())};
}

}  // namespace chemledger::chemaudit
