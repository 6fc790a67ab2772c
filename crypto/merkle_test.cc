#include "crypto/merkle.h"

#include <string>
#include <vector>

#include "crypto/merkle_reference.h"
#include "gtest/gtest.h"

namespace chemledger::crypto {
namespace {

// The RFC 6962 test vectors used by Certificate Transparency implementations.
const std::vector<std::string>& CtLeaves() {
  static const auto* leaves = new std::vector<std::string>{
      std::string(""),
      std::string("\x00", 1),
      std::string("\x10"),
      std::string("\x20\x21"),
      std::string("\x30\x31"),
      std::string("\x40\x41\x42\x43"),
      std::string("\x50\x51\x52\x53\x54\x55\x56\x57"),
      std::string("\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"),
  };
  return *leaves;
}

const char* const kCtRoots[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

Sha256Digest H(const char* hex) { return *Sha256Digest::FromHex(hex); }

std::vector<Sha256Digest> Hs(std::initializer_list<const char*> hexes) {
  std::vector<Sha256Digest> out;
  for (const char* h : hexes) out.push_back(H(h));
  return out;
}

std::vector<Sha256Digest> LeafHashes(const std::vector<std::string>& entries) {
  std::vector<Sha256Digest> out;
  for (const auto& e : entries) out.push_back(HashLeaf(e));
  return out;
}

std::vector<Sha256Digest> SyntheticLeaves(int n) {
  std::vector<Sha256Digest> out;
  for (int i = 0; i < n; ++i) out.push_back(HashLeaf("entry " + std::to_string(i)));
  return out;
}

TEST(MerkleTest, Rfc6962RootVectors) {
  for (size_t size = 0; size <= CtLeaves().size(); ++size) {
    std::vector<std::string> prefix(CtLeaves().begin(), CtLeaves().begin() + size);
    EXPECT_EQ(RootOfEntries(prefix).ToHex(), kCtRoots[size]) << "size " << size;
    EXPECT_EQ(reference::MerkleTreeHash(LeafHashes(prefix)).ToHex(), kCtRoots[size]);
  }
}

TEST(MerkleTest, Rfc6962InclusionVectors) {
  const auto leaves = LeafHashes(CtLeaves());
  const Sha256Digest root8 = H(kCtRoots[8]);
  const auto path0 = Hs({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                         "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                         "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"});
  const auto path5 = Hs({"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                         "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                         "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"});
  EXPECT_EQ(reference::InclusionProof(leaves, 0, 8), path0);
  EXPECT_EQ(reference::InclusionProof(leaves, 5, 8), path5);
  EXPECT_TRUE(VerifyInclusion(0, 8, leaves[0], path0, root8).ok());
  EXPECT_TRUE(VerifyInclusion(5, 8, leaves[5], path5, root8).ok());
  EXPECT_TRUE(VerifyInclusion(0, 1, leaves[0], {}, H(kCtRoots[1])).ok());
}

TEST(MerkleTest, Rfc6962ConsistencyVectors) {
  const auto c18 = Hs({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                       "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                       "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"});
  const auto c68 = Hs({"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                       "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                       "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"});
  const auto leaves = LeafHashes(CtLeaves());
  EXPECT_EQ(reference::ConsistencyProof(leaves, 1, 8), c18);
  EXPECT_EQ(reference::ConsistencyProof(leaves, 6, 8), c68);
  EXPECT_TRUE(VerifyConsistency(1, 8, H(kCtRoots[1]), H(kCtRoots[8]), c18).ok());
  EXPECT_TRUE(VerifyConsistency(6, 8, H(kCtRoots[6]), H(kCtRoots[8]), c68).ok());
  EXPECT_TRUE(VerifyConsistency(1, 1, H(kCtRoots[1]), H(kCtRoots[1]), {}).ok());
}

// Every (index, size) and (size1, size2) up to 70 leaves: the reference proofs
// verify, and every single-hash corruption, truncation, extension and
// wrong-position claim is rejected.
TEST(MerkleTest, AllInclusionProofsUpTo70VerifyAndTamperedOnesFail) {
  const auto leaves = SyntheticLeaves(70);
  for (uint64_t size = 1; size <= leaves.size(); ++size) {
    const Sha256Digest root =
        reference::MerkleTreeHash(absl::MakeConstSpan(leaves).subspan(0, size));
    EXPECT_EQ(RootFromLeafHashes(absl::MakeConstSpan(leaves).subspan(0, size)), root);
    for (uint64_t index = 0; index < size; ++index) {
      auto proof = reference::InclusionProof(leaves, index, size);
      ASSERT_EQ(proof.size(), static_cast<size_t>(InclusionProofLength(index, size)));
      ASSERT_TRUE(VerifyInclusion(index, size, leaves[index], proof, root).ok())
          << index << "/" << size;
      // Wrong leaf, wrong index, wrong size, wrong root.
      EXPECT_FALSE(VerifyInclusion(index, size, HashLeaf("x"), proof, root).ok());
      if (size > 1) {
        EXPECT_FALSE(VerifyInclusion((index + 1) % size, size, leaves[index],
                                     proof, root).ok());
      }
      // The proof shape does not bind the size; the root of the other size
      // (which a signed checkpoint binds to its size) does.
      if (size < leaves.size()) {
        const Sha256Digest next_root = reference::MerkleTreeHash(
            absl::MakeConstSpan(leaves).subspan(0, size + 1));
        EXPECT_FALSE(VerifyInclusion(index, size + 1, leaves[index], proof,
                                     next_root).ok());
      }
      EXPECT_FALSE(VerifyInclusion(index, size, leaves[index], proof,
                                   HashLeaf("root")).ok());
      for (size_t j = 0; j < proof.size(); ++j) {
        auto bad = proof;
        bad[j].mutable_data()[j % 32] ^= 0x01;
        EXPECT_FALSE(VerifyInclusion(index, size, leaves[index], bad, root).ok());
      }
      auto longer = proof;
      longer.push_back(root);
      EXPECT_FALSE(VerifyInclusion(index, size, leaves[index], longer, root).ok());
      if (!proof.empty()) {
        auto shorter = proof;
        shorter.pop_back();
        EXPECT_FALSE(VerifyInclusion(index, size, leaves[index], shorter, root).ok());
      }
    }
    EXPECT_FALSE(VerifyInclusion(size, size, leaves[0], {}, root).ok());
  }
}

TEST(MerkleTest, AllConsistencyProofsUpTo70VerifyAndTamperedOnesFail) {
  const auto leaves = SyntheticLeaves(70);
  std::vector<Sha256Digest> roots;
  for (uint64_t size = 0; size <= leaves.size(); ++size) {
    roots.push_back(
        reference::MerkleTreeHash(absl::MakeConstSpan(leaves).subspan(0, size)));
  }
  for (uint64_t size2 = 0; size2 <= leaves.size(); ++size2) {
    for (uint64_t size1 = 0; size1 <= size2; ++size1) {
      auto proof = reference::ConsistencyProof(leaves, size1, size2);
      ASSERT_TRUE(VerifyConsistency(size1, size2, roots[size1], roots[size2], proof).ok())
          << size1 << "->" << size2;
      if (size1 == 0) continue;
      EXPECT_FALSE(VerifyConsistency(size1, size2, HashLeaf("a"), roots[size2], proof).ok());
      EXPECT_FALSE(VerifyConsistency(size1, size2, roots[size1], HashLeaf("b"), proof).ok());
      if (size1 == size2) continue;
      for (size_t j = 0; j < proof.size(); ++j) {
        auto bad = proof;
        bad[j].mutable_data()[31 - j % 32] ^= 0x80;
        EXPECT_FALSE(VerifyConsistency(size1, size2, roots[size1], roots[size2], bad).ok());
      }
      auto longer = proof;
      longer.push_back(roots[size1]);
      EXPECT_FALSE(VerifyConsistency(size1, size2, roots[size1], roots[size2], longer).ok());
      auto shorter = proof;
      shorter.pop_back();
      EXPECT_FALSE(VerifyConsistency(size1, size2, roots[size1], roots[size2], shorter).ok());
      // A proof for other sizes does not pass for these.
      if (size2 + 1 <= leaves.size()) {
        EXPECT_FALSE(VerifyConsistency(size1, size2 + 1, roots[size1],
                                       roots[size2 + 1], proof).ok());
      }
    }
  }
  EXPECT_FALSE(VerifyConsistency(5, 4, roots[5], roots[4], {}).ok());
}

TEST(MerkleTest, ProofLengthAtHugeSizes) {
  // index ^ (size - 1) with its top bit set: every level is an inner one.
  EXPECT_EQ(InclusionProofLength(5, (uint64_t{1} << 63) + 1), 64);
  EXPECT_EQ(InclusionProofLength(0, uint64_t{1} << 63), 63);
  EXPECT_EQ(InclusionProofLength((uint64_t{1} << 63) - 1, uint64_t{1} << 63), 63);
}

TEST(MerkleTest, ErrorsSayWhy) {
  absl::Status s = VerifyInclusion(3, 3, HashLeaf(""), {}, EmptyTreeRoot());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("not below tree size 3"), std::string::npos) << s;
  s = VerifyConsistency(0, 5, HashLeaf("not empty"), HashLeaf("b"), {});
  EXPECT_NE(s.message().find("not the empty tree's root"), std::string::npos) << s;
  s = VerifyConsistency(2, 2, HashLeaf("a"), HashLeaf("b"), {});
  EXPECT_NE(s.message().find("roots of equal sizes differ"), std::string::npos) << s;
}

}  // namespace
}  // namespace chemledger::crypto
