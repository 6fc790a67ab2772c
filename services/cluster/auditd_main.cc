// auditd: the regulators' audit (AuditService) and the console as a
// process of its own (docs/cluster.md). It holds no key and writes
// nothing: it reads the ledger through ledgerd's internal port and has
// ledgerd's note key sign the checkpoints and trust lists of its bundles.
// The console's sessions are kept by ledgerd, so a regulator signed in at
// one auditd instance is signed in at all.

#include "absl/strings/str_cat.h"
#include "services/audit/audit_reads.h"
#include "services/audit/audit_service.h"
#include "services/cluster/http_pages.h"
#include "services/cluster/personality.h"
#include "services/cluster/service_process.h"

namespace chemledger::cluster {
namespace {

constexpr char kUsage[] =
    "auditd: the audit (AuditService) and the regulator console of a ChemLedger cluster.\n"
    "\n"
    "  auditd --ledger HOST:PORT [--http-listen HOST:PORT|none] [--http-port-file F]\n"
    "         (--http-tls-cert F --http-tls-key F | --http-plaintext)\n"
    "         (--tls-ca F --tls-cert F --tls-key F | --plaintext) ...\n"
    "\n"
    "  --ledger HOST:PORT       ledgerd's internal port\n"
    "  --http-listen HOST:PORT  the console under /console/ (and the scan pages; default\n"
    "                           127.0.0.1:7481), with TLS (--http-tls-cert and\n"
    "                           --http-tls-key); --http-plaintext serves it without TLS,\n"
    "                           on a loopback address only (behind a TLS proxy)\n"
    "  --console-address HOST[:PORT][,...]  the console's addresses as regulators call\n"
    "                           it: a sign-in is good only for one of them (without it,\n"
    "                           only at a loopback address)\n"
    "  --trusted-proxy ADDRESS[,...]|none  the proxies whose X-Forwarded-For names a\n"
    "                           client (default: any loopback peer)\n";

absl::Status Run(ServiceProcess& process) {
  absl::StatusOr<std::optional<web::ScanServer::Options>> page_flags =
      ReadHttpPages(process, "127.0.0.1:7481");
  if (!page_flags.ok()) return page_flags.status();
  absl::StatusOr<Personality> p = ConnectPersonality(process);
  if (!p.ok()) return p.status();
  journal::LedgerClient* ledger = p->ledger->client();
  const audit::AuditReads audit_reads(ledger, p->ledger->notary(), process.clock());
  audit::AuditServiceImpl service(&audit_reads, p->reads.get());
  if (process.metrics() != nullptr) {
    process.metrics()->WatchSlots(
        "anomaly_subscriptions", [&service] { return service.subscriptions_open(); },
        audit::AuditServiceImpl::kMaxSubscriptions);
    process.metrics()->WatchSlots(
        "exports", [&service] { return service.exports_open(); },
        audit::AuditServiceImpl::kMaxExports);
  }
  absl::StatusOr<std::unique_ptr<web::ScanServer>> pages =
      StartHttpPages(process, *std::move(page_flags), ledger, &audit_reads, p->ledger->records(),
                     p->public_scans.get(), p->anonymous_scans.get());
  if (!pages.ok()) return pages.status();
  absl::Status served = ServePersonality(process, *p, &service,
                                         absl::StrCat("auditing ", p->deployment.deployment()),
                                         [&pages] { pages->reset(); });
  pages->reset();
  return served;
}

}  // namespace
}  // namespace chemledger::cluster

int main(int argc, char** argv) {
  return chemledger::cluster::RunService({"auditd",
                                          chemledger::cluster::kUsage,
                                          {"ledger", "http-listen", "http-port-file",
                                           "http-tls-cert", "http-tls-key", "console-address"},
                                          "127.0.0.1:7447"},
                                         argc, argv, chemledger::cluster::Run);
}
