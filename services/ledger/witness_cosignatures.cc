#include "services/ledger/witness_cosignatures.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/durable_file.h"

namespace chemledger::ledger {

absl::Status WitnessCosignatures::Parse(absl::string_view text, const std::string& file,
                                        ByWitness* out) {
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++number;
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    Cosignature c;
    uint64_t size = 0;
    absl::StatusOr<crypto::Sha256Digest> root =
        parts.size() == 4 ? crypto::Sha256Digest::FromHex(parts[2])
                          : absl::InvalidArgumentError("four fields");
    if (!root.ok() || !absl::SimpleAtoi(parts[1], &size) ||
        parts[3].find(absl::StrCat("witness/", parts[0], " ")) == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          file, ":", number,
          ": not \"<key id> <size> <root hex> <signature line>\" (move the file away to start "
          "without the witnesses' co-signatures; their next round hands them in again)"));
    }
    c.root = *root;
    c.line = absl::StrCat(parts[3], "\n");
    std::map<uint64_t, Cosignature>& kept_by_size = (*out)[parts[0]];
    kept_by_size[size] = std::move(c);
    while (kept_by_size.size() > kKeptPerWitness) kept_by_size.erase(kept_by_size.begin());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<WitnessCosignatures>> WitnessCosignatures::Open(std::string file) {
  std::unique_ptr<WitnessCosignatures> kept(new WitnessCosignatures(file));
  if (file.empty()) return kept;
  absl::StatusOr<std::string> text = storage::ReadWholeFile(file);
  if (absl::IsNotFound(text.status())) return kept;
  if (!text.ok()) return text.status();
  absl::MutexLock lock(&kept->mu_);
  if (absl::Status s = Parse(*text, file, &kept->by_witness_); !s.ok()) return s;
  return kept;
}

int WitnessCosignatures::WitnessesOf(const ByWitness& by_witness, uint64_t size) {
  return static_cast<int>(
      std::count_if(by_witness.begin(), by_witness.end(),
                    [size](const auto& w) { return w.second.count(size) > 0; }));
}

absl::StatusOr<int> WitnessCosignatures::Add(const std::string& key_id, uint64_t size,
                                             const crypto::Sha256Digest& root,
                                             const std::string& line) {
  absl::MutexLock adding(&adding_);
  ByWitness next;
  {
    absl::MutexLock lock(&mu_);
    if (auto mine = by_witness_.find(key_id); mine != by_witness_.end()) {
      if (auto same = mine->second.find(size);
          same != mine->second.end() && same->second.root == root && same->second.line == line) {
        return WitnessesOf(by_witness_, size);  // already kept: nothing to write
      }
      if (mine->second.size() >= kKeptPerWitness && size < mine->second.begin()->first) {
        return WitnessesOf(by_witness_, size);
      }
    }
    next = by_witness_;
  }
  // Only Adds change by_witness_, one at a time: `next` stays its successor
  // while the file is written without mu_.
  int lock_fd = -1;
  const absl::Cleanup unlock = [&lock_fd] {
    if (lock_fd >= 0) close(lock_fd);  // releases the flock
  };
  if (!file_.empty()) {
    // What another object keeping this file wrote since this one read it.
    const std::string lock_path = file_ + ".lock";
    lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot lock ", lock_path, ": ", std::strerror(errno)));
    }
    absl::StatusOr<std::string> text = storage::ReadWholeFile(file_);
    if (!text.ok() && !absl::IsNotFound(text.status())) return text.status();
    ByWitness on_disk;
    if (text.ok()) {
      if (absl::Status s = Parse(*text, file_, &on_disk); !s.ok()) return s;
    }
    for (auto& [id, by_size] : on_disk) {
      std::map<uint64_t, Cosignature>& mine = next[id];
      for (auto& [at, c] : by_size) mine.emplace(at, std::move(c));  // this one's own win
      while (mine.size() > kKeptPerWitness) mine.erase(mine.begin());
    }
  }
  std::map<uint64_t, Cosignature>& kept = next[key_id];
  kept[size] = Cosignature{root, line};
  while (kept.size() > kKeptPerWitness) kept.erase(kept.begin());
  if (!file_.empty()) {
    std::string text;
    for (const auto& [id, by_size] : next) {
      for (const auto& [kept_size, c] : by_size) {
        absl::StrAppend(&text, id, " ", kept_size, " ", c.root.ToHex(), " ", c.line);
        if (c.line.empty() || c.line.back() != '\n') text.push_back('\n');
      }
    }
    if (absl::Status s = storage::ReplaceFileDurably(file_, text, 0644); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  by_witness_ = std::move(next);
  return WitnessesOf(by_witness_, size);
}

std::optional<WitnessCosignatures::Cosigned> WitnessCosignatures::Newest(
    int min_witnesses, const std::set<std::string>& only) const {
  absl::MutexLock lock(&mu_);
  // Each size's witnesses (a size's root is the log's at that size: every
  // line kept was checked against it).
  std::map<uint64_t, Cosigned> by_size;
  for (const auto& [id, kept] : by_witness_) {
    if (!only.empty() && only.count(id) == 0) continue;
    for (const auto& [size, c] : kept) {
      Cosigned& at = by_size[size];
      at.size = size;
      at.root = c.root;
      at.lines += c.line;
      ++at.witnesses;
    }
  }
  for (auto it = by_size.rbegin(); it != by_size.rend(); ++it) {
    if (it->second.witnesses >= std::max(1, min_witnesses)) return it->second;
  }
  return std::nullopt;
}

}  // namespace chemledger::ledger
