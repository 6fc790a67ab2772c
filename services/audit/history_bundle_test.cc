#include "services/audit/history_bundle.h"

#include <string>

#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "services/ledger/lifecycle_testing.h"

namespace chemledger::audit {
namespace {

using namespace ledger::lifecycle_testing;  // NOLINT: the fixture and its parties

class HistoryBundleTest : public LifecycleFixture {
 protected:
  HistoryBundleTest()
      : signer_(*crypto::NoteSigner::Create("audit.test/log", crypto::SigningKey::Generate())) {}

  // Code 1 commissioned, stored, partly used, shipped to and received by
  // the warehouse: five events by two signers.
  void MakeHistory() {
    Commission({1, 2});
    Ok(producer_, Event(v1::STORING, kProducer, {Code(1)}));
    v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
    use.set_quantity_milli(1000);
    Ok(producer_, use);
    Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1)});
  }

  v1::HistoryBundle Build(uint64_t consistency_from = 0) {
    absl::StatusOr<v1::HistoryBundle> bundle =
        BuildHistoryBundle(*t_->snapshot(), *notary_, Code(1), consistency_from);
    EXPECT_TRUE(bundle.ok()) << bundle.status();
    return bundle.ok() ? *bundle : v1::HistoryBundle();
  }

  crypto::Checkpoint CheckpointNow() {
    crypto::Checkpoint c;
    c.origin = signer_.name();
    c.size = t_->snapshot()->size();
    c.root_hash = t_->snapshot()->root();
    return c;
  }

  crypto::NoteSigner signer_;
  const std::unique_ptr<notary::LedgerNotary> notary_ = notary::NewLocalNotary(&signer_);
};

TEST_F(HistoryBundleTest, ABundleVerifiesOfflineAndNoByteOfItCanChange) {
  MakeHistory();
  const v1::HistoryBundle bundle = Build();
  ASSERT_EQ(bundle.events_size(), 5);
  // The producer's and the warehouse's operators, and who registered them
  // (the first administrator, in the genesis entry).
  EXPECT_EQ(bundle.signer_registrations_size(), 3);
  EXPECT_EQ(bundle.signer_registrations(0).log_index(), 0u);
  absl::StatusOr<VerifiedHistory> verified =
      VerifyHistoryBundle(bundle, signer_.verifier(), std::nullopt);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->code, Code(1));
  EXPECT_EQ(verified->events, 5u);
  EXPECT_EQ(verified->signers, 2u);

  // Every single byte flipped: the bundle no longer parses, or no longer
  // verifies.
  const std::string bytes = bundle.SerializeAsString();
  google::protobuf::LogSilencer quiet;  // strings that no longer are UTF-8
  int still_good = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char flip : {0x01, 0x80}) {
      std::string changed = bytes;
      changed[i] = static_cast<char>(changed[i] ^ flip);
      v1::HistoryBundle parsed;
      if (!parsed.ParseFromString(changed)) continue;
      if (VerifyHistoryBundle(parsed, signer_.verifier(), std::nullopt).ok()) {
        ++still_good;
        ADD_FAILURE() << "byte " << i << " ^ " << int{flip} << " still verifies";
      }
    }
  }
  EXPECT_EQ(still_good, 0) << "of " << bytes.size() << " bytes";
}

TEST_F(HistoryBundleTest, WhatTheVerifierRefusesNamesTheField) {
  MakeHistory();
  const v1::HistoryBundle good = Build();
  const auto refused = [&](const v1::HistoryBundle& b, const std::string& field) {
    absl::StatusOr<VerifiedHistory> v = VerifyHistoryBundle(b, signer_.verifier(), std::nullopt);
    ASSERT_FALSE(v.ok()) << "verified; expected a refusal naming " << field;
    EXPECT_NE(v.status().message().find(field), std::string::npos) << field << " :: " << v.status();
  };
  // Another key's checkpoint.
  const crypto::NoteSigner other =
      *crypto::NoteSigner::Create("audit.test/log", crypto::SigningKey::Generate());
  {
    absl::StatusOr<VerifiedHistory> v = VerifyHistoryBundle(good, other.verifier(), std::nullopt);
    EXPECT_FALSE(v.ok());
  }
  // An event left out (the last one): the rest still chain, but the first
  // one left out of the middle breaks the chain.
  v1::HistoryBundle gap = good;
  gap.mutable_events()->DeleteSubrange(2, 1);
  refused(gap, "events[2]: does not link to the event before it");
  // An event moved to another code's bundle.
  v1::HistoryBundle renamed = good;
  renamed.set_code(Code(2));
  refused(renamed, "events[1]: the signed event does not name " + Code(2));
  // The genesis entry left out: the registrations are no longer signed by
  // anyone the bundle knows.
  v1::HistoryBundle rootless = good;
  rootless.mutable_signer_registrations()->DeleteSubrange(0, 1);
  refused(rootless, "signer_registrations[0].envelope");
  // A registration passed off as the genesis entry.
  v1::HistoryBundle regenesis = good;
  regenesis.mutable_signer_registrations(0)->set_log_index(
      regenesis.signer_registrations(1).log_index());
  refused(regenesis, "signer_registrations[0]");
  // A signer's registration missing.
  v1::HistoryBundle unsigned_ = good;
  unsigned_.mutable_signer_registrations()->RemoveLast();
  refused(unsigned_, "events[4].envelope: envelope.signatures[0].key_id");
  // A proof for another index.
  v1::HistoryBundle moved = good;
  moved.mutable_events(1)->set_log_index(moved.events(1).log_index() + 1);
  refused(moved, "events[1].inclusion_proof");
  // The checkpoint's copy of the root differs from what was signed.
  v1::HistoryBundle copied = good;
  copied.mutable_checkpoint()->set_tree_size(good.checkpoint().tree_size() + 1);
  refused(copied, "checkpoint");
}

TEST_F(HistoryBundleTest, AKeptCheckpointProvesTheLogWasOnlyExtended) {
  Commission({1});
  const crypto::Checkpoint kept = CheckpointNow();
  Ok(producer_, Event(v1::STORING, kProducer, {Code(1)}));
  Commission({3});

  const v1::HistoryBundle bundle = Build(kept.size);
  absl::StatusOr<VerifiedHistory> v = VerifyHistoryBundle(bundle, signer_.verifier(), kept);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->consistent_with_kept);
  // Without the kept checkpoint, a consistency proof proves nothing: refused.
  EXPECT_FALSE(VerifyHistoryBundle(bundle, signer_.verifier(), std::nullopt).ok());
  // A kept checkpoint of another log (a fork: same size, other root).
  crypto::Checkpoint forked = kept;
  forked.root_hash = crypto::HashLeaf("another history");
  v = VerifyHistoryBundle(bundle, signer_.verifier(), forked);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("not an extension of the kept checkpoint"), std::string::npos)
      << v.status();
  // A bundle made without the proof, checked against a kept checkpoint.
  v = VerifyHistoryBundle(Build(), signer_.verifier(), kept);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("consistency_from_size"), std::string::npos);
  // A size beyond the log.
  EXPECT_EQ(BuildHistoryBundle(*t_->snapshot(), *notary_, Code(1), 1000000).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildHistoryBundle(*t_->snapshot(), *notary_, Code(9), 0).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace chemledger::audit
