#include "services/common/ephemeral_records.h"

#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace chemledger {

absl::Status OwnerHoldsTooManyRecords(absl::string_view kind, size_t bound) {
  return absl::ResourceExhaustedError(
      absl::StrCat(bound, " records of kind ", kind, " are held by their owner"));
}

namespace {

class LocalEphemeralRecords final : public EphemeralRecords {
  struct Record {
    std::string value;
    std::string owner;
    absl::Time expires;
    uint64_t sequence = 0;  // the order of Puts: the oldest goes first
  };
  using Kind = std::map<std::string, Record, std::less<>>;

 public:
  absl::Status Put(absl::string_view kind, absl::string_view key, absl::string_view value,
                   absl::string_view owner, absl::Time expires, const Limits& limits,
                   absl::Time now) override {
    absl::MutexLock lock(&mu_);
    Kind& of_kind = records_[std::string(kind)];
    DropExpired(of_kind, now);
    if (limits.only_if_absent && of_kind.find(key) != of_kind.end()) {
      return absl::AlreadyExistsError(absl::StrCat("a record of kind ", kind, " is held"));
    }
    if (of_kind.size() >= limits.max_of_kind && of_kind.find(key) == of_kind.end()) {
      return absl::ResourceExhaustedError(
          absl::StrCat(limits.max_of_kind, " records of kind ", kind, " are held"));
    }
    if (limits.refuse_beyond_per_owner > 0 && !owner.empty()) {
      size_t held = 0;
      for (const auto& [k, r] : of_kind) held += r.owner == owner && k != key;
      if (held >= limits.refuse_beyond_per_owner) {
        return OwnerHoldsTooManyRecords(kind, limits.refuse_beyond_per_owner);
      }
    }
    of_kind.erase(std::string(key));
    if (limits.max_per_owner > 0 && !owner.empty()) {
      for (;;) {
        auto oldest = of_kind.end();
        size_t held = 0;
        for (auto it = of_kind.begin(); it != of_kind.end(); ++it) {
          if (it->second.owner != owner) continue;
          ++held;
          if (oldest == of_kind.end() || it->second.sequence < oldest->second.sequence) oldest = it;
        }
        if (held < limits.max_per_owner) break;
        of_kind.erase(oldest);
      }
    }
    of_kind[std::string(key)] = Record{std::string(value), std::string(owner), expires, ++sequence_};
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view kind, absl::string_view key,
                                                 bool take, absl::Time now) override {
    absl::MutexLock lock(&mu_);
    auto of_kind = records_.find(kind);
    if (of_kind == records_.end()) return std::nullopt;
    auto it = of_kind->second.find(key);
    if (it == of_kind->second.end()) return std::nullopt;
    if (it->second.expires <= now) {
      of_kind->second.erase(it);
      return std::nullopt;
    }
    std::optional<std::string> value = it->second.value;
    if (take) of_kind->second.erase(it);
    return value;
  }

  absl::Status Delete(absl::string_view kind, absl::string_view key) override {
    absl::MutexLock lock(&mu_);
    auto of_kind = records_.find(kind);
    if (of_kind != records_.end()) of_kind->second.erase(std::string(key));
    return absl::OkStatus();
  }

 private:
  static void DropExpired(Kind& of_kind, absl::Time now) {
    for (auto it = of_kind.begin(); it != of_kind.end();) {
      it = it->second.expires <= now ? of_kind.erase(it) : std::next(it);
    }
  }

  absl::Mutex mu_;
  std::map<std::string, Kind, std::less<>> records_ ABSL_GUARDED_BY(mu_);
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::unique_ptr<EphemeralRecords> NewLocalEphemeralRecords() {
  return std::make_unique<LocalEphemeralRecords>();
}

}  // namespace chemledger
