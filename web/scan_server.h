// The HTTP face of the public scan (the "resolver" of docs/label-format.md):
// a phone camera that reads a ChemLedger label opens HTTPS://<resolver>/...,
// and this server answers on those paths with the scan pages of
// web/scan_pages.h, rendered from the latest committed state:
//
//   GET /W/<number>/<signed part>  the waybill code's page
//   GET /<any other label path>    the label's page
//   GET /blacklist                 the public blacklist (黑名单)
//   GET /static/ghs/GHS0n.png      GHS pictograms
//   GET /static/transport/<class>.png  transport danger labels
//   GET /                          what this server is
//   /app/...                       the staff app (web/staff_app/, docs/staff-app.md),
//                                  when given a channel to the gRPC services:
//     GET  /app/                   the app; /app/app.js, /app/app.css, /app/sw.js
//     POST /app/rpc/<method>       the gRPC API over HTTP (web/api_bridge.h)
//     POST /app/api/decode         a photo (PNG or JPEG, at most 4 MB) in, the
//                                  texts of the QR codes in it out, as JSON
//   /console/...                 the regulator console (web/console.h,
//                                  docs/console.md), when given the audit
//   ?lang=en on any page: English instead of Chinese.
//
// A label or waybill page is an anonymous scan, limited per client address
// (kAnonymousScansPerSecond, per server process: several processes behind
// one address each keep their own), on the allowance it shares with the
// gRPC scans when Options::anonymous_scans is given; beyond it the
// answer is 429 with a page saying to wait. A request from a trusted proxy
// (Options::trusted_proxies; by default any loopback peer: a TLS terminator
// on this machine) counts against the last address in its
// X-Forwarded-For, which that proxy appends.
//
// The server is cpp-httplib's (docs/scan-page.md says why), with its own
// thread pool; TLS when given a certificate and key (chemledgerd requires
// them for an address beyond loopback).
//
// Thread-safety: Start and the destructor are called by one thread; the
// server's threads only read the ledger's snapshots.

#ifndef CHEMLEDGER_WEB_SCAN_SERVER_H_
#define CHEMLEDGER_WEB_SCAN_SERVER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "journal/ledger_client.h"
#include "reference/reference_tables.h"
#include "services/audit/audit_reads.h"
#include "services/common/ephemeral_records.h"
#include "services/common/rate_limiter.h"
#include "services/label/public_scan_sink.h"

namespace chemledger::web {

// A request the server answered. The views live for the call only.
struct HttpObservation {
  absl::string_view route;   // "scan", "app", "console", "static" or "other"
  absl::string_view method;  // GET, POST
  absl::string_view path;    // without the query string
  int status = 0;
  absl::Duration latency;    // in the server
  absl::string_view client;  // as the rate limits count it
  absl::string_view request_id;  // the client's X-Request-Id, or a new one
};

class ScanServer {
 public:
  struct Options {
    // HOST:PORT ("127.0.0.1:7480", "[::1]:0", "0.0.0.0:443"); port 0 picks
    // a free one (port() says which).
    std::string listen = "127.0.0.1:7480";
    // PEM files; both or neither (or one file given twice, holding the key
    // and the chain). Neither: plain HTTP. Read again every
    // `tls_reload_every` (web/renewing_certificate.h).
    std::string tls_cert_file;
    std::string tls_key_file;
    absl::Duration tls_reload_every = absl::Minutes(1);
    // Threads serving requests.
    int threads = 16;
    // The statement texts the pages show; not owned, must outlive the server.
    const reference::ReferenceTables* tables = &reference::ShippedReferenceTables();
    // The gRPC services, for the staff app's calls (chemledgerd gives its
    // server's in-process channel). Null: no staff app.
    std::shared_ptr<grpc::ChannelInterface> api_channel;
    // Told of each request answered (metrics.h, access_log.h).
    std::function<void(const HttpObservation&)> observe;
    // The audit's answers, for the regulator console under /console/
    // (web/console.h); not owned, must outlive the server. Null: no console.
    const audit::AuditReads* audit = nullptr;
    // Told of each label page served (label/public_scan_sink.h): the
    // recorder of public scans of lost, ended or voided packages; not
    // owned, must outlive the server. Null: none recorded.
    label::PublicScanSink* public_scans = nullptr;
    // The console's addresses as regulators call it, HOST[:PORT] each
    // ("console.example.gov.cn", "console.example.gov.cn:7480"): a sign-in
    // is good only for one of them (web/console.h). None: sign-ins only at
    // a loopback address (tests, a console used on this machine).
    std::vector<std::string> console_addresses;
    // Where the console keeps sign-in challenges, tickets and sessions
    // (null: in this process). A cluster's auditd instances share ledgerd's.
    std::shared_ptr<EphemeralRecords> console_records;
    // The allowance per client address that the pages share with the
    // process's other anonymous entry points (rate_limiter.h); not owned,
    // must outlive the server. Null: the pages keep their own.
    RateLimiter* anonymous_scans = nullptr;
    // The peers whose X-Forwarded-For names the client (a TLS terminator or
    // load balancer in front), IPv4 or IPv6 addresses: nullopt, any loopback
    // peer (a proxy on this machine); else exactly these (empty: none, every
    // client is its connection's peer). Start refuses one that is no address.
    std::optional<std::vector<std::string>> trusted_proxies;
  };

  // Listens and serves until destroyed. `ledger` is not owned and must
  // outlive the server.
  static absl::StatusOr<std::unique_ptr<ScanServer>> Start(journal::LedgerClient* ledger,
                                                           const Options& options);

  // Stops listening and waits for requests in progress.
  ~ScanServer();

  ScanServer(const ScanServer&) = delete;
  ScanServer& operator=(const ScanServer&) = delete;

  int port() const;

 private:
  struct Impl;
  explicit ScanServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Options::trusted_proxies from the value of --trusted-proxy: "none", or
// IPv4 and IPv6 addresses separated by commas. InvalidArgument naming the
// flag for anything else.
absl::StatusOr<std::vector<std::string>> ParseTrustedProxies(absl::string_view flag_value);

}  // namespace chemledger::web

#endif  // CHEMLEDGER_WEB_SCAN_SERVER_H_
