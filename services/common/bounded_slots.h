// Slots for calls that hold a scarce resource while they last (streams,
// subscriptions, exports, label issuances, a page's photo decoding): at most
// `max_total` held at once, and at most max_per_key[i] held under the same
// i-th key of a Take (an enterprise, an actor's key), so that no one caller
// takes them all. A Slot frees its place when it goes.
//
// Thread-safety: thread-safe; a Slot is moved, never shared. The slots must
// outlive every Slot taken from them.

#ifndef CHEMLEDGER_SERVICES_COMMON_BOUNDED_SLOTS_H_
#define CHEMLEDGER_SERVICES_COMMON_BOUNDED_SLOTS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace chemledger {

class BoundedSlots {
 public:
  // `max_per_key[i]` bounds the slots held under the i-th key of a Take.
  explicit BoundedSlots(int max_total, std::vector<int> max_per_key = {})
      : max_total_(max_total),
        max_per_key_(std::move(max_per_key)),
        held_by_key_(max_per_key_.size()) {}
  BoundedSlots(const BoundedSlots&) = delete;
  BoundedSlots& operator=(const BoundedSlots&) = delete;

  // The limit that refused a Take.
  static constexpr int kTotal = -1;

  class Slot {
   public:
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&& other) noexcept;
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

    // A Slot that holds none, for a caller turned away before it asked.
    static Slot None() { return Slot(nullptr, {}, kTotal); }

    bool taken() const { return slots_ != nullptr; }
    // Not taken: which limit was full, kTotal or the index of the key whose
    // limit it was.
    int full() const { return full_; }

   private:
    friend class BoundedSlots;
    Slot(BoundedSlots* slots, std::vector<std::string> keys, int full)
        : slots_(slots), keys_(std::move(keys)), full_(full) {}
    void Free();
    BoundedSlots* slots_;  // null when it holds none
    std::vector<std::string> keys_;
    int full_;
  };

  // A slot under `keys`, one for each per-key limit in order (extra keys
  // are not counted), or a Slot that is not taken saying which limit was
  // full (the total is looked at first).
  Slot Take(std::vector<std::string> keys = {});

  // Slots held now, and the most that may be (metrics).
  int held() const;
  int max_total() const { return max_total_; }
  // The limit on the i-th key.
  int max_per_key(size_t i) const { return max_per_key_[i]; }

 private:
  void Free(const std::vector<std::string>& keys);

  const int max_total_;
  const std::vector<int> max_per_key_;
  mutable absl::Mutex mu_;
  int held_ ABSL_GUARDED_BY(mu_) = 0;
  // Per limit, the slots held under each key (keys holding none are left out).
  std::vector<std::map<std::string, int>> held_by_key_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_BOUNDED_SLOTS_H_
