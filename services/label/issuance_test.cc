// Label issuance (issuance.h, issuance_rules.h, issuance_state.h) on a whole
// ledger (TestLedger): serials, idempotent retries, label keys, licences, the
// blacklist, limits, labels that verify against the trust list, and a state
// rebuilt from the log (TestLedger::Check) that matches the stored one.

#include "services/label/issuance.h"

#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/china_time.h"
#include "api/net_quantity.h"
#include "api/wire.h"
#include "chemledger/v1/label.pb.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/key_files.h"
#include "crypto/label.h"
#include "crypto/trust_list.h"
#include "gtest/gtest.h"
#include "journal/journal.h"
#include "services/chemledgerd/deployment.h"
#include "services/common/envelope.h"
#include "services/label/issuance_state.h"
#include "services/label/label_keyring.h"
#include "services/registry/registry_state.h"
#include "services/registry/registry_testing.h"
#include "storage/leveldb_log.h"
#include "testing/test_ledger.h"

namespace chemledger::label {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;
using registry::testing::Date;

constexpr char kAcme[] = "91350100M000100Y43";
constexpr char kOther[] = "91110105771583283D";

absl::CivilDay Today() { return api::TodayInChina(); }

v1::Date ToDate(absl::CivilDay d) { return api::ToProtoDate(d); }

class IssuanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger_ = TestLedger::Create("issuance", admin_);
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(ledger_->RegisterEnterprise(admin_, registry::testing::ExampleProducer(kAcme)).ok());
    ASSERT_TRUE(
        ledger_->RegisterEnterprise(admin_, registry::testing::ExampleProducer(kOther)).ok());
    AddActor("acme admin", v1::ENTERPRISE_ADMIN, kAcme, acme_admin_);
    AddActor("acme line 3", v1::ENTERPRISE_OPERATOR, kAcme, acme_operator_);
    AddActor("other admin", v1::ENTERPRISE_ADMIN, kOther, other_admin_);
    AddActor("inspector", v1::REGULATOR, "", regulator_);
    absl::Status product =
        ledger_->RegisterProduct(acme_admin_, registry::testing::ExampleMethanol(kAcme, "M01"));
    ASSERT_TRUE(product.ok()) << product;
    first_label_key_ = NewLabelKey(Today() - 30, Today() + 365);
  }

  v1::RegistryRequest Request() {
    v1::RegistryRequest r;
    r.set_request_id(absl::StrCat("reg-test-", ++next_id_));
    return r;
  }
  void RegistryOk(const crypto::SigningKey& key, const v1::RegistryRequest& r) {
    absl::StatusOr<journal::Receipt> receipt = ledger_->Registry(key, r);
    ASSERT_TRUE(receipt.ok()) << receipt.status();
  }
  void AddActor(const std::string& name, v1::ActorRole role, const std::string& uscc,
                const crypto::SigningKey& key) {
    absl::Status s = ledger_->AddActor(admin_, uscc, role, key, name);
    ASSERT_TRUE(s.ok()) << s;
  }
  // Makes a label key file and registers it.
  crypto::KeyId NewLabelKey(absl::CivilDay from, absl::CivilDay until) {
    absl::StatusOr<crypto::VerifyingKey> key = LabelKeyring::CreateKey(ledger_->key_dir());
    EXPECT_TRUE(key.ok()) << key.status();
    if (!key.ok()) return TestKey(9).key_id();
    v1::RegistryRequest r = Request();
    r.mutable_add_label_key()->set_public_key(key->ToBytes());
    *r.mutable_add_label_key()->mutable_valid_from() = ToDate(from);
    *r.mutable_add_label_key()->mutable_valid_until() = ToDate(until);
    absl::StatusOr<journal::Receipt> receipt = ledger_->Registry(admin_, r);
    EXPECT_TRUE(receipt.ok()) << receipt.status();
    return key->key_id();
  }
  void Revoke(const crypto::KeyId& id) {
    v1::RegistryRequest r = Request();
    r.mutable_revoke_key()->set_key_id(id.ToString());
    r.mutable_revoke_key()->set_reason("test");
    RegistryOk(admin_, r);
  }

  v1::IssueLabelsRequest Batch(const std::string& batch, uint32_t count) {
    v1::IssueLabelsRequest r;
    r.set_request_id(absl::StrCat("issue-", ++next_id_));
    r.set_enterprise_uscc(kAcme);
    r.set_product_number("M01");
    r.set_batch(batch);
    *r.mutable_production_date() = ToDate(Today() - 1);
    r.set_package_count(count);
    r.set_net_quantity("25");
    r.set_unit("KGM");
    return r;
  }
  v1::SignedEnvelope Signed(const crypto::SigningKey& key, const v1::IssueLabelsRequest& r) {
    return *envelope::Sign(kIssueLabelsContext, r.SerializeAsString(), key);
  }
  Issuance IssueOk(const crypto::SigningKey& key, const v1::IssueLabelsRequest& r) {
    absl::StatusOr<Issuance> issuance = ledger_->issuer().Issue(Signed(key, r));
    EXPECT_TRUE(issuance.ok()) << issuance.status();
    return issuance.ok() ? *issuance : Issuance(first_label_key_);
  }
  void Refused(const v1::SignedEnvelope& env, absl::StatusCode code, const std::string& fragment) {
    const uint64_t before = Size();
    absl::StatusOr<Issuance> issuance = ledger_->issuer().Issue(env);
    ASSERT_FALSE(issuance.ok()) << "accepted; expected: " << fragment;
    EXPECT_EQ(issuance.status().code(), code) << issuance.status();
    EXPECT_NE(issuance.status().message().find(fragment), std::string::npos) << issuance.status();
    EXPECT_EQ(Size(), before) << "a refused request wrote to the log";
  }
  std::vector<IssuedLabel> Labels(const Issuance& issuance, uint32_t offset, uint32_t n) {
    absl::StatusOr<std::vector<IssuedLabel>> labels =
        ledger_->issuer().SignLabels(issuance, offset, n);
    EXPECT_TRUE(labels.ok()) << labels.status();
    return labels.ok() ? *std::move(labels) : std::vector<IssuedLabel>();
  }
  std::string FirstUrl(const Issuance& issuance) {
    std::vector<IssuedLabel> labels = Labels(issuance, 0, 1);
    return labels.empty() ? "" : labels[0].url;
  }
  crypto::TrustList Trust() {
    absl::StatusOr<crypto::TrustList> trust = MakeTrustList(*ledger_->snapshot(), Today());
    EXPECT_TRUE(trust.ok()) << trust.status();
    return trust.ok() ? *std::move(trust) : crypto::TrustList();
  }
  std::optional<IssuanceRecord> Find(const std::string& uscc, const std::string& product,
                                     const std::string& batch, uint64_t serial) {
    absl::StatusOr<std::optional<IssuanceRecord>> r =
        FindIssuance(*ledger_->snapshot(), uscc, product, batch, serial);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::nullopt;
  }
  uint64_t Size() { return ledger_->snapshot()->size(); }
  std::string LabelKeyFile(const crypto::KeyId& id) {
    return absl::StrCat(ledger_->key_dir(), "/label-", id.ToString(), ".key");
  }
  // The state rebuilt from the whole log is the stored state.
  void ExpectCheckPasses() {
    absl::StatusOr<journal::CheckReport> report = ledger_->Check();
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->entries, Size());
  }

  const crypto::SigningKey admin_ = TestKey(1), acme_admin_ = TestKey(2),
                           acme_operator_ = TestKey(3), other_admin_ = TestKey(4),
                           regulator_ = TestKey(5);
  std::unique_ptr<TestLedger> ledger_;
  crypto::KeyId first_label_key_ = TestKey(9).key_id();
  int next_id_ = 0;
};

TEST_F(IssuanceTest, IssuesSignedLabelsThatVerifyAgainstTheTrustList) {
  const uint64_t before = Size();
  Issuance issuance = IssueOk(acme_operator_, Batch("B20261122", 50));
  EXPECT_EQ(Size(), before + 1);
  EXPECT_EQ(issuance.log_index, before);
  EXPECT_FALSE(issuance.replayed);
  EXPECT_EQ(issuance.claims.serial, 1u);
  EXPECT_EQ(issuance.count, 50u);
  EXPECT_EQ(issuance.label_key_id, first_label_key_);

  absl::StatusOr<std::vector<IssuedLabel>> labels = ledger_->issuer().SignLabels(issuance, 0, 1000);
  ASSERT_TRUE(labels.ok()) << labels.status();
  ASSERT_EQ(labels->size(), 50u);
  const crypto::TrustList trust = Trust();
  EXPECT_EQ(trust.resolver, "CL.EXAMPLE.CN");
  std::set<std::string> codes;
  for (size_t i = 0; i < labels->size(); ++i) {
    const IssuedLabel& label = (*labels)[i];
    EXPECT_EQ(label.serial, i + 1);
    EXPECT_EQ(label.code, absl::StrCat(kAcme, ".M01.B20261122.", i + 1));
    codes.insert(label.code);
    crypto::LabelCheck check = crypto::VerifyLabel(label.url, trust);
    ASSERT_EQ(check.verdict, crypto::LabelVerdict::kAuthentic) << check.detail;
    EXPECT_EQ(check.label->claims.un_number, "1230");
    EXPECT_EQ(check.label->claims.cas, "67-56-1");
    EXPECT_EQ(check.label->claims.quantity_milli, 25000u);
    EXPECT_EQ(check.label->claims.unit, "KGM");
    EXPECT_EQ(check.label->claims.production_date, Today() - 1);
    EXPECT_EQ(check.label->claims.control_flags, crypto::kKeySupervised | crypto::kHighHazard);
  }
  EXPECT_EQ(codes.size(), 50u);

  // The log entry holds the signed request and the assignment.
  absl::StatusOr<std::string> bytes = ledger_->snapshot()->Entry(issuance.log_index);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  v1::LogEntry entry;
  ASSERT_TRUE(entry.ParseFromString(*bytes));
  EXPECT_EQ(entry.envelope().payload_type(), kIssueLabelsContext.payload_type());
  v1::LabelAssignment assignment;
  ASSERT_TRUE(assignment.ParseFromString(entry.assignment()));
  EXPECT_EQ(assignment.first_serial(), 1u);
  EXPECT_EQ(assignment.count(), 50u);
  EXPECT_EQ(assignment.label_key_id(), first_label_key_.ToString());
  ExpectCheckPasses();
}

TEST_F(IssuanceTest, SerialsContinueAcrossRequestsAndRestartsAndAreNeverReissued) {
  Issuance a = IssueOk(acme_admin_, Batch("B1", 10));
  Issuance b = IssueOk(acme_operator_, Batch("B1", 5));
  Issuance other_batch = IssueOk(acme_operator_, Batch("B2", 3));
  EXPECT_EQ(a.claims.serial, 1u);
  EXPECT_EQ(b.claims.serial, 11u);
  EXPECT_EQ(other_batch.claims.serial, 1u);

  ledger_->Reopen();  // the serials are in the store
  ASSERT_FALSE(HasFatalFailure());
  absl::StatusOr<uint64_t> next = NextSerial(*ledger_->snapshot(), kAcme, "M01", "B1");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, 16u);
  Issuance c = IssueOk(acme_operator_, Batch("B1", 2));
  EXPECT_EQ(c.claims.serial, 16u);

  std::optional<IssuanceRecord> found = Find(kAcme, "M01", "B1", 12);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->log_index, b.log_index);
  EXPECT_EQ(found->first_serial, 11u);
  EXPECT_EQ(found->count, 5u);
  EXPECT_TRUE(Find(kAcme, "M01", "B1", 17).has_value());
  EXPECT_FALSE(Find(kAcme, "M01", "B1", 18).has_value());
  EXPECT_FALSE(Find(kAcme, "M01", "B1", 0).has_value());
  EXPECT_FALSE(Find(kAcme, "M01", "B3", 1).has_value());
  EXPECT_FALSE(Find(kOther, "M01", "B1", 1).has_value());
  ExpectCheckPasses();
}

TEST_F(IssuanceTest, RetryReturnsTheSameLabelsAndWritesNothing) {
  const v1::IssueLabelsRequest request = Batch("B1", 20);
  Issuance first = IssueOk(acme_operator_, request);
  const uint64_t size = Size();
  Issuance again = IssueOk(acme_operator_, request);
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.log_index, first.log_index);
  EXPECT_EQ(Size(), size);
  const std::vector<IssuedLabel> first_labels = Labels(first, 0, 20);
  const std::vector<IssuedLabel> again_labels = Labels(again, 0, 20);
  ASSERT_EQ(first_labels.size(), 20u);
  ASSERT_EQ(again_labels.size(), 20u);
  EXPECT_EQ(first_labels[7].url, again_labels[7].url);

  ledger_->Reopen();
  ASSERT_FALSE(HasFatalFailure());
  Issuance after_restart = IssueOk(acme_operator_, request);
  EXPECT_TRUE(after_restart.replayed);
  EXPECT_EQ(after_restart.log_index, first.log_index);
  EXPECT_EQ(after_restart.claims, first.claims);
  EXPECT_EQ(after_restart.label_key_id, first.label_key_id);
  EXPECT_EQ(Size(), size);

  v1::IssueLabelsRequest changed = request;
  changed.set_package_count(21);
  Refused(Signed(acme_operator_, changed), absl::StatusCode::kAlreadyExists, "request.request_id");
  ExpectCheckPasses();
}

// Labels go only to an actor of the enterprise they are for (the read
// credentials' actor, checked before the call takes a place).
TEST(MayReceiveLabelsTest, OnlyAnActorOfTheEnterpriseReceivesItsLabels) {
  v1::Actor reader;
  reader.set_name("acme operator");
  reader.set_enterprise_uscc("91350100M000100Y43");
  v1::IssueLabelsRequest asked;
  asked.set_enterprise_uscc("91350100M000100Y43");
  EXPECT_TRUE(MayReceiveLabels(reader, asked).ok());
  asked.set_enterprise_uscc("91110000600037341L");
  absl::Status other = MayReceiveLabels(reader, asked);
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(other.message().find("labels go only to an actor of 91110000600037341L"),
            std::string::npos)
      << other;
  EXPECT_NE(other.message().find("actor 'acme operator' is not one"), std::string::npos) << other;
  // A regulator (no enterprise) receives none, nor does anyone for a
  // request that names no enterprise.
  reader.clear_enterprise_uscc();
  EXPECT_EQ(MayReceiveLabels(reader, asked).code(), absl::StatusCode::kPermissionDenied);
  asked.clear_enterprise_uscc();
  EXPECT_EQ(MayReceiveLabels(reader, asked).code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(IssuanceTest, SignLabelsClipsToTheIssuance) {
  Issuance issuance = IssueOk(acme_operator_, Batch("B1", 10));
  const std::vector<IssuedLabel> tail = Labels(issuance, 8, 5);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].serial, 9u);
  EXPECT_EQ(tail[1].serial, 10u);
  absl::StatusOr<std::vector<IssuedLabel>> past = ledger_->issuer().SignLabels(issuance, 10, 5);
  ASSERT_TRUE(past.ok()) << past.status();
  EXPECT_TRUE(past->empty());
}

// The labels go to the writer in order, a message at a time, signed on the
// pool ahead of it: the same labels as SignLabels gives, whatever the
// message size and however many workers (none: the caller signs).
TEST_F(IssuanceTest, StreamLabelsHandsEveryLabelOverInOrder) {
  const Issuance issuance = IssueOk(acme_operator_, Batch("B1", 1000));
  const std::vector<IssuedLabel> expected = Labels(issuance, 0, 1000);
  ASSERT_EQ(expected.size(), 1000u);
  for (int workers : {0, 2}) {
    WorkerPool pool(workers, 0, "test-sign");
    for (uint32_t per_message : {1000u, 300u, 7u}) {
      std::vector<IssuedLabel> got;
      size_t messages = 0;
      absl::StatusOr<uint32_t> written = StreamLabels(
          ledger_->issuer(), issuance, pool, per_message, [&](std::vector<IssuedLabel> labels) {
            EXPECT_LE(labels.size(), per_message);
            EXPECT_FALSE(labels.empty());
            ++messages;
            for (IssuedLabel& l : labels) got.push_back(std::move(l));
            return true;
          });
      ASSERT_TRUE(written.ok()) << written.status();
      EXPECT_EQ(*written, 1000u);
      EXPECT_EQ(messages, (1000 + per_message - 1) / per_message) << per_message;
      ASSERT_EQ(got.size(), expected.size());
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].serial, expected[i].serial) << i;
        EXPECT_EQ(got[i].url, expected[i].url) << i;
      }
    }
  }
}

TEST_F(IssuanceTest, StreamLabelsStopsWhenTheWriterDoesOrASignatureFails) {
  const Issuance issuance = IssueOk(acme_operator_, Batch("B1", 1000));
  WorkerPool pool(2, 0, "test-sign");
  // The client goes away at the third message: two were taken.
  int messages = 0;
  absl::StatusOr<uint32_t> written =
      StreamLabels(ledger_->issuer(), issuance, pool, 300,
                   [&](std::vector<IssuedLabel>) { return ++messages < 3; });
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, 600u);
  EXPECT_EQ(messages, 3);
  // A label key the issuer does not hold: the failure, and nothing written.
  Issuance unsigned_issuance = issuance;
  unsigned_issuance.label_key_id = TestKey(9).key_id();
  messages = 0;
  written = StreamLabels(ledger_->issuer(), unsigned_issuance, pool, 300,
                         [&](std::vector<IssuedLabel>) { return ++messages > 0; });
  EXPECT_FALSE(written.ok());
  EXPECT_EQ(messages, 0);
}

TEST_F(IssuanceTest, RefusesBadRequestsNamingTheFieldAndWritesNothing) {
  using absl::StatusCode;
  v1::IssueLabelsRequest r = Batch("B1", 0);
  Refused(Signed(acme_operator_, r), StatusCode::kInvalidArgument, "request.package_count");
  r = Batch("B1", kMaxPackagesPerRequest + 1);
  Refused(Signed(acme_operator_, r), StatusCode::kInvalidArgument, "request.package_count");
  r = Batch("b-1", 1);
  Refused(Signed(acme_operator_, r), StatusCode::kInvalidArgument, "request.batch");
  for (const char* q : {"", "0", "-1", "1.2345", "01", "1e3", "4294967.296", "abc"}) {
    SCOPED_TRACE(absl::StrCat("net quantity '", q, "'"));
    r = Batch("B1", 1);
    r.set_net_quantity(q);
    Refused(Signed(acme_operator_, r), StatusCode::kInvalidArgument, "request.net_quantity");
  }
  r = Batch("B1", 1);
  r.set_unit("KG");
  Refused(Signed(acme_operator_, r), StatusCode::kInvalidArgument, "request.unit");
  r = Batch("B1", 1);
  *r.mutable_production_date() = ToDate(Today() + 2);
  Refused(Signed(acme_operator_, r), StatusCode::kInvalidArgument, "request.production_date");
  r = Batch("B1", 1);
  *r.mutable_production_date() = Date(2026, 2, 30);
  Refused(Signed(acme_operator_, r), StatusCode::kInvalidArgument, "request.production_date");
  r = Batch("B1", 1);
  r.set_request_id("");
  Refused(Signed(acme_operator_, r), StatusCode::kInvalidArgument, "request.request_id");
  r = Batch("B1", 1);
  r.set_product_number("NOPE");
  Refused(Signed(acme_operator_, r), StatusCode::kNotFound, "request.product_number");
  r = Batch("B1", 1);
  r.set_enterprise_uscc("91350100M000100Y44");  // bad check character
  Refused(Signed(acme_operator_, r), StatusCode::kInvalidArgument, "request.enterprise_uscc");
  // Nothing was issued: the batch starts at 1.
  absl::StatusOr<uint64_t> next = NextSerial(*ledger_->snapshot(), kAcme, "M01", "B1");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, 1u);
}

TEST_F(IssuanceTest, OnlyTheEnterprisesOwnActorsMayIssue) {
  using absl::StatusCode;
  Refused(Signed(other_admin_, Batch("B1", 1)), StatusCode::kPermissionDenied,
          "envelope.signatures[0].key_id: actor 'other admin' (ENTERPRISE_ADMIN) may not issue");
  Refused(Signed(regulator_, Batch("B1", 1)), StatusCode::kPermissionDenied, "may not issue");
  Refused(Signed(admin_, Batch("B1", 1)), StatusCode::kPermissionDenied, "may not issue");
  Refused(Signed(TestKey(42), Batch("B1", 1)), StatusCode::kUnauthenticated, "");
  // Unsigned.
  v1::SignedEnvelope unsigned_envelope = Signed(acme_operator_, Batch("B1", 1));
  unsigned_envelope.clear_signatures();
  Refused(unsigned_envelope, StatusCode::kInvalidArgument, "signatures");
  // Signed with the operator's key but claiming the admin's key id.
  v1::SignedEnvelope wrong_id = Signed(acme_operator_, Batch("B1", 1));
  wrong_id.mutable_signatures(0)->set_key_id(acme_admin_.key_id().ToString());
  Refused(wrong_id, StatusCode::kUnauthenticated, "");
  // Signed for another context (a registry request's payload type).
  v1::SignedEnvelope registry_context = *envelope::Sign(
      api::kRegistryContext, Batch("B1", 1).SerializeAsString(), acme_operator_);
  Refused(registry_context, StatusCode::kInvalidArgument, "payload_type");
  // A revoked operator.
  v1::RegistryRequest revoke = Request();
  revoke.mutable_revoke_key()->set_key_id(acme_operator_.key_id().ToString());
  revoke.mutable_revoke_key()->set_reason("left the company");
  RegistryOk(acme_admin_, revoke);
  Refused(Signed(acme_operator_, Batch("B1", 1)), StatusCode::kPermissionDenied,
          "envelope.signatures[0].key_id: key " + acme_operator_.key_id().ToString() +
              " was revoked");
  // The enterprise's admin still may.
  EXPECT_EQ(IssueOk(acme_admin_, Batch("B1", 1)).claims.serial, 1u);
  ExpectCheckPasses();
}

TEST_F(IssuanceTest, BlacklistedEnterpriseMayNotIssue) {
  IssueOk(acme_operator_, Batch("B1", 1));
  v1::RegistryRequest r = Request();
  r.mutable_blacklist()->set_enterprise_uscc(kAcme);
  r.mutable_blacklist()->set_blacklisted(true);
  r.mutable_blacklist()->set_reason("storage violations");
  *r.mutable_blacklist()->mutable_date() = ToDate(Today());
  RegistryOk(regulator_, r);
  Refused(Signed(acme_operator_, Batch("B1", 1)), absl::StatusCode::kPermissionDenied,
          "envelope.signatures[0].key_id: the signer's enterprise 91350100M000100Y43 is blacklisted");
  ExpectCheckPasses();
}

TEST_F(IssuanceTest, RefusesWithoutAValidLicence) {
  v1::Enterprise expired =
      registry::testing::ExampleProducer(registry::testing::ExampleUscc("330200"));
  // Its 安全生产许可证 ran out yesterday.
  *expired.mutable_licences(0)->mutable_valid_from() = ToDate(Today() - 730);
  *expired.mutable_licences(0)->mutable_valid_until() = ToDate(Today() - 1);
  ASSERT_TRUE(ledger_->RegisterEnterprise(admin_, expired).ok());
  const crypto::SigningKey expired_admin = TestKey(20);
  AddActor("expired admin", v1::ENTERPRISE_ADMIN, expired.uscc(), expired_admin);
  absl::Status product = ledger_->RegisterProduct(
      expired_admin, registry::testing::ExampleMethanol(expired.uscc(), "M01"));
  ASSERT_TRUE(product.ok()) << product;
  v1::IssueLabelsRequest issue = Batch("B1", 1);
  issue.set_enterprise_uscc(expired.uscc());
  Refused(Signed(expired_admin, issue), absl::StatusCode::kFailedPrecondition, "licence");
  ExpectCheckPasses();
}

TEST_F(IssuanceTest, LabelKeysRotateAndRevocationFailsOnlyTheRevokedKeysLabels) {
  Issuance old_batch = IssueOk(acme_operator_, Batch("B1", 3));
  const std::string old_url = FirstUrl(old_batch);

  // A newer key (later valid_from) takes over for new issuances.
  const crypto::KeyId second = NewLabelKey(Today() - 1, Today() + 700);
  Issuance new_batch = IssueOk(acme_operator_, Batch("B2", 3));
  EXPECT_EQ(new_batch.label_key_id, second);
  const std::string new_url = FirstUrl(new_batch);
  EXPECT_EQ(crypto::VerifyLabel(old_url, Trust()).verdict, crypto::LabelVerdict::kAuthentic);
  EXPECT_EQ(crypto::VerifyLabel(new_url, Trust()).verdict, crypto::LabelVerdict::kAuthentic);

  // A key that is not yet valid is not used.
  NewLabelKey(Today() + 10, Today() + 900);
  EXPECT_EQ(IssueOk(acme_operator_, Batch("B3", 1)).label_key_id, second);

  Revoke(first_label_key_);
  EXPECT_EQ(crypto::VerifyLabel(old_url, Trust()).verdict, crypto::LabelVerdict::kRevokedKey);
  EXPECT_EQ(crypto::VerifyLabel(new_url, Trust()).verdict, crypto::LabelVerdict::kAuthentic);

  // With every usable key revoked, issuance stops with a clear reason.
  Revoke(second);
  Refused(Signed(acme_operator_, Batch("B4", 1)), absl::StatusCode::kFailedPrecondition,
          "no label key is usable");
  // The key holder's choice says, for the operator, each registered key
  // and why it was passed over.
  absl::StatusOr<std::unique_ptr<LabelKeyring>> keyring = LabelKeyring::Open(ledger_->key_dir());
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  absl::StatusOr<const crypto::SigningKey*> none =
      CurrentLabelKey(*ledger_->snapshot(), **keyring, Today());
  ASSERT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition) << none.status();
  EXPECT_NE(none.status().message().find(absl::StrCat(second.ToString(), " revoked on ")),
            std::string::npos)
      << none.status();
  EXPECT_NE(none.status().message().find(" valid from "), std::string::npos) << none.status();

  // The trust list survives a restart (it is read from the store).
  ledger_->Reopen();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(crypto::VerifyLabel(old_url, Trust()).verdict, crypto::LabelVerdict::kRevokedKey);
  EXPECT_EQ(crypto::VerifyLabel(new_url, Trust()).verdict, crypto::LabelVerdict::kRevokedKey);
  EXPECT_EQ(Trust().keys.size(), 3u);
  ExpectCheckPasses();
}

TEST_F(IssuanceTest, OnlyPlatformAdminsManageLabelKeys) {
  absl::StatusOr<crypto::VerifyingKey> key = LabelKeyring::CreateKey(ledger_->key_dir());
  ASSERT_TRUE(key.ok()) << key.status();
  v1::RegistryRequest r = Request();
  r.mutable_add_label_key()->set_public_key(key->ToBytes());
  *r.mutable_add_label_key()->mutable_valid_from() = ToDate(Today());
  *r.mutable_add_label_key()->mutable_valid_until() = ToDate(Today() + 1);
  absl::StatusOr<journal::Receipt> receipt = ledger_->Registry(acme_admin_, r);
  ASSERT_FALSE(receipt.ok());
  EXPECT_EQ(receipt.status().code(), absl::StatusCode::kPermissionDenied) << receipt.status();

  r.set_request_id("reg-test-label-key-2001");
  r.mutable_add_label_key()->mutable_valid_until()->set_year(2001);
  receipt = ledger_->Registry(admin_, r);
  ASSERT_FALSE(receipt.ok());
  EXPECT_EQ(receipt.status().code(), absl::StatusCode::kInvalidArgument) << receipt.status();
  EXPECT_NE(receipt.status().message().find("add_label_key.valid_until"), std::string::npos)
      << receipt.status();

  v1::RegistryRequest revoke = Request();
  revoke.mutable_revoke_key()->set_key_id(first_label_key_.ToString());
  revoke.mutable_revoke_key()->set_reason("mine now");
  receipt = ledger_->Registry(acme_admin_, revoke);
  ASSERT_FALSE(receipt.ok());
  EXPECT_EQ(receipt.status().code(), absl::StatusCode::kPermissionDenied) << receipt.status();
  // Neither the key nor the revocation reached the registry.
  absl::StatusOr<std::vector<registry::LabelKeyState>> keys =
      registry::LabelKeys(*ledger_->snapshot());
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].key.key_id(), first_label_key_);
  EXPECT_FALSE((*keys)[0].revoked_on.has_value());
}

TEST_F(IssuanceTest, RetriesAreVerifiedAgain) {
  const v1::IssueLabelsRequest request = Batch("B1", 5);
  IssueOk(acme_operator_, request);
  const uint64_t size = Size();
  // The same bytes without a valid signature get nothing.
  v1::SignedEnvelope stripped = Signed(acme_operator_, request);
  stripped.clear_signatures();
  Refused(stripped, absl::StatusCode::kInvalidArgument, "envelope.signatures");
  v1::SignedEnvelope junk = Signed(acme_operator_, request);
  junk.mutable_signatures(0)->set_sig(std::string(64, 'x'));
  Refused(junk, absl::StatusCode::kUnauthenticated, "envelope.signatures[0].sig");
  // Once the operator's key is revoked, not even a correct retry.
  v1::RegistryRequest revoke = Request();
  revoke.mutable_revoke_key()->set_key_id(acme_operator_.key_id().ToString());
  revoke.mutable_revoke_key()->set_reason("left");
  RegistryOk(acme_admin_, revoke);
  Refused(Signed(acme_operator_, request), absl::StatusCode::kPermissionDenied,
          "envelope.signatures[0].key_id");
  EXPECT_EQ(Size(), size + 1);  // only the revocation
  ExpectCheckPasses();
}

TEST_F(IssuanceTest, MatchIssuanceCatchesLabelsTheLogDoesNotAccountFor) {
  Issuance issuance = IssueOk(acme_operator_, Batch("B1", 10));
  const std::vector<IssuedLabel> labels = Labels(issuance, 3, 1);
  ASSERT_EQ(labels.size(), 1u);
  absl::StatusOr<crypto::ParsedLabel> parsed = crypto::ParseLabelUrl(labels[0].url);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<IssuanceRecord> match = MatchIssuance(*ledger_->snapshot(), *parsed);
  ASSERT_TRUE(match.ok()) << match.status();
  EXPECT_EQ(match->log_index, issuance.log_index);
  EXPECT_EQ(match->first_serial, 1u);

  // Someone with the label key's file signs a label for a real serial with
  // another quantity, and one for a serial never issued.
  absl::StatusOr<crypto::SigningKey> leaked =
      crypto::LoadSigningKey(LabelKeyFile(first_label_key_), absl::nullopt);
  ASSERT_TRUE(leaked.ok()) << leaked.status();
  crypto::LabelClaims forged = issuance.claims;
  forged.serial = 4;
  forged.quantity_milli = 50000;
  absl::StatusOr<std::string> forged_url = crypto::MakeLabelUrl(forged, *leaked);
  ASSERT_TRUE(forged_url.ok()) << forged_url.status();
  EXPECT_EQ(crypto::VerifyLabel(*forged_url, Trust()).verdict, crypto::LabelVerdict::kAuthentic);
  EXPECT_EQ(MatchIssuance(*ledger_->snapshot(), *crypto::ParseLabelUrl(*forged_url)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  forged = issuance.claims;
  forged.serial = 11;
  forged_url = crypto::MakeLabelUrl(forged, *leaked);
  ASSERT_TRUE(forged_url.ok()) << forged_url.status();
  EXPECT_EQ(MatchIssuance(*ledger_->snapshot(), *crypto::ParseLabelUrl(*forged_url)).status().code(),
            absl::StatusCode::kNotFound);
  // A real serial signed by another registered label key.
  const crypto::KeyId second = NewLabelKey(Today() - 1, Today() + 30);
  absl::StatusOr<crypto::SigningKey> other_key =
      crypto::LoadSigningKey(LabelKeyFile(second), absl::nullopt);
  ASSERT_TRUE(other_key.ok()) << other_key.status();
  forged = issuance.claims;
  forged.serial = 4;
  forged_url = crypto::MakeLabelUrl(forged, *other_key);
  ASSERT_TRUE(forged_url.ok()) << forged_url.status();
  EXPECT_EQ(MatchIssuance(*ledger_->snapshot(), *crypto::ParseLabelUrl(*forged_url)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// The old issuer refused, on replay, a log whose serials of a batch did not
// continue. Now the state is not replayed but stored; a log entry written
// without the journal (Log::Append) has its state built when the store is
// next opened, under the rules: an issuance whose logged serials are not the
// ones the rules assign is refused there.
TEST_F(IssuanceTest, BuildingTheStateRefusesALogWhoseSerialsDoNotContinue) {
  Issuance issuance = IssueOk(acme_operator_, Batch("B1", 10));
  v1::LogEntry logged;
  {
    absl::StatusOr<std::string> bytes = ledger_->snapshot()->Entry(issuance.log_index);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    ASSERT_TRUE(logged.ParseFromString(*bytes));
  }
  ExpectCheckPasses();
  // The same issuance again under a new request id, with serials
  // `first_serial`..+9, appended behind the journal's back.
  const auto append_issuance = [&](uint64_t first_serial) -> absl::StatusOr<uint64_t> {
    v1::LogEntry entry = logged;
    *entry.mutable_envelope() = Signed(acme_operator_, Batch("B1", 10));
    v1::LabelAssignment assignment;
    assignment.set_first_serial(first_serial);
    assignment.set_count(10);
    assignment.set_label_key_id(first_label_key_.ToString());
    entry.set_assignment(assignment.SerializeAsString());
    absl::StatusOr<std::unique_ptr<storage::Store>> store =
        storage::OpenLevelDbStore(ledger_->store_dir());
    if (!store.ok()) return store.status();
    return (*store)->Append({entry.SerializeAsString()});
  };

  // Serials that continue the batch (11..20): the state is built on opening.
  ledger_->Close();
  absl::StatusOr<uint64_t> continuing = append_issuance(11);
  ASSERT_TRUE(continuing.ok()) << continuing.status();
  ledger_->Reopen();
  ASSERT_FALSE(HasFatalFailure());
  std::optional<IssuanceRecord> found = Find(kAcme, "M01", "B1", 15);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->log_index, *continuing);
  EXPECT_EQ(found->first_serial, 11u);
  ExpectCheckPasses();

  // Serials 5..14, overlapping what was issued: the store does not open.
  ledger_->Close();
  absl::StatusOr<uint64_t> overlapping = append_issuance(5);
  ASSERT_TRUE(overlapping.ok()) << overlapping.status();
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenLevelDbStore(ledger_->store_dir());
  ASSERT_TRUE(store.ok()) << store.status();
  server::StateMachines machines(&registry::testing::ShippedCatalogue());
  absl::StatusOr<std::unique_ptr<journal::Journal>> journal =
      journal::Journal::Open(store->get(), machines.all());
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.status().code(), absl::StatusCode::kDataLoss) << journal.status();
  EXPECT_NE(journal.status().message().find(absl::StrCat("entry ", *overlapping, " (")),
            std::string::npos)
      << journal.status();
  EXPECT_NE(journal.status().message().find("issuance decides the assignment"), std::string::npos)
      << journal.status();
}

TEST_F(IssuanceTest, ABrokenKeyFileDisablesOnlyItsKey) {
  const crypto::KeyId broken_id = TestKey(77).key_id();
  const std::string path = LabelKeyFile(broken_id);
  {
    std::ofstream out(path);
    out << "not a key\n";
  }
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  absl::StatusOr<std::unique_ptr<LabelKeyring>> keyring = LabelKeyring::Open(ledger_->key_dir());
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  EXPECT_TRUE((*keyring)->Find(first_label_key_).ok());
  absl::StatusOr<const crypto::SigningKey*> broken = (*keyring)->Find(broken_id);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kFailedPrecondition) << broken.status();
  // The issuer's own keyring still signs with the good key.
  EXPECT_EQ(IssueOk(acme_operator_, Batch("B1", 1)).label_key_id, first_label_key_);
}

TEST_F(IssuanceTest, AnActorMayNotHoldALabelKey) {
  absl::StatusOr<crypto::SigningKey> label_key =
      crypto::LoadSigningKey(LabelKeyFile(first_label_key_), absl::nullopt);
  ASSERT_TRUE(label_key.ok()) << label_key.status();
  const uint64_t size = Size();
  absl::Status s =
      ledger_->AddActor(acme_admin_, kAcme, v1::ENTERPRISE_OPERATOR, *label_key, "rogue");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_NE(s.message().find("actor.public_key"), std::string::npos) << s;
  EXPECT_EQ(Size(), size);
}

TEST(NetQuantityTest, ParsesAndFormatsThousandths) {
  EXPECT_EQ(*api::ParseNetQuantity("q", "25"), 25000u);
  EXPECT_EQ(*api::ParseNetQuantity("q", "0.5"), 500u);
  EXPECT_EQ(*api::ParseNetQuantity("q", "200.125"), 200125u);
  EXPECT_EQ(*api::ParseNetQuantity("q", "4294967.295"), 4294967295u);
  EXPECT_FALSE(api::ParseNetQuantity("q", "0.000").ok());
  EXPECT_FALSE(api::ParseNetQuantity("q", ".5").ok());
  EXPECT_FALSE(api::ParseNetQuantity("q", "5.").ok());
  EXPECT_EQ(api::FormatNetQuantity(25000), "25");
  EXPECT_EQ(api::FormatNetQuantity(500), "0.5");
  EXPECT_EQ(api::FormatNetQuantity(200125), "200.125");
  EXPECT_EQ(api::FormatNetQuantity(1010), "1.01");
}

}  // namespace
}  // namespace chemledger::label
