#include "services/chemledgerd/state_machines.h"

#include <utility>

#include "services/audit/refusals.h"
#include "services/label/issuance_rules.h"
#include "services/ledger/lifecycle_rules.h"
#include "services/ledger/major_hazard.h"
#include "services/ledger/public_scans.h"
#include "services/registry/registry_rules.h"
#include "services/registry/shipped_catalogue.h"
#include "services/waybill/waybill_rules.h"

namespace chemledger::server {

// The order matters: each machine reads what those before it wrote for the
// same entry, and a rebuild applies them in it. deployment_test pins it to
// the state format (journal.h, kStateFormat).
StateMachines::StateMachines(const registry::Catalogue* catalogue) {
  machines_.push_back(std::make_unique<registry::RegistryRules>(catalogue));
  machines_.push_back(std::make_unique<label::IssuanceRules>());
  machines_.push_back(std::make_unique<ledger::LifecycleRules>());
  machines_.push_back(std::make_unique<waybill::WaybillRules>());
  machines_.push_back(std::make_unique<audit::RefusalRules>());
  machines_.push_back(std::make_unique<ledger::MajorHazardAlertRules>());
  machines_.push_back(std::make_unique<ledger::PublicScanRules>());
}

StateMachines::~StateMachines() = default;

const journal::StateMachine* StateMachines::OwnerOf(absl::string_view payload_type) const {
  for (const auto& m : machines_) {
    for (const std::string& type : m->OwnedPayloadTypes()) {
      if (type == payload_type) return m.get();
    }
  }
  return nullptr;
}

std::vector<const journal::StateMachine*> StateMachines::all() const {
  std::vector<const journal::StateMachine*> out;
  for (const auto& m : machines_) out.push_back(m.get());
  return out;
}

absl::StatusOr<std::unique_ptr<registry::Catalogue>> ShippedCatalogue() {
  absl::StatusOr<const registry::Catalogue*> catalogue = registry::ShippedCatalogue();
  if (!catalogue.ok()) return catalogue.status();
  return std::make_unique<registry::Catalogue>(**catalogue);
}

std::unique_ptr<audit::RefusalRecorder> NewRefusalRecorder(journal::LedgerClient* ledger,
                                                           const StateMachines* machines,
                                                           std::function<absl::Time()> clock) {
  // A refused request the log had accepted (a replay) is no new attempt.
  return std::make_unique<audit::RefusalRecorder>(
      ledger, std::move(clock),
      [machines](const storage::StateReader& state,
                 const v1::SignedEnvelope& request) -> absl::StatusOr<bool> {
        const journal::StateMachine* owner = machines->OwnerOf(request.payload_type());
        if (owner == nullptr) return false;
        return journal::AlreadyAccepted(state, *owner, request);
      });
}

}  // namespace chemledger::server
