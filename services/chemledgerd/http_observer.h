// What the HTTP servers (scan pages, staff app, console) report of each
// request: to the metrics (chemledger_http_*) and the access log (one JSON
// line, kind "http"). Shared by chemledgerd and the cluster's verifyd and
// auditd.
//
// Thread-safety: the observer is thread-safe; the metrics and log must
// outlive it.

#ifndef CHEMLEDGER_SERVICES_CHEMLEDGERD_HTTP_OBSERVER_H_
#define CHEMLEDGER_SERVICES_CHEMLEDGERD_HTTP_OBSERVER_H_

#include <functional>

#include "services/chemledgerd/access_log.h"
#include "services/chemledgerd/metrics.h"
#include "web/scan_server.h"

namespace chemledger::server {

// Null when both are null.
std::function<void(const web::HttpObservation&)> HttpObserver(ServerMetrics* metrics,
                                                               AccessLog* log);

}  // namespace chemledger::server

#endif  // CHEMLEDGER_SERVICES_CHEMLEDGERD_HTTP_OBSERVER_H_
