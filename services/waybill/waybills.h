// The e-waybill book: carriers' 电子运单 as signed log entries, and the rules
// that tie the ledger's shipping and receipt to them. WaybillService is a thin
// gRPC adapter over this.
//
// A carrier's actor submits a waybill (validation.h checks its fields); the
// book checks it against the registry (the carrier holds a valid 道路运输经营
// 许可证; consignor and consignee are registered; each goods line matches the
// registered product of its package codes; 剧毒 goods carry their road
// transport permit, 易制毒 goods their transport permit) and against the
// ledger (each code in the consignor's custody and able to move, and on no
// other open waybill), then appends it. Amend, cancel, depart and arrive
// are new signed entries; the original stays in the log.
//
// The ledger asks the book, through ShippingCheck(), whether a shipment is
// covered (an open waybill of that consignor and consignee listing the
// code), and tells it of every accepted event (OnLedgerEvent) so receipts
// close waybills: a waybill closes when every code on it is received.
//
// Thread-safety: all methods may be called concurrently. Lock order: the
// book's write lock, the registry's lock, then the book's index lock (which
// ShippingCheck and OnLedgerEvent take alone or under the ledger's and
// registry's locks). The book's state changes only under the registry's lock,
// in the order of the log (ledger events through Registry::AppendCheckedMany's
// on_appended), so it is the same live as after replay. The Log and Registry
// must outlive the book.

#ifndef CHEMLEDGER_SERVICES_WAYBILL_WAYBILLS_H_
#define CHEMLEDGER_SERVICES_WAYBILL_WAYBILLS_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "absl/synchronization/mutex.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "services/label/issuance.h"
#include "services/ledger/ledger.h"
#include "services/registry/registry.h"
#include "storage/log.h"

namespace chemledger::waybill {

inline constexpr crypto::SignatureContext kWaybillContext(
    "application/vnd.chemledger.waybill.v1+protobuf");

// The largest log entry one waybill request may make; larger ones are refused.
inline constexpr size_t kMaxWaybillEntryBytes = 1 << 20;

struct WaybillState {
  v1::Waybill waybill;
  v1::WaybillStatus status = v1::OPEN;
  uint64_t log_index = 0;           // of its latest change
  uint64_t content_log_index = 0;   // of its submission or latest amendment
  std::set<std::string> shipped;    // codes shipped under it
  std::set<std::string> received;   // codes received under it
};

struct WaybillReceipt {
  uint64_t log_index = 0;
  bool replayed = false;
  // For a submission or amendment, the waybill's code (电子运单二维码, a
  // crypto/waybill_code.h URL) as the waybill stands now; empty for other
  // changes, or when the book has no label keys.
  std::string waybill_code;
};

class WaybillBook {
 public:
  // Replays the waybill entries of `log`, and the ledger events that ship or
  // receive under a waybill. Waybill codes are signed with the platform's
  // current label key from `label_keys` (none are made when it is null).
  static absl::StatusOr<std::unique_ptr<WaybillBook>> Open(storage::Log* log,
                                                           registry::Registry* registry,
                                                           label::LabelKeyring* label_keys = nullptr);

  // The ledger whose custody the book checks at submission. Set once, after
  // the ledger is opened with ShippingCheck().
  void AttachLedger(const ledger::Ledger* ledger);

  // Verifies, checks and records one signed WaybillRequest. Errors name the
  // field: InvalidArgument, Unauthenticated, PermissionDenied (not the
  // carrier's actor, carrier without a valid licence, blacklisted),
  // NotFound, AlreadyExists (waybill number taken; request id reused),
  // FailedPrecondition (a code on another open waybill or not shippable,
  // missing permit, a change the waybill's status does not allow).
  absl::StatusOr<WaybillReceipt> Apply(const v1::SignedEnvelope& request);

  // Apply for many requests, with one durable write for all those accepted:
  // one result per request, in order, each request checked against the book
  // as the ones before it leave it (a waybill submitted early in the batch
  // can be departed later in it). The signatures are checked on several
  // threads. A request that would take the batch's write past
  // storage::Log::kMaxAppendBytes is refused (ResourceExhausted) and may be
  // sent again.
  std::vector<absl::StatusOr<WaybillReceipt>> ApplyBatch(
      absl::Span<const v1::SignedEnvelope* const> requests);

  std::optional<WaybillState> Find(const std::string& waybill_number) const;

  // The key waybill codes are signed with now: the platform's current label
  // key (label::CurrentLabelKey). FailedPrecondition when there is none.
  // Takes the registry's lock once: look it up once for many codes.
  absl::StatusOr<const crypto::SigningKey*> CodeKey() const;
  // The waybill's code (电子运单二维码) for `state` (from Find or List): its
  // content and revision, signed with `key` (from CodeKey).
  absl::StatusOr<std::string> WaybillCode(const WaybillState& state,
                                          const crypto::SigningKey& key) const;

  // Waybills after `after` (a waybill number; "" from the start), by number,
  // for which `keep` is true: at most `limit`. *more says whether others
  // follow.
  std::vector<WaybillState> List(const std::string& after, size_t limit,
                                 const std::function<bool(const WaybillState&)>& keep,
                                 bool* more) const;

  // For LedgerOptions::waybills.
  ledger::WaybillCheck ShippingCheck();
  // For LedgerOptions::on_event: notes shipments and receipts.
  void OnLedgerEvent(const v1::Event& event);

 private:
  WaybillBook(storage::Log* log, registry::Registry* registry, label::LabelKeyring* label_keys)
      : log_(log), registry_(registry), label_keys_(label_keys) {}

  // What a batch's accepted requests change, before it is durable: each
  // waybill they touched (whole, as they leave it) and each code whose open
  // waybill they changed (nullopt: on none now).
  struct Pending {
    std::map<std::string, WaybillState> waybills;
    std::map<std::string, std::optional<std::string>> open_by_code;
  };

  // The book as `pending` leaves it.
  const WaybillState* FindWaybill(const Pending& pending, const std::string& number) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(index_mu_);
  std::optional<std::string> OpenWaybillOf(const Pending& pending, const std::string& code) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(index_mu_);

  // Checks `request` (verified, signed by `actor`) against the book as
  // `pending` leaves it and the registry; changes nothing.
  absl::Status Check(const registry::Registry::View& view, const v1::Actor& actor,
                     const v1::WaybillRequest& request, const Pending& pending) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(index_mu_);
  // Records the change of a checked `request`, at `log_index`, in `pending`.
  void Stage(const v1::WaybillRequest& request, uint64_t log_index, Pending* pending) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(index_mu_);
  // Makes `pending` the book's.
  void Merge(Pending pending) ABSL_EXCLUSIVE_LOCKS_REQUIRED(index_mu_);
  void NoteEvent(const v1::Event& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(index_mu_);

  storage::Log* const log_;
  registry::Registry* const registry_;
  label::LabelKeyring* const label_keys_;  // may be null
  absl::Mutex write_mu_;  // serialises ApplyBatch
  mutable absl::Mutex index_mu_ ABSL_ACQUIRED_AFTER(write_mu_);
  const ledger::Ledger* ledger_ ABSL_GUARDED_BY(index_mu_) = nullptr;
  std::map<std::string, WaybillState> waybills_ ABSL_GUARDED_BY(index_mu_);
  // code -> the open (not closed, not cancelled) waybill listing it
  std::map<std::string, std::string> open_by_code_ ABSL_GUARDED_BY(index_mu_);
  // request_id -> (log index, SHA-256 of the payload)
  std::map<std::string, std::pair<uint64_t, crypto::Sha256Digest>> requests_
      ABSL_GUARDED_BY(index_mu_);
};

}  // namespace chemledger::waybill

#endif  // CHEMLEDGER_SERVICES_WAYBILL_WAYBILLS_H_
