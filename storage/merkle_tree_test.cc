#include "storage/merkle_tree.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/merkle.h"
#include "crypto/merkle_reference.h"
#include "gtest/gtest.h"

namespace chemledger::storage {
namespace {

// A node store in memory that counts reads, to hold the O(log n) promise.
class MemoryNodes {
 public:
  void Put(NodeId id, const Sha256Digest& h) {
    ASSERT_TRUE(nodes_.emplace(std::make_pair(id.level, id.index), h).second)
        << "node written twice: " << int{id.level} << "/" << id.index;
  }
  NodeReader Reader() {
    return [this](NodeId id) -> absl::StatusOr<Sha256Digest> {
      ++reads_;
      auto it = nodes_.find({id.level, id.index});
      if (it == nodes_.end()) return absl::NotFoundError("no such node");
      return it->second;
    };
  }
  size_t size() const { return nodes_.size(); }
  int reads_ = 0;

 private:
  std::map<std::pair<int, uint64_t>, Sha256Digest> nodes_;
};

struct Tree {
  std::vector<Sha256Digest> leaves;
  MemoryNodes nodes;
  CompactRange range;

  void Grow(uint64_t n) {
    while (leaves.size() < n) {
      leaves.push_back(crypto::HashLeaf(absl::StrCat("leaf ", leaves.size())));
      range.Append(leaves.back(),
                   [this](NodeId id, const Sha256Digest& h) { nodes.Put(id, h); });
    }
  }
};

TEST(MerkleTreeTest, CompactRangeRootMatchesReferenceAndNodeCount) {
  Tree t;
  EXPECT_EQ(t.range.Root(), crypto::EmptyTreeRoot());
  for (uint64_t n = 1; n <= 300; ++n) {
    t.Grow(n);
    ASSERT_EQ(t.range.Root(), crypto::reference::MerkleTreeHash(t.leaves)) << n;
    ASSERT_EQ(t.nodes.size(), StoredNodeCount(n));
    absl::StatusOr<CompactRange> loaded = CompactRange::Load(n, t.nodes.Reader());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->Root(), t.range.Root());
  }
}

// Hashing a batch as runs (in any split, as several threads would) and then
// appending each run's subtrees emits exactly what leaf-by-leaf appends emit.
TEST(MerkleTreeTest, RunsThenSubtreesEmitTheSameNodesAsLeafByLeaf) {
  std::vector<Sha256Digest> leaves;
  for (int i = 0; i < 700; ++i) leaves.push_back(crypto::HashLeaf(absl::StrCat("l", i)));
  using Emitted = std::vector<std::pair<std::pair<int, uint64_t>, Sha256Digest>>;
  for (uint64_t start : {0, 1, 5, 64, 100, 127, 128, 333}) {
    for (uint64_t run : {1, 3, 64, 100, 256}) {
      CompactRange one_by_one, by_runs;
      Emitted expected, got;
      const auto recorder = [](Emitted* out) {
        return [out](NodeId id, const Sha256Digest& h) {
          out->push_back({{id.level, id.index}, h});
        };
      };
      for (uint64_t i = 0; i < start; ++i) {
        one_by_one.Append(leaves[i], [](NodeId, const Sha256Digest&) {});
        by_runs.Append(leaves[i], [](NodeId, const Sha256Digest&) {});
      }
      for (uint64_t i = start; i < leaves.size(); ++i) {
        one_by_one.Append(leaves[i], recorder(&expected));
      }
      // Runs aligned like the log's chunks: boundaries at multiples of `run`.
      for (uint64_t b = start; b < leaves.size();) {
        const uint64_t e = std::min<uint64_t>(leaves.size(), (b / run + 1) * run);
        auto subtrees = HashRun(b, absl::MakeConstSpan(leaves).subspan(b, e - b),
                                recorder(&got));
        for (const auto& [level, hash] : subtrees) {
          by_runs.AppendSubtree(level, hash, recorder(&got));
        }
        b = e;
      }
      auto key = [](const auto& a, const auto& b) { return a.first < b.first; };
      std::sort(expected.begin(), expected.end(), key);
      std::sort(got.begin(), got.end(), key);
      ASSERT_EQ(got, expected) << "start " << start << " run " << run;
      EXPECT_EQ(by_runs.Root(), one_by_one.Root());
      EXPECT_EQ(by_runs.size(), one_by_one.size());
    }
  }
}

TEST(MerkleTreeTest, RootsAndProofsAtEverySizeMatchReference) {
  Tree t;
  t.Grow(70);
  const auto leaves = absl::MakeConstSpan(t.leaves);
  for (uint64_t size = 0; size <= 70; ++size) {
    const Sha256Digest root = crypto::reference::MerkleTreeHash(leaves.subspan(0, size));
    ASSERT_EQ(*RootAt(size, t.nodes.Reader()), root) << size;
    for (uint64_t index = 0; index < size; ++index) {
      auto proof = InclusionProofAt(index, size, t.nodes.Reader());
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_EQ(*proof, crypto::reference::InclusionProof(t.leaves, index, size))
          << index << "/" << size;
      ASSERT_TRUE(crypto::VerifyInclusion(index, size, t.leaves[index], *proof, root).ok());
    }
    for (uint64_t size1 = 0; size1 <= size; ++size1) {
      auto proof = ConsistencyProofAt(size1, size, t.nodes.Reader());
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_EQ(*proof, crypto::reference::ConsistencyProof(t.leaves, size1, size))
          << size1 << "->" << size;
    }
  }
}

TEST(MerkleTreeTest, ProofsReadLogarithmicallyManyNodes) {
  Tree t;
  const uint64_t n = (1 << 16) + 12345;
  t.Grow(n);
  int worst = 0;
  for (uint64_t index : {uint64_t{0}, uint64_t{1}, n / 3, n / 2, n - 2, n - 1}) {
    t.nodes.reads_ = 0;
    ASSERT_TRUE(InclusionProofAt(index, n, t.nodes.Reader()).ok());
    worst = std::max(worst, t.nodes.reads_);
  }
  for (uint64_t old_size : {uint64_t{1}, uint64_t{7}, n / 3, n - 1}) {
    t.nodes.reads_ = 0;
    ASSERT_TRUE(ConsistencyProofAt(old_size, n, t.nodes.Reader()).ok());
    worst = std::max(worst, t.nodes.reads_);
  }
  // log2(n) = 17: a proof touches at most ~2 log2(n) distinct nodes.
  EXPECT_LE(worst, 2 * 17 + 2);
}

TEST(MerkleTreeTest, MissingNodeIsAnErrorNotAWrongAnswer) {
  MemoryNodes empty;
  EXPECT_FALSE(RootAt(5, empty.Reader()).ok());
  EXPECT_FALSE(InclusionProofAt(1, 5, empty.Reader()).ok());
  EXPECT_FALSE(ConsistencyProofAt(3, 5, empty.Reader()).ok());
  absl::StatusOr<CompactRange> loaded = CompactRange::Load(5, empty.Reader());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(InclusionProofAt(5, 5, empty.Reader()).status().code(),
            absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace chemledger::storage
