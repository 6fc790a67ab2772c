// The ledger's state machines (journal/state_machine.h) as every process
// that writes or checks entries sets them up: the machines in the order the
// journal applies them, the recorder of refused requests that asks them
// whether a refusal is a retry of an accepted request, and the catalogue
// compiled into the build. Apart from deployment.h so that the services
// that run apart from the store (labeld, waybilld: services/cluster/
// personality.h) link the rules without the store, the journal or their
// backends.
//
// Thread-safety: StateMachines is immutable once made; its machines are as
// journal/state_machine.h says.

#ifndef CHEMLEDGER_SERVICES_CHEMLEDGERD_STATE_MACHINES_H_
#define CHEMLEDGER_SERVICES_CHEMLEDGERD_STATE_MACHINES_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "journal/journal.h"
#include "journal/ledger_client.h"
#include "journal/state_machine.h"
#include "services/audit/refusal_recorder.h"
#include "services/registry/catalogue.h"

namespace chemledger::server {

// The ledger's state machines, in the order the journal applies them.
class StateMachines {
 public:
  // `catalogue` must outlive the machines.
  explicit StateMachines(const registry::Catalogue* catalogue);
  ~StateMachines();
  std::vector<const journal::StateMachine*> all() const;
  // The machine that owns `payload_type`; null for none.
  const journal::StateMachine* OwnerOf(absl::string_view payload_type) const;

 private:
  std::vector<std::unique_ptr<journal::StateMachine>> machines_;
};

// Records refused requests in the log through `ledger` (audit/
// refusal_recorder.h), leaving out the retries of requests the log has
// accepted, which `machines` tell. Both must outlive it.
std::unique_ptr<audit::RefusalRecorder> NewRefusalRecorder(journal::LedgerClient* ledger,
                                                           const StateMachines* machines,
                                                           std::function<absl::Time()> clock);

// The catalogue compiled into this build (services/registry/data/catalogue.tsv).
absl::StatusOr<std::unique_ptr<registry::Catalogue>> ShippedCatalogue();

}  // namespace chemledger::server

#endif  // CHEMLEDGER_SERVICES_CHEMLEDGERD_STATE_MACHINES_H_
