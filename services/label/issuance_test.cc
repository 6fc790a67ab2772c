#include "services/label/issuance.h"

#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "services/common/envelope.h"
#include "services/common/identifiers.h"
#include "services/registry/registry_testing.h"
#include "storage/leveldb_log.h"
#include "tests/subprocess.h"

namespace chemledger::label {
namespace {

using registry::Registry;
using registry::testing::Date;

crypto::SigningKey TestKey(char seed) {
  return crypto::SigningKey::FromSeed(*crypto::SecretSeed::FromBytes(std::string(32, seed)));
}

constexpr char kAcme[] = "91350100M000100Y43";
constexpr char kOther[] = "91110105771583283D";

absl::CivilDay Today() {
  return absl::ToCivilDay(absl::Now(), absl::FixedTimeZone(8 * 3600));
}

v1::Date ToDate(absl::CivilDay d) {
  return Date(static_cast<int>(d.year()), d.month(), d.day());
}

class IssuanceTest : public ::testing::Test {
 protected:
  IssuanceTest()
      : admin_(TestKey(1)), acme_admin_(TestKey(2)), acme_operator_(TestKey(3)),
        other_admin_(TestKey(4)), regulator_(TestKey(5)) {}

  void SetUp() override {
    dir_ = chemledger::testing::FreshTempDir("issuance");
    keys_dir_ = dir_ + "/keys";
    ASSERT_EQ(mkdir(keys_dir_.c_str(), 0700), 0);
    log_ = *storage::OpenLevelDbLog(dir_ + "/log");
    ASSERT_TRUE(Registry::Bootstrap(log_.get(), "test", "CL.EXAMPLE.CN", "root", admin_).ok());
    OpenAll();
    v1::RegistryRequest r = Request();
    *r.mutable_register_enterprise() = registry::testing::ExampleProducer(kAcme);
    RegistryOk(admin_, r);
    r = Request();
    *r.mutable_register_enterprise() = registry::testing::ExampleProducer(kOther);
    RegistryOk(admin_, r);
    AddActor("acme admin", v1::ENTERPRISE_ADMIN, kAcme, acme_admin_);
    AddActor("acme line 3", v1::ENTERPRISE_OPERATOR, kAcme, acme_operator_);
    AddActor("other admin", v1::ENTERPRISE_ADMIN, kOther, other_admin_);
    AddActor("inspector", v1::REGULATOR, "", regulator_);
    r = Request();
    *r.mutable_register_product() = registry::testing::ExampleMethanol(kAcme, "M01");
    RegistryOk(acme_admin_, r);
    first_label_key_ = NewLabelKey(Today() - 30, Today() + 365);
  }

  void OpenAll() {
    issuer_.reset();
    registry_.reset();
    keyring_ = *LabelKeyring::Open(keys_dir_);
    registry_ = *Registry::Open(log_.get(), &registry::testing::ShippedCatalogue());
    absl::StatusOr<std::unique_ptr<LabelIssuer>> issuer =
        LabelIssuer::Open(log_.get(), registry_.get(), keyring_.get());
    ASSERT_TRUE(issuer.ok()) << issuer.status();
    issuer_ = *std::move(issuer);
  }

  v1::RegistryRequest Request() {
    v1::RegistryRequest r;
    r.set_request_id(absl::StrCat("reg-", ++next_id_));
    return r;
  }
  void RegistryOk(const crypto::SigningKey& key, const v1::RegistryRequest& r) {
    absl::StatusOr<registry::Receipt> receipt =
        registry_->Apply(*envelope::Sign(registry::kRegistryContext, r.SerializeAsString(), key));
    ASSERT_TRUE(receipt.ok()) << receipt.status();
  }
  void AddActor(const std::string& name, v1::ActorRole role, const std::string& uscc,
                const crypto::SigningKey& key) {
    v1::RegistryRequest r = Request();
    v1::Actor* a = r.mutable_add_actor();
    a->set_name(name);
    a->set_role(role);
    a->set_enterprise_uscc(uscc);
    a->set_public_key(key.verifying_key().ToBytes());
    RegistryOk(admin_, r);
  }
  // Makes a label key file and registers it.
  crypto::KeyId NewLabelKey(absl::CivilDay from, absl::CivilDay until) {
    crypto::VerifyingKey key = *LabelKeyring::CreateKey(keys_dir_);
    v1::RegistryRequest r = Request();
    r.mutable_add_label_key()->set_public_key(key.ToBytes());
    *r.mutable_add_label_key()->mutable_valid_from() = ToDate(from);
    *r.mutable_add_label_key()->mutable_valid_until() = ToDate(until);
    RegistryOk(admin_, r);
    return key.key_id();
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
    absl::StatusOr<Issuance> issuance = issuer_->Issue(Signed(key, r));
    EXPECT_TRUE(issuance.ok()) << issuance.status();
    return issuance.ok() ? *issuance : Issuance(first_label_key_);
  }
  void Refused(const v1::SignedEnvelope& env, absl::StatusCode code, const std::string& fragment) {
    const uint64_t before = log_->Size();
    absl::StatusOr<Issuance> issuance = issuer_->Issue(env);
    ASSERT_FALSE(issuance.ok()) << "accepted; expected: " << fragment;
    EXPECT_EQ(issuance.status().code(), code) << issuance.status();
    EXPECT_NE(issuance.status().message().find(fragment), std::string::npos) << issuance.status();
    EXPECT_EQ(log_->Size(), before) << "a refused request wrote to the log";
  }
  crypto::TrustList Trust() { return issuer_->MakeTrustList(Today()); }

  crypto::SigningKey admin_, acme_admin_, acme_operator_, other_admin_, regulator_;
  std::string dir_, keys_dir_;
  std::unique_ptr<storage::Log> log_;
  std::unique_ptr<LabelKeyring> keyring_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<LabelIssuer> issuer_;
  crypto::KeyId first_label_key_ = TestKey(9).key_id();
  int next_id_ = 0;
};

TEST_F(IssuanceTest, IssuesSignedLabelsThatVerifyAgainstTheTrustList) {
  const uint64_t before = log_->Size();
  Issuance issuance = IssueOk(acme_operator_, Batch("B20261122", 50));
  EXPECT_EQ(log_->Size(), before + 1);
  EXPECT_EQ(issuance.log_index, before);
  EXPECT_EQ(issuance.claims.serial, 1u);
  EXPECT_EQ(issuance.count, 50u);
  EXPECT_EQ(issuance.label_key_id, first_label_key_);

  absl::StatusOr<std::vector<IssuedLabel>> labels = issuer_->SignLabels(issuance, 0, 1000);
  ASSERT_TRUE(labels.ok()) << labels.status();
  ASSERT_EQ(labels->size(), 50u);
  const crypto::TrustList trust = Trust();
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
    EXPECT_EQ(check.label->claims.control_flags,
              crypto::kKeySupervised | crypto::kHighHazard);
  }
  EXPECT_EQ(codes.size(), 50u);

  // The log entry holds the signed request and the assignment.
  v1::LogEntry entry;
  ASSERT_TRUE(entry.ParseFromString(*log_->Entry(issuance.log_index)));
  EXPECT_EQ(entry.envelope().payload_type(), kIssueLabelsContext.payload_type());
  v1::LabelAssignment assignment;
  ASSERT_TRUE(assignment.ParseFromString(entry.assignment()));
  EXPECT_EQ(assignment.first_serial(), 1u);
  EXPECT_EQ(assignment.count(), 50u);
  EXPECT_EQ(assignment.label_key_id(), first_label_key_.ToString());
}

TEST_F(IssuanceTest, SerialsContinueAcrossRequestsAndRestartsAndAreNeverReissued) {
  Issuance a = IssueOk(acme_admin_, Batch("B1", 10));
  Issuance b = IssueOk(acme_operator_, Batch("B1", 5));
  Issuance other_batch = IssueOk(acme_operator_, Batch("B2", 3));
  EXPECT_EQ(a.claims.serial, 1u);
  EXPECT_EQ(b.claims.serial, 11u);
  EXPECT_EQ(other_batch.claims.serial, 1u);

  OpenAll();  // replay from the log
  Issuance c = IssueOk(acme_operator_, Batch("B1", 2));
  EXPECT_EQ(c.claims.serial, 16u);

  std::optional<IssuanceRecord> found = issuer_->FindIssuance(kAcme, "M01", "B1", 12);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->log_index, b.log_index);
  EXPECT_EQ(found->first_serial, 11u);
  EXPECT_TRUE(issuer_->FindIssuance(kAcme, "M01", "B1", 17).has_value());
  EXPECT_FALSE(issuer_->FindIssuance(kAcme, "M01", "B1", 18).has_value());
  EXPECT_FALSE(issuer_->FindIssuance(kAcme, "M01", "B1", 0).has_value());
  EXPECT_FALSE(issuer_->FindIssuance(kAcme, "M01", "B3", 1).has_value());
  EXPECT_FALSE(issuer_->FindIssuance(kOther, "M01", "B1", 1).has_value());
}

TEST_F(IssuanceTest, RetryReturnsTheSameLabelsAndWritesNothing) {
  const v1::IssueLabelsRequest request = Batch("B1", 20);
  Issuance first = IssueOk(acme_operator_, request);
  const uint64_t size = log_->Size();
  Issuance again = IssueOk(acme_operator_, request);
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.log_index, first.log_index);
  EXPECT_EQ(log_->Size(), size);
  EXPECT_EQ((*issuer_->SignLabels(first, 0, 20))[7].url, (*issuer_->SignLabels(again, 0, 20))[7].url);

  OpenAll();
  Issuance after_restart = IssueOk(acme_operator_, request);
  EXPECT_TRUE(after_restart.replayed);
  EXPECT_EQ(after_restart.claims, first.claims);

  v1::IssueLabelsRequest changed = request;
  changed.set_package_count(21);
  Refused(Signed(acme_operator_, changed), absl::StatusCode::kAlreadyExists, "request.request_id");
}

TEST_F(IssuanceTest, SignLabelsClipsToTheIssuance) {
  Issuance issuance = IssueOk(acme_operator_, Batch("B1", 10));
  EXPECT_EQ(issuer_->SignLabels(issuance, 8, 5)->size(), 2u);
  EXPECT_EQ((*issuer_->SignLabels(issuance, 8, 5))[0].serial, 9u);
  EXPECT_TRUE(issuer_->SignLabels(issuance, 10, 5)->empty());
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
      registry::kRegistryContext, Batch("B1", 1).SerializeAsString(), acme_operator_);
  Refused(registry_context, StatusCode::kInvalidArgument, "payload_type");
  // A revoked operator.
  v1::RegistryRequest revoke = Request();
  revoke.mutable_revoke_key()->set_key_id(acme_operator_.key_id().ToString());
  revoke.mutable_revoke_key()->set_reason("left the company");
  RegistryOk(acme_admin_, revoke);
  Refused(Signed(acme_operator_, Batch("B1", 1)), StatusCode::kPermissionDenied,
          "envelope.signatures[0].key_id: key " + acme_operator_.key_id().ToString() +
              " was revoked");
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
}

TEST_F(IssuanceTest, RefusesWithoutAValidLicence) {
  v1::RegistryRequest r = Request();
  v1::Enterprise expired =
      registry::testing::ExampleProducer(registry::testing::ExampleUscc("330200"));
  expired.mutable_licences(0)->mutable_valid_from()->set_year(2023);
  expired.mutable_licences(0)->mutable_valid_until()->set_year(2025);
  *r.mutable_register_enterprise() = expired;
  RegistryOk(admin_, r);
  crypto::SigningKey expired_admin = TestKey(20);
  AddActor("expired admin", v1::ENTERPRISE_ADMIN, expired.uscc(), expired_admin);
  v1::RegistryRequest product = Request();
  *product.mutable_register_product() = registry::testing::ExampleMethanol(expired.uscc(), "M01");
  RegistryOk(expired_admin, product);
  v1::IssueLabelsRequest issue = Batch("B1", 1);
  issue.set_enterprise_uscc(expired.uscc());
  Refused(Signed(expired_admin, issue), absl::StatusCode::kFailedPrecondition, "licence");
}

TEST_F(IssuanceTest, LabelKeysRotateAndRevocationFailsOnlyTheRevokedKeysLabels) {
  Issuance old_batch = IssueOk(acme_operator_, Batch("B1", 3));
  const std::string old_url = (*issuer_->SignLabels(old_batch, 0, 1))[0].url;

  // A newer key (later valid_from) takes over for new issuances.
  const crypto::KeyId second = NewLabelKey(Today() - 1, Today() + 700);
  Issuance new_batch = IssueOk(acme_operator_, Batch("B2", 3));
  EXPECT_EQ(new_batch.label_key_id, second);
  const std::string new_url = (*issuer_->SignLabels(new_batch, 0, 1))[0].url;
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

  // The trust list survives a restart (it is rebuilt from the log).
  OpenAll();
  EXPECT_EQ(crypto::VerifyLabel(old_url, Trust()).verdict, crypto::LabelVerdict::kRevokedKey);
  EXPECT_EQ(Trust().keys.size(), 3u);
}

TEST_F(IssuanceTest, OnlyPlatformAdminsManageLabelKeys) {
  crypto::VerifyingKey key = *LabelKeyring::CreateKey(keys_dir_);
  v1::RegistryRequest r = Request();
  r.mutable_add_label_key()->set_public_key(key.ToBytes());
  *r.mutable_add_label_key()->mutable_valid_from() = ToDate(Today());
  *r.mutable_add_label_key()->mutable_valid_until() = ToDate(Today() + 1);
  absl::StatusOr<registry::Receipt> receipt = registry_->Apply(
      *envelope::Sign(registry::kRegistryContext, r.SerializeAsString(), acme_admin_));
  ASSERT_FALSE(receipt.ok());
  EXPECT_EQ(receipt.status().code(), absl::StatusCode::kPermissionDenied);

  r.mutable_add_label_key()->mutable_valid_until()->set_year(2001);
  receipt = registry_->Apply(
      *envelope::Sign(registry::kRegistryContext, r.SerializeAsString(), admin_));
  ASSERT_FALSE(receipt.ok());
  EXPECT_NE(receipt.status().message().find("add_label_key.valid_until"), std::string::npos)
      << receipt.status();

  v1::RegistryRequest revoke = Request();
  revoke.mutable_revoke_key()->set_key_id(first_label_key_.ToString());
  revoke.mutable_revoke_key()->set_reason("mine now");
  receipt = registry_->Apply(
      *envelope::Sign(registry::kRegistryContext, revoke.SerializeAsString(), acme_admin_));
  ASSERT_FALSE(receipt.ok());
  EXPECT_EQ(receipt.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(IssuanceTest, RetriesAreVerifiedAgain) {
  const v1::IssueLabelsRequest request = Batch("B1", 5);
  IssueOk(acme_operator_, request);
  const uint64_t size = log_->Size();
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
  EXPECT_EQ(log_->Size(), size + 1);  // only the revocation
}

TEST_F(IssuanceTest, MatchIssuanceCatchesLabelsTheLogDoesNotAccountFor) {
  Issuance issuance = IssueOk(acme_operator_, Batch("B1", 10));
  const std::string url = (*issuer_->SignLabels(issuance, 3, 1))[0].url;
  absl::StatusOr<IssuanceRecord> match = issuer_->MatchIssuance(*crypto::ParseLabelUrl(url));
  ASSERT_TRUE(match.ok()) << match.status();
  EXPECT_EQ(match->log_index, issuance.log_index);

  // Someone with the label key's file signs a label for a real serial with
  // another quantity, and one for a serial never issued.
  crypto::SigningKey leaked = *crypto::LoadSigningKey(
      absl::StrCat(keys_dir_, "/label-", first_label_key_.ToString(), ".key"), absl::nullopt);
  crypto::LabelClaims forged = issuance.claims;
  forged.serial = 4;
  forged.quantity_milli = 50000;
  EXPECT_EQ(crypto::VerifyLabel(*crypto::MakeLabelUrl(forged, leaked), Trust()).verdict,
            crypto::LabelVerdict::kAuthentic);
  EXPECT_EQ(issuer_->MatchIssuance(*crypto::ParseLabelUrl(*crypto::MakeLabelUrl(forged, leaked)))
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  forged = issuance.claims;
  forged.serial = 11;
  EXPECT_EQ(issuer_->MatchIssuance(*crypto::ParseLabelUrl(*crypto::MakeLabelUrl(forged, leaked)))
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(IssuanceTest, ReplayRefusesALogWhoseSerialsDoNotContinue) {
  Issuance issuance = IssueOk(acme_operator_, Batch("B1", 10));
  v1::LogEntry entry;
  ASSERT_TRUE(entry.ParseFromString(*log_->Entry(issuance.log_index)));
  // The same issuance again under a new request id, claiming serials 5..14:
  // overlapping what was issued.
  v1::IssueLabelsRequest again = Batch("B1", 10);
  entry.mutable_envelope()->CopyFrom(Signed(acme_operator_, again));
  v1::LabelAssignment assignment;
  assignment.set_first_serial(5);
  assignment.set_count(10);
  assignment.set_label_key_id(first_label_key_.ToString());
  entry.set_assignment(assignment.SerializeAsString());
  const std::vector<std::string> forged = {entry.SerializeAsString()};
  ASSERT_TRUE(log_->Append(forged).ok());
  absl::StatusOr<std::unique_ptr<LabelIssuer>> reopened =
      LabelIssuer::Open(log_.get(), registry_.get(), keyring_.get());
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(reopened.status().message().find("do not continue batch B1 at 11"), std::string::npos)
      << reopened.status();
}

TEST_F(IssuanceTest, ABrokenKeyFileDisablesOnlyItsKey) {
  const crypto::KeyId broken_id = TestKey(77).key_id();
  const std::string path = absl::StrCat(keys_dir_, "/label-", broken_id.ToString(), ".key");
  {
    std::ofstream out(path);
    out << "not a key\n";
  }
  chmod(path.c_str(), 0600);
  absl::StatusOr<std::unique_ptr<LabelKeyring>> keyring = LabelKeyring::Open(keys_dir_);
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  EXPECT_TRUE((*keyring)->Find(first_label_key_).ok());
  absl::StatusOr<const crypto::SigningKey*> broken = (*keyring)->Find(broken_id);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kFailedPrecondition) << broken.status();
}

TEST_F(IssuanceTest, AnActorMayNotHoldALabelKey) {
  crypto::VerifyingKey label_public =
      crypto::LoadSigningKey(absl::StrCat(keys_dir_, "/label-", first_label_key_.ToString(), ".key"),
                             absl::nullopt)
          ->verifying_key();
  v1::RegistryRequest r = Request();
  v1::Actor* a = r.mutable_add_actor();
  a->set_name("rogue");
  a->set_role(v1::ENTERPRISE_OPERATOR);
  a->set_enterprise_uscc(kAcme);
  a->set_public_key(label_public.ToBytes());
  absl::StatusOr<registry::Receipt> receipt = registry_->Apply(
      *envelope::Sign(registry::kRegistryContext, r.SerializeAsString(), acme_admin_));
  ASSERT_FALSE(receipt.ok());
  EXPECT_EQ(receipt.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(receipt.status().message().find("actor.public_key"), std::string::npos);
}

TEST(NetQuantityTest, ParsesAndFormatsThousandths) {
  EXPECT_EQ(*ParseNetQuantity("q", "25"), 25000u);
  EXPECT_EQ(*ParseNetQuantity("q", "0.5"), 500u);
  EXPECT_EQ(*ParseNetQuantity("q", "200.125"), 200125u);
  EXPECT_EQ(*ParseNetQuantity("q", "4294967.295"), 4294967295u);
  EXPECT_FALSE(ParseNetQuantity("q", "0.000").ok());
  EXPECT_FALSE(ParseNetQuantity("q", ".5").ok());
  EXPECT_FALSE(ParseNetQuantity("q", "5.").ok());
  EXPECT_EQ(FormatNetQuantity(25000), "25");
  EXPECT_EQ(FormatNetQuantity(500), "0.5");
  EXPECT_EQ(FormatNetQuantity(200125), "200.125");
  EXPECT_EQ(FormatNetQuantity(1010), "1.01");
}

}  // namespace
}  // namespace chemledger::label
