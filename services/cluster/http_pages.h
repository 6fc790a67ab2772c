// The HTTP(S) port of verifyd (scan pages) and auditd (scan pages and the
// regulator console) when they run apart: --http-listen, --http-port-file,
// and --http-tls-cert/--http-tls-key (the certificate phones and browsers
// see, not the cluster's). Plain HTTP only on loopback. The staff app,
// whose calls go to several services, is served by chemledgerd only.
//
// Thread-safety: as web::ScanServer.

#ifndef CHEMLEDGER_SERVICES_CLUSTER_HTTP_PAGES_H_
#define CHEMLEDGER_SERVICES_CLUSTER_HTTP_PAGES_H_

#include <memory>

#include "absl/status/statusor.h"
#include "services/audit/audit_reads.h"
#include "services/cluster/service_process.h"
#include "web/scan_server.h"

namespace chemledger::cluster {

// Starts the pages over `ledger` (with the console when `audit` is given,
// its sign-in records kept in `console_records`; label pages told to
// `public_scans`, which may be null; anonymous scans charged to
// `anonymous_scans`, the process's shared allowance, or to the pages' own
// when null); null when --http-listen is "none".
absl::StatusOr<std::unique_ptr<web::ScanServer>> StartHttpPages(
    ServiceProcess& process, journal::LedgerClient* ledger, const audit::AuditReads* audit,
    std::shared_ptr<EphemeralRecords> console_records, label::PublicScanSink* public_scans,
    RateLimiter* anonymous_scans, const char* default_listen);

}  // namespace chemledger::cluster

#endif  // CHEMLEDGER_SERVICES_CLUSTER_HTTP_PAGES_H_
