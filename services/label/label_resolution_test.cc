#include "services/label/label_resolution.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/china_time.h"
#include "crypto/keys.h"
#include "crypto/label.h"
#include "gtest/gtest.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "services/common/envelope.h"
#include "services/label/issuance.h"
#include "services/registry/registry_testing.h"
#include "testing/test_ledger.h"

namespace chemledger::label {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;

const std::string kAcme = registry::testing::ExampleUscc("350100");

class LabelResolutionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger_ = TestLedger::Create("resolution", admin_);
    ASSERT_TRUE(ledger_->RegisterEnterprise(admin_, registry::testing::ExampleProducer(kAcme)).ok());
    ASSERT_TRUE(ledger_->AddActor(admin_, kAcme, v1::ENTERPRISE_ADMIN, acme_admin_).ok());
    ASSERT_TRUE(
        ledger_->RegisterProduct(acme_admin_, registry::testing::ExampleMethanol(kAcme, "M01")).ok());
    absl::StatusOr<crypto::KeyId> key = ledger_->AddLabelKey(admin_);
    ASSERT_TRUE(key.ok()) << key.status();
    label_key_id_ = *key;
    absl::StatusOr<Issuance> issued = ledger_->IssueBatch(acme_admin_, kAcme, "M01", "B1", 3);
    ASSERT_TRUE(issued.ok()) << issued.status();
    issuance_log_index_ = issued->log_index;
    claims_ = issued->claims;
    claims_.serial = 2;
  }

  std::string SignedBy(const crypto::LabelClaims& claims, const crypto::SigningKey& key) {
    absl::StatusOr<std::string> url = crypto::MakeLabelUrl(claims, key);
    EXPECT_TRUE(url.ok()) << url.status();
    return url.ok() ? *url : "";
  }
  const crypto::SigningKey& LabelKey() {
    absl::StatusOr<const crypto::SigningKey*> key = ledger_->keyring().Find(label_key_id_);
    EXPECT_TRUE(key.ok()) << key.status();
    return **key;
  }
  v1::ResolveLabelResponse Resolve(const std::string& url, const Scanner& scanner = Scanner::Anyone()) {
    absl::StatusOr<v1::ResolveLabelResponse> r =
        ResolveLabel(*ledger_->snapshot(), url, api::TodayInChina(), scanner);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::ResolveLabelResponse();
  }
  // A registered actor of Acme, as read credentials show it.
  static Scanner AcmeActor() {
    v1::Actor a;
    a.set_name("acme admin");
    a.set_role(v1::ENTERPRISE_ADMIN);
    a.set_enterprise_uscc(kAcme);
    return Scanner::Actor(a);
  }
  // The verdict and its detail, nothing about the package or its supplier.
  static void ExpectVerdictOnly(const v1::ResolveLabelResponse& r, const std::string& verdict) {
    EXPECT_EQ(r.verdict(), verdict) << r.detail();
    EXPECT_TRUE(r.code().empty()) << r.code();
    EXPECT_EQ(r.issuance_log_index(), 0u);
    EXPECT_FALSE(r.has_product()) << r.product().ShortDebugString();
    EXPECT_FALSE(r.has_enterprise()) << r.enterprise().ShortDebugString();
    EXPECT_EQ(r.warnings_size(), 0);
  }
  // Records `step` for `codes` as Acme, with `reason` or `quantity_milli`
  // where the step needs them.
  absl::Status Record(v1::BusinessStep step, std::vector<std::string> codes,
                      uint64_t quantity_milli = 0, const std::string& parent_code = "") {
    v1::Event e;
    e.set_event_id(absl::StrCat("resolution-ev-", ++next_event_));
    e.set_step(step);
    for (const std::string& c : codes) e.add_codes(c);
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 600 + next_event_);
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(kAcme);
    e.mutable_location()->set_site("plant");
    e.set_quantity_milli(quantity_milli);
    e.set_parent_code(parent_code);
    if (step == v1::VOIDING || step == v1::LOSS_REPORT || step == v1::HOLDING ||
        step == v1::RELEASING || step == v1::RECALLING) {
      e.set_reason("as the test says");
    }
    absl::StatusOr<v1::SignedEnvelope> signed_event =
        envelope::Sign(api::kEventContext, e.SerializeAsString(), acme_admin_);
    if (!signed_event.ok()) return signed_event.status();
    return ledger_->ledger().Append(*signed_event).status();
  }
  std::string UrlOf(uint64_t serial) {
    crypto::LabelClaims c = claims_;
    c.serial = serial;
    return SignedBy(c, LabelKey());
  }
  std::string CodeOf(uint64_t serial) {
    crypto::LabelClaims c = claims_;
    c.serial = serial;
    return c.Code();
  }

  void RevokeLabelKey() {
    v1::RegistryRequest r;
    r.set_request_id("revoke-label-key");
    r.mutable_revoke_key()->set_key_id(label_key_id_.ToString());
    r.mutable_revoke_key()->set_reason("the key file was copied");
    absl::StatusOr<journal::Receipt> receipt = ledger_->Registry(admin_, r);
    ASSERT_TRUE(receipt.ok()) << receipt.status();
  }

  const crypto::SigningKey admin_ = TestKey(1), acme_admin_ = TestKey(2);
  std::unique_ptr<TestLedger> ledger_;
  crypto::KeyId label_key_id_ = TestKey(9).key_id();
  uint64_t issuance_log_index_ = 0;
  crypto::LabelClaims claims_;
  int next_event_ = 0;
};

TEST_F(LabelResolutionTest, AnIssuedLabelShowsTheProductAndThePublicPartOfItsSupplier) {
  const std::string url = SignedBy(claims_, LabelKey());
  const v1::ResolveLabelResponse anyone = Resolve(url);
  EXPECT_EQ(anyone.verdict(), "authentic") << anyone.detail();
  EXPECT_EQ(anyone.code(), claims_.Code());
  EXPECT_EQ(anyone.issuance_log_index(), issuance_log_index_);
  EXPECT_EQ(anyone.product().name_zh(), "甲醇");
  EXPECT_EQ(anyone.enterprise().enterprise().uscc(), kAcme);
  EXPECT_FALSE(anyone.enterprise().enterprise().name().empty());
  EXPECT_EQ(anyone.enterprise().enterprise().licences_size(), 0);
  const v1::ResolveLabelResponse actor = Resolve(url, AcmeActor());
  EXPECT_GT(actor.enterprise().enterprise().licences_size(), 0);
}

TEST_F(LabelResolutionTest, ALabelTheLogDoesNotAccountForGetsTheVerdictAlone) {
  // A changed signature.
  std::string url = SignedBy(claims_, LabelKey());
  url.back() = url.back() == 'A' ? 'B' : 'A';
  const v1::ResolveLabelResponse altered = Resolve(url);
  EXPECT_NE(altered.verdict(), "authentic");
  ExpectVerdictOnly(altered, altered.verdict());
  // A key the registry does not hold.
  ExpectVerdictOnly(Resolve(SignedBy(claims_, TestKey(42))), "unknown-key");
  // Correctly signed, but never issued: a serial past the batch, other claims.
  crypto::LabelClaims unissued = claims_;
  unissued.serial = 99;
  ExpectVerdictOnly(Resolve(SignedBy(unissued, LabelKey())), "not-issued");
  crypto::LabelClaims heavier = claims_;
  heavier.quantity_milli += 1000;
  ExpectVerdictOnly(Resolve(SignedBy(heavier, LabelKey())), "not-issued");
  // Another deployment's resolver, and garbage.
  crypto::LabelClaims elsewhere = claims_;
  elsewhere.resolver = "CL.ELSEWHERE.CN";
  ExpectVerdictOnly(Resolve(SignedBy(elsewhere, LabelKey())), "wrong-resolver");
  ExpectVerdictOnly(Resolve("HTTPS://CL.EXAMPLE.CN/not-a-label"), "malformed");
  EXPECT_EQ(Resolve("HTTPS://CL.EXAMPLE.CN/not-a-label").assessment(), "fake");
}

TEST_F(LabelResolutionTest, ALabelIssuedBeforeItsKeyWasRevokedKeepsItsSafetyInformation) {
  const std::string issued = SignedBy(claims_, LabelKey());
  crypto::LabelClaims unissued = claims_;
  unissued.serial = 99;
  const std::string forged = SignedBy(unissued, LabelKey());
  RevokeLabelKey();
  const v1::ResolveLabelResponse r = Resolve(issued);
  EXPECT_EQ(r.verdict(), "revoked-key");
  EXPECT_EQ(r.code(), claims_.Code());
  EXPECT_EQ(r.issuance_log_index(), issuance_log_index_);
  EXPECT_EQ(r.product().name_zh(), "甲醇");
  ASSERT_EQ(r.warnings_size(), 1);
  EXPECT_NE(r.warnings(0).find("was revoked on"), std::string::npos) << r.warnings(0);
  // A label made with the revoked key that the log never issued: nothing.
  ExpectVerdictOnly(Resolve(forged), "revoked-key");
  // Nor one whose signature fails, though its key is the revoked one.
  std::string altered = issued;
  altered.back() = altered.back() == 'A' ? 'B' : 'A';
  const v1::ResolveLabelResponse bad = Resolve(altered);
  EXPECT_TRUE(bad.code().empty());
  EXPECT_FALSE(bad.has_product());
}

}  // namespace
}  // namespace chemledger::label

namespace chemledger::label {
namespace {

// The verdict is authenticity plus the package's state: a label the log
// issued, on a package used up, voided or reported lost, gets a warning; the
// first two make it suspicious (a possible copy), and a registered actor sees
// the state itself.
TEST_F(LabelResolutionTest, ThePackagesStateWarnsOfPossibleCopies) {
  ASSERT_TRUE(Record(v1::COMMISSIONING, {CodeOf(1), CodeOf(2)}).ok());
  {
    const v1::ResolveLabelResponse r = Resolve(UrlOf(1));
    EXPECT_EQ(r.assessment(), "genuine");
    EXPECT_EQ(r.scan_warnings_size(), 0);
    EXPECT_TRUE(r.package_state().empty()) << "the public scan does not show the state";
    const v1::ResolveLabelResponse signed_scan = Resolve(UrlOf(1), AcmeActor());
    EXPECT_EQ(signed_scan.package_state(), "active");
    EXPECT_EQ(signed_scan.custodian_uscc(), kAcme);
    EXPECT_EQ(signed_scan.site(), "plant");
    EXPECT_EQ(signed_scan.remaining_milli(), claims_.quantity_milli);
    EXPECT_EQ(signed_scan.unit(), claims_.unit);
    EXPECT_GT(signed_scan.last_event_log_index(), 0u);
    EXPECT_TRUE(r.custodian_uscc().empty()) << "the public scan does not show custody";
    EXPECT_EQ(Resolve(UrlOf(3), AcmeActor()).package_state(), "not-recorded");
  }
  // Used up: a label scanned now may be a copy on a refilled drum.
  absl::Status consumed = Record(v1::CONSUMING, {CodeOf(1)}, claims_.quantity_milli);
  ASSERT_TRUE(consumed.ok()) << consumed;
  {
    const v1::ResolveLabelResponse r = Resolve(UrlOf(1));
    EXPECT_EQ(r.verdict(), "authentic");
    EXPECT_EQ(r.assessment(), "suspicious");
    ASSERT_EQ(r.scan_warnings_size(), 1);
    EXPECT_EQ(r.scan_warnings(0).kind(), v1::PACKAGE_ENDED);
    EXPECT_EQ(r.warnings(0), r.scan_warnings(0).text());
    EXPECT_NE(r.warnings(0).find("may be a copy"), std::string::npos) << r.warnings(0);
    EXPECT_EQ(Resolve(UrlOf(1), AcmeActor()).package_state(), "consumed");
  }
  // Lost: a warning with what to do, not a copy.
  ASSERT_TRUE(Record(v1::LOSS_REPORT, {CodeOf(2)}).ok());
  {
    const v1::ResolveLabelResponse r = Resolve(UrlOf(2));
    EXPECT_EQ(r.assessment(), "genuine");
    ASSERT_EQ(r.scan_warnings_size(), 1);
    EXPECT_EQ(r.scan_warnings(0).kind(), v1::PACKAGE_LOST);
    EXPECT_NE(r.warnings(0).find("110"), std::string::npos) << r.warnings(0);
  }
  // Voided: no package should carry it.
  ASSERT_TRUE(Record(v1::VOIDING, {CodeOf(3)}).ok());
  {
    const v1::ResolveLabelResponse r = Resolve(UrlOf(3));
    EXPECT_EQ(r.assessment(), "suspicious");
    ASSERT_EQ(r.scan_warnings_size(), 1);
    EXPECT_EQ(r.scan_warnings(0).kind(), v1::CODE_VOIDED);
  }
  // A label the log does not account for is fake, whatever it claims.
  crypto::LabelClaims unissued = claims_;
  unissued.serial = 99;
  EXPECT_EQ(Resolve(SignedBy(unissued, LabelKey())).assessment(), "fake");
}

TEST_F(LabelResolutionTest, HoldsAndRecallsAreWarnings) {
  ASSERT_TRUE(Record(v1::COMMISSIONING, {CodeOf(1), CodeOf(2)}).ok());
  ASSERT_TRUE(Record(v1::HOLDING, {CodeOf(1)}).ok());
  v1::ResolveLabelResponse r = Resolve(UrlOf(1));
  EXPECT_EQ(r.assessment(), "genuine");  // the label is; the package is held
  ASSERT_EQ(r.scan_warnings_size(), 1);
  EXPECT_EQ(r.scan_warnings(0).kind(), v1::PACKAGE_ON_HOLD);
  ASSERT_TRUE(Record(v1::RELEASING, {CodeOf(1)}).ok());
  EXPECT_EQ(Resolve(UrlOf(1)).scan_warnings_size(), 0);
  ASSERT_TRUE(Record(v1::RECALLING, {CodeOf(2)}).ok());
  r = Resolve(UrlOf(2));
  ASSERT_EQ(r.scan_warnings_size(), 1);
  EXPECT_EQ(r.scan_warnings(0).kind(), v1::PACKAGE_RECALLED);
  EXPECT_NE(r.warnings(0).find("return it"), std::string::npos) << r.warnings(0);
}

// A package packed on a sealed pallet is sealed with it, however it got
// there (before rules epoch 10 a package could be packed on a held pallet
// and not be held itself).
TEST_F(LabelResolutionTest, APackageOnAHeldPalletIsWarnedOf) {
  chemledger::testing::TestLedgerOptions epoch9;
  epoch9.rules_epoch = 9;
  ledger_->Reopen(epoch9);
  const std::string pallet = absl::StrCat(kAcme, ".LU.SEALED");
  ASSERT_TRUE(Record(v1::COMMISSIONING, {CodeOf(1), CodeOf(2)}).ok());
  ASSERT_TRUE(Record(v1::PACKING, {CodeOf(1)}, 0, pallet).ok());
  ASSERT_TRUE(Record(v1::HOLDING, {pallet}).ok());
  ASSERT_TRUE(Record(v1::PACKING, {CodeOf(2)}, 0, pallet).ok());
  for (uint64_t serial : {1, 2}) {
    const v1::ResolveLabelResponse r = Resolve(UrlOf(serial));
    EXPECT_EQ(r.assessment(), "genuine");
    ASSERT_EQ(r.scan_warnings_size(), 1) << serial;
    EXPECT_EQ(r.scan_warnings(0).kind(), v1::PACKAGE_ON_HOLD) << serial;
  }
  EXPECT_NE(Resolve(UrlOf(2)).warnings(0).find("packed on a pallet that is on hold"),
            std::string::npos);
}

TEST_F(LabelResolutionTest, ABlacklistedSupplierIsAWarning) {
  v1::RegistryRequest r;
  r.set_request_id("blacklist-acme");
  r.mutable_blacklist()->set_enterprise_uscc(kAcme);
  r.mutable_blacklist()->set_blacklisted(true);
  r.mutable_blacklist()->set_reason("storage without licence");
  *r.mutable_blacklist()->mutable_date() = api::ToProtoDate(api::TodayInChina());
  absl::StatusOr<journal::Receipt> receipt = ledger_->Registry(admin_, r);
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  const v1::ResolveLabelResponse scanned = Resolve(UrlOf(2));
  EXPECT_EQ(scanned.assessment(), "genuine");
  ASSERT_EQ(scanned.scan_warnings_size(), 1);
  EXPECT_EQ(scanned.scan_warnings(0).kind(), v1::SUPPLIER_BLACKLISTED);
  EXPECT_NE(scanned.scan_warnings(0).text().find("storage without licence"), std::string::npos);
  EXPECT_TRUE(scanned.enterprise().blacklisted());
  // The listing is public, as the blacklist is: an anonymous scan shows it.
  EXPECT_EQ(scanned.supplier_blacklisting().enterprise_uscc(), kAcme);
  EXPECT_EQ(scanned.supplier_blacklisting().reason(), "storage without licence");
  EXPECT_EQ(scanned.supplier_blacklisting().date().year(), api::TodayInChina().year());
  EXPECT_EQ(scanned.supplier_blacklisting().log_index(), receipt->index);
}

}  // namespace
}  // namespace chemledger::label
