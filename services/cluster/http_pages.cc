#include "services/cluster/http_pages.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crypto/key_files.h"
#include "services/chemledgerd/http_observer.h"
#include "services/common/listen_address.h"
#include "web/page_flags.h"
#include "web/renewing_certificate.h"

namespace chemledger::cluster {

absl::StatusOr<std::optional<web::ScanServer::Options>> ReadHttpPages(const ServiceProcess& process,
                                                                      const char* default_listen) {
  const cli::Args& args = process.args();
  absl::StatusOr<std::optional<web::ScanServer::Options>> read =
      web::ReadPageFlags(args, default_listen);
  if (!read.ok() || !read->has_value()) return read;
  web::ScanServer::Options& options = **read;
  // --plaintext turns TLS off on every port, these pages' too.
  const bool plaintext = args.Bool("http-plaintext") || process.plaintext();
  if (plaintext && (args.Has("http-tls-cert") || args.Has("http-tls-key"))) {
    return absl::InvalidArgumentError("--http-plaintext: not with --http-tls-cert or --http-tls-key");
  }
  if (args.Has("http-tls-cert") || args.Has("http-tls-key")) {
    absl::StatusOr<std::string> cert = args.Required("http-tls-cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = args.Required("http-tls-key");
    if (!key.ok()) return key.status();
    // The key file under the rules of --tls-key (owned by this user, no
    // access for group or others), before the HTTP library reads it.
    if (absl::StatusOr<std::string> private_key = crypto::ReadPrivateFile(*key, "--http-tls-key");
        !private_key.ok()) {
      return private_key.status();
    }
    // The certificate and key as the pages will serve them, read now: a
    // missing file or a key that is not the certificate's ends the service
    // here, not once ledgerd answers.
    if (absl::StatusOr<std::unique_ptr<web::RenewingCertificate>> served =
            web::RenewingCertificate::Open(*cert, *key, absl::Minutes(1));
        !served.ok()) {
      return absl::Status(served.status().code(), absl::StrCat("--http-tls-cert, --http-tls-key: ",
                                                               served.status().message()));
    }
    options.tls_cert_file = *cert;
    options.tls_key_file = *key;
  } else if (!plaintext) {
    return absl::InvalidArgumentError(
        "--http-tls-cert and --http-tls-key: needed for the HTTP pages; or --http-plaintext to "
        "serve them without TLS on a loopback address only (behind a TLS proxy on this "
        "machine), or --http-listen none");
  } else if (!IsLoopback(options.listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http-plaintext: --http-listen ", options.listen,
        " is not a loopback address; serving "
        "beyond this machine needs --http-tls-cert and --http-tls-key (or --http-listen none)"));
  }
  return read;
}

absl::StatusOr<std::unique_ptr<web::ScanServer>> StartHttpPages(
    ServiceProcess& process, std::optional<web::ScanServer::Options> pages,
    journal::LedgerClient* ledger, const audit::AuditReads* audit,
    std::shared_ptr<EphemeralRecords> console_records, label::PublicScanSink* public_scans,
    RateLimiter* anonymous_scans) {
  if (!pages) return nullptr;
  web::ScanServer::Options& options = *pages;
  options.audit = audit;
  options.console_records = console_records;
  options.public_scans = public_scans;
  options.anonymous_scans = anonymous_scans;
  options.observe = server::HttpObserver(process.metrics(), process.access_log());
  absl::StatusOr<std::unique_ptr<web::ScanServer>> started = web::ScanServer::Start(ledger, options);
  if (!started.ok()) {
    return absl::Status(started.status().code(),
                        absl::StrCat("--http-listen: ", started.status().message()));
  }
  const cli::Args& args = process.args();
  if (args.Has("http-port-file")) {
    if (absl::Status s = WritePortFile(args.Get("http-port-file"), (*started)->port()); !s.ok()) {
      return s;
    }
  }
  std::cout << process.name() << ": pages on HTTP" << (options.tls_cert_file.empty() ? "" : "S")
            << " port " << (*started)->port() << std::endl;
  return started;
}

}  // namespace chemledger::cluster
