#include "services/audit/major_hazard_sites.h"

#include <optional>
#include <string>

#include "services/audit/audit_scope.h"
#include "services/common/status_macros.h"
#include "services/ledger/major_hazard.h"
#include "services/registry/oversight.h"
#include "services/registry/registry_state.h"

namespace chemledger::audit {

absl::StatusOr<v1::MajorHazardSites> ListMajorHazardSites(const storage::StateReader& state,
                                                          const v1::Actor& reader,
                                                          const v1::MajorHazardSitesQuery& query) {
  CL_ASSIGN_OR_RETURN(AuditScope scope,
                      AuditScope::Resolve(state, reader, GoodsSelector{},
                                          PlaceSelector{query.enterprise_uscc(),
                                                        query.region_prefix(), query.park_id()},
                                          registry::RecordKind::kSites));
  // (Resolve refuses a department that does not read sites.)
  v1::MajorHazardSites out;
  out.set_log_size(state.size());
  // One enterprise's (named, or the reader's own) or every one in scope.
  std::string only = query.enterprise_uscc();
  if (only.empty() && registry::IsEnterpriseRole(reader.role())) only = reader.enterprise_uscc();
  absl::Status failed = absl::OkStatus();
  CL_RETURN_IF_ERROR(ledger::ScanMajorHazardStatuses(
      state, only,
      [&](absl::string_view custodian, absl::string_view site_id,
          const state::MajorHazardStatus& status) {
        absl::StatusOr<bool> covered = scope.Covers(std::string(custodian));
        if (!covered.ok()) {
          failed = covered.status();
          return false;
        }
        if (!*covered) return true;
        absl::StatusOr<std::optional<v1::Site>> site =
            registry::FindSite(state, custodian, site_id);
        if (!site.ok()) {
          failed = site.status();
          return false;
        }
        v1::MajorHazardSite* s = out.add_sites();
        s->set_enterprise_uscc(std::string(custodian));
        s->set_site_id(std::string(site_id));
        if (*site) {
          s->set_site_name((*site)->name());
          s->set_region_code((*site)->region_code());
          s->set_park_id((*site)->park_id());
          s->set_declared_grade((*site)->major_hazard_grade());
        }
        *s->mutable_assessment() = status.assessment();
        s->set_assessed_at_log_index(status.log_index());
        s->set_alert_log_index(status.alert_log_index());
        return true;
      }));
  CL_RETURN_IF_ERROR(failed);
  return out;
}

}  // namespace chemledger::audit
