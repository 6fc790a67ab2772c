#include "services/ledger/log_proofs.h"

#include <memory>
#include <string>

#include "crypto/checkpoint.h"
#include "crypto/merkle.h"
#include "crypto/sha256.h"
#include "gtest/gtest.h"
#include "services/ledger/witness_cosignatures.h"
#include "services/registry/registry_testing.h"
#include "testing/test_ledger.h"

namespace chemledger::ledger {
namespace {

using ::chemledger::testing::TestKey;
using ::chemledger::testing::TestLedger;

class LogProofsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger_ = TestLedger::Create("log_proofs_test", admin_);
    // A few entries beyond genesis.
    ASSERT_TRUE(ledger_->AddLabelKey(admin_).ok());
    ASSERT_TRUE(ledger_->AddActor(admin_, "", v1::REGULATOR, witness_key_, "witness").ok());
    snapshot_ = ledger_->snapshot();
    ASSERT_GE(snapshot_->size(), 3u);
    witness_ =
        registry::testing::ExampleActor("witness", v1::REGULATOR, "", witness_key_.verifying_key());
    cosignatures_ = *WitnessCosignatures::Open("");
  }

  // The witness with the test key of `seed`, as it signs notes.
  static crypto::NoteSigner WitnessSigner(int seed) {
    crypto::SigningKey key = TestKey(seed);
    const std::string name = "witness/" + key.key_id().ToString();
    return *crypto::NoteSigner::Create(name, std::move(key));
  }

  // The log's checkpoint at `size`, signed by the log's note key and
  // co-signed by the witness of `seed`.
  std::string Cosigned(uint64_t size, int seed) {
    crypto::Checkpoint c{log_.name(), size, *snapshot_->Root(size)};
    return *WitnessSigner(seed).Cosign(*log_.SignCheckpoint(c));
  }

  v1::AddCheckpointCosignatureRequest Request(const std::string& note) {
    v1::AddCheckpointCosignatureRequest r;
    r.set_cosigned_note(note);
    return r;
  }

  void ExpectRefused(const absl::StatusOr<v1::AddCheckpointCosignatureResponse>& answer,
                     absl::StatusCode code, const std::string& fragment) {
    ASSERT_FALSE(answer.ok()) << fragment;
    EXPECT_EQ(answer.status().code(), code) << answer.status();
    EXPECT_NE(answer.status().message().find(fragment), std::string::npos) << answer.status();
  }

  crypto::SigningKey admin_ = TestKey(1);
  static constexpr int kWitnessSeed = 7;
  crypto::SigningKey witness_key_ = TestKey(kWitnessSeed);
  crypto::NoteSigner log_ = *crypto::NoteSigner::Create("log.example/test", TestKey(9));
  std::unique_ptr<TestLedger> ledger_;
  std::shared_ptr<const storage::Snapshot> snapshot_;
  v1::Actor witness_;
  std::unique_ptr<WitnessCosignatures> cosignatures_;
};

TEST_F(LogProofsTest, InclusionProofsVerifyAndBadIndexesNameTheFields) {
  v1::GetInclusionProofRequest request;
  request.set_leaf_index(1);
  absl::StatusOr<v1::InclusionProof> proof = InclusionProofOf(*snapshot_, request);
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_EQ(proof->tree_size(), snapshot_->size());  // 0: the snapshot's size
  std::vector<crypto::Sha256Digest> path;
  for (const std::string& h : proof->hashes()) path.push_back(*crypto::Sha256Digest::FromBytes(h));
  EXPECT_TRUE(crypto::VerifyInclusion(1, snapshot_->size(), crypto::HashLeaf(*snapshot_->Entry(1)),
                                      path, snapshot_->root())
                  .ok());
  request.set_leaf_index(snapshot_->size());
  proof = InclusionProofOf(*snapshot_, request);
  ASSERT_FALSE(proof.ok());
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kOutOfRange) << proof.status();
  EXPECT_NE(proof.status().message().find("leaf_index, tree_size: "), std::string::npos)
      << proof.status();
}

TEST_F(LogProofsTest, ConsistencyProofsVerifyAndBadSizesNameTheFields) {
  v1::GetConsistencyProofRequest request;
  request.set_first_size(2);
  absl::StatusOr<v1::ConsistencyProof> proof = ConsistencyProofOf(*snapshot_, request);
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_EQ(proof->second_size(), snapshot_->size());
  std::vector<crypto::Sha256Digest> path;
  for (const std::string& h : proof->hashes()) path.push_back(*crypto::Sha256Digest::FromBytes(h));
  EXPECT_TRUE(
      crypto::VerifyConsistency(2, snapshot_->size(), *snapshot_->Root(2), snapshot_->root(), path)
          .ok());
  request.set_first_size(snapshot_->size() + 1);
  proof = ConsistencyProofOf(*snapshot_, request);
  ASSERT_FALSE(proof.ok());
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kOutOfRange) << proof.status();
  EXPECT_NE(proof.status().message().find("first_size, second_size: "), std::string::npos)
      << proof.status();
}

TEST_F(LogProofsTest, AWitnessCosignatureIsKeptAndServed) {
  v1::GetCheckpointRequest ask;
  ask.set_with_cosignatures(true);
  absl::StatusOr<CheckpointToSign> none =
      CheckpointFor(*snapshot_, log_.name(), *cosignatures_, ask);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound) << none.status();

  const std::string note = Cosigned(2, kWitnessSeed);
  absl::StatusOr<v1::AddCheckpointCosignatureResponse> added =
      AddCosignature(*snapshot_, witness_, log_.verifier(), Request(note), *cosignatures_);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->tree_size(), 2u);
  EXPECT_EQ(added->witnesses(), 1);

  absl::StatusOr<CheckpointToSign> latest =
      CheckpointFor(*snapshot_, log_.name(), *cosignatures_, v1::GetCheckpointRequest());
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->checkpoint.size, snapshot_->size());
  EXPECT_TRUE(latest->witness_lines.empty());

  absl::StatusOr<CheckpointToSign> cosigned =
      CheckpointFor(*snapshot_, log_.name(), *cosignatures_, ask);
  ASSERT_TRUE(cosigned.ok()) << cosigned.status();
  EXPECT_EQ(cosigned->checkpoint.size, 2u);
  // The note signed again at that size, with the witness's line, is the
  // note the witness co-signed.
  EXPECT_EQ(*log_.SignCheckpoint(cosigned->checkpoint) + cosigned->witness_lines, note);

  ask.set_min_cosignatures(2);
  EXPECT_EQ(CheckpointFor(*snapshot_, log_.name(), *cosignatures_, ask).status().code(),
            absl::StatusCode::kNotFound);
  ask.set_min_cosignatures(1);
  for (int i = 0; i < 99; ++i) ask.add_witness_key_ids("0000000000000000");
  ask.add_witness_key_ids(witness_key_.key_id().ToString());
  EXPECT_TRUE(CheckpointFor(*snapshot_, log_.name(), *cosignatures_, ask).ok());  // 100
  ask.add_witness_key_ids("0000000000000000");
  EXPECT_EQ(CheckpointFor(*snapshot_, log_.name(), *cosignatures_, ask).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Co-signatures kept for a longer log than the one served (a store
// restored from a backup behind them) are not served as this log's.
TEST_F(LogProofsTest, CosignaturesOfAnotherLogAreNotServed) {
  ASSERT_TRUE(AddCosignature(*snapshot_, witness_, log_.verifier(),
                             Request(Cosigned(snapshot_->size(), kWitnessSeed)), *cosignatures_)
                  .ok());
  std::shared_ptr<const storage::Snapshot> longer = snapshot_;
  // Another log, shorter than the size co-signed.
  std::unique_ptr<TestLedger> other = TestLedger::Create("log_proofs_test_other", admin_);
  std::shared_ptr<const storage::Snapshot> shorter = other->snapshot();
  ASSERT_LT(shorter->size(), longer->size());
  v1::GetCheckpointRequest ask;
  ask.set_with_cosignatures(true);
  absl::StatusOr<CheckpointToSign> served =
      CheckpointFor(*shorter, log_.name(), *cosignatures_, ask);
  EXPECT_EQ(served.status().code(), absl::StatusCode::kFailedPrecondition) << served.status();
  EXPECT_NE(served.status().message().find("are not of this log"), std::string::npos)
      << served.status();
  EXPECT_TRUE(CheckpointFor(*longer, log_.name(), *cosignatures_, ask).ok());
}

TEST_F(LogProofsTest, CosignaturesThatAreNotThisLogsOrTheWitnesssAreRefused) {
  v1::Actor operator_actor = witness_;
  operator_actor.set_role(v1::ENTERPRISE_OPERATOR);
  ExpectRefused(AddCosignature(*snapshot_, operator_actor, log_.verifier(),
                               Request(Cosigned(2, kWitnessSeed)), *cosignatures_),
                absl::StatusCode::kPermissionDenied, "witnesses are regulators");
  ExpectRefused(
      AddCosignature(*snapshot_, witness_, log_.verifier(), Request("not a note"), *cosignatures_),
      absl::StatusCode::kInvalidArgument, "cosigned_note: ");
  // Another log's note key.
  const crypto::NoteSigner other = *crypto::NoteSigner::Create("log.example/test", TestKey(10));
  ExpectRefused(AddCosignature(*snapshot_, witness_, other.verifier(),
                               Request(Cosigned(2, kWitnessSeed)), *cosignatures_),
                absl::StatusCode::kInvalidArgument, "cosigned_note: ");
  // Co-signed by another key than the caller's.
  ExpectRefused(AddCosignature(*snapshot_, witness_, log_.verifier(), Request(Cosigned(2, 8)),
                               *cosignatures_),
                absl::StatusCode::kInvalidArgument, "cosigned_note: no signature line of witness/");
  // A root this log does not have at that size.
  crypto::Checkpoint wrong{log_.name(), 2, *snapshot_->Root(3)};
  const crypto::NoteSigner witness_signer = WitnessSigner(kWitnessSeed);
  ExpectRefused(
      AddCosignature(*snapshot_, witness_, log_.verifier(),
                     Request(*witness_signer.Cosign(*log_.SignCheckpoint(wrong))), *cosignatures_),
      absl::StatusCode::kInvalidArgument, "not this log's root at that size");
  // A size beyond the log.
  crypto::Checkpoint beyond{log_.name(), snapshot_->size() + 5, snapshot_->root()};
  ExpectRefused(
      AddCosignature(*snapshot_, witness_, log_.verifier(),
                     Request(*witness_signer.Cosign(*log_.SignCheckpoint(beyond))), *cosignatures_),
      absl::StatusCode::kInvalidArgument, "a size beyond this log's");
  EXPECT_FALSE(cosignatures_->Newest().has_value()) << "a refused co-signature was kept";
}

// A caller alternating the newest checkpoint and a co-signed older one (or
// several co-signed ones) costs one signature per checkpoint, not per call;
// a new size is signed once; the least recently asked for is let go past
// kKept.
TEST_F(LogProofsTest, SignedCheckpointNotesSignEachCheckpointOnce) {
  SignedCheckpointNotes notes(&log_);
  const crypto::Checkpoint newest{log_.name(), snapshot_->size(), snapshot_->root()};
  const crypto::Checkpoint older{log_.name(), 2, *snapshot_->Root(2)};
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<std::string> a = notes.NoteFor(newest);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(*a, *log_.SignCheckpoint(newest));
    absl::StatusOr<std::string> b = notes.NoteFor(older);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(*b, *log_.SignCheckpoint(older));
  }
  EXPECT_EQ(notes.signatures_made(), 2);

  // Sizes 1..kKept signed once each push the two out in turn, but the one
  // asked for again between them stays.
  for (uint64_t size = 1; size <= SignedCheckpointNotes::kKept; ++size) {
    const crypto::Checkpoint c{log_.name(), size, crypto::Sha256(std::to_string(size))};
    ASSERT_TRUE(notes.NoteFor(c).ok());
    ASSERT_TRUE(notes.NoteFor(newest).ok());
  }
  EXPECT_EQ(notes.signatures_made(), 2 + SignedCheckpointNotes::kKept);
  ASSERT_TRUE(notes.NoteFor(older).ok());  // let go: signed again
  EXPECT_EQ(notes.signatures_made(), 3 + SignedCheckpointNotes::kKept);
}

}  // namespace
}  // namespace chemledger::ledger
