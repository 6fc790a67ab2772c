#include "storage/merkle_tree.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/numeric/bits.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/merkle.h"

namespace chemledger::storage {
namespace {

using crypto::HashChildren;

// Largest power of two strictly below n (n >= 2).
uint64_t SplitPoint(uint64_t n) { return uint64_t{1} << (63 - absl::countl_zero(n - 1)); }

// Reads each node at most once per proof: the incomplete subtrees on a
// proof's right edge share their nodes.
class MemoReader {
 public:
  explicit MemoReader(const NodeReader& read) : read_(read) {}

  absl::StatusOr<Sha256Digest> Read(NodeId id) {
    for (const auto& [seen, hash] : seen_) {
      if (seen == id) return hash;
    }
    absl::StatusOr<Sha256Digest> hash = read_(id);
    if (hash.ok()) seen_.emplace_back(id, *hash);
    return hash;
  }

  // RFC 6962 hash of leaves [begin, end) as the tree of any size >= end has it.
  absl::StatusOr<Sha256Digest> SubtreeHash(uint64_t begin, uint64_t end) {
    const std::vector<NodeId> nodes = PerfectSubtreesOf(begin, end);
    absl::StatusOr<Sha256Digest> hash = Read(nodes.back());
    for (size_t i = nodes.size() - 1; hash.ok() && i-- > 0;) {
      absl::StatusOr<Sha256Digest> left = Read(nodes[i]);
      if (!left.ok()) return left.status();
      hash = HashChildren(*left, *hash);
    }
    return hash;
  }

  absl::StatusOr<std::vector<Sha256Digest>> Hashes(
      const std::vector<std::pair<uint64_t, uint64_t>>& ranges_top_down) {
    std::vector<Sha256Digest> proof;
    proof.reserve(ranges_top_down.size());
    for (auto it = ranges_top_down.rbegin(); it != ranges_top_down.rend(); ++it) {
      absl::StatusOr<Sha256Digest> hash = SubtreeHash(it->first, it->second);
      if (!hash.ok()) return hash.status();
      proof.push_back(*hash);
    }
    return proof;
  }

 private:
  const NodeReader& read_;
  std::vector<std::pair<NodeId, Sha256Digest>> seen_;
};

}  // namespace

std::vector<NodeId> PerfectSubtreesOf(uint64_t begin, uint64_t end) {
  // Greedy from the left: the largest aligned perfect subtree that fits. For
  // the subtrees of an RFC 6962 tree this is exactly the tree's own split.
  std::vector<NodeId> nodes;
  uint64_t pos = begin;
  while (pos < end) {
    int level = pos == 0 ? 63 : absl::countr_zero(pos);
    while ((uint64_t{1} << level) > end - pos) --level;
    nodes.push_back(NodeId{static_cast<uint8_t>(level), pos >> level});
    pos += uint64_t{1} << level;
  }
  return nodes;
}

uint64_t StoredNodeCount(uint64_t size) {
  uint64_t count = 0;
  for (uint64_t n = size; n > 0; n >>= 1) count += n;
  return count;
}

absl::StatusOr<CompactRange> CompactRange::Load(uint64_t size,
                                                const NodeReader& read) {
  CompactRange range;
  range.size_ = size;
  for (NodeId id : PerfectSubtreesOf(0, size)) {
    absl::StatusOr<Sha256Digest> hash = read(id);
    if (!hash.ok()) {
      return absl::DataLossError(absl::StrCat(
          "tree does not cover size ", size, ": node (level ", id.level,
          ", index ", id.index, "): ", hash.status().message()));
    }
    range.hashes_.push_back(*hash);
  }
  return range;
}

void CompactRange::Append(
    const Sha256Digest& leaf_hash,
    const std::function<void(NodeId, const Sha256Digest&)>& emit) {
  emit(NodeId{0, size_}, leaf_hash);
  AppendSubtree(0, leaf_hash, emit);
}

void CompactRange::AppendSubtree(
    uint8_t level, const Sha256Digest& subtree_hash,
    const std::function<void(NodeId, const Sha256Digest&)>& emit) {
  NodeId id{level, size_ >> level};
  Sha256Digest hash = subtree_hash;
  // Each trailing one bit of size_ >> level is a left sibling waiting for
  // this node: merge and move up.
  while (id.index & 1) {
    hash = HashChildren(hashes_.back(), hash);
    hashes_.pop_back();
    id = NodeId{static_cast<uint8_t>(id.level + 1), id.index >> 1};
    emit(id, hash);
  }
  hashes_.push_back(hash);
  size_ += uint64_t{1} << level;
}

std::vector<std::pair<uint8_t, Sha256Digest>> HashRun(
    uint64_t begin, absl::Span<const Sha256Digest> leaf_hashes,
    const std::function<void(NodeId, const Sha256Digest&)>& emit) {
  // A compact range local to the run: it merges only siblings both inside it.
  std::vector<std::pair<uint8_t, Sha256Digest>> stack;
  for (uint64_t i = 0; i < leaf_hashes.size(); ++i) {
    NodeId id{0, begin + i};
    Sha256Digest hash = leaf_hashes[i];
    emit(id, hash);
    while ((id.index & 1) && !stack.empty() && stack.back().first == id.level) {
      hash = HashChildren(stack.back().second, hash);
      stack.pop_back();
      id = NodeId{static_cast<uint8_t>(id.level + 1), id.index >> 1};
      emit(id, hash);
    }
    stack.emplace_back(id.level, hash);
  }
  return stack;
}

Sha256Digest CompactRange::Root() const {
  if (hashes_.empty()) return crypto::EmptyTreeRoot();
  Sha256Digest root = hashes_.back();
  for (size_t i = hashes_.size() - 1; i-- > 0;) root = HashChildren(hashes_[i], root);
  return root;
}

absl::StatusOr<Sha256Digest> RootAt(uint64_t size, const NodeReader& read) {
  if (size == 0) return crypto::EmptyTreeRoot();
  MemoReader reader(read);
  return reader.SubtreeHash(0, size);
}

absl::StatusOr<std::vector<Sha256Digest>> InclusionProofAt(
    uint64_t index, uint64_t size, const NodeReader& read) {
  if (index >= size) {
    return absl::OutOfRangeError(
        absl::StrCat("leaf index ", index, " is not below tree size ", size));
  }
  // RFC 6962 PATH(m, D[n]), unrolled: the sibling subtree at each split.
  std::vector<std::pair<uint64_t, uint64_t>> siblings;
  uint64_t begin = 0, end = size;
  while (end - begin > 1) {
    const uint64_t mid = begin + SplitPoint(end - begin);
    if (index < mid) {
      siblings.emplace_back(mid, end);
      end = mid;
    } else {
      siblings.emplace_back(begin, mid);
      begin = mid;
    }
  }
  MemoReader reader(read);
  return reader.Hashes(siblings);
}

absl::StatusOr<std::vector<Sha256Digest>> ConsistencyProofAt(
    uint64_t size1, uint64_t size2, const NodeReader& read) {
  if (size1 > size2) {
    return absl::OutOfRangeError(absl::StrCat(
        "first size ", size1, " is larger than second size ", size2));
  }
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  if (size1 == 0 || size1 == size2) return std::vector<Sha256Digest>{};
  // RFC 6962 SUBPROOF(m, D[n], true), unrolled.
  uint64_t begin = 0, end = size2, m = size1;
  bool whole_old_tree = true;  // the "b" flag: D[begin:begin+m] is the old tree
  while (m != end - begin) {
    const uint64_t k = SplitPoint(end - begin);
    if (m <= k) {
      ranges.emplace_back(begin + k, end);
      end = begin + k;
    } else {
      ranges.emplace_back(begin, begin + k);
      begin += k;
      m -= k;
      whole_old_tree = false;
    }
  }
  if (!whole_old_tree) ranges.emplace_back(begin, end);
  MemoReader reader(read);
  return reader.Hashes(ranges);
}

absl::StatusOr<std::vector<std::vector<Sha256Digest>>> InclusionProofsAt(
    const std::vector<uint64_t>& indexes, uint64_t size, const NodeReader& read) {
  absl::flat_hash_map<std::pair<uint8_t, uint64_t>, Sha256Digest> seen;
  const NodeReader cached = [&](NodeId id) -> absl::StatusOr<Sha256Digest> {
    auto it = seen.find(std::make_pair(id.level, id.index));
    if (it != seen.end()) return it->second;
    absl::StatusOr<Sha256Digest> hash = read(id);
    if (hash.ok()) seen.emplace(std::make_pair(id.level, id.index), *hash);
    return hash;
  };
  std::vector<std::vector<Sha256Digest>> proofs;
  proofs.reserve(indexes.size());
  for (uint64_t index : indexes) {
    absl::StatusOr<std::vector<Sha256Digest>> proof = InclusionProofAt(index, size, cached);
    if (!proof.ok()) return proof.status();
    proofs.push_back(*std::move(proof));
  }
  return proofs;
}

}  // namespace chemledger::storage
