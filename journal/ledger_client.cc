#include "journal/ledger_client.h"

#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace chemledger::journal {
namespace {

class InProcessLedgerClient final : public LedgerClient {
 public:
  InProcessLedgerClient(Journal* journal, SnapshotRetention retention)
      : journal_(journal), retention_(retention) {}

  std::vector<absl::StatusOr<Receipt>> Submit(std::vector<Request> requests) override {
    return journal_->Submit(std::move(requests));
  }

  std::shared_ptr<const storage::Snapshot> Latest() override { return journal_->Snapshot(); }
  absl::Status Writable() override { return journal_->Writable(); }

  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> At(uint64_t size) override {
    std::shared_ptr<const storage::Snapshot> latest = journal_->Snapshot();
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

  Journal* const journal_;
  const SnapshotRetention retention_;
  absl::Mutex mu_;
  std::map<uint64_t, Kept> kept_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<LedgerClient> NewInProcessLedgerClient(Journal* journal,
                                                       SnapshotRetention retention) {
  return std::make_unique<InProcessLedgerClient>(journal, retention);
}

}  // namespace chemledger::journal
