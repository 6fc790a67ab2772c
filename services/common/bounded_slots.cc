#include "services/common/bounded_slots.h"

#include <algorithm>
#include <utility>

namespace chemledger {

BoundedSlots::Slot::Slot(Slot&& other) noexcept
    : slots_(other.slots_), keys_(std::move(other.keys_)), full_(other.full_) {
  other.slots_ = nullptr;
}

BoundedSlots::Slot& BoundedSlots::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    Free();
    slots_ = other.slots_;
    keys_ = std::move(other.keys_);
    full_ = other.full_;
    other.slots_ = nullptr;
  }
  return *this;
}

BoundedSlots::Slot::~Slot() { Free(); }

void BoundedSlots::Slot::Free() {
  if (slots_ != nullptr) slots_->Free(keys_);
  slots_ = nullptr;
}

BoundedSlots::Slot BoundedSlots::Take(std::vector<std::string> keys) {
  keys.resize(std::min(keys.size(), max_per_key_.size()));
  absl::MutexLock lock(&mu_);
  if (held_ >= max_total_) return Slot(nullptr, {}, kTotal);
  for (size_t i = 0; i < keys.size(); ++i) {
    auto it = held_by_key_[i].find(keys[i]);
    if (it != held_by_key_[i].end() && it->second >= max_per_key_[i]) {
      return Slot(nullptr, {}, static_cast<int>(i));
    }
    if (max_per_key_[i] <= 0) return Slot(nullptr, {}, static_cast<int>(i));
  }
  ++held_;
  for (size_t i = 0; i < keys.size(); ++i) ++held_by_key_[i][keys[i]];
  return Slot(this, std::move(keys), 0);
}

int BoundedSlots::held() const {
  absl::MutexLock lock(&mu_);
  return held_;
}

void BoundedSlots::Free(const std::vector<std::string>& keys) {
  absl::MutexLock lock(&mu_);
  --held_;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto it = held_by_key_[i].find(keys[i]);
    if (it != held_by_key_[i].end() && --it->second == 0) held_by_key_[i].erase(it);
  }
}

}  // namespace chemledger
