// verifyd: verification (VerifyService) and the public scan pages as a
// process of its own (docs/cluster.md). It holds no key and writes
// nothing: it reads the ledger through ledgerd's internal port.

#include "absl/strings/str_cat.h"
#include "render/qr_photos.h"
#include "services/cluster/http_pages.h"
#include "services/cluster/personality.h"
#include "services/cluster/service_process.h"
#include "services/common/rate_limiter.h"
#include "services/verify/verify_service.h"

namespace chemledger::cluster {
namespace {

constexpr char kUsage[] =
    "verifyd: verification (VerifyService) and the scan pages of a ChemLedger cluster.\n"
    "\n"
    "  verifyd --ledger HOST:PORT [--http-listen HOST:PORT|none] [--http-port-file F]\n"
    "          (--http-tls-cert F --http-tls-key F | --http-plaintext)\n"
    "          (--tls-ca F --tls-cert F --tls-key F | --plaintext) ...\n"
    "\n"
    "  --ledger HOST:PORT       ledgerd's internal port\n"
    "  --http-listen HOST:PORT  the scan pages (default 127.0.0.1:7480), with TLS\n"
    "                           (--http-tls-cert and --http-tls-key: the public's\n"
    "                           certificate); --http-plaintext serves them without TLS,\n"
    "                           on a loopback address only (behind a TLS proxy)\n"
    "  --trusted-proxy ADDRESS[,...]|none  the proxies whose X-Forwarded-For names a\n"
    "                           page's client (default: any loopback peer)\n";

absl::Status Run(ServiceProcess& process) {
  absl::StatusOr<std::optional<web::ScanServer::Options>> page_flags =
      ReadHttpPages(process, "127.0.0.1:7480");
  if (!page_flags.ok()) return page_flags.status();
  absl::StatusOr<Personality> p = ConnectPersonality(process);
  if (!p.ok()) return p.status();
  journal::LedgerClient* ledger = p->ledger->client();
  // One allowance per client address for Verify, the pages and the
  // blacklist together.
  verify::VerifyOptions options;
  options.public_scans = p->public_scans.get();
  options.anonymous_scans = p->anonymous_scans.get();
  verify::VerifyServiceImpl service(ledger, p->reads.get(), options);
  absl::StatusOr<std::unique_ptr<web::ScanServer>> pages =
      StartHttpPages(process, *std::move(page_flags), ledger, nullptr, nullptr,
                     p->public_scans.get(), p->anonymous_scans.get());
  if (!pages.ok()) return pages.status();
  absl::Status served = ServePersonality(process, *p, &service,
                                         absl::StrCat("verifying for ", p->deployment.deployment()),
                                         [&pages] { pages->reset(); });
  pages->reset();
  return served;
}

}  // namespace
}  // namespace chemledger::cluster

int main(int argc, char** argv) {
  // Photos sent to Verify are read in worker processes, this binary started
  // again (render/qr_photos.h): first, before any thread starts.
  chemledger::render::ServeQrPhotoWorkerIfAsked(argc, argv);
  return chemledger::cluster::RunService(
      {"verifyd", chemledger::cluster::kUsage,
       {"ledger", "http-listen", "http-port-file", "http-tls-cert", "http-tls-key"},
       "127.0.0.1:7446"},
      argc, argv, chemledger::cluster::Run);
}
