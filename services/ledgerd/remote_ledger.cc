#include "services/ledgerd/remote_ledger.h"

#include <algorithm>
#include <atomic>
#include <list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "chemledger/internal/ledger_store.grpc.pb.h"
#include "crypto/checkpoint.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/channel_arguments.h"
#include "services/common/grpc_status.h"
#include "services/common/incoming_call.h"
#include "services/common/keepalive.h"
#include "services/ledgerd/ledger_store_service.h"
#include "services/ledgerd/wire_status.h"

namespace chemledger::ledgerd {

using crypto::Sha256Digest;

using Stub = internal::LedgerStore::Stub;

// What the client, the notary and every snapshot share: the stub, the
// options, the entry cache and the counters.
class RemoteLedger::Core {
 public:
  Core(std::shared_ptr<grpc::Channel> channel, RemoteLedgerOptions options)
      : stub_(internal::LedgerStore::NewStub(std::move(channel))), options_(options) {}

  // Calls `method` until it answers, the connection stays broken past the
  // deadline, or it fails for another reason.
  // `retry` false: for a call that is not safe to send twice (one whose
  // answer may be lost after ledgerd acted on it).
  template <typename Request, typename Response>
  absl::Status Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response, absl::Duration budget,
                    bool retry = true) {
    // No later than the deadline of the call this serves (incoming_call.h),
    // which also cancels it when its caller cancels.
    const absl::Time deadline = std::min(absl::Now() + budget, IncomingCall::Deadline());
    absl::Duration backoff = options_.first_backoff;
    for (;;) {
      std::unique_ptr<grpc::ClientContext> context = IncomingCall::NewOutgoingContext();
      context->set_deadline(absl::ToChronoTime(deadline));
      context->set_wait_for_ready(true);
      response->Clear();
      const grpc::Status status = (stub_.get()->*method)(context.get(), request, response);
      if (status.ok()) return absl::OkStatus();
      if (IncomingCall::Cancelled()) {
        return absl::CancelledError(absl::StrCat(
            "the call this request serves was cancelled or passed its deadline while waiting "
            "for ledgerd: ", status.error_message()));
      }
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE || !retry ||
          absl::Now() + backoff >= deadline) {
        if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
            status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
          return absl::UnavailableError(
              absl::StrCat("ledgerd did not answer: ", status.error_message()));
        }
        return FromGrpcStatus(status);
      }
      retries_.fetch_add(1, std::memory_order_relaxed);
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
  template <typename Request, typename Response>
  absl::Status Read(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response) {
    return Call(method, request, response, options_.read_deadline);
  }
  // A call sent once only (see Call).
  template <typename Request, typename Response>
  absl::Status CallOnce(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                     Response*),
                        const Request& request, Response* response) {
    return Call(method, request, response, options_.read_deadline, /*retry=*/false);
  }
  // A read of a snapshot already open: ledgerd no longer holding it (it
  // restarted, or the snapshot went unread past its retention) is no fault
  // of the request, which can be sent again.
  template <typename Request, typename Response>
  absl::Status ReadOpen(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                     Response*),
                        const Request& request, Response* response) {
    absl::Status s = Read(method, request, response);
    if (s.code() == absl::StatusCode::kFailedPrecondition) {
      return absl::UnavailableError(absl::StrCat(
          "ledgerd no longer holds the snapshot this request reads (it restarted, or the "
          "snapshot went unread too long): send the request again (", s.message(), ")"));
    }
    return s;
  }

  const RemoteLedgerOptions& options() const { return options_; }

  struct CachedEntry {
    std::optional<std::string> entry;  // nullopt: only the leaf hash is known
    Sha256Digest leaf_hash;
  };
  std::optional<CachedEntry> FindEntry(uint64_t index, bool need_entry) {
    absl::MutexLock lock(&cache_mu_);
    auto it = entries_.find(index);
    if (it == entries_.end() || (need_entry && !it->second->second.entry)) {
      entry_misses_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    entry_hits_.fetch_add(1, std::memory_order_relaxed);
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }
  void AddEntry(uint64_t index, CachedEntry cached) {
    const size_t bytes = 64 + (cached.entry ? cached.entry->size() : 0);
    if (bytes > options_.entry_cache_bytes / 4) return;
    absl::MutexLock lock(&cache_mu_);
    auto it = entries_.find(index);
    if (it != entries_.end()) {
      cache_bytes_ -= 64 + (it->second->second.entry ? it->second->second.entry->size() : 0);
      lru_.erase(it->second);
      entries_.erase(it);
    }
    lru_.emplace_front(index, std::move(cached));
    entries_[index] = lru_.begin();
    cache_bytes_ += bytes;
    while (cache_bytes_ > options_.entry_cache_bytes && !lru_.empty()) {
      auto& last = lru_.back();
      cache_bytes_ -= 64 + (last.second.entry ? last.second.entry->size() : 0);
      entries_.erase(last.first);
      lru_.pop_back();
    }
  }

  void CountState(bool hit) {
    (hit ? state_hits_ : state_misses_).fetch_add(1, std::memory_order_relaxed);
  }

  RemoteLedgerStats stats() const {
    RemoteLedgerStats s;
    s.entry_cache_hits = entry_hits_.load(std::memory_order_relaxed);
    s.entry_cache_misses = entry_misses_.load(std::memory_order_relaxed);
    s.state_cache_hits = state_hits_.load(std::memory_order_relaxed);
    s.state_cache_misses = state_misses_.load(std::memory_order_relaxed);
    s.retries = retries_.load(std::memory_order_relaxed);
    return s;
  }

  // The last snapshot ledgerd handed out (for Latest() when it cannot).
  // A new ledgerd process (a restart, perhaps on a restored store) makes
  // everything cached before it suspect: it is forgotten.
  void SawSnapshot(uint64_t size, const Sha256Digest& root, const std::string& instance) {
    bool forget = false;
    {
      absl::MutexLock lock(&seen_mu_);
      if (instance != instance_) {
        forget = !instance_.empty();
        instance_ = instance;
        last_size_ = 0;
      }
      if (size >= last_size_) {
        last_size_ = size;
        last_root_ = root;
      }
    }
    if (forget) {
      absl::MutexLock lock(&cache_mu_);
      lru_.clear();
      entries_.clear();
      cache_bytes_ = 0;
    }
  }
  std::pair<uint64_t, Sha256Digest> LastSeen() {
    absl::MutexLock lock(&seen_mu_);
    return {last_size_, last_root_};
  }

 private:
  const std::unique_ptr<Stub> stub_;
  const RemoteLedgerOptions options_;
  std::atomic<uint64_t> entry_hits_{0}, entry_misses_{0}, state_hits_{0}, state_misses_{0},
      retries_{0};

  absl::Mutex cache_mu_;
  using Lru = std::list<std::pair<uint64_t, CachedEntry>>;
  Lru lru_ ABSL_GUARDED_BY(cache_mu_);
  absl::flat_hash_map<uint64_t, Lru::iterator> entries_ ABSL_GUARDED_BY(cache_mu_);
  size_t cache_bytes_ ABSL_GUARDED_BY(cache_mu_) = 0;

  absl::Mutex seen_mu_;
  uint64_t last_size_ ABSL_GUARDED_BY(seen_mu_) = 0;
  std::string instance_ ABSL_GUARDED_BY(seen_mu_);
  Sha256Digest last_root_ ABSL_GUARDED_BY(seen_mu_);
};

namespace {

using Core = RemoteLedger::Core;

absl::StatusOr<std::vector<Sha256Digest>> Hashes(const google::protobuf::RepeatedPtrField<std::string>& bytes) {
  std::vector<Sha256Digest> out;
  out.reserve(bytes.size());
  for (const std::string& b : bytes) {
    absl::StatusOr<Sha256Digest> hash = Sha256Digest::FromBytes(b);
    if (!hash.ok()) return absl::DataLossError("ledgerd sent a hash that is not 32 bytes");
    out.push_back(*hash);
  }
  return out;
}

class RemoteSnapshot final : public storage::Snapshot {
 public:
  // `unreachable`: not OK for the snapshot Latest() returns when ledgerd
  // could not be asked; every read fails with it.
  RemoteSnapshot(std::shared_ptr<Core> core, uint64_t size, Sha256Digest root,
                 absl::Status unreachable = absl::OkStatus())
      : core_(std::move(core)), size_(size), root_(root), unreachable_(std::move(unreachable)) {}

  uint64_t size() const override { return size_; }
  const Sha256Digest& root() const override { return root_; }

  absl::StatusOr<std::string> Entry(uint64_t index) const override {
    absl::StatusOr<Core::CachedEntry> found = Fetch(index, /*need_entry=*/true);
    if (!found.ok()) return found.status();
    return *std::move(found->entry);
  }
  absl::StatusOr<Sha256Digest> LeafHash(uint64_t index) const override {
    absl::StatusOr<Core::CachedEntry> found = Fetch(index, /*need_entry=*/false);
    if (!found.ok()) return found.status();
    return found->leaf_hash;
  }

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const override {
    if (!unreachable_.ok()) return unreachable_;
    {
      absl::MutexLock lock(&mu_);
      auto it = state_.find(key);
      if (it != state_.end()) {
        core_->CountState(true);
        return it->second;
      }
    }
    core_->CountState(false);
    internal::GetRequest request;
    request.set_size(size_);
    request.add_keys(std::string(key));
    internal::GetResponse response;
    if (absl::Status s = core_->ReadOpen(&Stub::Get, request, &response); !s.ok()) return s;
    if (response.values_size() != 1) return absl::DataLossError("ledgerd answered Get amiss");
    std::optional<std::string> value;
    if (response.values(0).found()) value = std::move(*response.mutable_values(0)->mutable_value());
    absl::MutexLock lock(&mu_);
    if (state_bytes_ < kStateCacheBytes) {
      state_bytes_ += key.size() + (value ? value->size() : 0);
      state_.emplace(std::string(key), value);
    }
    return value;
  }

  absl::Status Scan(absl::string_view begin, absl::string_view end,
                    const storage::ScanVisitor& visit) const override {
    if (!unreachable_.ok()) return unreachable_;
    internal::ScanRequest request;
    request.set_size(size_);
    request.set_begin(std::string(begin));
    request.set_end(std::string(end));
    // Small first pages (most scans stop early), larger ones after.
    uint32_t page = 64;
    for (;;) {
      request.set_max_keys(page);
      internal::ScanResponse response;
      if (absl::Status s = core_->ReadOpen(&Stub::Scan, request, &response); !s.ok()) return s;
      if (response.keys_size() != response.values_size()) {
        return absl::DataLossError("ledgerd answered Scan amiss");
      }
      for (int i = 0; i < response.keys_size(); ++i) {
        if (!visit(response.keys(i), response.values(i))) return absl::OkStatus();
      }
      if (!response.more() || response.keys_size() == 0) return absl::OkStatus();
      // The next key after the last one sent.
      std::string next = response.keys(response.keys_size() - 1);
      next.push_back('\0');
      request.set_begin(std::move(next));
      page = std::min<uint32_t>(page * 4, kMaxKeysPerCall);
    }
  }

  absl::StatusOr<Sha256Digest> Root(uint64_t tree_size) const override {
    if (tree_size == size_) return root_;
    if (!unreachable_.ok()) return unreachable_;
    if (tree_size > size_) return BeyondSize("tree size", tree_size);
    internal::RootRequest request;
    request.set_size(size_);
    request.set_tree_size(tree_size);
    internal::RootResponse response;
    if (absl::Status s = core_->ReadOpen(&Stub::Root, request, &response); !s.ok()) return s;
    absl::StatusOr<Sha256Digest> root = Sha256Digest::FromBytes(response.root());
    if (!root.ok()) return absl::DataLossError("ledgerd sent a root that is not 32 bytes");
    return root;
  }

  absl::StatusOr<std::vector<Sha256Digest>> InclusionProof(uint64_t index,
                                                           uint64_t tree_size) const override {
    absl::StatusOr<std::vector<std::vector<Sha256Digest>>> proofs =
        InclusionProofs({index}, tree_size);
    if (!proofs.ok()) return proofs.status();
    return std::move(proofs->front());
  }

  absl::StatusOr<std::vector<std::vector<Sha256Digest>>> InclusionProofs(
      const std::vector<uint64_t>& indexes, uint64_t tree_size) const override {
    if (!unreachable_.ok()) return unreachable_;
    if (tree_size > size_) return BeyondSize("tree size", tree_size);
    std::vector<std::vector<Sha256Digest>> proofs;
    proofs.reserve(indexes.size());
    for (size_t start = 0; start < indexes.size(); start += kMaxIndexesPerCall) {
      const size_t stop = std::min(indexes.size(), start + kMaxIndexesPerCall);
      internal::InclusionProofsRequest request;
      request.set_size(size_);
      request.set_tree_size(tree_size);
      for (size_t i = start; i < stop; ++i) request.add_indexes(indexes[i]);
      internal::InclusionProofsResponse response;
      if (absl::Status s = core_->ReadOpen(&Stub::InclusionProofs, request, &response); !s.ok()) {
        return s;
      }
      if (static_cast<size_t>(response.proofs_size()) != stop - start) {
        return absl::DataLossError("ledgerd answered InclusionProofs amiss");
      }
      for (const internal::Proof& proof : response.proofs()) {
        absl::StatusOr<std::vector<Sha256Digest>> hashes = Hashes(proof.hashes());
        if (!hashes.ok()) return hashes.status();
        proofs.push_back(*std::move(hashes));
      }
    }
    return proofs;
  }

  absl::StatusOr<std::vector<Sha256Digest>> ConsistencyProof(uint64_t old_size,
                                                             uint64_t new_size) const override {
    if (!unreachable_.ok()) return unreachable_;
    if (new_size > size_) return BeyondSize("new size", new_size);
    internal::ConsistencyProofRequest request;
    request.set_size(size_);
    request.set_old_size(old_size);
    request.set_new_size(new_size);
    internal::Proof response;
    if (absl::Status s = core_->ReadOpen(&Stub::ConsistencyProof, request, &response); !s.ok()) {
      return s;
    }
    return Hashes(response.hashes());
  }

 private:
  static constexpr size_t kStateCacheBytes = 1 << 20;

  absl::Status BeyondSize(absl::string_view what, uint64_t value) const {
    return absl::OutOfRangeError(
        absl::StrCat(what, " ", value, " is beyond the snapshot's log size ", size_));
  }

  absl::StatusOr<Core::CachedEntry> Fetch(uint64_t index, bool need_entry) const {
    if (index >= size_) {
      return absl::OutOfRangeError(
          absl::StrCat("index ", index, " is beyond the snapshot's log size ", size_));
    }
    if (std::optional<Core::CachedEntry> cached = core_->FindEntry(index, need_entry)) {
      return *std::move(cached);
    }
    if (!unreachable_.ok()) return unreachable_;
    internal::EntriesRequest request;
    request.set_size(size_);
    request.add_indexes(index);
    request.set_leaf_hashes_only(!need_entry);
    internal::EntriesResponse response;
    if (absl::Status s = core_->ReadOpen(&Stub::Entries, request, &response); !s.ok()) return s;
    if (response.leaf_hashes_size() != 1 || (need_entry && response.entries_size() != 1)) {
      return absl::DataLossError("ledgerd answered Entries amiss");
    }
    absl::StatusOr<Sha256Digest> hash = Sha256Digest::FromBytes(response.leaf_hashes(0));
    if (!hash.ok()) return absl::DataLossError("ledgerd sent a leaf hash that is not 32 bytes");
    Core::CachedEntry cached;
    cached.leaf_hash = *hash;
    if (need_entry) cached.entry = std::move(*response.mutable_entries(0));
    core_->AddEntry(index, cached);
    return cached;
  }

  const std::shared_ptr<Core> core_;
  const uint64_t size_;
  const Sha256Digest root_;
  const absl::Status unreachable_;
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, std::optional<std::string>> state_ ABSL_GUARDED_BY(mu_);
  mutable size_t state_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

absl::StatusOr<std::shared_ptr<const storage::Snapshot>> OpenRemoteSnapshot(
    const std::shared_ptr<Core>& core, uint64_t size) {
  internal::OpenSnapshotRequest request;
  request.set_size(size);
  internal::SnapshotInfo info;
  if (absl::Status s = core->Read(&Stub::OpenSnapshot, request, &info); !s.ok()) return s;
  absl::StatusOr<Sha256Digest> root = Sha256Digest::FromBytes(info.root());
  if (!root.ok() || info.size() == 0 || (size != 0 && info.size() != size)) {
    return absl::DataLossError("ledgerd answered OpenSnapshot amiss");
  }
  core->SawSnapshot(info.size(), *root, info.instance());
  return std::make_shared<RemoteSnapshot>(core, info.size(), *root);
}

class RemoteLedgerClient final : public journal::LedgerClient {
 public:
  explicit RemoteLedgerClient(std::shared_ptr<Core> core) : core_(std::move(core)) {}

  std::vector<absl::StatusOr<journal::Receipt>> Submit(
      std::vector<journal::Request> requests) override {
    std::vector<absl::StatusOr<journal::Receipt>> results;
    results.reserve(requests.size());
    size_t start = 0;
    while (start < requests.size()) {
      // As many as one call takes.
      internal::SubmitRequest call;
      size_t bytes = 0;
      size_t stop = start;
      while (stop < requests.size() && stop - start < kMaxRequestsPerSubmit) {
        const size_t size = requests[stop].envelope.ByteSizeLong() + requests[stop].proposal.size();
        if (stop > start && bytes + size > kMaxMessageBytes / 2) break;
        bytes += size;
        internal::SubmittedRequest* r = call.add_requests();
        *r->mutable_envelope() = std::move(requests[stop].envelope);
        r->set_proposal(std::move(requests[stop].proposal));
        ++stop;
      }
      internal::SubmitResponse response;
      absl::Status sent =
          core_->Call(&Stub::Submit, call, &response, core_->options().submit_deadline);
      if (sent.ok() && static_cast<size_t>(response.results_size()) != stop - start) {
        sent = absl::DataLossError("ledgerd answered Submit amiss");
      }
      for (size_t i = start; i < stop; ++i) {
        if (!sent.ok()) {
          results.push_back(sent);
          continue;
        }
        const internal::SubmitResult& result = response.results(i - start);
        if (result.has_refused()) {
          absl::Status refused = FromStatusProto(result.refused());
          results.push_back(refused.ok() ? absl::DataLossError("ledgerd refused without a code")
                                         : refused);
          continue;
        }
        journal::Receipt receipt;
        receipt.index = result.receipt().index();
        receipt.replayed = result.receipt().replayed();
        absl::StatusOr<Sha256Digest> hash = Sha256Digest::FromBytes(result.receipt().leaf_hash());
        if (!hash.ok()) {
          results.push_back(absl::DataLossError("ledgerd sent a leaf hash that is not 32 bytes"));
          continue;
        }
        receipt.leaf_hash = *hash;
        receipt.record_time = absl::FromUnixMicros(result.receipt().record_time_micros());
        results.push_back(receipt);
      }
      start = stop;
    }
    return results;
  }

  std::shared_ptr<const storage::Snapshot> Latest() override {
    absl::StatusOr<std::shared_ptr<const storage::Snapshot>> latest = OpenRemoteSnapshot(core_, 0);
    if (latest.ok()) return *std::move(latest);
    auto [size, root] = core_->LastSeen();
    return std::make_shared<RemoteSnapshot>(core_, size, root, latest.status());
  }

  absl::Status Writable() override {
    // Asked often (health checking): answered within two seconds or taken
    // as down.
    internal::StatusProto response;
    if (absl::Status s = core_->Call(&Stub::Writable, internal::WritableRequest(), &response,
                                     absl::Seconds(2));
        !s.ok()) {
      return s;
    }
    return FromStatusProto(response);
  }

  bool ReadsOnly() override { return reads_only_.load(std::memory_order_relaxed); }

  absl::Status Healthy() override {
    // As Writable: answered within two seconds or taken as down.
    internal::HealthyResponse response;
    if (absl::Status s =
            core_->Call(&Stub::Healthy, internal::HealthyRequest(), &response, absl::Seconds(2));
        !s.ok()) {
      // A ledgerd older than Healthy is a writer: its health is Writable.
      return s.code() == absl::StatusCode::kUnimplemented ? Writable() : s;
    }
    reads_only_.store(response.reads_only(), std::memory_order_relaxed);
    return FromStatusProto(response.status());
  }

  void Keep(std::shared_ptr<const storage::Snapshot> snapshot) override {
    // A paged read goes on: ledgerd keeps the snapshot longer. If it cannot,
    // the next page says to start again.
    internal::KeepSnapshotRequest request;
    request.set_size(snapshot->size());
    internal::StatusProto response;
    core_->Read(&Stub::KeepSnapshot, request, &response).IgnoreError();
  }

  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> At(uint64_t size) override {
    if (size == 0) return absl::InvalidArgumentError("log size 0 names no snapshot");
    return OpenRemoteSnapshot(core_, size);
  }

 private:
  const std::shared_ptr<Core> core_;
  // As ledgerd last said (Healthy; asked once at Connect).
  std::atomic<bool> reads_only_{false};
};

class RemoteNotary final : public notary::LedgerNotary {
 public:
  RemoteNotary(std::shared_ptr<Core> core, crypto::NoteVerifier verifier)
      : core_(std::move(core)), verifier_(std::move(verifier)) {}

  const crypto::NoteVerifier& verifier() const override { return verifier_; }

  absl::StatusOr<std::string> SignCheckpoint(const storage::Snapshot& snapshot) const override {
    internal::SignAtRequest request;
    request.set_size(snapshot.size());
    internal::SignedNote response;
    if (absl::Status s = core_->Read(&Stub::SignCheckpoint, request, &response); !s.ok()) return s;
    // What ledgerd signed is what this snapshot says.
    absl::StatusOr<crypto::Checkpoint> checkpoint =
        crypto::OpenCheckpoint(response.note(), verifier_.name(), verifier_);
    if (!checkpoint.ok() || checkpoint->size != snapshot.size() ||
        checkpoint->root_hash != snapshot.root()) {
      return absl::DataLossError(
          "ledgerd signed a checkpoint that is not of the snapshot it was asked for");
    }
    return std::move(*response.mutable_note());
  }

  absl::StatusOr<std::string> SignTrustList(const storage::Snapshot& snapshot,
                                            absl::CivilDay today) const override {
    internal::SignAtRequest request;
    request.set_size(snapshot.size());
    request.set_day(absl::FormatCivilTime(today));
    internal::SignedNote response;
    if (absl::Status s = core_->Read(&Stub::SignTrustList, request, &response); !s.ok()) return s;
    if (!crypto::OpenNote(response.note(), verifier_).ok()) {
      return absl::DataLossError("ledgerd's trust list does not verify under its note key");
    }
    return std::move(*response.mutable_note());
  }

 private:
  const std::shared_ptr<Core> core_;
  const crypto::NoteVerifier verifier_;
};

class RemoteNonceMemory final : public read_auth::NonceMemory {
 public:
  explicit RemoteNonceMemory(std::shared_ptr<Core> core) : core_(std::move(core)) {}

  absl::Status Remember(absl::string_view key_id, absl::string_view nonce, absl::Time signed_at,
                        int64_t expires, absl::Time) override {
    internal::RememberNonceRequest request;
    request.set_key_id(std::string(key_id));
    request.set_nonce(std::string(nonce));
    request.set_signed_at(absl::ToUnixSeconds(signed_at));
    request.set_expires(expires);
    internal::StatusProto response;
    // Sent once: a repeat after a lost answer would find its own pair.
    if (absl::Status s = core_->CallOnce(&Stub::RememberNonce, request, &response); !s.ok()) {
      return s;
    }
    return FromStatusProto(response);
  }

 private:
  const std::shared_ptr<Core> core_;
};

class RemoteRecords final : public EphemeralRecords {
 public:
  explicit RemoteRecords(std::shared_ptr<Core> core) : core_(std::move(core)) {}

  absl::Status Put(absl::string_view kind, absl::string_view key, absl::string_view value,
                   absl::string_view owner, absl::Time expires, const Limits& limits,
                   absl::Time) override {
    internal::PutRecordRequest request;
    request.set_kind(std::string(kind));
    request.set_key(std::string(key));
    request.set_value(std::string(value));
    request.set_owner(std::string(owner));
    request.set_expires_micros(absl::ToUnixMicros(expires));
    request.set_max_of_kind(limits.max_of_kind);
    request.set_max_per_owner(limits.max_per_owner);
    request.set_only_if_absent(limits.only_if_absent);
    request.set_refuse_beyond_per_owner(limits.refuse_beyond_per_owner);
    internal::StatusProto response;
    // Only-if-absent is sent once: a repeat after a lost answer would find
    // the first one's record.
    absl::Status s = limits.only_if_absent ? core_->CallOnce(&Stub::PutRecord, request, &response)
                                           : core_->Read(&Stub::PutRecord, request, &response);
    if (!s.ok()) return s;
    return FromStatusProto(response);
  }

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view kind, absl::string_view key,
                                                 bool take, absl::Time) override {
    internal::GetRecordRequest request;
    request.set_kind(std::string(kind));
    request.set_key(std::string(key));
    request.set_take(take);
    internal::GetRecordResponse response;
    // Taking is sent once: a repeat after a lost answer would find nothing.
    absl::Status s = take ? core_->CallOnce(&Stub::GetRecord, request, &response)
                          : core_->Read(&Stub::GetRecord, request, &response);
    if (!s.ok()) return s;
    if (!response.found()) return std::nullopt;
    return std::move(*response.mutable_value());
  }

  absl::Status Delete(absl::string_view kind, absl::string_view key) override {
    internal::GetRecordRequest request;
    request.set_kind(std::string(kind));
    request.set_key(std::string(key));
    internal::StatusProto response;
    if (absl::Status s = core_->Read(&Stub::DeleteRecord, request, &response); !s.ok()) return s;
    return FromStatusProto(response);
  }

 private:
  const std::shared_ptr<Core> core_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RemoteLedger>> RemoteLedger::Connect(
    std::shared_ptr<grpc::Channel> channel, RemoteLedgerOptions options, absl::Duration wait) {
  const std::shared_ptr<grpc::Channel> channel_for_errors = channel;
  auto core = std::make_shared<Core>(std::move(channel), options);
  internal::NotaryKeyResponse key;
  if (absl::Status s = core->Call(&Stub::NotaryKey, internal::NotaryKeyRequest(), &key, wait);
      !s.ok()) {
    const grpc_connectivity_state state = channel_for_errors->GetState(false);
    return absl::Status(
        s.code(),
        absl::StrCat("connecting to ledgerd: ", s.message(),
                     state == GRPC_CHANNEL_TRANSIENT_FAILURE
                         ? " (no connection: ledgerd is not listening there, or the TLS "
                           "handshake fails: check --tls-ca, this service's certificate, and "
                           "that ledgerd's certificate names ledgerd and has not expired)"
                         : ""));
  }
  absl::StatusOr<crypto::NoteVerifier> verifier =
      crypto::NoteVerifier::FromVerifierKey(key.verifier_key());
  if (!verifier.ok()) {
    return absl::DataLossError(
        absl::StrCat("ledgerd's note key does not parse: ", verifier.status().message()));
  }
  std::unique_ptr<RemoteLedger> ledger(new RemoteLedger());
  ledger->core_ = core;
  ledger->client_ = std::make_unique<RemoteLedgerClient>(core);
  // Whether it is a read replica; a ledgerd that is down now says later.
  (void)ledger->client_->Healthy();
  ledger->notary_ = std::make_unique<RemoteNotary>(core, *std::move(verifier));
  ledger->nonces_ = std::make_shared<RemoteNonceMemory>(core);
  ledger->records_ = std::make_shared<RemoteRecords>(core);
  return ledger;
}

RemoteLedger::~RemoteLedger() = default;

journal::LedgerClient* RemoteLedger::client() const { return client_.get(); }
const notary::LedgerNotary* RemoteLedger::notary() const { return notary_.get(); }
RemoteLedgerStats RemoteLedger::stats() const { return core_->stats(); }
std::shared_ptr<read_auth::NonceMemory> RemoteLedger::nonce_memory() const { return nonces_; }
std::shared_ptr<EphemeralRecords> RemoteLedger::records() const { return records_; }

grpc::ChannelArguments RemoteLedgerChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // A ledgerd that comes back (a restart, a failover) is called again
  // within two seconds, not after gRPC's default backoff of up to two
  // minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // A ledgerd whose host died, or whose connection a network dropped
  // without closing it, is found within half a minute and the channel
  // reconnects, instead of every call waiting out its deadline on a dead
  // connection until TCP gives up.
  KeepChannelAlive(&args);
  return args;
}

}  // namespace chemledger::ledgerd
