// labeld: label issuance (LabelService) as a process of its own
// (docs/cluster.md). It holds the label keys (--label-keys), which sign the
// labels; it reaches the ledger through ledgerd's internal port, and has
// ledgerd's note key sign the trust list it exports.

#include "absl/strings/str_cat.h"
#include "services/cluster/personality.h"
#include "services/cluster/service_process.h"
#include "services/label/issuance.h"
#include "services/label/label_keyring.h"
#include "services/label/label_service.h"

namespace chemledger::cluster {
namespace {

constexpr char kUsage[] =
    "labeld: label issuance (LabelService) of a ChemLedger cluster.\n"
    "\n"
    "  labeld --ledger HOST:PORT --label-keys DIR (--tls-ca F --tls-cert F --tls-key F |\n"
    "         --plaintext) ...\n"
    "\n"
    "  --ledger HOST:PORT   ledgerd's internal port\n"
    "  --label-keys DIR     the label key files (label-<id>.key, mode 0600); a key is used\n"
    "                       once a platform administrator has registered it\n";

absl::Status Run(ServiceProcess& process) {
  absl::StatusOr<Personality> p = ConnectPersonality(process, Needs{/*signs=*/true});
  if (!p.ok()) return p.status();
  journal::LedgerClient* ledger = p->ledger->client();
  label::LabelIssuer issuer(ledger, p->label_keys.get(), process.clock(), p->refusals.get());
  label::LabelServiceImpl service(&issuer, ledger, p->ledger->notary(), p->reads.get(),
                                  p->public_scans.get(), p->anonymous_scans.get());
  if (process.metrics() != nullptr) {
    if (p->refusals != nullptr) {
      process.metrics()->WatchRefusalRecords(
          [r = p->refusals.get()] { return r->counters().ByOutcome(); });
    }
    process.metrics()->WatchSlots(
        "issuance", [&service] { return service.issuances_in_progress(); },
        label::kMaxConcurrentIssuances);
  }
  return ServePersonality(process, *p, &service,
                          absl::StrCat("issuing labels for ", p->deployment.deployment()));
}

}  // namespace
}  // namespace chemledger::cluster

int main(int argc, char** argv) {
  return chemledger::cluster::RunService(
      {"labeld", chemledger::cluster::kUsage, {"ledger", "label-keys"}, "127.0.0.1:7444"}, argc,
      argv, chemledger::cluster::Run);
}
