#include "crypto/merkle.h"

#include <cstring>

#include "absl/numeric/bits.h"
#include "absl/strings/str_cat.h"

namespace chemledger::crypto {
Sha256Digest HashLeaf(absl::string_view entry) {
  static constexpr char kLeafPrefix[1] = {0x00};
  return Sha256Concat({absl::string_view(kLeafPrefix, 1), entry});
}

Sha256Digest HashChildren(const Sha256Digest& left, const Sha256Digest& right) {
  // One contiguous buffer: a single SHA-256 call is measurably faster than an
  // incremental one for 65 bytes, and appends hash about one node per entry.
  char buf[1 + 2 * Sha256Digest::kSize];
  buf[0] = 0x01;
  std::memcpy(buf + 1, left.bytes().data(), Sha256Digest::kSize);
  std::memcpy(buf + 1 + Sha256Digest::kSize, right.bytes().data(), Sha256Digest::kSize);
  return Sha256(absl::string_view(buf, sizeof(buf)));
}

Sha256Digest EmptyTreeRoot() { return Sha256(""); }

Sha256Digest RootFromLeafHashes(absl::Span<const Sha256Digest> leaf_hashes) {
  if (leaf_hashes.empty()) return EmptyTreeRoot();
  // Compact range: roots of the perfect subtrees covering the leaves so far,
  // largest first. Merging on carry builds exactly the RFC 6962 tree.
  std::vector<Sha256Digest> range;
  for (uint64_t i = 0; i < leaf_hashes.size(); ++i) {
    Sha256Digest node = leaf_hashes[i];
    for (uint64_t index = i; index & 1; index >>= 1) {
      node = HashChildren(range.back(), node);
      range.pop_back();
    }
    range.push_back(node);
  }
  Sha256Digest root = range.back();
  for (size_t j = range.size() - 1; j-- > 0;) root = HashChildren(range[j], root);
  return root;
}

Sha256Digest RootOfEntries(absl::Span<const std::string> entries) {
  std::vector<Sha256Digest> leaves;
  leaves.reserve(entries.size());
  for (const std::string& e : entries) leaves.push_back(HashLeaf(e));
  return RootFromLeafHashes(leaves);
}

int InclusionProofLength(uint64_t index, uint64_t size) {
  // Levels where the path to `index` and the path to the last leaf diverge,
  // plus the right-border nodes above that point.
  const int inner = 64 - absl::countl_zero(index ^ (size - 1));
  const int border = inner == 64 ? 0 : absl::popcount(index >> inner);  // no shift by 64
  return inner + border;
}

absl::StatusOr<Sha256Digest> RootFromInclusionProof(
    uint64_t index, uint64_t size, const Sha256Digest& leaf_hash,
    absl::Span<const Sha256Digest> proof) {
  if (index >= size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inclusion proof: leaf index ", index, " is not below tree size ", size));
  }
  const int want = InclusionProofLength(index, size);
  if (proof.size() != static_cast<size_t>(want)) {
    return absl::InvalidArgumentError(
        absl::StrCat("inclusion proof for leaf ", index, " in tree size ", size,
                     " must have ", want, " hashes, has ", proof.size()));
  }
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Sha256Digest r = leaf_hash;
  for (const Sha256Digest& p : proof) {
    if ((fn & 1) || fn == sn) {
      r = HashChildren(p, r);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = HashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  // With the length checked above, sn always reaches 0 here.
  return r;
}

absl::Status VerifyInclusion(uint64_t index, uint64_t size,
                             const Sha256Digest& leaf_hash,
                             absl::Span<const Sha256Digest> proof,
                             const Sha256Digest& root) {
  absl::StatusOr<Sha256Digest> computed =
      RootFromInclusionProof(index, size, leaf_hash, proof);
  if (!computed.ok()) return computed.status();
  if (*computed != root) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inclusion proof for leaf ", index, " in tree size ", size,
        " leads to root ", computed->ToHex(), ", expected ", root.ToHex()));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t size1, uint64_t size2,
                               const Sha256Digest& root1,
                               const Sha256Digest& root2,
                               absl::Span<const Sha256Digest> proof) {
  const auto fail = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "consistency proof from size ", size1, " to size ", size2, ": ", why));
  };
  if (size1 > size2) return fail("first size is larger than second size");
  if (size1 == size2) {
    if (!proof.empty()) return fail("proof between equal sizes must be empty");
    if (root1 != root2) return fail("roots of equal sizes differ");
    return absl::OkStatus();
  }
  if (size1 == 0) {
    if (!proof.empty()) return fail("proof from the empty tree must be empty");
    if (root1 != EmptyTreeRoot()) return fail("first root is not the empty tree's root");
    return absl::OkStatus();
  }
  if (proof.empty()) return fail("proof is empty");

  // RFC 9162 2.1.4.2.
  std::vector<Sha256Digest> path;
  path.reserve(proof.size() + 1);
  if ((size1 & (size1 - 1)) == 0) path.push_back(root1);
  path.insert(path.end(), proof.begin(), proof.end());

  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Sha256Digest fr = path[0];
  Sha256Digest sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Sha256Digest& c = path[i];
    if (sn == 0) return fail("proof is too long");
    if ((fn & 1) || fn == sn) {
      fr = HashChildren(c, fr);
      sr = HashChildren(c, sr);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = HashChildren(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return fail("proof is too short");
  if (fr != root1) {
    return fail(absl::StrCat("proof leads to first root ", fr.ToHex(),
                             ", expected ", root1.ToHex()));
  }
  if (sr != root2) {
    return fail(absl::StrCat("proof leads to second root ", sr.ToHex(),
                             ", expected ", root2.ToHex()));
  }
  return absl::OkStatus();
}

}  // namespace chemledger::crypto
