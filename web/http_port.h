// Binding an HTTP server's port (the scan pages, the metrics) so that no
// other process shares it. cpp-httplib's default sets SO_REUSEPORT, which
// lets a second server started on the same port (a stale process, a copied
// configuration) take half of the first one's connections without a word;
// BindHttpPort sets SO_REUSEADDR instead (a restarted server binds at
// once), and a port another server listens on is refused.
//
// One case waits: the connections an earlier version of ChemLedger (which
// kept httplib's default) left in TIME_WAIT hold the port against the new
// options for about a minute after it stopped; a bind refused while
// nothing listens on the port is tried again for up to `wait`.
//
// Thread-safety: a function; call it before the server listens.

#ifndef CHEMLEDGER_WEB_HTTP_PORT_H_
#define CHEMLEDGER_WEB_HTTP_PORT_H_

#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "httplib.h"

namespace chemledger::web {

// Binds `http` to `host`:`port` (port 0: any free one) and returns the port.
// Unavailable ("cannot listen on HOST:PORT", with why when another server
// listens there) when it cannot.
absl::StatusOr<int> BindHttpPort(httplib::Server* http, const std::string& host, int port,
                                 absl::Duration wait = absl::Seconds(90));

// Serves `http` (bound) on a thread of its own, returned, once it listens
// (or its listening has already ended): a stop that came before the thread
// began listening would find nothing to stop (httplib's stop() does nothing
// to a server not yet running), and its thread would never end.
std::thread ServeInBackground(httplib::Server* http);

}  // namespace chemledger::web

#endif  // CHEMLEDGER_WEB_HTTP_PORT_H_
