#include "services/registry/signers.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "gtest/gtest.h"
#include "services/common/envelope.h"
#include "services/registry/registry_testing.h"
#include "testing/test_ledger.h"

namespace chemledger::registry {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;

constexpr crypto::SignatureContext kTestContext("application/vnd.chemledger.test.v1");
constexpr char kAcme[] = "91350100M000100Y43";

// The refusals SubmitSigned records, kept.
struct RecordedRefusals : RefusalSink {
  void Refused(const v1::SignedEnvelope&, const absl::Status& refusal) override {
    refusals.push_back(refusal);
  }
  std::vector<absl::Status> refusals;
};

class VerifyActorSignaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger_ = TestLedger::Create("signers", admin_);
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(ledger_->RegisterEnterprise(admin_, testing::ExampleProducer(kAcme)).ok());
    ASSERT_TRUE(
        ledger_->AddActor(admin_, kAcme, v1::ENTERPRISE_OPERATOR, operator_, "operator").ok());
    ASSERT_TRUE(ledger_->AddActor(admin_, kAcme, v1::ENTERPRISE_OPERATOR, revoked_, "revoked").ok());
    v1::RegistryRequest revoke;
    revoke.mutable_revoke_key()->set_key_id(revoked_.key_id().ToString());
    revoke.mutable_revoke_key()->set_reason("laptop lost");
    absl::StatusOr<journal::Receipt> receipt = ledger_->Registry(admin_, revoke);
    ASSERT_TRUE(receipt.ok()) << receipt.status();
  }

  const crypto::SigningKey admin_ = TestKey(1), operator_ = TestKey(2), revoked_ = TestKey(3),
                           stranger_ = TestKey(4);
  std::unique_ptr<TestLedger> ledger_;
};

// Enough envelopes for several threads, each kind of failure among them, in
// every thread's share.
TEST_F(VerifyActorSignaturesTest, EachEnvelopeGetsItsOwnVerdict) {
  std::vector<v1::SignedEnvelope> envelopes;
  std::vector<absl::StatusCode> expected;
  std::vector<std::string> said;
  for (int i = 0; i < 100; ++i) {
    const std::string payload = absl::StrCat("payload ", i);
    switch (i % 6) {
      case 0:
      case 1:
        envelopes.push_back(*envelope::Sign(kTestContext, payload, operator_));
        expected.push_back(absl::StatusCode::kOk);
        said.push_back("");
        break;
      case 2:  // the payload changed after signing
        envelopes.push_back(*envelope::Sign(kTestContext, payload, operator_));
        envelopes.back().set_payload(payload + "!");
        expected.push_back(absl::StatusCode::kUnauthenticated);
        said.push_back("signature");
        break;
      case 3:
        envelopes.push_back(*envelope::Sign(kTestContext, payload, revoked_));
        expected.push_back(absl::StatusCode::kPermissionDenied);
        said.push_back("laptop lost");
        break;
      case 4:
        envelopes.push_back(*envelope::Sign(kTestContext, payload, stranger_));
        expected.push_back(absl::StatusCode::kUnauthenticated);
        said.push_back("key_id");
        break;
      case 5:  // the revoked key's id, signed by someone else: its standing
               // (and why it was revoked) is told only to its holder
        envelopes.push_back(*envelope::Sign(kTestContext, payload, stranger_));
        envelopes.back().mutable_signatures(0)->set_key_id(revoked_.key_id().ToString());
        expected.push_back(absl::StatusCode::kUnauthenticated);
        said.push_back("envelope.signatures[0].sig");
        break;
    }
  }
  std::vector<const v1::SignedEnvelope*> pointers;
  for (const auto& e : envelopes) pointers.push_back(&e);
  const std::shared_ptr<const storage::Snapshot> snapshot = ledger_->snapshot();
  for (size_t threads : {1, 2, 4}) {
    SCOPED_TRACE(absl::StrCat(threads, " threads"));
    const auto results = VerifyActorSignatures(*snapshot, pointers, kTestContext, threads);
    ASSERT_EQ(results.size(), envelopes.size());
    for (size_t i = 0; i < results.size(); ++i) {
      EXPECT_EQ(results[i].status().code(), expected[i]) << i << ": " << results[i].status();
      if (results[i].ok()) {
        EXPECT_EQ(results[i]->key_id, operator_.key_id());
        EXPECT_EQ(results[i]->actor.name(), "operator");
        EXPECT_EQ(results[i]->actor.enterprise_uscc(), kAcme);
      } else {
        EXPECT_NE(results[i].status().message().find(said[i]), std::string::npos)
            << i << ": " << results[i].status();
        if (i % 6 == 5) {
          EXPECT_EQ(results[i].status().message().find("laptop lost"), std::string::npos)
              << i << ": " << results[i].status();
        }
      }
    }
  }
  // Another context's envelope is refused by its payload type.
  const v1::SignedEnvelope other = *envelope::Sign(kRegistryContext, "x", operator_);
  const auto results = VerifyActorSignatures(*snapshot, {&other}, kTestContext, 2);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kInvalidArgument) << results[0].status();
  EXPECT_NE(results[0].status().message().find("envelope.payload_type"), std::string::npos)
      << results[0].status();
}

// A request names the deployment it was signed for (request_binding.h):
// another deployment's is refused before its signer's standing is told,
// on every thread, and is never a rule's refusal to record.
TEST_F(VerifyActorSignaturesTest, ARequestSignedForAnotherDeploymentIsRefused) {
  const std::shared_ptr<const storage::Snapshot> snapshot = ledger_->snapshot();
  absl::StatusOr<state::DeploymentRecord> deployment = ReadDeployment(*snapshot);
  ASSERT_TRUE(deployment.ok()) << deployment.status();
  const std::string here = deployment->deployment();
  ASSERT_FALSE(here.empty());
  std::vector<v1::SignedEnvelope> envelopes;
  std::vector<absl::StatusCode> expected;
  for (int i = 0; i < 60; ++i) {
    v1::Event event;
    event.set_event_id(absl::StrCat("e-", i));
    switch (i % 4) {
      case 0:  // names none
        envelopes.push_back(
            *envelope::Sign(api::kEventContext, event.SerializeAsString(), operator_));
        expected.push_back(absl::StatusCode::kOk);
        break;
      case 1:  // names this one
        event.set_deployment(here);
        envelopes.push_back(
            *envelope::Sign(api::kEventContext, event.SerializeAsString(), operator_));
        expected.push_back(absl::StatusCode::kOk);
        break;
      case 2:  // names another
        event.set_deployment(here + "-staging");
        envelopes.push_back(
            *envelope::Sign(api::kEventContext, event.SerializeAsString(), operator_));
        expected.push_back(absl::StatusCode::kUnauthenticated);
        break;
      case 3:  // names another, by a revoked key: not this deployment's to judge
        event.set_deployment("another.example");
        envelopes.push_back(
            *envelope::Sign(api::kEventContext, event.SerializeAsString(), revoked_));
        expected.push_back(absl::StatusCode::kUnauthenticated);
        break;
    }
  }
  std::vector<const v1::SignedEnvelope*> pointers;
  for (const auto& e : envelopes) pointers.push_back(&e);
  for (size_t threads : {1, 2}) {
    SCOPED_TRACE(absl::StrCat(threads, " threads"));
    const auto results = VerifyActorSignatures(*snapshot, pointers, api::kEventContext, threads);
    ASSERT_EQ(results.size(), envelopes.size());
    for (size_t i = 0; i < results.size(); ++i) {
      EXPECT_EQ(results[i].status().code(), expected[i]) << i << ": " << results[i].status();
      if (!results[i].ok()) {
        EXPECT_NE(results[i].status().message().find("deployment: the request was signed for"),
                  std::string::npos)
            << i << ": " << results[i].status();
        EXPECT_EQ(results[i].status().message().find("laptop lost"), std::string::npos);
      }
    }
  }

  // Submitted: refused, nothing written, nothing recorded as a refusal.
  RecordedRefusals recorded;
  SignedBatchOptions options;
  options.refusals = &recorded;
  const std::vector<const v1::SignedEnvelope*> foreign = {&envelopes[2], &envelopes[3],
                                                          &envelopes[6]};
  const uint64_t size_before = ledger_->snapshot()->size();
  const auto receipts = SubmitSigned(ledger_->client(), foreign, api::kEventContext, options);
  ASSERT_EQ(receipts.size(), foreign.size());
  for (const auto& r : receipts) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << r.status();
  }
  EXPECT_TRUE(recorded.refusals.empty());
  EXPECT_EQ(ledger_->snapshot()->size(), size_before);

  // A payload that is not a message: what it names cannot be told, so it
  // is refused there, and not recorded either.
  const v1::SignedEnvelope malformed =
      *envelope::Sign(api::kEventContext, std::string("\x0a\x05" "ab", 4), operator_);
  const auto unreadable =
      SubmitSigned(ledger_->client(), {&malformed}, api::kEventContext, options);
  ASSERT_EQ(unreadable.size(), 1u);
  EXPECT_EQ(unreadable[0].status().code(), absl::StatusCode::kInvalidArgument)
      << unreadable[0].status();
  EXPECT_NE(unreadable[0].status().message().find("not a well-formed protobuf message"),
            std::string::npos)
      << unreadable[0].status();
  EXPECT_TRUE(recorded.refusals.empty());
  EXPECT_EQ(ledger_->snapshot()->size(), size_before);
}

// A revoked key's request is recorded as a refusal (an anomaly); one that
// also carries a field this server does not know is refused the same way
// (the revocation is checked first) but never recorded: it may be sound,
// for a newer server.
TEST_F(VerifyActorSignaturesTest, ARequestWithAnUnknownFieldIsNeverRecorded) {
  RecordedRefusals recorded;
  SignedBatchOptions options;
  options.refusals = &recorded;
  v1::Event event;
  event.set_event_id("by-a-revoked-key");
  const v1::SignedEnvelope plain =
      *envelope::Sign(api::kEventContext, event.SerializeAsString(), revoked_);
  event.GetReflection()->MutableUnknownFields(&event)->AddVarint(40, 1);
  const v1::SignedEnvelope newer =
      *envelope::Sign(api::kEventContext, event.SerializeAsString(), revoked_);
  for (const v1::SignedEnvelope* e : {&newer, &plain}) {
    const auto receipts = SubmitSigned(ledger_->client(), {e}, api::kEventContext, options);
    ASSERT_EQ(receipts.size(), 1u);
    EXPECT_EQ(receipts[0].status().code(), absl::StatusCode::kPermissionDenied)
        << receipts[0].status();
  }
  ASSERT_EQ(recorded.refusals.size(), 1u);  // the plain one's
}

}  // namespace
}  // namespace chemledger::registry
