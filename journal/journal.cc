#include "journal/journal.h"

#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "crypto/merkle.h"
#include "journal/layered_reader.h"
#include "journal/prefix_cache.h"

namespace chemledger::journal {
namespace {

// Most bytes of entry and state writes one request may make.
constexpr size_t kMaxRequestBytes = 8 << 20;
// Most bytes of batches merged into one commit (a store takes at most
// storage::Log::kMaxAppendBytes of entries in one).
constexpr size_t kMaxCommitBytes = storage::Log::kMaxAppendBytes / 2;

// "j/req/<key>" -> index(8, big-endian) || SHA-256(payload)(32)
// `id`'s key within the scope its owner gives it.
absl::StatusOr<std::string> ScopedRequestKey(const StateMachine& owner, const RequestId& id,
                                             const v1::SignedEnvelope& envelope,
                                             const storage::StateReader& state) {
  absl::StatusOr<std::string> scope = owner.RequestScope(envelope, state);
  if (!scope.ok()) return scope.status();
  if (scope->empty()) return id.key;
  return absl::StrCat(id.kind, "/", *scope, "/", id.id);
}

std::string RequestStateKey(absl::string_view request_key) {
  return absl::StrCat(Journal::kKeyPrefix, "req/", request_key);
}

std::string RequestStateValue(uint64_t index, const crypto::Sha256Digest& payload_hash) {
  std::string v;
  for (int shift = 56; shift >= 0; shift -= 8) v.push_back(static_cast<char>(index >> shift));
  v += payload_hash.ToBytes();
  return v;
}

struct RequestRecord {
  uint64_t index = 0;
  crypto::Sha256Digest payload_hash;
};

absl::StatusOr<RequestRecord> ParseRequestRecord(absl::string_view v) {
  if (v.size() != 8 + crypto::Sha256Digest::kSize) {
    return absl::DataLossError("a request record of the journal is malformed");
  }
  RequestRecord r;
  for (int i = 0; i < 8; ++i) r.index = r.index << 8 | static_cast<uint8_t>(v[i]);
  r.payload_hash = *crypto::Sha256Digest::FromBytes(v.substr(8));
  return r;
}

}  // namespace

absl::StatusOr<bool> AlreadyAccepted(const storage::StateReader& state,
                                     const StateMachine& owner,
                                     const v1::SignedEnvelope& envelope) {
  absl::StatusOr<std::optional<RequestId>> id = owner.RequestKey(envelope);
  if (!id.ok() || !*id) return false;
  absl::StatusOr<std::string> key = ScopedRequestKey(owner, **id, envelope, state);
  if (!key.ok()) return false;
  absl::StatusOr<std::optional<std::string>> seen = state.Get(RequestStateKey(*key));
  if (!seen.ok()) return seen.status();
  if (!*seen) return false;
  absl::StatusOr<RequestRecord> first = ParseRequestRecord(**seen);
  if (!first.ok()) return first.status();
  return first->payload_hash == crypto::Sha256(envelope.payload());
}

namespace {

absl::Time RecordTime(const v1::LogEntry& entry) {
  return absl::FromUnixSeconds(entry.record_time().seconds()) +
         absl::Nanoseconds(entry.record_time().nanos());
}

void SetRecordTime(absl::Time t, v1::LogEntry* entry) {
  const absl::Duration since = t - absl::UnixEpoch();
  const int64_t seconds = absl::ToInt64Seconds(absl::Floor(since, absl::Seconds(1)));
  entry->mutable_record_time()->set_seconds(seconds);
  entry->mutable_record_time()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(since - absl::Seconds(seconds))));
}

std::string Serialize(const v1::LogEntry& entry) {
  std::string bytes;
  entry.SerializeToString(&bytes);
  return bytes;
}

using Owners = std::map<std::string, const StateMachine*>;

absl::StatusOr<Owners> OwnersOf(const std::vector<const StateMachine*>& machines) {
  Owners owners;
  for (const StateMachine* m : machines) {
    for (const std::string& type : m->OwnedPayloadTypes()) {
      auto [it, added] = owners.emplace(type, m);
      if (!added) {
        return absl::FailedPreconditionError(absl::StrCat(
            "journal: payload type '", type, "' is owned by both ", it->second->name(),
            " and ", m->name()));
      }
    }
  }
  return owners;
}

std::vector<std::string> CachedPrefixesOf(const std::vector<const StateMachine*>& machines) {
  std::vector<std::string> prefixes;
  for (const StateMachine* m : machines) {
    for (std::string& p : m->CachedPrefixes()) prefixes.push_back(std::move(p));
  }
  return prefixes;
}

const StateMachine* OwnerOf(const Owners& owners, absl::string_view payload_type) {
  auto it = owners.find(std::string(payload_type));
  return it == owners.end() ? nullptr : it->second;
}

// Applies one logged entry again (kRebuild) on `state`, adding its changes to
// `changes`. DataLoss naming the entry when it does not apply as logged.
absl::Status RebuildEntry(uint64_t index, const std::string& bytes,
                          const std::vector<const StateMachine*>& machines, const Owners& owners,
                          const storage::StateReader& state, storage::StateWrites* changes) {
  v1::LogEntry entry;
  if (!entry.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat("entry ", index, " is not a LogEntry"));
  }
  const std::string& type = entry.envelope().payload_type();
  if (entry.rules_epoch() > kCurrentRulesEpoch) {
    return absl::FailedPreconditionError(absl::StrCat(
        "entry ", index, " was written under rules epoch ", entry.rules_epoch(),
        ", newer than this build's ", kCurrentRulesEpoch, ": run a newer chemledgerd"));
  }
  const StateMachine* owner = OwnerOf(owners, type);
  if (owner == nullptr) {
    return absl::DataLossError(
        absl::StrCat("entry ", index, ": no state machine owns payload type '", type, "'"));
  }
  absl::StatusOr<std::optional<RequestId>> id = owner->RequestKey(entry.envelope());
  if (!id.ok()) {
    return absl::DataLossError(
        absl::StrCat("entry ", index, " (", type, "): ", id.status().message()));
  }
  std::optional<std::string> key;
  if (*id) {
    absl::StatusOr<std::string> scoped = ScopedRequestKey(*owner, **id, entry.envelope(), state);
    if (!scoped.ok()) {
      return absl::DataLossError(
          absl::StrCat("entry ", index, " (", type, "): ", scoped.status().message()));
    }
    key = *std::move(scoped);
  }
  if (key) {
    absl::StatusOr<std::optional<std::string>> seen = state.Get(RequestStateKey(*key));
    if (!seen.ok()) return seen.status();
    if (*seen) {
      absl::StatusOr<RequestRecord> first = ParseRequestRecord(**seen);
      return absl::DataLossError(absl::StrCat(
          "entry ", index, " repeats request key '", absl::CHexEscape(*key), "' of entry ",
          first.ok() ? absl::StrCat(first->index) : "?"));
    }
  }
  std::string assignment;
  EntryContext context;
  context.index = index;
  context.record_time = RecordTime(entry);
  context.rules_epoch = entry.rules_epoch();
  context.mode = ApplyMode::kRebuild;
  context.envelope = &entry.envelope();
  context.proposal = entry.assignment();
  context.assignment = &assignment;
  storage::StateWrites own;
  for (const StateMachine* m : machines) {
    LayeredReader view(&state, &state, nullptr, 0, &own, index);
    if (absl::Status s = m->Apply(context, view, &own); !s.ok()) {
      return absl::DataLossError(absl::StrCat("entry ", index, " (", type,
                                              ") does not apply under the rules of its time: ",
                                              m->name(), ": ", s.message()));
    }
  }
  if (assignment != entry.assignment()) {
    return absl::DataLossError(absl::StrCat(
        "entry ", index, " (", type, "): ", owner->name(), " decides the assignment ",
        absl::CHexEscape(assignment), " but the log holds ", absl::CHexEscape(entry.assignment())));
  }
  if (key) {
    own.Put(RequestStateKey(*key),
            RequestStateValue(index, crypto::Sha256(entry.envelope().payload())));
  }
  changes->Merge(std::move(own));
  return absl::OkStatus();
}

// Rebuilds the state of entries [from, to), read from `log`, on top of the
// state that `state_base()` reads, handing each chunk's changes to `write`
// (after which state_base() must include them).
absl::Status RebuildRange(
    const storage::StateReader& log, uint64_t from, uint64_t to,
    const std::vector<const StateMachine*>& machines, const Owners& owners,
    const std::function<std::shared_ptr<const storage::StateReader>()>& state_base,
    const std::function<absl::Status(uint64_t applied, const storage::StateWrites&)>& write,
    const std::function<void(uint64_t, uint64_t)>& progress) {
  // A chunk is one write of the store: bounded by its bytes as a commit is
  // (entries whose states are large, such as reference-table imports, would
  // otherwise make one write of gigabytes, which PostgreSQL refuses, and the
  // rebuild would fail at the same chunk at every start), and by count.
  constexpr uint64_t kChunkEntries = 1024;
  constexpr size_t kChunkWrites = 64 << 10;
  constexpr size_t kChunkBytes = kMaxCommitBytes;
  uint64_t index = from;
  while (index < to) {
    std::shared_ptr<const storage::StateReader> base = state_base();
    Layer chunk;
    chunk.first_index = index;
    size_t chunk_bytes = 0;  // of the writes merged, counting overwritten ones
    // Entries are read from `log`; the chunk layer carries only state.
    while (index < to && index - chunk.first_index < kChunkEntries &&
           chunk.writes.size() < kChunkWrites && chunk_bytes < kChunkBytes) {
      absl::StatusOr<std::string> bytes = log.Entry(index);
      if (!bytes.ok()) return bytes.status();
      const Layer* layers[] = {&chunk};
      LayeredReader view(&log, base.get(), layers, 1, nullptr, index);
      storage::StateWrites changes;
      if (absl::Status s = RebuildEntry(index, *bytes, machines, owners, view, &changes);
          !s.ok()) {
        return s;
      }
      for (const auto& [key, value] : changes.writes()) {
        chunk_bytes += key.size() + (value ? value->size() : 0);
      }
      chunk.writes.Merge(std::move(changes));
      ++index;
    }
    if (absl::Status s = write(index, chunk.writes); !s.ok()) return s;
    if (progress) progress(index - from, to - from);
  }
  return absl::OkStatus();
}

// The last entries must hash to the leaf hashes stored for them, and the last
// one must be in the tree the stored nodes give.
absl::Status VerifyTail(const storage::Snapshot& snapshot) {
  constexpr uint64_t kTail = 16;
  const uint64_t size = snapshot.size();
  for (uint64_t i = size > kTail ? size - kTail : 0; i < size; ++i) {
    absl::StatusOr<std::string> entry = snapshot.Entry(i);
    if (!entry.ok()) return entry.status();
    absl::StatusOr<crypto::Sha256Digest> stored = snapshot.LeafHash(i);
    if (!stored.ok()) return stored.status();
    if (crypto::HashLeaf(*entry) != *stored) {
      return absl::DataLossError(absl::StrCat(
          "entry ", i, " does not hash to its stored leaf hash (the entry was altered)"));
    }
  }
  if (size > 0) {
    absl::StatusOr<std::vector<crypto::Sha256Digest>> proof =
        snapshot.InclusionProof(size - 1, size);
    if (!proof.ok()) return proof.status();
    if (absl::Status s = crypto::VerifyInclusion(size - 1, size, *snapshot.LeafHash(size - 1),
                                                 *proof, snapshot.root());
        !s.ok()) {
      return absl::DataLossError(absl::StrCat(
          "the last entry is not in the stored tree's root: ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

class Journal::Impl {
 public:
  Impl(storage::Store* store, std::vector<const StateMachine*> machines, Owners owners,
       JournalOptions options, uint64_t size, absl::Time last_record_time)
      : store_(store),
        machines_(std::move(machines)),
        owners_(std::move(owners)),
        options_(std::move(options)),
        next_index_(size),
        last_record_time_(last_record_time),
        cache_(CachedPrefixesOf(machines_), options_.cached_prefix_keys,
               options_.cached_leaf_hashes) {
    options_.max_batches_in_flight = std::max(1, options_.max_batches_in_flight);
    {
      absl::MutexLock lock(&mu_);
      committed_ = store_->GetSnapshot();
    }
    sequencer_ = std::thread([this] { SequencerLoop(); });
    committer_ = std::thread([this] { CommitterLoop(); });
  }

  std::pair<uint64_t, uint64_t> StateCacheCounts() const { return cache_.counts(); }

  ~Impl() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    sequencer_.join();
    {
      absl::MutexLock lock(&mu_);
      sequencer_done_ = true;
    }
    committer_.join();
  }

  std::vector<absl::StatusOr<Receipt>> Submit(std::vector<Request> requests);

  std::shared_ptr<const storage::Snapshot> Snapshot() const { return store_->GetSnapshot(); }

  absl::Status Writable() const {
    absl::MutexLock lock(&mu_);
    return failed_;
  }

 private:
  // One Submit call, waiting for its results.
  struct Group {
    std::vector<Request> requests;
    std::vector<std::optional<RequestId>> keys;         // request ids (or why not)
    std::vector<absl::Status> key_errors;
    std::vector<absl::StatusOr<Receipt>> results;
    size_t next = 0;  // the next request the sequencer takes
    absl::Notification done;
  };
  // A request's place in a batch: its result is delivered when the batch is
  // durable (or fails).
  struct Slot {
    Group* group;
    size_t request;
    absl::StatusOr<Receipt> result;
  };
  struct Batch {
    Layer layer;
    std::vector<Slot> slots;
    size_t bytes = 0;  // entries and state writes
  };

  void SequencerLoop();
  void CommitterLoop();
  // Checks and frames one request into `batch`, reading `view` (whose top
  // layer is the batch's own writes).
  absl::StatusOr<Receipt> Sequence(Group& group, size_t i, Batch& batch,
                                   const storage::StateReader& committed,
                                   const std::vector<const Layer*>& layers);

  storage::Store* const store_;
  const std::vector<const StateMachine*> machines_;
  const Owners owners_;
  JournalOptions options_;

  // Touched by the sequencer thread only (the cache's counts excepted).
  uint64_t next_index_;
  absl::Time last_record_time_;
  PrefixCache cache_;

  mutable absl::Mutex mu_;
  std::deque<Group*> queue_ ABSL_GUARDED_BY(mu_);
  // Batches checked and not yet durable, oldest first: the layers the next
  // batch is checked on, and the committer's queue.
  std::deque<std::shared_ptr<Batch>> in_flight_ ABSL_GUARDED_BY(mu_);
  // The store as the batches that left in_flight_ left it, taken from the
  // store by the committer, without mu_, before they leave: so the two are
  // read together under mu_, and the store is never called under it.
  std::shared_ptr<const storage::Snapshot> committed_ ABSL_GUARDED_BY(mu_);
  size_t committing_ ABSL_GUARDED_BY(mu_) = 0;  // in_flight_ entries handed to the committer
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool sequencer_done_ ABSL_GUARDED_BY(mu_) = false;

  std::thread sequencer_;
  std::thread committer_;
};

std::vector<absl::StatusOr<Receipt>> Journal::Impl::Submit(std::vector<Request> requests) {
  if (requests.empty()) return {};
  Group group;
  group.requests = std::move(requests);
  const size_t n = group.requests.size();
  group.keys.resize(n);
  group.key_errors.resize(n);
  group.results.resize(n, absl::InternalError("journal: no result"));
  // Outside every lock: what each owner keys its requests by.
  for (size_t i = 0; i < n; ++i) {
    const v1::SignedEnvelope& envelope = group.requests[i].envelope;
    const StateMachine* owner = OwnerOf(owners_, envelope.payload_type());
    if (owner == nullptr) {
      group.key_errors[i] = absl::InvalidArgumentError(absl::StrCat(
          "envelope.payload_type: no part of this ledger accepts '",
          absl::CHexEscape(envelope.payload_type()), "'"));
      continue;
    }
    absl::StatusOr<std::optional<RequestId>> key = owner->RequestKey(envelope);
    if (!key.ok()) {
      group.key_errors[i] = key.status();
    } else {
      group.keys[i] = *std::move(key);
    }
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      return std::vector<absl::StatusOr<Receipt>>(
          n, absl::UnavailableError("journal: shutting down"));
    }
    if (!failed_.ok()) return std::vector<absl::StatusOr<Receipt>>(n, failed_);
    queue_.push_back(&group);
  }
  group.done.WaitForNotification();
  return std::move(group.results);
}

absl::StatusOr<Receipt> Journal::Impl::Sequence(Group& group, size_t i, Batch& batch,
                                                const storage::StateReader& committed,
                                                const std::vector<const Layer*>& layers) {
  if (!group.key_errors[i].ok()) return group.key_errors[i];
  const v1::SignedEnvelope& envelope = group.requests[i].envelope;
  const uint64_t index = next_index_;
  const StateMachine* owner = OwnerOf(owners_, envelope.payload_type());
  const std::optional<RequestId>& id = group.keys[i];
  std::optional<std::string> key;
  const crypto::Sha256Digest payload_hash = crypto::Sha256(envelope.payload());

  // `layers` has room for the batch's own layer at its end.
  const size_t layer_count = layers.size();
  if (id) {
    LayeredReader view(&committed, &committed, layers.data(), layer_count, nullptr, index);
    absl::StatusOr<std::string> scoped = ScopedRequestKey(*owner, *id, envelope, view);
    if (!scoped.ok()) return scoped.status();
    key = *std::move(scoped);
    absl::StatusOr<std::optional<std::string>> seen = view.Get(RequestStateKey(*key));
    if (!seen.ok()) return seen.status();
    if (*seen) {
      absl::StatusOr<RequestRecord> first = ParseRequestRecord(**seen);
      if (!first.ok()) return first.status();
      if (first->payload_hash != payload_hash) {
        return absl::AlreadyExistsError(absl::StrCat(
            id->field, ": '", id->id, "' was already used for another ", id->what,
            "; a retry must resend the same signed bytes, a new ", id->what, " a new id"));
      }
      // The signer of a retry may act still (a revoked key gets nothing).
      if (absl::Status s = owner->CheckRetry(envelope, view); !s.ok()) return s;
      absl::StatusOr<std::string> bytes = view.Entry(first->index);
      if (!bytes.ok()) return bytes.status();
      v1::LogEntry logged;
      if (!logged.ParseFromString(*bytes)) {
        return absl::DataLossError(absl::StrCat("entry ", first->index, " is not a LogEntry"));
      }
      return Receipt{first->index, true, crypto::HashLeaf(*bytes), RecordTime(logged)};
    }
  }

  // As the entry will state it (whole nanoseconds), so that rebuilding the
  // state sees exactly the time the rules saw.
  v1::LogEntry entry;
  SetRecordTime(std::max(options_.clock(), last_record_time_), &entry);
  const absl::Time record_time = RecordTime(entry);
  std::string assignment;
  EntryContext context;
  context.index = index;
  context.record_time = record_time;
  context.rules_epoch = options_.rules_epoch;
  context.mode = ApplyMode::kSequence;
  context.envelope = &envelope;
  context.proposal = group.requests[i].proposal;
  context.assignment = &assignment;
  storage::StateWrites own;
  for (const StateMachine* m : machines_) {
    LayeredReader view(&committed, &committed, layers.data(), layer_count, &own, index);
    if (absl::Status s = m->Apply(context, view, &own); !s.ok()) return s;
  }
  // The request is not read again: its envelope moves into the entry.
  entry.mutable_envelope()->Swap(&group.requests[i].envelope);
  entry.set_assignment(assignment);
  entry.set_rules_epoch(options_.rules_epoch);
  std::string bytes = Serialize(entry);
  if (bytes.size() > storage::Log::kMaxEntryBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "envelope: the entry would be ", bytes.size(), " bytes, over the limit of ",
        storage::Log::kMaxEntryBytes));
  }
  if (key) own.Put(RequestStateKey(*key), RequestStateValue(index, payload_hash));
  size_t request_bytes = bytes.size();
  for (const auto& [k, v] : own.writes()) {
    if (k.size() > storage::kMaxStateKeyBytes ||
        (v && v->size() > storage::kMaxStateValueBytes)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "envelope: the request would write a state record of ",
          k.size() + (v ? v->size() : 0), " bytes, over the store's limit; split it"));
    }
    request_bytes += k.size() + (v ? v->size() : 0);
  }
  if (request_bytes > kMaxRequestBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "envelope: the request would write ", request_bytes,
        " bytes of entry and state, over the limit of ", kMaxRequestBytes, "; split it"));
  }
  batch.bytes += request_bytes;

  Receipt receipt{index, false, crypto::HashLeaf(bytes), record_time};
  batch.layer.entries.push_back(std::move(bytes));
  batch.layer.leaf_hashes.push_back(receipt.leaf_hash);
  batch.layer.writes.Merge(std::move(own));
  ++next_index_;
  last_record_time_ = record_time;
  return receipt;
}

// The journal's threads take less CPU than the threads answering calls:
// reads never wait for writes, not even for their CPU.
// Each thread is named (as `top -H` and `perf` show it).
void BecomeJournalThread(const char* name) {
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 5);
  pthread_setname_np(pthread_self(), name);
}

void Journal::Impl::SequencerLoop() {
  BecomeJournalThread("journal-seq");
  for (;;) {
    std::vector<Group*> groups;
    std::shared_ptr<const storage::Snapshot> committed;
    std::vector<std::shared_ptr<Batch>> layers_held;
    absl::Status failed;
    {
      absl::MutexLock lock(&mu_);
      // Wait for requests, and for room in the pipeline.
      mu_.Await(absl::Condition(
          +[](Impl* j) ABSL_EXCLUSIVE_LOCKS_REQUIRED(j->mu_) {
            return (!j->queue_.empty() &&
                    j->in_flight_.size() < static_cast<size_t>(j->options_.max_batches_in_flight)) ||
                   (j->stopping_ && j->queue_.empty());
          },
          this));
      if (queue_.empty()) return;  // stopping, and nothing left
      failed = failed_;
      // The committed snapshot and the batches on top of it, taken together:
      // a batch leaves in_flight_ only once committed_ holds it.
      committed = committed_;
      layers_held.assign(in_flight_.begin(), in_flight_.end());
      size_t taken = 0;
      size_t bytes = 0;
      for (Group* g : queue_) {
        groups.push_back(g);
        for (size_t i = g->next; i < g->requests.size(); ++i) {
          ++taken;
          bytes += g->requests[i].envelope.payload().size();
        }
        if (taken >= options_.max_batch_requests || bytes >= options_.max_batch_bytes) break;
      }
    }

    auto batch = std::make_shared<Batch>();
    batch->layer.first_index = next_index_;
    BatchSnapshotReader base(committed.get(), &cache_);
    std::vector<const Layer*> layers;
    for (const auto& b : layers_held) layers.push_back(&b->layer);
    layers.push_back(&batch->layer);  // the batch's own writes, read last-but-one
    size_t taken = 0;
    std::vector<Group*> finished;
    // The request records this batch will look up, asked of the store
    // together (a hint: where reads are round trips, one instead of one
    // each). A scope read here may differ from the batch's own view; then
    // that read asks again. Skipped where reads are not round trips. The
    // scopes are read as the batch sees the state (through the batches not
    // yet committed): a cached key filled from the committed snapshot
    // beneath a batch that changed it would stay stale after that commit.
    if (committed->Prefetches()) {
      const LayeredReader view(&base, &base, layers.data(), layers.size(), nullptr, next_index_);
      std::vector<std::string> request_keys;
      size_t counted = 0;
      for (Group* g : groups) {
        for (size_t i = g->next; i < g->requests.size() && counted < options_.max_batch_requests;
             ++i, ++counted) {
          if (!g->key_errors[i].ok() || !g->keys[i]) continue;
          const v1::SignedEnvelope& envelope = g->requests[i].envelope;
          const StateMachine* owner = OwnerOf(owners_, envelope.payload_type());
          absl::StatusOr<std::string> scoped =
              ScopedRequestKey(*owner, *g->keys[i], envelope, view);
          if (scoped.ok()) request_keys.push_back(RequestStateKey(*scoped));
        }
      }
      committed->Prefetch(request_keys);
    }
    // A batch ends at max_batch_bytes of entries and state writes; one
    // request adds at most kMaxRequestBytes, so a batch stays far below what
    // one Store::Commit takes.
    for (Group* g : groups) {
      while (g->next < g->requests.size() && taken < options_.max_batch_requests &&
             batch->bytes < options_.max_batch_bytes) {
        const size_t i = g->next++;
        ++taken;
        if (!failed.ok()) {
          batch->slots.push_back(Slot{g, i, failed});
          continue;
        }
        batch->slots.push_back(Slot{g, i, Sequence(*g, i, *batch, base, layers)});
      }
      if (g->next == g->requests.size()) finished.push_back(g);
      if (taken >= options_.max_batch_requests || batch->bytes >= options_.max_batch_bytes) break;
    }
    // The cache reads as the state after this batch (see prefix_cache.h).
    cache_.Update(batch->layer);
    absl::MutexLock lock(&mu_);
    for (Group* g : finished) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), g));
    }
    in_flight_.push_back(std::move(batch));
  }
}

void Journal::Impl::CommitterLoop() {
  BecomeJournalThread("journal-commit");
  for (;;) {
    // Every batch checked and waiting, oldest first, as one commit.
    std::vector<std::shared_ptr<Batch>> batches;
    absl::Status failed;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Impl* j) ABSL_EXCLUSIVE_LOCKS_REQUIRED(j->mu_) {
            return j->committing_ < j->in_flight_.size() || j->sequencer_done_;
          },
          this));
      if (committing_ == in_flight_.size()) return;  // the sequencer is done, and so is this
      size_t bytes = 0;
      while (committing_ < in_flight_.size()) {
        const std::shared_ptr<Batch>& next = in_flight_[committing_];
        if (!batches.empty() && bytes + next->bytes > kMaxCommitBytes) break;
        bytes += next->bytes;
        batches.push_back(next);
        ++committing_;
      }
      failed = failed_;
    }
    // One batch is committed as it is; several are merged (a later batch's
    // write of a key replaces an earlier one's).
    const std::vector<std::string>* entries = &batches.front()->layer.entries;
    const storage::StateWrites* writes = &batches.front()->layer.writes;
    std::vector<std::string> merged_entries;
    storage::StateWrites merged_writes;
    size_t slots = 0;
    for (const auto& b : batches) slots += b->slots.size();
    if (batches.size() > 1) {
      for (const auto& b : batches) {
        merged_entries.insert(merged_entries.end(), b->layer.entries.begin(),
                              b->layer.entries.end());
        for (const auto& [key, value] : b->layer.writes.writes()) {
          if (value) {
            merged_writes.Put(key, *value);
          } else {
            merged_writes.Delete(key);
          }
        }
      }
      entries = &merged_entries;
      writes = &merged_writes;
    }
    absl::Status status = failed;
    const bool has_writes = !entries->empty() || !writes->empty();
    if (status.ok() && has_writes) {
      const absl::Time commit_start = absl::Now();
      absl::StatusOr<uint64_t> first = store_->Commit(*entries, *writes);
      if (first.ok() && options_.on_commit) {
        options_.on_commit(CommittedBatch{slots, entries->size(), absl::Now() - commit_start});
      }
      if (!first.ok()) {
        // The store's words (a file name, a database's message) are the
        // operator's: logged here, once; the callers are told what it means.
        const std::string line = absl::StrCat(program_invocation_short_name,
                                              ": journal: a commit failed, the store is "
                                              "read-only until reopened: ",
                                              first.status().ToString(), "\n");
        fwrite(line.data(), 1, line.size(), stderr);
        fflush(stderr);
        status = absl::UnavailableError(
            "journal: the store is read-only after a failed commit (reopen to recover); the "
            "server's log has the cause");
      } else if (*first != batches.front()->layer.first_index) {
        status = absl::InternalError(absl::StrCat("journal: the store placed a batch at ", *first,
                                                  ", not at ", batches.front()->layer.first_index,
                                                  " (was it written by someone else?)"));
      }
    }
    // The store publishes a commit's snapshot before Commit returns (store.h),
    // and only this thread commits: this one holds these batches and no more.
    std::shared_ptr<const storage::Snapshot> published;
    if (status.ok() && has_writes) published = store_->GetSnapshot();
    {
      absl::MutexLock lock(&mu_);
      if (!status.ok() && failed_.ok()) failed_ = status;
      if (published != nullptr) committed_ = std::move(published);
      for (size_t i = 0; i < batches.size(); ++i) in_flight_.pop_front();
      committing_ -= batches.size();
    }
    for (const auto& batch : batches) {
      for (Slot& slot : batch->slots) {
        // A refusal too was decided on the state of batches before this
        // one, which may not have reached the disk either.
        if (!status.ok()) slot.result = status;
        // A replayed receipt (accepted, no entry of its own) is answered
        // once this batch, behind the one holding its entry, is durable.
        slot.group->results[slot.request] = std::move(slot.result);
        if (slot.request + 1 == slot.group->requests.size()) slot.group->done.Notify();
      }
    }
  }
}

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Journal::~Journal() = default;

absl::StatusOr<std::unique_ptr<Journal>> Journal::Open(
    storage::Store* store, std::vector<const StateMachine*> machines, JournalOptions options,
    const std::function<void(uint64_t, uint64_t)>& progress) {
  absl::StatusOr<Owners> owners = OwnersOf(machines);
  if (!owners.ok()) return owners.status();
  std::shared_ptr<const storage::Snapshot> snapshot = store->GetSnapshot();
  const uint64_t size = snapshot->size();
  if (absl::Status s = VerifyTail(*snapshot); !s.ok()) return s;

  // A state of another layout is cleared and rebuilt from the log, whole.
  // Once cleared, the state says "rebuilding <format>" until the rebuild is
  // done, so a rebuild cut short goes on where it stopped at the next open.
  absl::StatusOr<std::optional<std::string>> format = snapshot->Get(kStateFormatKey);
  if (!format.ok()) return format.status();
  const std::string current_format = absl::StrCat(kStateFormat);
  const std::string rebuilding = absl::StrCat("rebuilding ", kStateFormat);
  if (int stored = 0;
      *format && absl::SimpleAtoi(absl::StripPrefix(**format, "rebuilding "), &stored) &&
      stored > kStateFormat) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the store's state is of format ", stored, ", written by a newer chemledgerd than this "
        "one (format ", kStateFormat, "): run that version or a newer one (downgrades are not "
        "supported)"));
  }
  if (*format != current_format && *format != rebuilding) {
    if (size > 0) {
      if (absl::StatusOr<storage::IntegrityReport> integrity = store->CheckIntegrity();
          !integrity.ok()) {
        return integrity.status();
      }
    }
    // The old state goes; nothing keeps it alive meanwhile.
    snapshot.reset();
    if (absl::Status s = store->ClearState(); !s.ok()) return s;
    storage::StateWrites marker;
    marker.Put(std::string(kStateFormatKey), rebuilding);
    if (absl::Status s = store->ApplyState(0, marker); !s.ok()) return s;
    snapshot = store->GetSnapshot();
  }

  const uint64_t applied = store->StateAppliedSize().value_or(0);
  if (applied > size) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the store's state reflects ", applied, " entries but its log holds ", size));
  }
  if (applied < size) {
    // A log written before stores kept state, appended to without it, or
    // whose state is being rebuilt: build the state of the missing entries,
    // in log order, after checking every entry against the tree.
    if (absl::StatusOr<storage::IntegrityReport> integrity = store->CheckIntegrity();
        !integrity.ok()) {
      return integrity.status();
    }
    absl::Status s = RebuildRange(
        *snapshot, applied, size, machines, *owners,
        [store] { return std::shared_ptr<const storage::StateReader>(store->GetSnapshot()); },
        [store](uint64_t applied_size, const storage::StateWrites& writes) {
          return store->ApplyState(applied_size, writes);
        },
        progress);
    if (!s.ok()) return s;
  }
  if (*format != current_format) {
    storage::StateWrites done;
    done.Put(std::string(kStateFormatKey), current_format);
    if (absl::Status s = store->ApplyState(size, done); !s.ok()) return s;
  }
  absl::Time last_record_time = absl::InfinitePast();
  if (size > 0) {
    absl::StatusOr<std::string> last = snapshot->Entry(size - 1);
    if (!last.ok()) return last.status();
    v1::LogEntry entry;
    if (!entry.ParseFromString(*last)) {
      return absl::DataLossError(absl::StrCat("entry ", size - 1, " is not a LogEntry"));
    }
    last_record_time = RecordTime(entry);
    if (options.rules_epoch < entry.rules_epoch() && !options.allow_older_rules_epoch) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the log's latest entry (", size - 1, ") was written under rules epoch ",
          entry.rules_epoch(), "; this server would write under epoch ", options.rules_epoch,
          ", and a log never goes back to older rules (--waybill-consent=off is only for a "
          "store that never left epoch 2)"));
    }
  }
  return std::unique_ptr<Journal>(new Journal(std::make_unique<Impl>(
      store, std::move(machines), *std::move(owners), std::move(options), size,
      last_record_time)));
}

std::vector<absl::StatusOr<Receipt>> Journal::Submit(std::vector<Request> requests) {
  return impl_->Submit(std::move(requests));
}

absl::StatusOr<Receipt> Journal::Submit(Request request) {
  std::vector<Request> one;
  one.push_back(std::move(request));
  return std::move(impl_->Submit(std::move(one))[0]);
}

std::shared_ptr<const storage::Snapshot> Journal::Snapshot() const { return impl_->Snapshot(); }

absl::Status Journal::Writable() const { return impl_->Writable(); }

std::pair<uint64_t, uint64_t> Journal::StateCacheCounts() const {
  return impl_->StateCacheCounts();
}

absl::StatusOr<CheckReport> Journal::Check(
    const storage::Store& store, std::vector<const StateMachine*> machines,
    storage::Store* scratch, const std::function<void(uint64_t, uint64_t)>& progress) {
  absl::StatusOr<Owners> owners = OwnersOf(machines);
  if (!owners.ok()) return owners.status();
  if (scratch->Size() != 0 || scratch->StateAppliedSize().has_value()) {
    return absl::FailedPreconditionError("check: the scratch store is not empty");
  }
  absl::StatusOr<storage::IntegrityReport> integrity = store.CheckIntegrity();
  if (!integrity.ok()) return integrity.status();
  std::shared_ptr<const storage::Snapshot> source = store.GetSnapshot();
  if (source->size() != integrity->tree_size) {
    return absl::FailedPreconditionError("check: the store was written during the check");
  }
  absl::StatusOr<std::optional<std::string>> format = source->Get(kStateFormatKey);
  if (!format.ok()) return format.status();
  if (*format != absl::StrCat(kStateFormat)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "check: the stored state is ",
        !format->has_value()                          ? std::string("of format 1")
        : absl::StartsWith(**format, "rebuilding ") ? std::string("being rebuilt")
                                                      : absl::StrCat("of format ", **format),
        " (this version's is ", kStateFormat,
        "): start the server once (it builds the state from the log; a rebuild cut short goes "
        "on), then check"));
  }
  const std::optional<uint64_t> applied = store.StateAppliedSize();
  if (source->size() > 0 && applied != source->size()) {
    return absl::DataLossError(absl::StrCat(
        "the state reflects ", applied ? absl::StrCat(*applied) : "no", " entries but the log holds ",
        source->size()));
  }
  CheckReport report;
  report.entries = source->size();
  // The scratch store keeps the rebuilt state only; entries come from the source.
  absl::Status rebuilt = RebuildRange(
      *source, 0, source->size(), machines, *owners,
      [scratch] { return std::shared_ptr<const storage::StateReader>(scratch->GetSnapshot()); },
      [scratch](uint64_t, const storage::StateWrites& writes) -> absl::Status {
        if (writes.empty()) return absl::OkStatus();
        return scratch->Commit({}, writes).status();
      },
      progress);
  if (!rebuilt.ok()) return rebuilt;
  {
    storage::StateWrites format_write;
    format_write.Put(std::string(kStateFormatKey), absl::StrCat(kStateFormat));
    if (absl::Status s = scratch->Commit({}, format_write).status(); !s.ok()) return s;
  }

  // Compare the two states key by key, a page at a time.
  std::shared_ptr<const storage::Snapshot> rebuilt_state = scratch->GetSnapshot();
  using Page = std::vector<std::pair<std::string, std::string>>;
  const auto page = [](const storage::StateReader& r, const std::string& from,
                       Page* out) -> absl::Status {
    out->clear();
    return r.Scan(from, "", [&](absl::string_view k, absl::string_view v) {
      out->emplace_back(std::string(k), std::string(v));
      return out->size() < 4096;
    });
  };
  const auto show = [](const std::string& v) {
    return v.size() > 200 ? absl::StrCat(absl::CHexEscape(v.substr(0, 200)), "...")
                          : absl::CHexEscape(v);
  };
  std::string from;
  for (;;) {
    Page stored, expected;
    if (absl::Status s = page(*source, from, &stored); !s.ok()) return s;
    if (absl::Status s = page(*rebuilt_state, from, &expected); !s.ok()) return s;
    const size_t n = std::min(stored.size(), expected.size());
    for (size_t i = 0; i < n; ++i) {
      if (stored[i].first != expected[i].first) {
        const bool extra = stored[i].first < expected[i].first;
        const auto& k = extra ? stored[i] : expected[i];
        return absl::DataLossError(absl::StrCat(
            "state key '", absl::CHexEscape(k.first), "' ",
            extra ? absl::StrCat("is stored with '", show(k.second),
                                 "' but the log implies no such key")
                  : absl::StrCat("is missing; the log implies '", show(k.second), "'")));
      }
      if (stored[i].second != expected[i].second) {
        return absl::DataLossError(absl::StrCat("state key '", absl::CHexEscape(stored[i].first),
                                                "' is stored as '", show(stored[i].second),
                                                "' but the log implies '",
                                                show(expected[i].second), "'"));
      }
      ++report.state_keys;
    }
    if (stored.size() != expected.size() && (stored.size() < 4096 || expected.size() < 4096)) {
      const bool extra = stored.size() > expected.size();
      const auto& k = extra ? stored[n] : expected[n];
      return absl::DataLossError(absl::StrCat(
          "state key '", absl::CHexEscape(k.first), "' ",
          extra ? "is stored but the log implies no such key"
                : absl::StrCat("is missing; the log implies '", show(k.second), "'")));
    }
    if (n == 0) break;
    from = stored[n - 1].first + std::string(1, '\0');
    if (n < 4096) break;
  }
  return report;
}

}  // namespace chemledger::journal
