// The regulator console (docs/console.md): pages for a browser and their
// JSON API, served by chemledgerd's HTTP server beside the scan pages:
//
//   GET  /console/                   the console (web/console/: index.html,
//                                    console.js, console.css; chart.js from
//                                    Debian's libjs-chart.js)
//   POST /console/login/challenge    -> chemledger.v1.ConsoleChallenge
//   POST /console/login              chemledger.v1.ConsoleLoginRequest -> ConsoleTicket
//   GET  /console/enter?ticket=T     opens the session: sets the cookie, 303 to /console/
//   POST /console/logout             ends it
//   GET  /console/api/session        -> chemledger.v1.ConsoleSession
//   POST /console/api/<Method>       AuditService's GetHistoryBundle, QueryEvents,
//                                    Reconcile, ListAnomalies, QueryStock,
//                                    QueryInTransit, ListMajorHazardSites: the
//                                    request message in, the response out
//
// Bodies are Protobuf's JSON mapping of the messages of
// proto/chemledger/v1/console.proto and audit_service.proto (proto field
// names); errors are {"code": "...", "message": "..."} with the HTTP status
// grpc-gateway gives the gRPC code. The API answers through the same core as
// AuditService (services/audit/audit_reads.h) for the actor whose session the
// cookie names (web/console_sessions.h); it adds no rule and skips none.
//
// The session cookie is HttpOnly, Secure and SameSite=Strict, on path /
// (as its __Host- prefix requires); the API takes only POSTs of application/json from the same
// origin (Sec-Fetch-Site, Origin against Host), so another site cannot make
// a signed-in browser call it; GET /console/api/session only says who is
// signed in. A ticket opens only from a navigation the user started
// (Sec-Fetch-Site none) or from the console itself. Sign-in calls are
// limited per client address.
//
// Thread-safety: the handlers run on the HTTP server's threads; everything
// in ConsoleContext must be thread-safe and outlive the server.

#ifndef CHEMLEDGER_WEB_CONSOLE_H_
#define CHEMLEDGER_WEB_CONSOLE_H_

#include <functional>
#include <string>
#include <vector>

#include "services/audit/audit_reads.h"
#include "services/common/rate_limiter.h"
#include "web/console_sessions.h"

namespace httplib {
class Server;
struct Request;
}  // namespace httplib

namespace chemledger::web {

struct ConsoleContext {
  const audit::AuditReads* audit = nullptr;  // its ledger() is read for the registry too
  ConsoleSessions* sessions = nullptr;
  // Limits sign-in calls (challenges, logins, tickets) per client address,
  // as `client_of` names it; both required.
  RateLimiter* sign_in_limiter = nullptr;
  std::function<std::string(const httplib::Request&)> client_of;
  // API calls answered at once; as many more wait up to 30 s, and the rest
  // are answered 503 at once: the server's HTTP threads also serve the
  // public scan pages.
  int max_api_calls = 2;
  // The console's own addresses, HOST[:PORT] as a browser's Host header
  // names them: a sign-in names the address its signer called
  // (ConsoleLogin.console), and it is taken only when that is one of these
  // and the request was sent to it; a look-alike console relaying logins
  // gets nothing. Empty: only loopback addresses (127.0.0.1, [::1],
  // localhost, any port) are the console's.
  std::vector<std::string> addresses;
};

// The console's addresses as --console-address gives them ("a.example,
// b.example:7480"): each HOST[:PORT], trimmed and in lower case (as
// browsers send Host). InvalidArgument naming the flag for an empty list,
// a scheme or a path, or a default port (:443, :80: browsers leave it out).
absl::StatusOr<std::vector<std::string>> ParseConsoleAddresses(absl::string_view flag_value);

// Sign-in calls a client address may make: two a second, twenty at once.
inline constexpr double kSignInsPerSecond = 2;
inline constexpr double kSignInBurst = 20;

// Adds the console's routes to `http` (before any catch-all route).
void RouteConsole(const ConsoleContext& context, httplib::Server* http);

}  // namespace chemledger::web

#endif  // CHEMLEDGER_WEB_CONSOLE_H_
