#include "journal/ledger_client.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

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

  // Every read and write passes here, so that an expired snapshot is let go
  // (and with it what LevelDB keeps for it) within a second of expiring even
  // when no paged read comes again.
  std::shared_ptr<const storage::Snapshot> Latest() final {
    DropExpiredIfDue();
    return LatestOfSource();
  }
  std::vector<absl::StatusOr<Receipt>> Submit(std::vector<Request> requests) final {
    DropExpiredIfDue();
    return SubmitToSource(std::move(requests));
  }

  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> At(uint64_t size) override {
    std::shared_ptr<const storage::Snapshot> latest = Latest();
    if (size > latest->size()) {
      return absl::OutOfRangeError(absl::StrCat("log size ", size, " is beyond the latest, ",
                                                latest->size()));
    }
    const absl::Time now = absl::Now();
    std::shared_ptr<const storage::Snapshot> gone;  // let go after the lock
    absl::MutexLock lock(&mu_);
    auto it = kept_.find(size);
    if (size == latest->size()) {
      // Read while it is the latest: kept from now on, if it was kept.
      if (it != kept_.end() && !Expired(it->second, now)) it->second.last_used = now;
      return latest;
    }
    if (it == kept_.end() || Expired(it->second, now)) {
      if (it != kept_.end()) {
        gone = std::move(it->second.snapshot);
        kept_.erase(it);
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "the snapshot at log size ", size, " is no longer kept: start the read again"));
    }
    it->second.last_used = now;
    return it->second.snapshot;
  }

  void Keep(std::shared_ptr<const storage::Snapshot> s) override {
    const absl::Time now = absl::Now();
    std::vector<std::shared_ptr<const storage::Snapshot>> gone;  // let go after the lock
    absl::MutexLock lock(&mu_);
    auto [it, added] = kept_.try_emplace(s->size(), Kept{s, now, now});
    if (!added) {
      if (Expired(it->second, now)) {
        // Expired but not yet swept: a new listing at this size starts anew.
        gone.push_back(std::move(it->second.snapshot));
        it->second = Kept{std::move(s), now, now};
      } else {
        it->second.last_used = now;
      }
      return;
    }
    // Drop what has expired, then the least recently used beyond the bound.
    DropExpiredLocked(now, &gone);
    while (kept_.size() > retention_.max_kept) {
      auto oldest = kept_.begin();
      for (auto k = kept_.begin(); k != kept_.end(); ++k) {
        if (k->second.last_used < oldest->second.last_used) oldest = k;
      }
      gone.push_back(std::move(oldest->second.snapshot));
      kept_.erase(oldest);
    }
  }

 private:
  virtual std::shared_ptr<const storage::Snapshot> LatestOfSource() = 0;
  virtual std::vector<absl::StatusOr<Receipt>> SubmitToSource(std::vector<Request> requests) = 0;

  struct Kept {
    std::shared_ptr<const storage::Snapshot> snapshot;
    absl::Time first_kept;
    absl::Time last_used;
  };

  bool Expired(const Kept& k, absl::Time now) const {
    return now - k.last_used > retention_.keep || now - k.first_kept > retention_.max_age;
  }
  // Moves the expired out of kept_ into *gone, for the caller to let go
  // once it has released the lock (a LevelDB snapshot's release takes
  // LevelDB's own lock).
  void DropExpiredLocked(absl::Time now,
                         std::vector<std::shared_ptr<const storage::Snapshot>>* gone)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto k = kept_.begin(); k != kept_.end();) {
      if (Expired(k->second, now)) {
        gone->push_back(std::move(k->second.snapshot));
        k = kept_.erase(k);
      } else {
        ++k;
      }
    }
  }
  // At most once a second (one thread, one short lock).
  void DropExpiredIfDue() {
    const int64_t now_ns = absl::GetCurrentTimeNanos();
    int64_t due = next_sweep_ns_.load(std::memory_order_relaxed);
    if (now_ns < due) return;
    if (!next_sweep_ns_.compare_exchange_strong(due, now_ns + 1'000'000'000,
                                                std::memory_order_relaxed)) {
      return;  // another thread sweeps
    }
    std::vector<std::shared_ptr<const storage::Snapshot>> gone;  // let go after the lock
    absl::MutexLock lock(&mu_);
    DropExpiredLocked(absl::FromUnixNanos(now_ns), &gone);
  }

  const SnapshotRetention retention_;
  std::atomic<int64_t> next_sweep_ns_{0};
  absl::Mutex mu_;
  std::map<uint64_t, Kept> kept_ ABSL_GUARDED_BY(mu_);
};

class InProcessLedgerClient final : public RetainingLedgerClient {
 public:
  InProcessLedgerClient(Journal* journal, SnapshotRetention retention)
      : RetainingLedgerClient(retention), journal_(journal) {}

  std::vector<absl::StatusOr<Receipt>> SubmitToSource(std::vector<Request> requests) override {
    return journal_->Submit(std::move(requests));
  }
  std::shared_ptr<const storage::Snapshot> LatestOfSource() override {
    return journal_->Snapshot();
  }
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

  std::vector<absl::StatusOr<Receipt>> SubmitToSource(std::vector<Request> requests) override {
    return std::vector<absl::StatusOr<Receipt>>(requests.size(), refusal_);
  }
  std::shared_ptr<const storage::Snapshot> LatestOfSource() override {
    return store_->GetSnapshot();
  }
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
