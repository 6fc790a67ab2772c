// 重大危险源 identified live: the registered sites within a reader's scope
// whose stock is a major hazard source now (GB 18218 Σ q/Q ≥ 1), as the
// ledger computed it at the last event that moved goods there
// (services/ledger/major_hazard.h). The alerts that recorded each crossing
// and change of grade are anomalies (anomalies.h, MAJOR_HAZARD_ALERT).
//
// Thread-safe: a pure function of a state reader.

#ifndef CHEMLEDGER_SERVICES_AUDIT_MAJOR_HAZARD_SITES_H_
#define CHEMLEDGER_SERVICES_AUDIT_MAJOR_HAZARD_SITES_H_

#include "absl/status/statusor.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "storage/store.h"

namespace chemledger::audit {

// The sites `query` asks for that are major hazard sources now, as `reader`
// may read them (the departments that read sites; an enterprise's actors
// their own), at `state`. Errors as AuditScope::Resolve.
absl::StatusOr<v1::MajorHazardSites> ListMajorHazardSites(const storage::StateReader& state,
                                                          const v1::Actor& reader,
                                                          const v1::MajorHazardSitesQuery& query);

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_MAJOR_HAZARD_SITES_H_
