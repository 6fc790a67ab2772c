// The journal: the one writer of a ChemLedger store. It frames each request
// as a LogEntry, orders it, has every state machine (journal/state_machine.h)
// check it and say what it changes, and commits the entry with all those
// changes in one atomic, durable write (storage/store.h).
//
// The path of a write:
//   Submit (caller's thread: request keys, size checks)
//     -> sequencer thread: takes every queued request (up to a batch's
//        limits) and applies each, in order, to the state as it stands: the
//        last committed snapshot, plus the batches that are checked but not
//        yet durable, plus the earlier requests of its own batch. A refused
//        request changes nothing; an accepted one becomes the next log entry.
//     -> committer thread: writes the batch (entries and state changes) with
//        one synced Store::Commit, then answers its callers.
// While batch N syncs, batch N+1 is checked on N's changes: the fsync is
// never a pause in checking. No lock is held across a commit, and reads
// never take the journal's locks: they read a snapshot (Snapshot()).
//
// A failed commit makes the journal read-only: the batches checked on the
// failed one's changes fail too, and every later Submit is Unavailable,
// until the store is reopened. Nothing already acknowledged is lost.
//
// Idempotency: a request whose owner gives it a request key
// (StateMachine::RequestKey) is answered, when the key was seen with the
// same payload, by the first request's receipt (replayed = true), and only
// once that first request is durable; with another payload, AlreadyExists.
//
// Opening a journal replays nothing: it checks that the store's state
// reflects the whole log and that the last entries hash to the tree. A store
// whose state is behind its log (a log written before stores kept state) is
// brought up to date once, by applying the missing entries in log order
// (kRebuild). Check() rebuilds the whole state into a scratch store and
// compares.
//
// Thread-safety: Submit and Snapshot may be called from any number of
// threads. The Store and the state machines must outlive the Journal.

#ifndef CHEMLEDGER_JOURNAL_JOURNAL_H_
#define CHEMLEDGER_JOURNAL_JOURNAL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/sha256.h"
#include "journal/state_machine.h"
#include "storage/store.h"

namespace chemledger::journal {

// A batch the store made durable (JournalOptions::on_commit).
struct CommittedBatch {
  size_t requests = 0;   // answered by it, refusals included
  size_t entries = 0;    // appended to the log
  absl::Duration commit_time;
};

struct JournalOptions {
  // Most requests, and most bytes of entries and state writes, one batch
  // holds (a request makes at most 8 MiB of both).
  size_t max_batch_requests = 4096;
  size_t max_batch_bytes = 8 << 20;
  // Batches checked but not yet durable: while one commits, the next ones
  // are checked on its changes, and the committer then takes all the
  // batches waiting as one commit (so that requests arriving during a
  // commit share the next one). At least 1.
  int max_batches_in_flight = 8;
  // The clock entries' record times come from (tests pass their own). Record
  // times never go backwards: an entry is never recorded before the one
  // before it.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // The rules epoch new entries are checked under. Never older than the
  // log's latest entry's: Open refuses that (FailedPrecondition), since
  // rules of an older epoch would ignore what later epochs protect (a
  // regulator's jurisdiction, waste, waybill holds) on a state that relies
  // on them.
  uint32_t rules_epoch = kCurrentRulesEpoch;
  // Tests only: lets a test write entries of an older epoch after newer
  // ones, as a log written by an older server would hold them.
  bool allow_older_rules_epoch = false;
  // Most keys the sequencer keeps of the state machines' CachedPrefixes
  // (the cache is emptied when it is full). At least 1.
  size_t cached_prefix_keys = 65536;
  // How many of the latest entries' leaf hashes the sequencer keeps for the
  // chain links of the events that follow them (40 bytes each; 0 keeps
  // none and reads each from the store's tree).
  size_t cached_leaf_hashes = 1 << 17;
  // Told after each batch the store committed, on the committing thread
  // (so it must be quick and thread-safe; metrics.h counts them): how many
  // requests and entries, and how long the store's commit and sync took.
  std::function<void(const CommittedBatch&)> on_commit;
};

// Where an accepted request is in the log.
struct Receipt {
  uint64_t index = 0;                // its log entry
  bool replayed = false;             // a retry of an accepted request
  crypto::Sha256Digest leaf_hash;    // the entry's RFC 6962 leaf hash
  absl::Time record_time;            // LogEntry.record_time
};

// A request: a signed envelope whose signatures the caller has verified, and
// what the caller proposes for the server's choices in it (see
// EntryContext::proposal; empty for most requests).
struct Request {
  v1::SignedEnvelope envelope;
  std::string proposal;
};

// Whether `envelope` (of a payload type `owner` owns) is a request the log
// has already accepted: its request key is recorded with the same payload.
// False for a request without a key, or whose key or scope cannot be told.
absl::StatusOr<bool> AlreadyAccepted(const storage::StateReader& state,
                                     const StateMachine& owner,
                                     const v1::SignedEnvelope& envelope);

// What Check found.
struct CheckReport {
  uint64_t entries = 0;     // entries applied
  uint64_t state_keys = 0;  // state keys compared
};

class Journal {
 public:
  // Opens the journal over `store` with `machines` (applied to each entry in
  // this order; each payload type owned by one of them). Brings a state that
  // is behind the log up to date (reporting progress to `progress`, if
  // given). FailedPrecondition when two machines own one payload type or
  // the state is ahead of the log; DataLoss when the last entries do not
  // hash to the stored tree or a missing entry does not apply.
  static absl::StatusOr<std::unique_ptr<Journal>> Open(
      storage::Store* store, std::vector<const StateMachine*> machines,
      JournalOptions options = {},
      const std::function<void(uint64_t done, uint64_t total)>& progress = nullptr);
  ~Journal();  // finishes the batches in flight, then stops

  // Sequences `requests` one after another (no other request between them),
  // and returns when each is durable or refused: one result per request, in
  // order. A refused request does not stop the ones after it. Errors: the
  // owner's refusal; InvalidArgument for a payload type nobody owns or an
  // entry over storage::Log::kMaxEntryBytes; AlreadyExists for a request key
  // reused with another payload; Unavailable once the journal is read-only.
  std::vector<absl::StatusOr<Receipt>> Submit(std::vector<Request> requests);
  absl::StatusOr<Receipt> Submit(Request request);

  // The latest committed log and state. Never waits for a write.
  std::shared_ptr<const storage::Snapshot> Snapshot() const;

  // OK while the journal accepts writes; once a commit has failed, the
  // Unavailable status every write now gets (the journal is read-only until
  // the store is reopened).
  absl::Status Writable() const;

  // Lookups of the sequencer's cache of hot state keys (the registry's
  // actors and enterprises, which nearly every entry reads) so far:
  // {hits, misses}. For the metrics.
  std::pair<uint64_t, uint64_t> StateCacheCounts() const;

  // Rebuilds the state of every entry of `store`'s log, in log order, each
  // under the rules and state of its time (kRebuild), into `scratch` (an
  // empty store of any backend, which keeps the rebuilt state and no
  // entries), and compares it with `store`'s state key by key. Runs the log's
  // integrity check first. DataLoss naming the first difference (the entry
  // that does not apply, or the state key with both values). `store` must
  // not be written meanwhile (open it without a server).
  static absl::StatusOr<CheckReport> Check(
      const storage::Store& store, std::vector<const StateMachine*> machines,
      storage::Store* scratch,
      const std::function<void(uint64_t done, uint64_t total)>& progress = nullptr);

  // The state key prefix the journal keeps for itself (request keys).
  static constexpr absl::string_view kKeyPrefix = "j/";

  // The layout of the state: which keys the state machines derive from the
  // entries. Raised whenever a state machine changes what it writes (a new
  // index, a new record field); the journal records it in the state (key
  // kStateFormatKey, decimal) and, at Open, rebuilds the whole state from the
  // log when the recorded format differs (or is absent from a store written
  // before formats were recorded, which is format 1). Entries never change.
  //   2: waybills indexed by party (services/waybill, "w/party/").
  //   3: request ids and event ids scoped by enterprise ("j/req/<kind>/<scope>/<id>",
  //      "l/event/<uscc>/<event id>").
  //   4: waybills named by carrier and number ("w/bill/<carrier>/<number>",
  //      "w/num/<number>/<carrier>").
  //   5: the public blacklist ("r/black/<uscc>").
  //   6: where goods are: each code's site (CodeRecord.site) and the stock
  //      index "l/at/<custodian>/<site>/<code>"; scan signals ("l/signal/");
  //      holds, recalls and the latest change in CodeRecord; vehicles inside
  //      parks ("w/inpark/").
  //   7: what each site holds per hazard class ("l/load/") and the flags of
  //      sites over a registered capacity ("l/siteflag/", "l/siteflag-by/").
  //   8: quantity flows by enterprise and by product ("l/flow/", "l/pflow/").
  //   9: the event index ("l/ev/", "l/evt/", "l/pev/", "l/wev/"); losses of
  //      controlled goods ("l/closs/"); recorded refusals ("x/refusal/",
  //      "x/refusal-by/"); shipments due by planned arrival ("w/due/").
  //  10: declared waste in the code records and flows (CodeRecord.waste,
  //      PackagePosition.waste).
  //  11: imported reference tables ("r/ref/"), provisional products
  //      ("r/pend/", Product.flags_provisional) and flag changes
  //      ("r/flagchg/"). An older server refuses this newer format at Open
  //      rather than check products against its compiled-in catalogue.
  //  12: what each site holds per product ("l/pload/"), GB 18218
  //      identification of sites ("l/mh/"), alerts waiting to be recorded
  //      ("l/mhpend/") and recorded ("l/mhalert/", "l/mhalert-by/"); the
  //      rows of imported control lists ("r/ref/ctl/"), statement texts
  //      ("r/ref/stm/"), segregation ("r/ref/seg/") and emergency
  //      information ("r/ref/emg/").
  //  13: a park gate's request ids scoped by its park ("j/req/<kind>/park:<park id>/<id>"),
  //      not the platform's.
  //  14: the waybill a code was last received under names the receipt's
  //      log index too ("w/recv/<code>": "<ref>\n<index>"); the stock
  //      index escapes '%' in a site as well as '/' ("a%2Fb" and "a/b"
  //      were one site in it).
  static constexpr int kStateFormat = 14;
  static constexpr absl::string_view kStateFormatKey = "j/state-format";

 private:
  class Impl;
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace chemledger::journal

#endif  // CHEMLEDGER_JOURNAL_JOURNAL_H_
