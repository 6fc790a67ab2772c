#include "services/waybill/waybill_code_resolution.h"

#include <string>
#include <vector>

#include "api/china_time.h"
#include "crypto/waybill_code.h"
#include "gtest/gtest.h"
#include "services/common/envelope.h"
#include "services/ledger/lifecycle_testing.h"
#include "services/waybill/waybills.h"

namespace chemledger::waybill {
namespace {

using namespace ledger::lifecycle_testing;  // NOLINT: the fixture's parties and helpers

class WaybillCodeResolutionTest : public LifecycleFixture {
 protected:
  // Submits (or amends) waybill `number` from the producer to the warehouse
  // listing `codes`; returns its code.
  std::string Put(const std::string& number, const std::vector<std::string>& codes,
                  bool amend = false) {
    v1::Waybill w = testing::ExampleWaybill(number, kCarrier, kProducer, kWarehouse, codes, 25000,
                                            "KGM");
    uint64_t milli = 0;
    for (const std::string& code : codes) milli += ContentsMilli(code);
    w.mutable_goods(0)->set_quantity_milli(milli);
    v1::WaybillRequest r;
    *(amend ? r.mutable_amend() : r.mutable_submit()) = w;
    absl::StatusOr<WaybillReceipt> receipt = ApplyWaybill(r);
    EXPECT_TRUE(receipt.ok()) << receipt.status();
    EXPECT_FALSE(receipt.ok() && receipt->waybill_code.empty());
    return receipt.ok() ? receipt->waybill_code : "";
  }
  // Waybill `number` with a goods line for each of `lines` (codes).
  std::string PutLines(const std::string& number,
                       const std::vector<std::vector<std::string>>& lines) {
    v1::Waybill w =
        testing::ExampleWaybill(number, kCarrier, kProducer, kWarehouse, lines[0], 25000, "KGM");
    const v1::GoodsLine model = w.goods(0);
    w.clear_goods();
    for (const std::vector<std::string>& codes : lines) {
      v1::GoodsLine* line = w.add_goods();
      *line = model;
      line->clear_codes();
      uint64_t milli = 0;
      for (const std::string& code : codes) {
        line->add_codes(code);
        milli += ContentsMilli(code);
      }
      line->set_quantity_milli(milli);
    }
    v1::WaybillRequest r;
    *r.mutable_submit() = w;
    absl::StatusOr<WaybillReceipt> receipt = ApplyWaybill(r);
    EXPECT_TRUE(receipt.ok()) << receipt.status();
    return receipt.ok() ? receipt->waybill_code : "";
  }
  v1::ResolveWaybillCodeResponse Resolve(const std::string& url) {
    absl::StatusOr<v1::ResolveWaybillCodeResponse> r =
        ResolveWaybillCode(*t_->snapshot(), url, api::TodayInChina());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::ResolveWaybillCodeResponse();
  }
};

TEST_F(WaybillCodeResolutionTest, ACodeSaysWhetherItsWaybillIsStillInUse) {
  Commission({1, 2, 3});
  const std::string first = Put("WB-R1", {Code(1)});
  v1::ResolveWaybillCodeResponse r = Resolve(first);
  EXPECT_EQ(r.verdict(), "authentic") << r.detail();
  EXPECT_EQ(r.status(), v1::OPEN);
  EXPECT_EQ(r.waybill_number(), "WB-R1");
  EXPECT_EQ(r.revision(), r.current_revision());

  // Amended: the old code is superseded, the new one authentic.
  const std::string second = Put("WB-R1", {Code(1), Code(2)}, /*amend=*/true);
  r = Resolve(first);
  EXPECT_EQ(r.verdict(), "superseded") << r.detail();
  EXPECT_LT(r.revision(), r.current_revision());
  // It shows what it stated, not the amendment made since.
  ASSERT_EQ(r.public_view().goods_size(), 1);
  EXPECT_EQ(r.public_view().goods(0).codes(), 1u);
  EXPECT_EQ(Resolve(second).public_view().goods(0).codes(), 2u);
  EXPECT_EQ(Resolve(second).verdict(), "authentic");

  // Amended by a carrier the consignor has not authorised: pending, and the
  // code of the revision before it superseded.
  const v1::WaybillRequest withdraw =
      testing::WithdrawCarrierRequest("withdraw-carrier", kCarrier);
  {
    absl::StatusOr<v1::SignedEnvelope> signed_withdraw =
        envelope::Sign(api::kWaybillContext, withdraw.SerializeAsString(), producer_);
    ASSERT_TRUE(signed_withdraw.ok());
    ASSERT_TRUE(t_->waybills().Apply(*signed_withdraw).ok());
  }
  {
    v1::Waybill w = testing::ExampleWaybill("WB-R1", kCarrier, kProducer, kWarehouse,
                                            {Code(1), Code(2)}, 25000, "KGM");
    w.mutable_goods(0)->set_quantity_milli(ContentsMilli(Code(1)) + ContentsMilli(Code(2)));
    v1::WaybillRequest amend;
    *amend.mutable_amend() = w;
    absl::StatusOr<WaybillReceipt> pending = ApplyWaybill(amend);
    ASSERT_TRUE(pending.ok()) << pending.status();
    EXPECT_TRUE(pending->waybill_code.empty());
  }
  EXPECT_EQ(Resolve(second).verdict(), "superseded");
  {
    // A code of the pending revision (none is handed out; made here with the
    // platform's key) says it waits for consent.
    std::optional<WaybillState> pending = FindWaybill("WB-R1");
    ASSERT_TRUE(pending.has_value());
    absl::StatusOr<crypto::WaybillCodeClaims> claims =
        WaybillCodeClaimsOf(*t_->snapshot(), pending->waybill, pending->content_log_index);
    ASSERT_TRUE(claims.ok()) << claims.status();
    absl::StatusOr<const crypto::SigningKey*> key = t_->waybills().CodeKey(*t_->snapshot());
    ASSERT_TRUE(key.ok()) << key.status();
    absl::StatusOr<std::string> url = crypto::MakeWaybillCodeUrl(*claims, **key);
    ASSERT_TRUE(url.ok()) << url.status();
    EXPECT_EQ(Resolve(*url).verdict(), "pending");
  }
  // The consignor consents: open again, with a new code.
  {
    v1::WaybillRequest consent;
    consent.set_request_id("consent-wb-r1");
    consent.mutable_consent()->set_waybill_number("WB-R1");
    consent.mutable_consent()->set_carrier_uscc(kCarrier);
    consent.mutable_consent()->set_revision(FindWaybill("WB-R1")->content_log_index);
    absl::StatusOr<v1::SignedEnvelope> signed_consent =
        envelope::Sign(api::kWaybillContext, consent.SerializeAsString(), producer_);
    ASSERT_TRUE(signed_consent.ok());
    absl::StatusOr<WaybillReceipt> opened = t_->waybills().Apply(*signed_consent);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(Resolve(opened->waybill_code).verdict(), "authentic");
    // The producer authorises the carrier again (a new request: the
    // fixture's first one would be a retry).
    const v1::WaybillRequest again =
        testing::AuthorizeCarrierRequest("authorize-carrier-again", kCarrier, 30);
    absl::StatusOr<v1::SignedEnvelope> signed_again =
        envelope::Sign(api::kWaybillContext, again.SerializeAsString(), producer_);
    ASSERT_TRUE(signed_again.ok());
    ASSERT_TRUE(t_->waybills().Apply(*signed_again).ok());
  }

  // Cancelled: void, and no fresh code is handed out for it.
  const std::string cancelled = Put("WB-R2", {Code(3)});
  v1::WaybillRequest cancel;
  cancel.mutable_cancel()->set_waybill_number("WB-R2");
  cancel.mutable_cancel()->set_reason("the consignee refused the order");
  ASSERT_TRUE(ApplyWaybill(cancel).ok());
  EXPECT_EQ(Resolve(cancelled).verdict(), "cancelled");
  std::optional<WaybillState> state = FindWaybill("WB-R2");
  ASSERT_TRUE(state.has_value());
  absl::StatusOr<const crypto::SigningKey*> key = t_->waybills().CodeKey(*t_->snapshot());
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<std::string> fresh = WaybillCode(*t_->snapshot(), *state, **key);
  EXPECT_EQ(fresh.status().code(), absl::StatusCode::kFailedPrecondition) << fresh.status();

  // Shipped and received whole: closed.
  v1::Event ship = Event(v1::SHIPPING, kProducer, {Code(1), Code(2)});
  ship.set_consignee_uscc(kWarehouse);
  ship.set_waybill_id("WB-R1");
  Ok(producer_, ship);
  Ok(warehouse_, Event(v1::RECEIVING, kWarehouse, {Code(1), Code(2)}));
  EXPECT_EQ(Resolve(second).verdict(), "closed");
}

TEST_F(WaybillCodeResolutionTest, TheCodeShowsThePublicViewWithCrewMasked) {
  Commission({1, 2});
  const v1::ResolveWaybillCodeResponse r = Resolve(Put("WB-P1", {Code(1), Code(2)}));
  ASSERT_EQ(r.verdict(), "authentic") << r.detail();
  const v1::PublicWaybillView& view = r.public_view();
  EXPECT_FALSE(view.vehicle_plate().empty());
  EXPECT_EQ(view.driver().name(), "张三");
  EXPECT_EQ(view.driver().qualification_number(), "35************1233");
  EXPECT_EQ(view.driver().phone(), "138****0001");
  EXPECT_EQ(view.escort().phone(), "138****0002");
  // Nothing of the people's numbers is in the answer whole.
  const std::string bytes = r.SerializeAsString();
  for (const char* secret : {"350102198001011233", "13800000001", "350102198502021237",
                             "13800000002"}) {
    EXPECT_EQ(bytes.find(secret), std::string::npos) << secret;
  }
  ASSERT_EQ(view.goods_size(), 1);
  EXPECT_EQ(view.goods(0).codes(), 2u);
  // Both codes are of one product: its emergency information, once.
  ASSERT_EQ(view.goods(0).emergency_size(), 1);
  EXPECT_FALSE(view.goods(0).emergency(0).product_name_zh().empty());
  EXPECT_FALSE(view.goods(0).emergency(0).emergency_phone().empty());
}

// Every line shows its own products, and codes of a product the line already
// shows cost no lookup: 450 drums of one product on the first line leave the
// second line its information (it was cut off, and said "none registered").
TEST_F(WaybillCodeResolutionTest, EveryLineShowsItsProductsHoweverLongTheLinesBefore) {
  ASSERT_TRUE(t_->IssueBatch(producer_, kProducer, "M01", "B2", 451, "25", "KGM").ok());
  std::vector<std::string> codes;
  for (int i = 1; i <= 451; ++i) codes.push_back(absl::StrCat(kProducer, ".M01.B2.", i));
  Ok(producer_, Event(v1::COMMISSIONING, kProducer, codes));
  const std::string last = codes.back();
  codes.pop_back();
  const v1::ResolveWaybillCodeResponse r = Resolve(PutLines("WB-L2", {codes, {last}}));
  ASSERT_EQ(r.verdict(), "authentic") << r.detail();
  ASSERT_EQ(r.public_view().goods_size(), 2);
  for (int line = 0; line < 2; ++line) {
    ASSERT_EQ(r.public_view().goods(line).emergency_size(), 1) << "line " << line;
    EXPECT_FALSE(r.public_view().goods(line).emergency(0).emergency_phone().empty());
  }
}

TEST(MaskMiddleTest, KeepsTheEndsAndNeverTheWhole) {
  EXPECT_EQ(MaskMiddle("13812345678", 3, 4), "138****5678");
  EXPECT_EQ(MaskMiddle("350102198001011233", 2, 4), "35************1233");
  EXPECT_EQ(MaskMiddle("1234", 3, 4), "**34");
  EXPECT_EQ(MaskMiddle("12", 3, 4), "*2");
  EXPECT_EQ(MaskMiddle("1", 3, 4), "*");
  EXPECT_EQ(MaskMiddle("", 3, 4), "");
  EXPECT_EQ(MaskMiddle("闽A12345", 2, 2), "闽A***45");
}

TEST_F(WaybillCodeResolutionTest, ACodeTheLogDoesNotHoldIsNotIssued) {
  Commission({1});
  const std::string code = Put("WB-R3", {Code(1)});
  absl::StatusOr<crypto::ParsedWaybillCode> parsed = crypto::ParseWaybillCodeUrl(code);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<const crypto::SigningKey*> key = t_->waybills().CodeKey(*t_->snapshot());
  ASSERT_TRUE(key.ok());
  // Signed with the platform's own key, but stating more than the waybill.
  crypto::WaybillCodeClaims heavier = parsed->claims;
  heavier.goods[0].quantity_milli *= 40;
  absl::StatusOr<std::string> forged = crypto::MakeWaybillCodeUrl(heavier, **key);
  ASSERT_TRUE(forged.ok());
  v1::ResolveWaybillCodeResponse r = Resolve(*forged);
  EXPECT_EQ(r.verdict(), "not-issued") << r.detail();
  EXPECT_TRUE(r.waybill_number().empty());
  // A revision that is no content of this waybill, and a waybill the log
  // does not hold.
  crypto::WaybillCodeClaims elsewhere = parsed->claims;
  elsewhere.revision = 1;
  EXPECT_EQ(Resolve(*crypto::MakeWaybillCodeUrl(elsewhere, **key)).verdict(), "not-issued");
  crypto::WaybillCodeClaims unknown = parsed->claims;
  unknown.waybill_number = "WB-NEVER";
  EXPECT_EQ(Resolve(*crypto::MakeWaybillCodeUrl(unknown, **key)).verdict(), "not-issued");
  // Offline verdicts come first.
  std::string altered = code;
  altered.back() = altered.back() == 'A' ? 'B' : 'A';
  EXPECT_NE(Resolve(altered).verdict(), "authentic");
  EXPECT_EQ(Resolve("HTTPS://CL.EXAMPLE.CN/W/").verdict(), "malformed");
}

// A code signed by a label key revoked after the revision it states is the
// log's still: the waybill shows, and the carrier is asked for a code of
// the current key. One signed with that key for a later revision is not.
TEST_F(WaybillCodeResolutionTest, ACodeOfAKeyRevokedSinceShowsItsWaybill) {
  Commission({1});
  const std::string code = Put("WB-RK", {Code(1)});
  absl::StatusOr<crypto::ParsedWaybillCode> parsed = crypto::ParseWaybillCodeUrl(code);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<const crypto::SigningKey*> key = t_->waybills().CodeKey(*t_->snapshot());
  ASSERT_TRUE(key.ok());
  const crypto::SigningKey& revoked = **key;  // the keyring keeps it
  v1::RegistryRequest revoke;
  revoke.set_request_id("revoke-label-key");
  revoke.mutable_revoke_key()->set_key_id(revoked.key_id().ToString());
  revoke.mutable_revoke_key()->set_reason("the key file was copied");
  absl::StatusOr<journal::Receipt> receipt = t_->Registry(admin_, revoke);
  ASSERT_TRUE(receipt.ok()) << receipt.status();

  v1::ResolveWaybillCodeResponse r = Resolve(code);
  EXPECT_EQ(r.verdict(), "revoked-key");
  EXPECT_EQ(r.waybill_number(), "WB-RK");
  EXPECT_EQ(r.status(), v1::OPEN);
  EXPECT_NE(r.detail().find("GetWaybill"), std::string::npos) << r.detail();

  crypto::WaybillCodeClaims later = parsed->claims;
  later.revision = receipt->index + 1;
  r = Resolve(*crypto::MakeWaybillCodeUrl(later, revoked));
  EXPECT_EQ(r.verdict(), "revoked-key");
  EXPECT_TRUE(r.waybill_number().empty()) << "signed after the revocation: nothing shows";
}

}  // namespace
}  // namespace chemledger::waybill
