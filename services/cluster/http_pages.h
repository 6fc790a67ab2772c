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
#include <optional>

#include "absl/status/statusor.h"
#include "services/audit/audit_reads.h"
#include "services/cluster/service_process.h"
#include "web/scan_server.h"

namespace chemledger::cluster {

// The pages' flags (web/page_flags.h, and --http-tls-cert, --http-tls-key
// or --http-plaintext), read before the service connects to ledgerd, so
// that a mistake in one stops it at once: nullopt when --http-listen is
// "none"; InvalidArgument naming the flag.
absl::StatusOr<std::optional<web::ScanServer::Options>> ReadHttpPages(const ServiceProcess& process,
                                                                      const char* default_listen);

// Starts the `pages` ReadHttpPages read (none when nullopt) over `ledger`
// (with the console when `audit` is given, its sign-in records kept in
// `console_records`; label pages told to `public_scans`, which may be
// null; anonymous scans charged to `anonymous_scans`, the process's shared
// allowance, or to the pages' own when null).
absl::StatusOr<std::unique_ptr<web::ScanServer>> StartHttpPages(
    ServiceProcess& process, std::optional<web::ScanServer::Options> pages,
    journal::LedgerClient* ledger, const audit::AuditReads* audit,
    std::shared_ptr<EphemeralRecords> console_records, label::PublicScanSink* public_scans,
    RateLimiter* anonymous_scans);

}  // namespace chemledger::cluster

#endif  // CHEMLEDGER_SERVICES_CLUSTER_HTTP_PAGES_H_
