// Re-adding a reconciliation (chemledger.v1.Reconciliation, reconciliation.h)
// without the ledger: what `chemaudit verify` checks of the reconciliation a
// query bundle carries (query_bundle.h). It checks the arithmetic the report
// states, not the figures' source (each package's movements as the ledger's
// state records them, which no bundle proves):
//   - each row's and each total's three balances (stock, in transit, lost)
//     are what its figures add up to, and its waste disposal rate;
//   - a row is named once (enterprise, product, unit);
//   - each unit's total is the sum of that unit's rows, column by column,
//     and there is a total for every unit and no other;
//   - a row with a non-zero balance names codes behind it.
//
// Thread-safe: a pure function.

#ifndef CHEMLEDGER_SERVICES_AUDIT_RECONCILIATION_CHECK_H_
#define CHEMLEDGER_SERVICES_AUDIT_RECONCILIATION_CHECK_H_

#include <string>

#include "absl/status/status.h"
#include "chemledger/v1/audit_service.pb.h"

namespace chemledger::audit {

// OK, or InvalidArgument naming `field`, the row and the column that do not
// add up.
absl::Status CheckReconciliationAddsUp(const std::string& field,
                                       const v1::Reconciliation& reconciliation);

// The reconciliation of `query`'s goods, place and period.
v1::ReconcileRequest ReconcileRequestOf(const v1::EventQuery& query);

// Whether `reconciliation.request` asks for the goods, place and period of
// `query` (InvalidArgument naming the field otherwise).
absl::Status CheckReconciliationIsOfQuery(const std::string& field,
                                          const v1::Reconciliation& reconciliation,
                                          const v1::EventQuery& query);

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_RECONCILIATION_CHECK_H_
