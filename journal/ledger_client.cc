#include "journal/ledger_client.h"

#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace chemledger::journal {
namespace {

// The snapshots kept for paged reads, over a source of the latest one.
class RetainingLedgerClient : public LedgerClient {
 public:
  explicit RetainingLedgerClient(SnapshotRetention retention) : retention_(retention) {}

  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> At(uint64_t size) override {
    std::shared_ptr<const storage::Snapshot> latest = Latest();
    if (size > latest->size()) {
      return absl::OutOfRangeError(absl::StrCat("log size ", size, " is beyond the latest, ",
                                                latest->size()));
    }
    absl::MutexLock lock(&mu_);
    auto it = kept_.find(size);
    if (size == latest->size()) {
      // Read while it is the latest: kept from now on, if it was kept.
      if (it != kept_.end()) it->second.last_used = absl::Now();
      return latest;
    }
    if (it == kept_.end() || absl::Now() - it->second.last_used > retention_.keep) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the snapshot at log size ", size, " is no longer kept: start the read again"));
    }
    it->second.last_used = absl::Now();
    return it->second.snapshot;
  }

  void Keep(std::shared_ptr<const storage::Snapshot> s) override {
    const absl::Time now = absl::Now();
    absl::MutexLock lock(&mu_);
    auto [it, added] = kept_.try_emplace(s->size(), Kept{s, now});
    it->second.last_used = now;
    if (!added) return;
    // Drop what has expired, then the least recently used beyond the bound.
    for (auto k = kept_.begin(); k != kept_.end();) {
      k = now - k->second.last_used > retention_.keep ? kept_.erase(k) : std::next(k);
    }
    while (kept_.size() > retention_.max_kept) {
      auto oldest = kept_.begin();
      for (auto k = kept_.begin(); k != kept_.end(); ++k) {
        if (k->second.last_used < oldest->second.last_used) oldest = k;
      }
      kept_.erase(oldest);
    }
  }

 private:
  struct Kept {
    std::shared_ptr<const storage::Snapshot> snapshot;
    absl::Time last_used;
  };

  const SnapshotRetention retention_;
  absl::Mutex mu_;
  std::map<uint64_t, Kept> kept_ ABSL_GUARDED_BY(mu_);
};

class InProcessLedgerClient final : public RetainingLedgerClient {
 public:
  InProcessLedgerClient(Journal* journal, SnapshotRetention retention)
      : RetainingLedgerClient(retention), journal_(journal) {}

  std::vector<absl::StatusOr<Receipt>> Submit(std::vector<Request> requests) override {
    return journal_->Submit(std::move(requests));
  }
  std::shared_ptr<const storage::Snapshot> Latest() override { return journal_->Snapshot(); }
  absl::Status Writable() override { return journal_->Writable(); }

 private:
  Journal* const journal_;
};

class ReadReplicaLedgerClient final : public RetainingLedgerClient {
 public:
  ReadReplicaLedgerClient(storage::Store* store, SnapshotRetention retention,
                          std::string writes_go_to, std::function<absl::Status()> healthy)
      : RetainingLedgerClient(retention),
        store_(store),
        refusal_(absl::FailedPreconditionError(absl::StrCat(
            "this ledger is a read replica and takes no writes: send them to ", writes_go_to))),
        healthy_(std::move(healthy)) {}

  std::vector<absl::StatusOr<Receipt>> Submit(std::vector<Request> requests) override {
    return std::vector<absl::StatusOr<Receipt>>(requests.size(), refusal_);
  }
  std::shared_ptr<const storage::Snapshot> Latest() override { return store_->GetSnapshot(); }
  absl::Status Writable() override { return refusal_; }
  bool ReadsOnly() override { return true; }
  absl::Status Healthy() override { return healthy_ ? healthy_() : absl::OkStatus(); }

 private:
  storage::Store* const store_;
  const absl::Status refusal_;
  const std::function<absl::Status()> healthy_;
};

}  // namespace

std::unique_ptr<LedgerClient> NewInProcessLedgerClient(Journal* journal,
                                                       SnapshotRetention retention) {
  return std::make_unique<InProcessLedgerClient>(journal, retention);
}

std::unique_ptr<LedgerClient> NewReadReplicaLedgerClient(storage::Store* store,
                                                         SnapshotRetention retention,
                                                         std::string writes_go_to,
                                                         std::function<absl::Status()> healthy) {
  return std::make_unique<ReadReplicaLedgerClient>(store, retention, std::move(writes_go_to),
                                                   std::move(healthy));
}

}  // namespace chemledger::journal
