// labeld: label issuance (LabelService) as a process of its own
// (docs/cluster.md). It holds the label keys (--label-keys), which sign the
// labels; it reaches the ledger through ledgerd's internal port, and has
// ledgerd's note key sign the trust list it exports.

#include "absl/strings/str_cat.h"
#include "services/chemledgerd/deployment.h"
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
  absl::StatusOr<std::string> key_dir = process.args().Required("label-keys");
  if (!key_dir.ok()) return key_dir.status();
  absl::StatusOr<std::unique_ptr<label::LabelKeyring>> keyring = label::LabelKeyring::Open(*key_dir);
  if (!keyring.ok()) {
    return absl::Status(keyring.status().code(),
                        absl::StrCat("--label-keys: ", keyring.status().message()));
  }
  absl::StatusOr<Personality> p = ConnectPersonality(process);
  if (!p.ok()) return p.status();
  journal::LedgerClient* ledger = p->ledger->client();
  absl::StatusOr<std::unique_ptr<registry::Catalogue>> catalogue = server::ShippedCatalogue();
  if (!catalogue.ok()) return catalogue.status();
  const server::StateMachines machines(catalogue->get());
  std::unique_ptr<audit::RefusalRecorder> refusals =
      server::NewRefusalRecorder(ledger, &machines, process.clock());
  label::LabelIssuer issuer(ledger, keyring->get(), process.clock(), refusals.get());
  label::LabelServiceImpl service(&issuer, ledger, p->ledger->notary(), p->reads.get());
  if (process.metrics() != nullptr) {
    process.metrics()->WatchSlots(
        "issuance", [&service] { return service.issuances_in_progress(); },
        label::kMaxConcurrentIssuances);
  }
  ServiceProcess::Serving serving;
  serving.services = {&service, p->registry_reads.get()};
  serving.ledger = ledger;
  serving.ready_line = absl::StrCat("issuing labels for ", p->deployment.deployment());
  return process.Serve(serving);
}

}  // namespace
}  // namespace chemledger::cluster

int main(int argc, char** argv) {
  return chemledger::cluster::RunService(
      {"labeld", chemledger::cluster::kUsage, {"ledger", "label-keys"}, "127.0.0.1:7444"}, argc,
      argv, chemledger::cluster::Run);
}
