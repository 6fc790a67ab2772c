#include "web/console.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/console.pb.h"
#include "google/protobuf/util/json_util.h"
#include "httplib.h"
#include "services/common/grpc_status.h"
#include "services/registry/oversight.h"
#include "web/api_bridge.h"
#include "web/call_slots.h"
#include "web/console_files.h"

namespace chemledger::web {
namespace {

// "__Host-": a browser takes the cookie only from a secure origin, for the
// whole host ("Path=/") and never with a "Domain", so neither a sibling
// domain nor a plain-HTTP page can plant one beside the console's own.
constexpr char kCookieName[] = "__Host-chemledger_console";
constexpr size_t kMaxRequestBytes = 64 << 10;
// Only what the console's own files do: scripts, styles and calls from
// this origin, nothing inline, no framing.
constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void SecurityHeaders(httplib::Response& res) {
  res.set_header("Content-Security-Policy", kContentSecurityPolicy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-store");
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseConsoleAddresses(absl::string_view flag_value) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(flag_value, ',')) {
    std::string address = absl::AsciiStrToLower(absl::StripAsciiWhitespace(part));
    if (address.empty()) continue;
    if (absl::StrContains(address, "/") || absl::EndsWith(address, ":443") ||
        absl::EndsWith(address, ":80")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--console-address: '", address,
          "' must be HOST or HOST:PORT as a browser's Host header names it (no scheme, no "
          "path, no :443 or :80)"));
    }
    out.push_back(std::move(address));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("--console-address: at least one HOST[:PORT] is required");
  }
  return out;
}

namespace {

// Whether `host` (a Host header, HOST[:PORT]) names this machine's loopback.
bool IsLoopbackHost(absl::string_view host) {
  for (absl::string_view loopback : {"127.0.0.1", "localhost", "[::1]"}) {
    absl::string_view rest = host;
    if (absl::ConsumePrefix(&rest, loopback) && (rest.empty() || rest[0] == ':')) return true;
  }
  return false;
}

// The console address a sign-in sent to this request is for: the request's
// Host when it is one of the console's addresses (never a name the client
// alone chose).
absl::StatusOr<std::string> ConsoleAddressOf(const ConsoleContext& c, const httplib::Request& req) {
  const std::string host = absl::AsciiStrToLower(req.get_header_value("Host"));
  if (!c.addresses.empty()) {
    if (std::find(c.addresses.begin(), c.addresses.end(), host) != c.addresses.end()) return host;
    return absl::InvalidArgumentError(
        absl::StrCat("Host: '", absl::CHexEscape(host.substr(0, 100)),
                     "' is not an address of this console (chemledgerd serve --console-address)"));
  }
  if (IsLoopbackHost(host)) return host;
  return absl::InvalidArgumentError(absl::StrCat(
      "Host: '", absl::CHexEscape(host.substr(0, 100)),
      "' is not a loopback address, and this console signs in only at a loopback address, as "
      "it was given no address of its own (chemledgerd serve --console-address HOST[:PORT], the "
      "address regulators call)"));
}

void SendError(httplib::Response& res, const absl::Status& given) {
  const absl::Status status = PublicStatus(given);
  SecurityHeaders(res);
  res.status = HttpStatusOf(static_cast<int>(status.code()));
  res.set_content(ErrorJson(static_cast<grpc::StatusCode>(status.code()), status.message()),
                  "application/json");
}

void SendMessage(httplib::Response& res, const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (auto s = google::protobuf::util::MessageToJsonString(message, &json, options); !s.ok()) {
    SendError(res, absl::InternalError(absl::StrCat("cannot write JSON: ", s.ToString())));
    return;
  }
  SecurityHeaders(res);
  res.set_content(json, "application/json");
}

// The request's JSON body as `message`; InvalidArgument naming what is wrong.
absl::Status ParseBody(const httplib::Request& req, google::protobuf::Message* message) {
  if (req.body.size() > kMaxRequestBytes) {
    return absl::InvalidArgumentError(absl::StrCat("body: at most ", kMaxRequestBytes, " bytes"));
  }
  const std::string body = req.body.empty() ? "{}" : req.body;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (auto s = google::protobuf::util::JsonStringToMessage(body, message, options); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("body: not a ", message->GetTypeName(),
                                                   " in Protobuf's JSON mapping: ",
                                                   s.ToString()));
  }
  return absl::OkStatus();
}

// A call from the console's own pages: a POST of JSON from this origin.
// (A form on another site cannot send application/json without a CORS
// preflight, which nothing here answers; browsers that say where a request
// comes from are held to it.)
absl::Status SameOriginJson(const httplib::Request& req) {
  if (!absl::StartsWith(req.get_header_value("Content-Type"), "application/json")) {
    return absl::InvalidArgumentError("Content-Type: must be application/json");
  }
  const std::string site = req.get_header_value("Sec-Fetch-Site");
  if (!site.empty() && site != "same-origin" && site != "none") {
    return absl::PermissionDeniedError(
        absl::StrCat("Sec-Fetch-Site: ", site, ": the console's API answers its own pages only"));
  }
  const std::string origin = req.get_header_value("Origin");
  if (!origin.empty()) {
    absl::string_view host = origin;
    if (!absl::ConsumePrefix(&host, "https://")) absl::ConsumePrefix(&host, "http://");
    // (Host names are not case-sensitive.)
    if (absl::AsciiStrToLower(host) != absl::AsciiStrToLower(req.get_header_value("Host"))) {
      return absl::PermissionDeniedError(
          absl::StrCat("Origin: ", origin, " is not this server's"));
    }
  }
  return absl::OkStatus();
}

// The session cookie's value; "" for none, and for more than one: a
// cookie planted for a longer path (by a sibling domain, or over plain
// HTTP) would be sent before the browser's own and sign it in as someone
// else, so two are no session at all.
std::string SessionToken(const httplib::Request& req) {
  std::string token;
  int found = 0;
  for (size_t line = 0; line < req.get_header_value_count("Cookie"); ++line) {
    for (absl::string_view cookie : absl::StrSplit(req.get_header_value("Cookie", line), ';')) {
      cookie = absl::StripAsciiWhitespace(cookie);
      if (absl::ConsumePrefix(&cookie, kCookieName) && absl::ConsumePrefix(&cookie, "=")) {
        token = std::string(cookie);
        ++found;
      }
    }
  }
  return found == 1 ? token : "";
}

std::string SessionCookie(absl::string_view value, int64_t max_age_seconds) {
  return absl::StrCat(kCookieName, "=", value, "; Path=/; Max-Age=", max_age_seconds,
                      "; HttpOnly; Secure; SameSite=Strict");
}

void SendFile(httplib::Response& res, absl::string_view name, const char* type) {
  std::optional<absl::string_view> file = internal::FindConsoleFile(name);
  SecurityHeaders(res);
  if (!file) {
    res.status = 404;
    return;
  }
  res.set_content(file->data(), file->size(), type);
}

// Whether the client may start another sign-in step now.
absl::Status SignInAllowed(const ConsoleContext& c, const httplib::Request& req) {
  if (!c.sign_in_limiter->Take(c.client_of(req), 1, absl::Now())) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many sign-in attempts from this address: at most ", kSignInBurst,
                     " at once and ", kSignInsPerSecond, " a second"));
  }
  return absl::OkStatus();
}

// An API method: the request message as JSON in, the core's answer out.
template <typename Request, typename Response>
void RouteMethod(const ConsoleContext& c, std::shared_ptr<CallSlots> slots, httplib::Server* http,
                 const std::string& name,
                 std::function<absl::StatusOr<Response>(std::shared_ptr<const storage::Snapshot>,
                                                        const v1::Actor&, const Request&,
                                                        const httplib::Request&)>
                     answer) {
  http->Post(absl::StrCat("/console/api/", name),
             [c, slots, answer](const httplib::Request& req, httplib::Response& res) {
               if (absl::Status s = SameOriginJson(req); !s.ok()) return SendError(res, s);
               // Signed in first: a call without a session never waits for
               // a slot (nor holds the page server's thread while it waits).
               std::shared_ptr<const storage::Snapshot> snapshot = c.audit->ledger()->Latest();
               absl::StatusOr<ConsoleSessions::Reader> reader =
                   c.sessions->ReaderOf(*snapshot, SessionToken(req), absl::Now());
               if (!reader.ok()) return SendError(res, reader.status());
               if (!slots->Acquire()) {
                 res.set_header("Retry-After", "2");
                 return SendError(res, absl::UnavailableError(
                                           "the console is answering other calls: try again"));
               }
               struct Release {
                 CallSlots* slots;
                 ~Release() { slots->Release(); }
               } release{slots.get()};
               snapshot = c.audit->ledger()->Latest();  // what it is once a slot is had
               Request request;
               if (absl::Status s = ParseBody(req, &request); !s.ok()) return SendError(res, s);
               absl::StatusOr<Response> response =
                   answer(std::move(snapshot), reader->actor, request, req);
               if (!response.ok()) return SendError(res, response.status());
               SendMessage(res, *response);
             });
}

}  // namespace

void RouteConsole(const ConsoleContext& c, httplib::Server* http) {
  http->Get("/console", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/console/", 301);
  });
  http->Get("/console/", [](const httplib::Request&, httplib::Response& res) {
    SendFile(res, "index.html", "text/html; charset=utf-8");
  });
  http->Get("/console/console.js", [](const httplib::Request&, httplib::Response& res) {
    SendFile(res, "console.js", "text/javascript; charset=utf-8");
  });
  http->Get("/console/signed_note.js", [](const httplib::Request&, httplib::Response& res) {
    SendFile(res, "signed_note.js", "text/javascript; charset=utf-8");
  });
  http->Get("/console/chart.min.js", [](const httplib::Request&, httplib::Response& res) {
    SendFile(res, "chart.min.js", "text/javascript; charset=utf-8");
  });
  http->Get("/console/console.css", [](const httplib::Request&, httplib::Response& res) {
    SendFile(res, "console.css", "text/css; charset=utf-8");
  });

  // Signing in (console.proto).
  http->Post("/console/login/challenge", [c](const httplib::Request& req, httplib::Response& res) {
    if (absl::Status s = SignInAllowed(c, req); !s.ok()) return SendError(res, s);
    absl::StatusOr<v1::ConsoleChallenge> challenge = c.sessions->Challenge(absl::Now());
    if (!challenge.ok()) return SendError(res, challenge.status());
    SendMessage(res, *challenge);
  });
  http->Post("/console/login", [c](const httplib::Request& req, httplib::Response& res) {
    if (absl::Status s = SignInAllowed(c, req); !s.ok()) return SendError(res, s);
    v1::ConsoleLoginRequest request;
    if (absl::Status s = ParseBody(req, &request); !s.ok()) return SendError(res, s);
    absl::StatusOr<std::string> console = ConsoleAddressOf(c, req);
    if (!console.ok()) return SendError(res, console.status());
    absl::StatusOr<v1::ConsoleTicket> ticket =
        c.sessions->Login(*c.audit->ledger()->Latest(), request, *console, absl::Now());
    if (!ticket.ok()) return SendError(res, ticket.status());
    SendMessage(res, *ticket);
  });
  http->Get("/console/enter", [c](const httplib::Request& req, httplib::Response& res) {
    SecurityHeaders(res);
    // Opened by the user (an address pasted or a link from a terminal), not
    // by another site signing the browser in as someone else.
    const std::string site = req.get_header_value("Sec-Fetch-Site");
    absl::Status allowed = site.empty() || site == "none" || site == "same-origin"
                               ? SignInAllowed(c, req)
                               : absl::PermissionDeniedError(absl::StrCat(
                                     "Sec-Fetch-Site: ", site,
                                     ": open the address chemaudit login printed yourself"));
    absl::StatusOr<ConsoleSessions::Opened> opened =
        allowed.ok() ? c.sessions->Enter(req.get_param_value("ticket"), absl::Now())
                     : absl::StatusOr<ConsoleSessions::Opened>(allowed);
    if (!opened.ok()) {
      res.status = HttpStatusOf(static_cast<int>(opened.status().code()));
      res.set_content(absl::StrCat("ChemLedger console: ", opened.status().message(), "\n"),
                      "text/plain; charset=utf-8");
      return;
    }
    res.set_header("Set-Cookie",
                   SessionCookie(opened->token,
                                 absl::ToInt64Seconds(ConsoleSessions::kSessionLifetime)));
    res.set_redirect("/console/", 303);
  });
  http->Post("/console/logout", [c](const httplib::Request& req, httplib::Response& res) {
    if (absl::Status s = SameOriginJson(req); !s.ok()) return SendError(res, s);
    if (absl::Status ended = c.sessions->End(SessionToken(req)); !ended.ok()) {
      // The session stays good: say so, and leave the browser its cookie to
      // sign out with again.
      return SendError(res, absl::UnavailableError(absl::StrCat(
                                "sign-out failed, the session is still good until it expires: ",
                                ended.message(), "; sign out again")));
    }
    res.set_header("Set-Cookie", SessionCookie("", 0));
    SendMessage(res, v1::ConsoleSession());
  });
  http->Get("/console/api/session", [c](const httplib::Request& req, httplib::Response& res) {
    std::shared_ptr<const storage::Snapshot> snapshot = c.audit->ledger()->Latest();
    absl::StatusOr<ConsoleSessions::Reader> reader =
        c.sessions->ReaderOf(*snapshot, SessionToken(req), absl::Now());
    if (!reader.ok()) return SendError(res, reader.status());
    v1::ConsoleSession session;
    session.set_key_id(reader->key_id);
    session.set_actor_name(reader->actor.name());
    session.set_role(v1::ActorRole_Name(reader->actor.role()));
    session.set_department(v1::Department_Name(reader->actor.department()));
    session.set_jurisdiction(registry::JurisdictionText(reader->actor));
    session.set_expires_unix_seconds(absl::ToUnixSeconds(reader->expires));
    session.set_origin(c.sessions->origin());
    session.set_log_size(snapshot->size());
    SendMessage(res, session);
  });

  // AuditService, through its core.
  const audit::AuditReads* audit = c.audit;
  auto slots = std::make_shared<CallSlots>(c.max_api_calls);
  RouteMethod<v1::GetHistoryBundleRequest, v1::HistoryBundle>(
      c, slots, http, "GetHistoryBundle",
      [audit](auto snapshot, const v1::Actor& reader, const v1::GetHistoryBundleRequest& r,
              const httplib::Request&) { return audit->GetHistoryBundle(*snapshot, reader, r); });
  RouteMethod<v1::EventQuery, v1::EventPage>(
      c, slots, http, "QueryEvents",
      [audit](auto snapshot, const v1::Actor& reader, const v1::EventQuery& r,
              const httplib::Request&) { return audit->QueryEvents(snapshot, reader, r); });
  RouteMethod<v1::ReconcileRequest, v1::Reconciliation>(
      c, slots, http, "Reconcile",
      [audit](auto snapshot, const v1::Actor& reader, const v1::ReconcileRequest& r,
              const httplib::Request&) {
        return audit->Reconcile(*snapshot, reader, r);
      });
  RouteMethod<v1::ListAnomaliesRequest, v1::Anomalies>(
      c, slots, http, "ListAnomalies",
      [audit](auto snapshot, const v1::Actor& reader, const v1::ListAnomaliesRequest& r,
              const httplib::Request&) { return audit->ListAnomalies(*snapshot, reader, r); });
  RouteMethod<v1::StockQuery, v1::StockReport>(
      c, slots, http, "QueryStock",
      [audit](auto snapshot, const v1::Actor& reader, const v1::StockQuery& r,
              const httplib::Request&) { return audit->QueryStock(*snapshot, reader, r); });
  RouteMethod<v1::InTransitQuery, v1::InTransitReport>(
      c, slots, http, "QueryInTransit",
      [audit](auto snapshot, const v1::Actor& reader, const v1::InTransitQuery& r,
              const httplib::Request&) { return audit->QueryInTransit(*snapshot, reader, r); });
  RouteMethod<v1::MajorHazardSitesQuery, v1::MajorHazardSites>(
      c, slots, http, "ListMajorHazardSites",
      [audit](auto snapshot, const v1::Actor& reader, const v1::MajorHazardSitesQuery& r,
              const httplib::Request&) {
        return audit->ListMajorHazardSites(*snapshot, reader, r);
      });
  http->Post(R"(/console/api/.*)", [](const httplib::Request& req, httplib::Response& res) {
    SendError(res, absl::UnimplementedError(
                       absl::StrCat(req.path, ": not a method of the console's API "
                                              "(docs/console.md)")));
  });
  http->Get(R"(/console/.*)", [](const httplib::Request&, httplib::Response& res) {
    SecurityHeaders(res);
    res.status = 404;
  });
}

}  // namespace chemledger::web
