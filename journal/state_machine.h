// The contract between the journal (journal/journal.h) and the parts of the
// ledger whose rules and state it keeps: the registry, label issuance, the
// lifecycle and waybills (and, planned, the indexes the audit reads).
//
// A state machine is a function from (entry, state as it stands) to either a
// refusal or the state changes the entry implies. It keeps nothing of its own
// between calls: all it knows is in the state (read through a
// storage::StateReader) and comes back in storage::StateWrites, which the
// journal commits in one atomic batch with the entry. So state and log never
// disagree, and the same function rebuilds the state from the log (`check`,
// migration) that built it while the entries were written.
//
// Rules for a state machine:
//  - Apply reads only `state` and `entry`: never the clock (use
//    entry.record_time), never a file, never another machine's object. It may
//    read another machine's keys, through that machine's read functions (the
//    key layout stays inside the module that owns it).
//  - It is deterministic: the same entry on the same state gives the same
//    result, under the rules of entry.rules_epoch, whatever today's rules are.
//  - Its keys start with its own prefix (docs/architecture.md lists them).
//  - It never calls back into the journal or into its caller.
//
// Thread-safety: the journal calls Apply from one thread at a time, but the
// read functions a module offers over a StateReader are called from any
// thread; a state machine keeps no mutable state.

#ifndef CHEMLEDGER_JOURNAL_STATE_MACHINE_H_
#define CHEMLEDGER_JOURNAL_STATE_MACHINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "chemledger/v1/log.pb.h"
#include "storage/store.h"

namespace chemledger::journal {

// The version of the rules entries are checked under. Each entry records the
// epoch it was written under (LogEntry.rules_epoch); a rule change that would
// refuse what an earlier epoch accepted takes effect from a new epoch, so
// rebuilding the state from older entries still applies their own rules.
// Epoch 0 is an entry written before entries recorded their epoch.
//   1: waybill custody and event sizes checked in the log's order.
//   2: a repackaging's outputs are codes issued to the enterprise that
//      records it, and only producers and importers repackage; what a
//      waybill states is checked against the registry and the ledger.
//   3: a waybill opens only with its consignor's consent (a standing
//      CarrierAuthorization, or a WaybillConsent); until then it is PENDING.
//   4: a regulator is added with its department and jurisdiction.
//   5: hazardous waste: WASTE_DECLARING, and a declared waste package ships
//      only to a licensed disposer on a waybill with its transfer manifest.
//   6: reference tables imported into the log (the registry's
//      import_reference_table); a product is checked against the imported
//      catalogue in force, once there is one, and registered with
//      provisional flags when it is in none; regulators decide product
//      flags (decide_product_flags).
//   7: GB 18218 identification of registered sites at each event that
//      moves goods there, with alert entries (ledger/major_hazard.h; its
//      arithmetic is frozen for this epoch: a change to it is a new epoch);
//      control lists set their flags (the registry's ControlListFlagsFor);
//      control lists, statement texts, storage segregation and emergency
//      information are imported.
//   8: a regulator holds and recalls only what its department supervises:
//      公安 controlled goods (or pallets carrying them) only, 生态环境
//      nothing (it reads packages only once disposed, and a disposed
//      package is not held); sites are 1 to 64 characters, not bytes; a
//      threshold import's Q and β are bounded as whole values.
//   9: waybills: a blacklisted carrier's waybill is not consented to,
//      amended or shipped under; an arrived waybill releases the codes it
//      listed that never shipped, and closes once what shipped is received;
//      a receipt is not declared an error while another waybill holds its
//      code; a package a waybill holds (OPEN, or DEPARTED and not yet
//      shipped) is not consumed, repackaged, packed, unpacked, voided or
//      destroyed; gate passages and
//      departures or arrivals are not dated more than 5 minutes after the
//      platform's clock, nor an exit before its entry; a gate knows the
//      vehicles inside by plate.
//  10: what a waybill holds is held at any depth: nothing is packed on or
//      unpacked from an aggregate whose ancestor a waybill holds, and an
//      event on a held package is not declared an error (but shipments and
//      receipts, which the waybill book undoes); an error declaration is not
//      itself declared an error; a held (封存) package is not voided, packed,
//      nor a sealed pallet packed on or unpacked; a regulator's hold takes
//      over the custodian's own; a package observed by enterprises of two
//      cities within 6 hours is a scan signal (seen-in-two-places). The
//      waybill book: a package lost on the trip and found again is no
//      longer shipped under its waybill. The registry: a request (an import
//      aside) is at most 64 KiB and each text at most 4,096 bytes; a
//      blacklisting is dated within the year before it is recorded; a
//      site's park is changed by a platform administrator only; hazard
//      statement codes are checked. Public scan entries are taken.
//  11: a receipt made under no waybill (its goods came on one cancelled on
//      the way) is not declared an error while a waybill holds its code,
//      as one made under a waybill was not from epoch 9; and, declared an
//      error, it no longer reopens the waybill the code was received under
//      on an earlier trip.
//  12: a regulator of 交通运输 records the arrival of a waybill (DEPARTED, or
//      OPEN) whose carrier is blacklisted (its own actors sign nothing),
//      releasing the codes it listed that never shipped.
//  13: a regulator lifts only a blacklisting that a regulator of its own
//      department listed within its jurisdiction (a platform
//      administrator's, only a platform administrator); an enterprise
//      already blacklisted is not listed again until lifted. An
//      observation of a package the observer neither holds, has held, is
//      sent nor carries takes the label scanned from it (Event.label_urls),
//      one the log issued; labels only on observations, each its code's.
//  14: every label an observation carries is one a label key of the ledger
//      signed, what the observer holds included (checked with the event's
//      signature, before it is sequenced).
//  15: a signed request is not recorded after the expiry it names
//      (expires_unix_seconds); rebuilding the state, a logged request names
//      no other deployment than this one (services/registry/request_binding.h).
//  16: an event sets no field that its step does not read (a STORING event
//      with a waybill_id, say: services/ledger/lifecycle_rules.h); a
//      receipt may name the waybill its goods came on, which must be the
//      one they travel on (or that shipped them, cancelled on the way).
//  17: a platform administrator may require every signed write request to
//      name the deployment (RegistryRequest.set_deployment_policy, itself
//      named); then one that names none is refused; a signed request with
//      a field this server does not know is refused, not recorded
//      (services/registry/request_binding.h); entries of earlier epochs are
//      read without the fields added since (ParseLoggedRegistryRequest).
//  18: a signed request that sends a field holding one value twice, or two
//      members of one oneof, is refused, not recorded: a parser keeps the
//      last, another reader may take the first (services/common/
//      known_fields.h).
//  19: a waybill's goods line that lists a pallet (or container) is checked
//      against every package packed on it, as against a package listed
//      itself: their products' UN number, class and packing group, and
//      their control flags ask for the 剧毒 and 易制毒 permits (before, a
//      pallet carried anything under any line, without permits). A
//      platform administrator changes an enterprise's licences
//      (RegistryRequest.change_licence): adds one issued or renewed, or
//      ends one revoked or cancelled, from a day on. A carrier's
//      道路运输经营许可证 is checked again, on the day recorded, when goods
//      ship on its waybill and when the vehicle departs.
// A field added to a signed request message (Event, WaybillRequest,
// IssueLabelsRequest, RegistryRequest, or any message they carry) comes
// with a new epoch: an older entry may carry its number as an unknown field,
// and an older build's `check` would refuse entries that set it.
// request_binding_test pins the schema to the epoch.
inline constexpr uint32_t kCurrentRulesEpoch = 19;

// Why the journal is calling Apply.
enum class ApplyMode {
  // A new request is being sequenced: its signatures (and, from rules epoch
  // 14, those of the labels an observation carries) were verified by the
  // caller; the owner decides the assignment.
  kSequence,
  // A logged entry is being applied again, to rebuild the state (`check`, a
  // migration): signatures are verified again, and the owner's assignment is
  // compared with the logged one.
  kRebuild,
};

// One entry as the state machines see it.
struct EntryContext {
  uint64_t index = 0;          // its position in the log
  absl::Time record_time;      // when the server recorded it
  uint32_t rules_epoch = 0;    // the rules it is checked under
  ApplyMode mode = ApplyMode::kSequence;
  const v1::SignedEnvelope* envelope = nullptr;  // as the client signed it
  // What the owner bases the server's choices on: under kSequence what the
  // caller proposed (Request::proposal, e.g. which label key to sign with,
  // which only the process holding the keys knows); under kRebuild the
  // logged assignment. The owner checks it like any other input.
  absl::string_view proposal;
  // What the server decided in accepting it (LogEntry.assignment). The
  // machine that owns the payload type writes it; machines after it read it.
  std::string* assignment = nullptr;
};

// How a request is told apart from others for idempotency: `key`, unique
// within its scope (e.g. "event/<event id>"; the journal puts the scope in,
// "event/<scope>/<event id>": StateMachine::RequestScope), and how its sender
// names it, for messages ("event.event_id", "<the id>").
struct RequestId {
  std::string key;
  std::string field;
  std::string id;
  std::string what = "request";  // "event", "request": what the id names
  std::string kind;              // "event", "registry", ...: the key's first part
};

// The longest id a client may give a request or an event, in bytes.
inline constexpr size_t kMaxRequestIdBytes = 128;

// The RequestId of the id a client chose in `field` ("request.request_id"),
// keyed "<kind>/<id>"; InvalidArgument naming `field` when the id is empty
// or longer than kMaxRequestIdBytes.
inline absl::StatusOr<RequestId> MakeRequestId(absl::string_view kind, absl::string_view field,
                                               absl::string_view id,
                                               absl::string_view what = "request") {
  if (id.empty() || id.size() > kMaxRequestIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": 1 to ", kMaxRequestIdBytes, " bytes are required"));
  }
  return RequestId{absl::StrCat(kind, "/", id), std::string(field), std::string(id),
                   std::string(what), std::string(kind)};
}

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // A short, stable name ("registry", "lifecycle", ...), for errors and
  // `check` reports.
  virtual absl::string_view name() const = 0;

  // The payload types this machine owns: it decides their assignment and
  // their request key. Each payload type has exactly one owner.
  virtual std::vector<std::string> OwnedPayloadTypes() const { return {}; }

  // The idempotency key of a request of an owned payload type (for example
  // "event/<event id>"), or nullopt when it has none: the journal
  // answers a request whose key it has seen with the same payload by the
  // first one's receipt, and refuses it with other bytes (AlreadyExists).
  // Must depend only on the envelope. InvalidArgument for a payload that
  // does not parse. Called from any thread.
  virtual absl::StatusOr<std::optional<RequestId>> RequestKey(
      const v1::SignedEnvelope& envelope) const {
    return std::nullopt;
  }

  // The scope a request's id is unique in, as `state` says (e.g. the
  // enterprise of its signer): ids of different scopes never collide, and a
  // sender learns nothing of another scope's ids (not even that one is
  // used). Empty: one scope for the whole ledger (a machine must say so:
  // there is no default, so none forgets to scope its ids). Called by the
  // sequencer and when the state is rebuilt: it must give an entry the same
  // scope at both (read only what never changes once written, such as an
  // actor's enterprise). An error refuses the request.
  virtual absl::StatusOr<std::string> RequestScope(const v1::SignedEnvelope& envelope,
                                                   const storage::StateReader& state) const = 0;

  // Key prefixes this machine owns whose records nearly every entry reads
  // and few entries write (e.g. the registry's actors and enterprises): the
  // journal keeps them in memory for the sequencer. Empty by default.
  virtual std::vector<std::string> CachedPrefixes() const { return {}; }

  // Whether a retry of an accepted request of an owned payload type (same
  // request key, same payload) may get the first one's receipt: e.g. its
  // signer may still act. Called by the sequencer instead of Apply; reads
  // only `state`.
  virtual absl::Status CheckRetry(const v1::SignedEnvelope& envelope,
                                  const storage::StateReader& state) const {
    return absl::OkStatus();
  }

  // Checks `entry` against `state` (the state before it, plus the changes of
  // the machines applied before this one to the same entry) and adds the
  // changes it implies to `changes`. Every machine sees every entry and
  // ignores what is not its business. An error refuses the entry: nothing of
  // it is written, by any machine. Under kRebuild an error means the log
  // holds an entry the rules refuse (the journal reports it as DataLoss).
  virtual absl::Status Apply(const EntryContext& entry, const storage::StateReader& state,
                             storage::StateWrites* changes) const = 0;
};

}  // namespace chemledger::journal

#endif  // CHEMLEDGER_JOURNAL_STATE_MACHINE_H_
