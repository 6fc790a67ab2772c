#include "services/audit/bundle_checks.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "crypto/checkpoint.h"
#include "crypto/merkle.h"
#include "gtest/gtest.h"

namespace chemledger::audit::internal {
namespace {

using Proof = google::protobuf::RepeatedPtrField<std::string>;

Proof ProofOf(const std::vector<std::string>& hashes) {
  Proof proof;
  for (const std::string& h : hashes) *proof.Add() = h;
  return proof;
}

// The checkpoints of a log of one entry and of the same log grown to two.
class BundleChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<crypto::NoteSigner> signer =
        crypto::NoteSigner::Create("bundle-checks.test/log", crypto::SigningKey::Generate());
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_.emplace(*std::move(signer));
    one_ = {"bundle-checks.test/log", 1, crypto::HashLeaf("entry 0"), {}};
    two_ = {"bundle-checks.test/log",
            2,
            crypto::HashChildren(crypto::HashLeaf("entry 0"), crypto::HashLeaf("entry 1")),
            {}};
  }

  v1::Checkpoint Carried(const crypto::Checkpoint& c) const {
    v1::Checkpoint carried;
    carried.set_origin(c.origin);
    carried.set_tree_size(c.size);
    carried.set_root_hash(c.root_hash.ToBytes());
    absl::StatusOr<std::string> note = signer_->SignCheckpoint(c);
    EXPECT_TRUE(note.ok()) << note.status();
    carried.set_signed_note(note.value_or(""));
    return carried;
  }

  std::optional<crypto::NoteSigner> signer_;
  crypto::Checkpoint one_, two_;
};

TEST_F(BundleChecksTest, ACheckpointOpensOnlyUnderTheNoteKeyAndWithCopiesThatAgree) {
  absl::StatusOr<crypto::Checkpoint> opened =
      OpenBundleCheckpoint("checkpoint", Carried(two_), signer_->verifier());
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->size, 2u);
  EXPECT_EQ(opened->root_hash, two_.root_hash);

  v1::Checkpoint altered = Carried(two_);
  altered.set_tree_size(1);
  absl::StatusOr<crypto::Checkpoint> refused =
      OpenBundleCheckpoint("messages[0].header.checkpoint", altered, signer_->verifier());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(refused.status().message(),
                               "messages[0].header.checkpoint: origin, tree_size or root_hash "
                               "differs from the signed note"))
      << refused.status();

  absl::StatusOr<crypto::NoteSigner> other =
      crypto::NoteSigner::Create("bundle-checks.test/log", crypto::SigningKey::Generate());
  ASSERT_TRUE(other.ok());
  refused = OpenBundleCheckpoint("checkpoint", Carried(two_), other->verifier());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(refused.status().message(), "checkpoint.signed_note: "))
      << refused.status();
}

TEST_F(BundleChecksTest, ProofHashesAreThirtyTwoBytesEach) {
  absl::StatusOr<std::vector<crypto::Sha256Digest>> hashes = ProofHashes(
      "nodes", ProofOf({crypto::HashLeaf("a").ToBytes(), crypto::HashLeaf("b").ToBytes()}));
  ASSERT_TRUE(hashes.ok()) << hashes.status();
  EXPECT_EQ(hashes->size(), 2u);
  hashes = ProofHashes("nodes", ProofOf({crypto::HashLeaf("a").ToBytes(), std::string(31, 'x')}));
  EXPECT_EQ(hashes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(hashes.status().message(), "nodes[1]: not 32 bytes");
}

// RFC 6962's proof from a tree of one leaf to the tree of two is the
// second leaf's hash.
TEST_F(BundleChecksTest, AKeptCheckpointIsExtendedOnlyByAProofThatHolds) {
  const Proof proof = ProofOf({crypto::HashLeaf("entry 1").ToBytes()});
  absl::StatusOr<bool> extends = CheckExtendsKept("", one_, two_, 1, proof);
  ASSERT_TRUE(extends.ok()) << extends.status();
  EXPECT_TRUE(*extends);

  // Nothing kept, nothing proven: nothing to say.
  extends = CheckExtendsKept("", std::nullopt, two_, 0, Proof());
  ASSERT_TRUE(extends.ok()) << extends.status();
  EXPECT_FALSE(*extends);

  const auto refusal = [&](absl::string_view prefix, const std::optional<crypto::Checkpoint>& kept,
                           uint64_t from_size, const Proof& p) {
    absl::StatusOr<bool> r = CheckExtendsKept(prefix, kept, two_, from_size, p);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    return std::string(r.status().message());
  };
  EXPECT_TRUE(absl::StartsWith(refusal("", std::nullopt, 1, proof),
                               "consistency_proof: the bundle proves consistency with a kept "
                               "checkpoint; give that checkpoint"));
  EXPECT_TRUE(absl::StartsWith(refusal("messages[0].header.", one_, 2, proof),
                               "messages[0].header.consistency_from_size: the bundle proves from "
                               "size 2, the kept checkpoint is at 1"));
  EXPECT_EQ(refusal("", one_, 1, ProofOf({"short"})), "consistency_proof[0]: not 32 bytes");
  EXPECT_TRUE(
      absl::StartsWith(refusal("", one_, 1, ProofOf({crypto::HashLeaf("another entry").ToBytes()})),
                       "consistency_proof: the log is not an extension of the kept checkpoint"));
}

}  // namespace
}  // namespace chemledger::audit::internal
