// Reconciliation (流向登记与统计): the quantities of a chemical, an
// enterprise, a region or a park over a period, read from the ledger's
// quantity flows (services/ledger/quantity_flows.h) at one snapshot, with
// the balances that must be zero (the formulas are on v1::QuantityFigures
// in proto/chemledger/v1/audit_service.proto; docs/audit.md explains each
// column and how error declarations, voids and finds count).
//
// The balances are real checks, not identities: opening and closing stock
// are each package's position at the period's ends, the columns are what
// each event moved, and a package whose events do not lead from one
// position to the next (a flow missing, or a step that moved quantity it
// has no column for) leaves a difference and is named. When the period runs
// past every event recorded, the closing positions are each package's state
// now, kept apart from the flows by the lifecycle rules.
//
// Who reads what: a regulator, the enterprises its jurisdiction covers and
// the products its department reads (registry/oversight.h; 公安 the
// controlled goods); a platform administrator, everything; an enterprise's
// actor, its own enterprise only.
//
// Thread-safe: a pure function of a state reader.

#ifndef CHEMLEDGER_SERVICES_AUDIT_RECONCILIATION_H_
#define CHEMLEDGER_SERVICES_AUDIT_RECONCILIATION_H_

#include <functional>

#include "absl/status/statusor.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "storage/store.h"

namespace chemledger::audit {

inline constexpr absl::string_view kReconciliationFormat = "chemledger reconciliation v1";

// The reconciliation `request` asks for, as `reader` may read it, at
// `state`. InvalidArgument naming the field for a malformed request;
// PermissionDenied when the reader may not read what it names (an unknown
// enterprise reads as one outside the jurisdiction); NotFound for an unknown
// product or park; ResourceExhausted when it would follow more than two
// million packages' books; Cancelled when `cancelled` (polled while the
// flows are read; may be empty) says the caller gave up.
absl::StatusOr<v1::Reconciliation> Reconcile(const storage::StateReader& state,
                                             const v1::Actor& reader,
                                             const v1::ReconcileRequest& request,
                                             const std::function<bool()>& cancelled = nullptr);

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_RECONCILIATION_H_
