#include "journal/layered_reader.h"

#include <map>
#include <optional>

#include "absl/strings/str_cat.h"

namespace chemledger::journal {

const Layer* LayeredReader::LayerHolding(uint64_t index) const {
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
    if (index >= (*it)->first_index && index < (*it)->end_index()) return *it;
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
  const std::string k(key);
  if (top_ != nullptr) {
    if (auto it = top_->writes().find(k); it != top_->writes().end()) return it->second;
  }
  for (auto layer = layers_.rbegin(); layer != layers_.rend(); ++layer) {
    const auto& writes = (*layer)->writes.writes();
    if (auto it = writes.find(k); it != writes.end()) return it->second;
  }
  return state_base_->Get(key);
}

absl::Status LayeredReader::Scan(absl::string_view begin, absl::string_view end,
                                 const storage::ScanVisitor& visit) const {
  // The layers' writes in [begin, end), newer layers over older ones.
  std::map<std::string, std::optional<std::string>> over;
  const auto collect = [&](const storage::StateWrites& w) {
    auto it = w.writes().lower_bound(std::string(begin));
    for (; it != w.writes().end() && (end.empty() || it->first < end); ++it) {
      over[it->first] = it->second;
    }
  };
  for (const Layer* layer : layers_) collect(layer->writes);
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
