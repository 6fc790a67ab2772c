#include "crypto/merkle_reference.h"

#include "crypto/merkle.h"

namespace chemledger::crypto::reference {
namespace {

uint64_t LargestPowerOfTwoBelow(uint64_t n) {
  uint64_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

void Path(absl::Span<const Sha256Digest> d, uint64_t m,
          std::vector<Sha256Digest>* out) {
  if (d.size() <= 1) return;
  const uint64_t k = LargestPowerOfTwoBelow(d.size());
  if (m < k) {
    Path(d.subspan(0, k), m, out);
    out->push_back(MerkleTreeHash(d.subspan(k)));
  } else {
    Path(d.subspan(k), m - k, out);
    out->push_back(MerkleTreeHash(d.subspan(0, k)));
  }
}

void SubProof(uint64_t m, absl::Span<const Sha256Digest> d, bool b,
              std::vector<Sha256Digest>* out) {
  const uint64_t n = d.size();
  if (m == n) {
    if (!b) out->push_back(MerkleTreeHash(d));
    return;
  }
  const uint64_t k = LargestPowerOfTwoBelow(n);
  if (m <= k) {
    SubProof(m, d.subspan(0, k), b, out);
    out->push_back(MerkleTreeHash(d.subspan(k)));
  } else {
    SubProof(m - k, d.subspan(k), false, out);
    out->push_back(MerkleTreeHash(d.subspan(0, k)));
  }
}

}  // namespace

Sha256Digest MerkleTreeHash(absl::Span<const Sha256Digest> leaves) {
  if (leaves.empty()) return EmptyTreeRoot();
  if (leaves.size() == 1) return leaves[0];
  const uint64_t k = LargestPowerOfTwoBelow(leaves.size());
  return HashChildren(MerkleTreeHash(leaves.subspan(0, k)),
                      MerkleTreeHash(leaves.subspan(k)));
}

std::vector<Sha256Digest> InclusionProof(absl::Span<const Sha256Digest> leaves,
                                         uint64_t index, uint64_t size) {
  std::vector<Sha256Digest> out;
  Path(leaves.subspan(0, size), index, &out);
  return out;
}

std::vector<Sha256Digest> ConsistencyProof(absl::Span<const Sha256Digest> leaves,
                                           uint64_t size1, uint64_t size2) {
  std::vector<Sha256Digest> out;
  if (size1 == 0 || size1 >= size2) return out;
  SubProof(size1, leaves.subspan(0, size2), true, &out);
  return out;
}

}  // namespace chemledger::crypto::reference
