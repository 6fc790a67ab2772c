// The anomaly list: what a regulator (or an enterprise, of its own) should
// look at, in log order, each with the log entry that is its evidence:
//
//   - REFUSED_REQUEST: a signed request refused for breaking a rule,
//     recorded in the log (refusals.h, refusal_recorder.h), with the rule's
//     kind (after a terminal state, wrong consignee, quantity mismatch,
//     controlled goods without permit, blacklisted enterprise, revoked key,
//     over-consumption, disposal without manifest, or another rule);
//   - CLONE_SIGNAL: a signed scan its package's history cannot explain
//     (ledger::ListScanSignals);
//   - CONTROLLED_GOODS_LOST: a 剧毒, 易制爆 or 易制毒 package reported lost
//     or stolen (ledger::ScanControlledLosses);
// and, as of `now`, not in log order but with every page:
//   - OVERDUE_SHIPMENT: goods shipped on a waybill that are not all received
//     by its planned arrival plus the grace period
//     (waybill::ShipmentsDueBefore); an enterprise's if it is the waybill's
//     consignor, consignee or carrier.
//
// Who reads what: platform administrators everything; a regulator, within
// its jurisdiction (the anomaly's enterprise: the refused signer's, the
// package's custodian or its scanner, the reporter of a loss), what its
// department reads (registry/oversight.h): packages' readers all kinds,
// 公安 clone signals, losses and refusals of controlled goods without
// permit; an enterprise's actors the anomalies of their own enterprise,
// without the full reasons of refusals (their signer was told).
//
// Thread-safe: a pure function of a state reader.

#ifndef CHEMLEDGER_SERVICES_AUDIT_ANOMALIES_H_
#define CHEMLEDGER_SERVICES_AUDIT_ANOMALIES_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "storage/store.h"

namespace chemledger::audit {

inline constexpr uint32_t kMaxAnomalyPageSize = 1000;
inline constexpr uint32_t kDefaultAnomalyPageSize = 100;
// The overdue shipments one answer holds (the reader's), and how many of the
// whole deployment's, oldest first, are looked at for them.
inline constexpr size_t kMaxOverdueShipments = 1000;
inline constexpr size_t kMaxOverdueExamined = 20000;

// The anomalies `request` asks for, as `reader` may read them at `state`.
// InvalidArgument naming the field for a malformed request;
// PermissionDenied when the reader may not read them at all or names a
// place outside its scope.
absl::StatusOr<v1::Anomalies> ListAnomalies(const storage::StateReader& state,
                                            const v1::Actor& reader,
                                            const v1::ListAnomaliesRequest& request,
                                            absl::Time now);

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_ANOMALIES_H_
