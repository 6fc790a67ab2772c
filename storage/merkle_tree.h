// The storage-independent half of the log's Merkle tree: which nodes a log
// stores, how appends create them, and how roots and proofs are assembled from
// them. A log backend only has to store nodes by NodeId and read them back.
//
// Stored nodes are the roots of perfect subtrees: node (level L, index i) is
// the RFC 6962 hash of leaves [i * 2^L, (i+1) * 2^L). Once created a node never
// changes. The root at any size n is the hash of the O(log n) perfect subtrees
// that n's binary representation splits the leaves into; a proof needs O(log n)
// such nodes. Nothing here ever rehashes entries.
//
// Thread-safety: CompactRange is a value type with no internal locking.
// The free functions are thread-safe if the NodeReader they are given is.

#ifndef CHEMLEDGER_STORAGE_MERKLE_TREE_H_
#define CHEMLEDGER_STORAGE_MERKLE_TREE_H_

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/sha256.h"

namespace chemledger::storage {

using crypto::Sha256Digest;

struct NodeId {
  uint8_t level = 0;   // 0 = leaf
  uint64_t index = 0;  // position among the nodes of this level

  friend bool operator==(const NodeId& a, const NodeId& b) {
    return a.level == b.level && a.index == b.index;
  }
};

// Reads one stored node. Must fail (not return garbage) for a missing node.
using NodeReader = std::function<absl::StatusOr<Sha256Digest>(NodeId)>;

// The perfect-subtree roots that cover the first Size() leaves, largest first:
// the right edge of the tree, enough to append and to give the current root.
class CompactRange {
 public:
  CompactRange() = default;

  // Rebuilds the range of a tree of `size` by reading its O(log n) nodes.
  static absl::StatusOr<CompactRange> Load(uint64_t size, const NodeReader& read);

  uint64_t size() const { return size_; }

  // Appends one leaf; calls `emit` for every node that becomes complete: the
  // leaf itself first, then each parent it completes, bottom-up.
  void Append(const Sha256Digest& leaf_hash,
              const std::function<void(NodeId, const Sha256Digest&)>& emit);

  // Appends a whole perfect subtree whose leaves start at size(): node `level`
  // levels up with hash `hash` (size() must be a multiple of 2^level). Calls
  // `emit` only for the nodes above it that it completes, bottom-up. The same
  // nodes, in the same order, as appending its leaves one by one would emit
  // above it.
  void AppendSubtree(uint8_t level, const Sha256Digest& hash,
                     const std::function<void(NodeId, const Sha256Digest&)>& emit);

  // Root of the tree of size(); the empty-tree hash when size() == 0.
  Sha256Digest Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<Sha256Digest> hashes_;  // one per set bit of size_, largest first
};

// The part of appending the leaves [begin, begin + leaf_hashes.size()) that
// needs nothing outside them: calls `emit` for each leaf and each perfect
// subtree lying wholly inside the run (per leaf: the leaf, then the nodes it
// completes, bottom-up), and returns the run's own perfect subtrees, left to
// right, as (level, hash). Appending those with CompactRange::AppendSubtree to
// a range of size `begin` emits the remaining nodes. Lets several threads hash
// disjoint runs of one batch; thread-safe (no shared state).
std::vector<std::pair<uint8_t, Sha256Digest>> HashRun(
    uint64_t begin, absl::Span<const Sha256Digest> leaf_hashes,
    const std::function<void(NodeId, const Sha256Digest&)>& emit);

// The stored nodes whose hashes fold into the RFC 6962 hash of leaves
// [begin, end), largest first. Requires a range that is a subtree of some RFC
// 6962 tree: begin = 0, or begin a multiple of the largest power of two below
// or equal to end - begin. PerfectSubtreesOf(0, n) gives the right edge of a
// tree of size n.
std::vector<NodeId> PerfectSubtreesOf(uint64_t begin, uint64_t end);

// Number of stored nodes in a tree of `size` (all levels, leaves included).
uint64_t StoredNodeCount(uint64_t size);

// Root at `size`, inclusion proof and consistency proof, assembled from stored
// nodes. The caller checks the arguments against the log's size; these only
// require index < size and size1 <= size2.
absl::StatusOr<Sha256Digest> RootAt(uint64_t size, const NodeReader& read);
absl::StatusOr<std::vector<Sha256Digest>> InclusionProofAt(
    uint64_t index, uint64_t size, const NodeReader& read);
// The inclusion proofs of the leaves at `indexes` in the tree of `size`, in
// the same order; each stored node is read once for all of them (the proofs
// of nearby leaves share most of their nodes).
absl::StatusOr<std::vector<std::vector<Sha256Digest>>> InclusionProofsAt(
    const std::vector<uint64_t>& indexes, uint64_t size, const NodeReader& read);
absl::StatusOr<std::vector<Sha256Digest>> ConsistencyProofAt(
    uint64_t size1, uint64_t size2, const NodeReader& read);

}  // namespace chemledger::storage

#endif  // CHEMLEDGER_STORAGE_MERKLE_TREE_H_
