// What AuditService answers a reader whose identity is already established:
// the one place the audit's reads are decided, whichever door the reader
// came through. The gRPC service (audit_service.h) establishes the reader
// from the call's read credentials; the regulator console (web/console.h)
// from a session its `chemaudit login` opened. Neither adds or skips a rule.
//
// Every method takes the snapshot the reader was established at (the
// registry that said who the reader is) and answers from it, except
// QueryEvents, whose later pages are read at the snapshot of the first
// (its page token names it).
//
// Thread-safety: thread-safe. Everything passed to the constructor is not
// owned and must outlive the object.

#ifndef CHEMLEDGER_SERVICES_AUDIT_AUDIT_READS_H_
#define CHEMLEDGER_SERVICES_AUDIT_AUDIT_READS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/checkpoint.h"
#include "services/notary/notary.h"
#include "journal/ledger_client.h"
#include "storage/store.h"

namespace chemledger::audit {

class AuditReads {
 public:
  // `notary` signs the bundles' checkpoints and trust lists (the log's key);
  // `clock` says when "now" is for overdue shipments (empty: the real
  // clock; a test deployment's may be a test clock).
  AuditReads(journal::LedgerClient* ledger, const notary::LedgerNotary* notary,
             std::function<absl::Time()> clock = nullptr);

  journal::LedgerClient* ledger() const { return ledger_; }
  // The log's origin (the deployment's name), as its checkpoints say.
  const std::string& origin() const { return notary_->verifier().name(); }
  absl::Time Now() const { return clock_(); }

  // A code's history with proofs, for a regulator whose department and
  // jurisdiction read every event of it whole.
  absl::StatusOr<v1::HistoryBundle> GetHistoryBundle(const storage::Snapshot& snapshot,
                                                     const v1::Actor& reader,
                                                     const v1::GetHistoryBundleRequest& request) const;

  // 流向登记与统计 (reconciliation.h); stops early once `cancelled` says so.
  absl::StatusOr<v1::Reconciliation> Reconcile(const storage::Snapshot& snapshot,
                                               const v1::Actor& reader,
                                               const v1::ReconcileRequest& request,
                                               std::function<bool()> cancelled = nullptr) const;

  // A page of events (event_query.h), each as GetEvent shows it to
  // `reader`; a first page is read at `latest`, later ones at the snapshot
  // their token names.
  absl::StatusOr<v1::EventPage> QueryEvents(std::shared_ptr<const storage::Snapshot> latest,
                                            const v1::Actor& reader,
                                            const v1::EventQuery& request) const;

  // Anomalies (anomalies.h); overdue shipments as of Now().
  absl::StatusOr<v1::Anomalies> ListAnomalies(const storage::Snapshot& snapshot,
                                              const v1::Actor& reader,
                                              const v1::ListAnomaliesRequest& request) const;

  // A query's events as a bundle with proofs (query_bundle.h), each part
  // handed to `emit` as it is made; the trust list of today (Now(), China).
  absl::Status ExportEvents(const storage::Snapshot& snapshot, const v1::Actor& reader,
                            const v1::ExportEventsRequest& request,
                            const std::function<bool(const v1::QueryBundlePart&)>& emit) const;

  // Shipments in transit and vehicles in a park now (in_transit.h).
  absl::StatusOr<v1::InTransitReport> QueryInTransit(const storage::Snapshot& snapshot,
                                                     const v1::Actor& reader,
                                                     const v1::InTransitQuery& request) const;

  // Stock on hand (stock_query.h).
  // Sites that are major hazard sources now (major_hazard_sites.h).
  absl::StatusOr<v1::MajorHazardSites> ListMajorHazardSites(
      const storage::Snapshot& snapshot, const v1::Actor& reader,
      const v1::MajorHazardSitesQuery& request) const;
  absl::StatusOr<v1::StockReport> QueryStock(const storage::Snapshot& snapshot,
                                             const v1::Actor& reader,
                                             const v1::StockQuery& request) const;

 private:
  journal::LedgerClient* const ledger_;
  const notary::LedgerNotary* const notary_;
  const std::function<absl::Time()> clock_;
};

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_AUDIT_READS_H_
