// waybilld: e-waybills (WaybillService) as a process of its own
// (docs/cluster.md). It holds the label keys (--label-keys), which sign the
// waybill codes; it reaches the ledger through ledgerd's internal port.

#include "absl/strings/str_cat.h"
#include "services/cluster/personality.h"
#include "services/cluster/service_process.h"
#include "services/label/label_keyring.h"
#include "services/waybill/waybill_service.h"
#include "services/waybill/waybills.h"

namespace chemledger::cluster {
namespace {

constexpr char kUsage[] =
    "waybilld: e-waybills (WaybillService) of a ChemLedger cluster.\n"
    "\n"
    "  waybilld --ledger HOST:PORT --label-keys DIR (--tls-ca F --tls-cert F --tls-key F |\n"
    "           --plaintext) ...\n"
    "\n"
    "  --ledger HOST:PORT   ledgerd's internal port\n"
    "  --label-keys DIR     the label key files, which sign waybill codes\n";

absl::Status Run(ServiceProcess& process) {
  absl::StatusOr<Personality> p = ConnectPersonality(process, Needs{/*signs=*/true});
  if (!p.ok()) return p.status();
  journal::LedgerClient* ledger = p->ledger->client();
  waybill::WaybillBook book(ledger, p->label_keys.get(), process.clock(), p->refusals.get());
  waybill::WaybillServiceImpl service(&book, ledger, p->reads.get(), waybill::SubmitStreamOptions(),
                                      p->anonymous_scans.get());
  if (process.metrics() != nullptr) {
    if (p->refusals != nullptr) {
      process.metrics()->WatchRefusalRecords(
          [r = p->refusals.get()] { return r->counters().ByOutcome(); });
    }
    process.metrics()->WatchSlots(
        "waybill_streams", [&service] { return service.streams().open(); },
        service.streams().max_open());
  }
  return ServePersonality(process, *p, &service,
                          absl::StrCat("taking waybills for ", p->deployment.deployment()));
}

}  // namespace
}  // namespace chemledger::cluster

int main(int argc, char** argv) {
  return chemledger::cluster::RunService(
      {"waybilld", chemledger::cluster::kUsage, {"ledger", "label-keys"}, "127.0.0.1:7445"},
      argc, argv, chemledger::cluster::Run);
}
