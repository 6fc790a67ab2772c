// The lifecycle ledger core: every step of a package's life as a signed event
// in the log, with the rules enforced here, by the server, never by clients.
// LedgerService is a thin gRPC adapter over this.
//
// An event arrives as a SignedEnvelope of a chemledger.v1.Event
// (proto/chemledger/v1/ledger.proto). Append verifies the signature before it
// parses, checks the signer (registered, unrevoked, enterprise not
// blacklisted, an admin or operator of the event's enterprise), checks the
// event against the state of every code it touches, links it into each
// code's hash chain (EventLinks: the leaf hash of the code's previous event)
// and appends envelope and links as one log entry, under the registry's lock
// (Registry::AppendChecked). A refused event writes nothing.
//
// The rules (each refusal names the field):
//  - only the custodian stores, ships, consumes, repackages, packs or
//    disposes of a package; receipt by the consignee changes the custodian;
//  - shipping needs an open e-waybill listing the package (WaybillCheck);
//  - the remaining quantity never goes below zero; a repackaging's outputs
//    plus its declared loss equal what it took from its input;
//  - nothing happens after a terminal state (consumed, disposed, voided); a
//    packed child does not move alone; an aggregate cannot contain itself or
//    a code that already has a parent;
//  - the event time is not in the future (beyond LedgerOptions::clock_skew)
//    and not before the code's previous event;
//  - the enterprise's roles bound the steps: commissioning by producers and
//    importers, consuming by users and producers, destroying by disposers
//    holding a hazardous-waste licence valid on the event date, nothing by a
//    carrier;
//  - the same event id with the same bytes returns the original receipt;
//    with other bytes, ALREADY_EXISTS.
//
// Thread-safety: all methods may be called concurrently; the rule checks and
// log writes of Append and AppendBatch calls are serialised (signatures are
// checked before, in parallel), and concurrent Append calls are grouped into
// one durable write (group commit). The Log, Registry and LabelIssuer must outlive the Ledger.

#ifndef CHEMLEDGER_SERVICES_LEDGER_LEDGER_H_
#define CHEMLEDGER_SERVICES_LEDGER_LEDGER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "absl/time/time.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "services/label/issuance.h"
#include "services/registry/registry.h"
#include "storage/log.h"

namespace chemledger::ledger {

inline constexpr crypto::SignatureContext kEventContext(
    "application/vnd.chemledger.event.v1+protobuf");

// Most codes one event may name (children of one packing included).
inline constexpr int kMaxCodesPerEvent = 1000;
// Most codes one event may touch, the contents of the aggregates it moves and
// a repackaging's outputs included.
inline constexpr int kMaxTouchedCodes = 10000;
// How deep aggregates may nest (a package on a pallet in a container: 2).
inline constexpr int kMaxNesting = 8;
// Largest log entry one event may make (its envelope and chain links).
inline constexpr size_t kMaxEventEntryBytes = 1 << 20;

// Whether a shipment of `code` under `waybill_id` is covered by an open
// e-waybill. The e-waybill service provides the real check; until then the
// default refuses every shipment (FailedPrecondition naming waybill_id).
using WaybillCheck = std::function<absl::Status(const std::string& waybill_id,
                                                const std::string& shipper_uscc,
                                                const std::string& consignee_uscc,
                                                const std::string& code)>;
WaybillCheck NoWaybillsYet();

struct LedgerOptions {
  absl::Duration clock_skew = absl::Minutes(5);  // how far in the future an event time may be
  WaybillCheck waybills = NoWaybillsYet();
  // Called with every event once it is durable (not on replay), under the
  // ledger's and the registry's locks, in log order with every other
  // registry-checked write: it must not call back into either.
  std::function<void(const v1::Event&)> on_event;
  size_t verify_threads = 2;  // for a batch's signature checks
};

struct EventReceipt {
  uint64_t log_index = 0;
  bool replayed = false;  // a retry of an accepted event
  crypto::Sha256Digest event_hash;  // the entry's RFC 6962 leaf hash
};

enum class CodeStatus { kActive, kInTransit, kConsumed, kDisposed, kVoided, kLost };
absl::string_view CodeStatusName(CodeStatus status);

// What the ledger knows of one code now.
struct CodeState {
  std::string code;
  bool aggregate = false;      // a pallet or container code ("<USCC>.LU.<ID>")
  std::string enterprise;      // the issuing enterprise (packages) or the packer (aggregates)
  std::string product;         // packages only
  std::string unit;            // packages only
  uint64_t remaining_milli = 0;
  std::string custodian;       // USCC
  CodeStatus status = CodeStatus::kActive;
  std::string consignee;       // while in transit
  std::string parent;          // the aggregate it is packed on, if any
  std::set<std::string> children;  // aggregates only
  absl::Time last_event_time = absl::InfinitePast();
  std::optional<crypto::Sha256Digest> last_event_hash;
  std::vector<uint64_t> history;  // log indexes of its events, in order
  std::set<std::string> custodians;  // every enterprise that has held it (issuer included)
};

class Ledger {
 public:
  // Replays the log's events (after the registry and issuer have been opened
  // on the same log). DataLoss if a logged event's chain links do not match.
  static absl::StatusOr<std::unique_ptr<Ledger>> Open(storage::Log* log,
                                                      registry::Registry* registry,
                                                      const label::LabelIssuer* issuer,
                                                      LedgerOptions options = {});

  // Verifies, checks and records one event. Errors: InvalidArgument (a
  // malformed envelope or field), Unauthenticated, PermissionDenied (revoked
  // key, blacklisted enterprise, not the custodian, role not allowed),
  // FailedPrecondition (a rule of the package's state), NotFound (unknown
  // code or event), AlreadyExists (event id reused with other bytes).
  absl::StatusOr<EventReceipt> Append(const v1::SignedEnvelope& event);

  // Appends several events with one durable write: their signatures are
  // checked in parallel (LedgerOptions::verify_threads) outside the lock,
  // then each is checked in order, on the state the batch's earlier events
  // leave, and the accepted ones are appended together. One result per
  // event, in order, exactly as Append would give it; a refused event does
  // not stop the others.
  std::vector<absl::StatusOr<EventReceipt>> AppendBatch(
      absl::Span<const v1::SignedEnvelope> events);
  // The same, for events held elsewhere (e.g. a message's repeated field).
  std::vector<absl::StatusOr<EventReceipt>> AppendBatch(
      const std::vector<const v1::SignedEnvelope*>& events) {
    return AppendAll(events);
  }

  // Most events one group of concurrent Append calls writes at once.
  static constexpr size_t kMaxGroupEvents = 256;

  // The state of `code`, if the ledger has seen it.
  std::optional<CodeState> Find(const std::string& code) const;
  // Where event `event_id` is, and which enterprise recorded it.
  struct EventInfo {
    uint64_t log_index = 0;
    std::string enterprise;
  };
  std::optional<EventInfo> FindEvent(const std::string& event_id) const;

  // Whether `reader` may read `code`'s history: regulators and platform
  // administrators always; an enterprise's actors when the code is or was in
  // their enterprise's custody. False for a code the ledger has not seen.
  bool MayRead(const v1::Actor& reader, const std::string& code) const;

 private:
  struct PendingChange;
  struct Writer;
  // What a batch's earlier events left: the codes' states, and each touched
  // code's state before its latest event (nullopt: that event created it).
  struct BatchState {
    std::map<std::string, CodeState> overlay;
    std::map<std::string, std::optional<CodeState>> before;
  };

  std::vector<absl::StatusOr<EventReceipt>> AppendAll(
      const std::vector<const v1::SignedEnvelope*>& envelopes);

  Ledger(storage::Log* log, registry::Registry* registry, const label::LabelIssuer* issuer,
         LedgerOptions options)
      : log_(log), registry_(registry), issuer_(issuer), options_(std::move(options)) {}

  // Checks `event` (parsed from a verified envelope) on the current state
  // and computes what it changes. `record_time` is now. With `view` null (on
  // replay) the checks that depend on the registry and the clock are skipped;
  // the state rules are not.
  absl::StatusOr<PendingChange> Check(const registry::Registry::View* view,
                                      const v1::Event& event, absl::Time record_time,
                                      const BatchState* batch) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the event logged at `log_index` has `envelope`'s payload (a
  // retry) or not (an event id reused for other bytes).
  bool SamePayload(uint64_t log_index, const v1::SignedEnvelope& envelope) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The state of `code` as the batch's earlier events left it, else as the
  // ledger has it; null if unknown.
  const CodeState* Known(const std::string& code, const BatchState* batch) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The state of `code` before its latest event; null when that event
  // created it (or the code is unknown).
  const CodeState* BeforeLatest(const std::string& code, const BatchState* batch) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Commit(const PendingChange& change, const v1::Event& event, uint64_t log_index,
              const crypto::Sha256Digest& event_hash) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  storage::Log* const log_;
  registry::Registry* const registry_;
  const label::LabelIssuer* const issuer_;
  const LedgerOptions options_;
  // Append's queue of waiting callers (group commit).
  absl::Mutex writers_mu_;
  absl::CondVar writers_cv_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(writers_mu_);

  mutable absl::Mutex mu_;
  // Each code's state, without its history and custodians (kept apart).
  absl::flat_hash_map<std::string, CodeState> codes_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<uint64_t>> histories_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::set<std::string>> custodians_ ABSL_GUARDED_BY(mu_);
  // Each code's state before its latest event, for an error declaration to
  // restore; absent when the latest event created the code.
  absl::flat_hash_map<std::string, CodeState> before_latest_ ABSL_GUARDED_BY(mu_);
  // event_id -> where it is, and what it was
  struct EventRecord {
    uint64_t log_index;  // a retry's bytes are compared with the logged entry's
    crypto::Sha256Digest hash;
    std::string enterprise;  // the event's location enterprise
  };
  absl::flat_hash_map<std::string, EventRecord> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_LEDGER_H_
