#include "journal/layered_reader.h"

#include <map>
#include <optional>

#include "absl/strings/str_cat.h"

namespace chemledger::journal {

const Layer* LayeredReader::LayerHolding(uint64_t index) const {
  for (size_t i = layer_count_; i-- > 0;) {
    const Layer* layer = layers_[i];
    if (index >= layer->first_index && index < layer->end_index()) return layer;
  }
  return nullptr;
}

absl::StatusOr<std::string> LayeredReader::Entry(uint64_t index) const {
  if (index >= size_) {
    return absl::OutOfRangeError(
        absl::StrCat("entry index ", index, " is not below the log size ", size_));
  }
  if (const Layer* layer = LayerHolding(index)) return layer->entries[index - layer->first_index];
  return log_base_->Entry(index);
}

absl::StatusOr<crypto::Sha256Digest> LayeredReader::LeafHash(uint64_t index) const {
  if (index >= size_) {
    return absl::OutOfRangeError(
        absl::StrCat("entry index ", index, " is not below the log size ", size_));
  }
  if (const Layer* layer = LayerHolding(index)) {
    return layer->leaf_hashes[index - layer->first_index];
  }
  return log_base_->LeafHash(index);
}

absl::StatusOr<std::optional<std::string>> LayeredReader::Get(absl::string_view key) const {
  if (top_ != nullptr) {
    if (const std::optional<std::string>* v = top_->Find(key)) return *v;
  }
  for (size_t i = layer_count_; i-- > 0;) {
    if (const std::optional<std::string>* v = layers_[i]->writes.Find(key)) return *v;
  }
  return state_base_->Get(key);
}

absl::Status LayeredReader::Scan(absl::string_view begin, absl::string_view end,
                                 const storage::ScanVisitor& visit) const {
  // The layers' writes in [begin, end), newer layers over older ones.
  std::map<std::string, std::optional<std::string>> over;
  const auto collect = [&](const storage::StateWrites& w) {
    auto it = w.writes().lower_bound(begin);
    for (; it != w.writes().end() && (end.empty() || it->first < end); ++it) {
      over[it->first] = it->second;
    }
  };
  for (size_t i = 0; i < layer_count_; ++i) collect(layers_[i]->writes);
  if (top_ != nullptr) collect(*top_);

  auto next = over.begin();
  bool stopped = false;
  // Emits the layered keys before `key` (all of them when key is null).
  const auto emit_before = [&](const std::string* key) {
    for (; !stopped && next != over.end() && (key == nullptr || next->first < *key); ++next) {
      if (next->second && !visit(next->first, *next->second)) stopped = true;
    }
  };
  absl::Status s = state_base_->Scan(begin, end, [&](absl::string_view k, absl::string_view v) {
    const std::string key(k);
    emit_before(&key);
    if (stopped) return false;
    if (next != over.end() && next->first == key) {
      const bool keep_going = !next->second || visit(key, *next->second);
      ++next;
      if (!keep_going) stopped = true;
      return keep_going;
    }
    if (!visit(k, v)) stopped = true;
    return !stopped;
  });
  if (!s.ok()) return s;
  emit_before(nullptr);
  return absl::OkStatus();
}

}  // namespace chemledger::journal
