// RFC 6962 / RFC 9162 Merkle tree hashing, and verification of inclusion and
// consistency proofs as a client does it: these functions depend on nothing
// but SHA-256, never on how or where a log stores its tree.
//
//   leaf hash = SHA-256(0x00 || entry)
//   node hash = SHA-256(0x01 || left || right)
//   empty tree root = SHA-256("")
//
// All functions are pure and thread-safe.

#ifndef CHEMLEDGER_CRYPTO_MERKLE_H_
#define CHEMLEDGER_CRYPTO_MERKLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "crypto/sha256.h"

namespace chemledger::crypto {

Sha256Digest HashLeaf(absl::string_view entry);
Sha256Digest HashChildren(const Sha256Digest& left, const Sha256Digest& right);
Sha256Digest EmptyTreeRoot();

// The root of the tree over `leaf_hashes` by the RFC 6962 definition, in O(n)
// time and O(log n) space. The reference against which stored trees are checked.
Sha256Digest RootFromLeafHashes(absl::Span<const Sha256Digest> leaf_hashes);
// Same, hashing each entry as a leaf first.
Sha256Digest RootOfEntries(absl::Span<const std::string> entries);

// Number of hashes in the inclusion proof of `index` in a tree of `size`
// (requires index < size).
int InclusionProofLength(uint64_t index, uint64_t size);

// Recomputes the root implied by an inclusion proof (RFC 9162 2.1.3.2).
// InvalidArgument when index >= size or the proof has the wrong length.
absl::StatusOr<Sha256Digest> RootFromInclusionProof(
    uint64_t index, uint64_t size, const Sha256Digest& leaf_hash,
    absl::Span<const Sha256Digest> proof);

// OK when `proof` shows that the leaf with `leaf_hash` is at `index` in the tree
// of `size` whose root is `root`; InvalidArgument saying why not otherwise.
absl::Status VerifyInclusion(uint64_t index, uint64_t size,
                             const Sha256Digest& leaf_hash,
                             absl::Span<const Sha256Digest> proof,
                             const Sha256Digest& root);

// OK when `proof` shows that the tree of `size1` with `root1` is a prefix of
// the tree of `size2` with `root2` (RFC 9162 2.1.4.2); InvalidArgument saying
// why not otherwise. Equal sizes need an empty proof and equal roots; size1 = 0
// needs an empty proof and root1 = EmptyTreeRoot().
absl::Status VerifyConsistency(uint64_t size1, uint64_t size2,
                               const Sha256Digest& root1,
                               const Sha256Digest& root2,
                               absl::Span<const Sha256Digest> proof);

}  // namespace chemledger::crypto

#endif  // CHEMLEDGER_CRYPTO_MERKLE_H_
