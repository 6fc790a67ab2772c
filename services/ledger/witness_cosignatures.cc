#include "services/ledger/witness_cosignatures.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/durable_file.h"

namespace chemledger::ledger {

absl::StatusOr<std::unique_ptr<WitnessCosignatures>> WitnessCosignatures::Open(std::string file) {
  std::unique_ptr<WitnessCosignatures> kept(new WitnessCosignatures(file));
  if (file.empty()) return kept;
  absl::StatusOr<std::string> text = storage::ReadWholeFile(file);
  if (absl::IsNotFound(text.status())) return kept;
  if (!text.ok()) return text.status();
  int number = 0;
  absl::MutexLock lock(&kept->mu_);
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    ++number;
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    Cosignature c;
    absl::StatusOr<crypto::Sha256Digest> root =
        parts.size() == 4 ? crypto::Sha256Digest::FromHex(parts[2])
                          : absl::InvalidArgumentError("four fields");
    if (!root.ok() || !absl::SimpleAtoi(parts[1], &c.size) ||
        parts[3].find(absl::StrCat("witness/", parts[0], " ")) == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          file, ":", number,
          ": not \"<key id> <size> <root hex> <signature line>\" (move the file away to start "
          "without the witnesses' co-signatures; their next round hands them in again)"));
    }
    c.root = *root;
    c.line = absl::StrCat(parts[3], "\n");
    kept->by_witness_[parts[0]] = std::move(c);
  }
  return kept;
}

absl::StatusOr<int> WitnessCosignatures::Add(const std::string& key_id, uint64_t size,
                                             const crypto::Sha256Digest& root,
                                             const std::string& line) {
  absl::MutexLock lock(&mu_);
  auto it = by_witness_.find(key_id);
  if (it == by_witness_.end() || size >= it->second.size) {
    std::map<std::string, Cosignature> next = by_witness_;
    next[key_id] = Cosignature{size, root, line};
    if (!file_.empty()) {
      std::string text;
      for (const auto& [id, c] : next) {
        absl::StrAppend(&text, id, " ", c.size, " ", c.root.ToHex(), " ", c.line);
        if (c.line.empty() || c.line.back() != '\n') text.push_back('\n');
      }
      if (absl::Status s = storage::ReplaceFileDurably(file_, text, 0644); !s.ok()) return s;
    }
    by_witness_ = std::move(next);
  }
  return static_cast<int>(std::count_if(by_witness_.begin(), by_witness_.end(),
                                        [size](const auto& w) { return w.second.size == size; }));
}

std::optional<WitnessCosignatures::Cosigned> WitnessCosignatures::Newest() const {
  absl::MutexLock lock(&mu_);
  uint64_t newest = 0;
  for (const auto& [id, c] : by_witness_) newest = std::max(newest, c.size);
  if (newest == 0) return std::nullopt;
  Cosigned out;
  out.size = newest;
  for (const auto& [id, c] : by_witness_) {
    if (c.size != newest) continue;
    out.root = c.root;
    out.lines += c.line;
  }
  return out;
}

}  // namespace chemledger::ledger
