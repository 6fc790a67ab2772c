// The anomaly list: what a regulator (or an enterprise, of its own) should
// look at, in log order, each with the log entry that is its evidence:
//
//   - REFUSED_REQUEST: a signed request refused for breaking a rule,
//     recorded in the log (refusals.h, refusal_recorder.h), with the rule's
//     kind (after a terminal state, wrong consignee, quantity mismatch,
//     controlled goods without permit, blacklisted enterprise, revoked key,
//     over-consumption, disposal without manifest, a forged label, or
//     another rule);
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

#include <cstdint>
#include <set>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/wire.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "storage/store.h"

namespace chemledger::audit {

inline constexpr uint32_t kMaxAnomalyPageSize = 1000;
// With their evidence (ListAnomaliesRequest.with_evidence): the most
// anomalies a page holds, and the entries' bytes after which it ends (after
// a whole log index).
inline constexpr uint32_t kMaxAnomalyPageSizeWithEvidence = api::kMaxAnomalyPageSizeWithEvidence;
inline constexpr size_t kMaxAnomalyEvidenceBytes = 2 << 20;
inline constexpr uint32_t kDefaultAnomalyPageSize = 100;
// The overdue shipments one answer holds (the reader's), and how many of the
// whole deployment's, oldest first, are looked at for them.
inline constexpr size_t kMaxOverdueShipments = 1000;
inline constexpr size_t kMaxOverdueExamined = 20000;

// InvalidArgument ("kinds: ...") when `request` names a kind that is not one
// (UNSPECIFIED, or a number no kind has): what ListAnomalies and
// SubscribeAnomalies refuse first.
absl::Status CheckAnomalyKinds(const v1::ListAnomaliesRequest& request);

// The anomalies `request` asks for, as `reader` may read them at `state`,
// with the entries that are their evidence if it asks (for a platform
// administrator, or a regulator whose department reads every package and
// waybill). InvalidArgument naming the field for a malformed request;
// PermissionDenied when the reader may not read them at all, names a place
// outside its scope, or asks for evidence it may not read.
absl::StatusOr<v1::Anomalies> ListAnomalies(const storage::StateReader& state,
                                            const v1::Actor& reader,
                                            const v1::ListAnomaliesRequest& request,
                                            absl::Time now);

// A subscription's place in the anomaly list (AuditService.
// SubscribeAnomalies), and the telling of what follows it a round at a
// time: a round reads at most `pages_per_round` pages of `page_size`, so a
// long backlog is told over the rounds that follow, whether or not the log
// grows meanwhile.
//
// Thread-compatible: one subscription's thread uses it.
class AnomalyFeed {
 public:
  // Lists a page as ListAnomalies would, at the round's state.
  using Lister =
      absl::FunctionRef<absl::StatusOr<v1::Anomalies>(const v1::ListAnomaliesRequest& request)>;

  // `request`'s kinds and place; its after_log_index, or if 0 the last entry
  // of a log of `size` (from now on).
  AnomalyFeed(v1::ListAnomaliesRequest request, uint64_t size,
              uint32_t page_size = kMaxAnomalyPageSize, int pages_per_round = 100);

  // One round over a log of `size`, read with `list`: `tell` gets each
  // anomaly not told yet, in log order. False when `tell` returned false
  // (the listener left); the round's read error, if any.
  absl::StatusOr<bool> Round(uint64_t size, Lister list,
                             absl::FunctionRef<bool(const v1::Anomaly&)> tell);

  // Whether every anomaly of a log of `size` has been told.
  bool CaughtUp(uint64_t size) const { return told_size_ == size; }

 private:
  v1::ListAnomaliesRequest request_;
  const int pages_per_round_;
  uint64_t told_size_ = 0;  // every anomaly of a log of this size is told
};

// A subscription's overdue shipments (a state, not entries): each is told
// when a look finds it overdue, once while it stays overdue. What it keeps
// is the last look's list: a shipment no longer in it (received, cancelled,
// its arrival put off, or out of the reader's scope now) is forgotten, and
// told again if it is in a later look's list. While a look's list is cut
// short (overdue_truncated), a shipment told may be overdue still, beyond
// the cut, so those are kept too, up to kMaxToldOverdue in all; past that
// only the last list is kept, and a shipment pushed beyond the cut and back
// may be told again.
//
// Thread-compatible: one subscription's thread uses it.
class OverdueShipmentFeed {
 public:
  static constexpr size_t kMaxToldOverdue = 4 * kMaxOverdueShipments;

  // `tell` gets each shipment of `look` (a ListAnomalies answer for
  // OVERDUE_SHIPMENT) not told since it became overdue, in the list's order.
  // False when `tell` returned false (the listener left).
  bool Look(const v1::Anomalies& look, absl::FunctionRef<bool(const v1::Anomaly&)> tell);

  // The shipments it keeps as told.
  size_t told() const { return told_.size(); }

 private:
  std::set<std::string> told_;  // by waybill
};

// One subscription to the anomaly list (AuditService.SubscribeAnomalies):
// what it asked for, split into the entries' anomalies (an AnomalyFeed,
// told as they are written) and the overdue shipments (an
// OverdueShipmentFeed, looked at every kOverdueLookEvery); and its reader,
// whose registration is read again every kReaderLookEvery: a key revoked
// or an enterprise blacklisted meanwhile ends the subscription, and a
// regulator reassigned to another department or jurisdiction reads what
// the new one covers from then on.
//
// Thread-compatible: one subscription's thread uses it.
class AnomalySubscription {
 public:
  static constexpr absl::Duration kOverdueLookEvery = absl::Seconds(10);
  static constexpr absl::Duration kReaderLookEvery = absl::Minutes(1);

  // Lists a page as ListAnomalies would, at `snapshot`, for `reader`.
  using Lister = absl::FunctionRef<absl::StatusOr<v1::Anomalies>(
      const storage::Snapshot& snapshot, const v1::Actor& reader,
      const v1::ListAnomaliesRequest& request)>;

  // A subscription of `reader` to `request`'s anomalies from a log of
  // `size` on (or from its after_log_index), started at `now`.
  // InvalidArgument for a request a subscription does not take: a kind that
  // is not one, or with_evidence (the entries are read with ListAnomalies).
  static absl::StatusOr<AnomalySubscription> Start(v1::Actor reader,
                                                   const v1::ListAnomaliesRequest& request,
                                                   uint64_t size, absl::Time now);

  // One round at `snapshot`, at `now`: `tell` gets what is new, the
  // entries' anomalies in log order and then the overdue shipments if a
  // look is due. False when `tell` returned false (the subscriber left);
  // the reader's refusal (its key revoked, its enterprise blacklisted) when
  // its registration is looked at and it may no longer read; a read error.
  absl::StatusOr<bool> Round(const storage::Snapshot& snapshot, absl::Time now, Lister list,
                             absl::FunctionRef<bool(const v1::Anomaly&)> tell);

  // The reader as the registry had it at the last look.
  const v1::Actor& reader() const { return reader_; }

 private:
  AnomalySubscription(v1::Actor reader, v1::ListAnomaliesRequest entries,
                      v1::ListAnomaliesRequest overdue, bool want_entries, bool want_overdue,
                      uint64_t size, absl::Time now);

  v1::Actor reader_;
  AnomalyFeed feed_;
  OverdueShipmentFeed overdue_feed_;
  v1::ListAnomaliesRequest overdue_;
  bool want_entries_;
  bool want_overdue_;
  absl::Time reader_looked_at_;
  absl::Time overdue_looked_at_ = absl::InfinitePast();
};

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_ANOMALIES_H_
