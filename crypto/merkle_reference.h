// Test-only: RFC 6962 section 2.1 proofs computed literally from the
// definitions (recursive PATH and SUBPROOF over all leaf hashes, O(n) time).
// Stored trees are checked against these; never used in production code.

#ifndef CHEMLEDGER_CRYPTO_MERKLE_REFERENCE_H_
#define CHEMLEDGER_CRYPTO_MERKLE_REFERENCE_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "crypto/sha256.h"

namespace chemledger::crypto::reference {

// MTH(D[0:size]) by recursion.
Sha256Digest MerkleTreeHash(absl::Span<const Sha256Digest> leaves);
// PATH(index, D[0:size]) over the first `size` leaves.
std::vector<Sha256Digest> InclusionProof(absl::Span<const Sha256Digest> leaves,
                                         uint64_t index, uint64_t size);
// PROOF(size1, D[0:size2]).
std::vector<Sha256Digest> ConsistencyProof(absl::Span<const Sha256Digest> leaves,
                                           uint64_t size1, uint64_t size2);

}  // namespace chemledger::crypto::reference

#endif  // CHEMLEDGER_CRYPTO_MERKLE_REFERENCE_H_
