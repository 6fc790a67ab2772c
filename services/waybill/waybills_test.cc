#include "services/waybill/waybills.h"

#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "crypto/waybill_code.h"
#include "services/common/envelope.h"
#include "services/label/issuance_testing.h"
#include "services/common/identifiers.h"
#include "services/registry/registry_testing.h"
#include "services/waybill/waybill_testing.h"
#include "storage/leveldb_log.h"
#include "tests/subprocess.h"

namespace chemledger::waybill {
namespace {

using registry::Registry;

absl::CivilDay Today() { return registry::testing::TodayInChina(); }

crypto::SigningKey TestKey(int seed) {
  return crypto::SigningKey::FromSeed(
      *crypto::SecretSeed::FromBytes(std::string(32, static_cast<char>(seed))));
}

const std::string kProducer = registry::testing::ExampleUscc("350100");
const std::string kUser = registry::testing::ExampleUscc("330200");
const std::string kCarrier = registry::testing::ExampleUscc("110105");
const std::string kOther = registry::testing::ExampleUscc("440300");

class WaybillTest : public ::testing::Test {
 protected:
  WaybillTest()
      : admin_(TestKey(1)), producer_(TestKey(2)), user_(TestKey(3)), carrier_(TestKey(4)),
        other_(TestKey(5)) {}

  void SetUp() override {
    dir_ = chemledger::testing::FreshTempDir("waybills");
    ASSERT_EQ(mkdir((dir_ + "/keys").c_str(), 0700), 0);
    log_ = *storage::OpenLevelDbLog(dir_ + "/log");
    ASSERT_TRUE(Registry::Bootstrap(log_.get(), "test", "CL.EXAMPLE.CN", "root", admin_).ok());
    keyring_ = *label::LabelKeyring::Open(dir_ + "/keys");
    registry_ = *Registry::Open(log_.get(), &registry::testing::ShippedCatalogue());
    issuer_ = *label::LabelIssuer::Open(log_.get(), registry_.get(), keyring_.get());
    Register(admin_, [&](v1::RegistryRequest* r) {
      *r->mutable_register_enterprise() = registry::testing::ExampleProducer(kProducer);
    });
    Register(admin_, [&](v1::RegistryRequest* r) {
      *r->mutable_register_enterprise() = registry::testing::ExampleEnterprise(kUser, v1::USER, v1::LICENCE_TYPE_UNSPECIFIED);
    });
    Register(admin_, [&](v1::RegistryRequest* r) {
      *r->mutable_register_enterprise() = registry::testing::ExampleEnterprise(kCarrier, v1::CARRIER, v1::ROAD_TRANSPORT);
    });
    Register(admin_, [&](v1::RegistryRequest* r) {
      *r->mutable_register_enterprise() = registry::testing::ExampleEnterprise(kOther, v1::USER, v1::LICENCE_TYPE_UNSPECIFIED);
    });
    for (auto [uscc, key] : {std::make_pair(kProducer, &producer_), std::make_pair(kUser, &user_),
                             std::make_pair(kCarrier, &carrier_), std::make_pair(kOther, &other_)}) {
      Register(admin_, [&](v1::RegistryRequest* r) {
        v1::Actor* a = r->mutable_add_actor();
        a->set_name(absl::StrCat("operator of ", uscc));
        a->set_role(v1::ENTERPRISE_ADMIN);
        a->set_enterprise_uscc(uscc);
        a->set_public_key(key->verifying_key().ToBytes());
      });
    }
    Register(admin_, [&](v1::RegistryRequest* r) {
      *r->mutable_register_product() = registry::testing::ExampleMethanol(kProducer, "M01");
    });
    ASSERT_TRUE(label::testing::AddLabelKey(*registry_, dir_ + "/keys", admin_).ok());
    ASSERT_TRUE(label::testing::IssueBatch(*issuer_, producer_, kProducer, "M01", "B1", 10, "200", "LTR")
                    .ok());
    OpenAll();
    std::vector<std::string> codes;
    for (int i = 1; i <= 6; ++i) codes.push_back(Code(i));
    Event(producer_, v1::COMMISSIONING, kProducer, codes);
  }

  void OpenAll() {
    ledger_.reset();
    book_ = *WaybillBook::Open(log_.get(), registry_.get(), keyring_.get());
    ledger::LedgerOptions options;
    options.waybills = book_->ShippingCheck();
    options.on_event = [this](const v1::Event& e) { book_->OnLedgerEvent(e); };
    ledger_ = *ledger::Ledger::Open(log_.get(), registry_.get(), issuer_.get(), options);
    book_->AttachLedger(ledger_.get());
  }

  template <typename F>
  void Register(const crypto::SigningKey& key, F fill) {
    v1::RegistryRequest r;
    r.set_request_id(absl::StrCat("reg-", ++next_id_));
    fill(&r);
    absl::StatusOr<registry::Receipt> receipt =
        registry_->Apply(*envelope::Sign(registry::kRegistryContext, r.SerializeAsString(), key));
    ASSERT_TRUE(receipt.ok()) << receipt.status();
  }

  static std::string Code(int serial) { return absl::StrCat(kProducer, ".M01.B1.", serial); }

  absl::Status Event(const crypto::SigningKey& key, v1::BusinessStep step, const std::string& uscc,
                     const std::vector<std::string>& codes, const std::string& waybill = "",
                     const std::string& consignee = "") {
    v1::Event e;
    e.set_event_id(absl::StrCat("ev-", ++next_id_));
    e.set_step(step);
    for (const std::string& c : codes) e.add_codes(c);
    clock_ += absl::Seconds(1);
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(clock_));
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(uscc);
    e.mutable_location()->set_site("main");
    e.set_waybill_id(waybill);
    e.set_consignee_uscc(consignee);
    return ledger_->Append(*envelope::Sign(ledger::kEventContext, e.SerializeAsString(), key)).status();
  }

  v1::Waybill Waybill(const std::string& number, const std::vector<std::string>& codes) {
    return testing::ExampleWaybill(number, kCarrier, kProducer, kUser, codes);
  }

  absl::StatusOr<WaybillReceipt> Submit(const crypto::SigningKey& key, v1::WaybillRequest r) {
    if (r.request_id().empty()) r.set_request_id(absl::StrCat("wb-", ++next_id_));
    return book_->Apply(*envelope::Sign(kWaybillContext, r.SerializeAsString(), key));
  }
  absl::StatusOr<WaybillReceipt> Submit(const crypto::SigningKey& key, const v1::Waybill& w) {
    v1::WaybillRequest r;
    *r.mutable_submit() = w;
    return Submit(key, r);
  }
  void Refused(absl::StatusOr<WaybillReceipt> (WaybillTest::*)(const crypto::SigningKey&,
                                                              const v1::Waybill&),
               const crypto::SigningKey& key, const v1::Waybill& w, absl::StatusCode code,
               const std::string& fragment) {
    const uint64_t before = log_->Size();
    absl::StatusOr<WaybillReceipt> r = Submit(key, w);
    ASSERT_FALSE(r.ok()) << "accepted; expected " << fragment;
    EXPECT_EQ(r.status().code(), code) << r.status();
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status();
    EXPECT_EQ(log_->Size(), before);
  }
  void RefusedEvent(absl::Status s, absl::StatusCode code, const std::string& fragment) {
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_NE(s.message().find(fragment), std::string::npos) << s;
  }

  crypto::SigningKey admin_, producer_, user_, carrier_, other_;
  std::string dir_;
  std::unique_ptr<storage::Log> log_;
  std::unique_ptr<label::LabelKeyring> keyring_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<label::LabelIssuer> issuer_;
  std::unique_ptr<WaybillBook> book_;
  std::unique_ptr<ledger::Ledger> ledger_;
  absl::Time clock_ = absl::Now() - absl::Hours(1);
  int next_id_ = 0;
};

TEST_F(WaybillTest, ShippingFollowsTheWaybillAndReceiptClosesIt) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-1", {Code(1), Code(2)})).ok());
  // Not listed, wrong consignee, no waybill: refused by the ledger.
  RefusedEvent(Event(producer_, v1::SHIPPING, kProducer, {Code(3)}, "WB-1", kUser),
               absl::StatusCode::kFailedPrecondition, "does not list " + Code(3));
  RefusedEvent(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-1", kOther),
               absl::StatusCode::kFailedPrecondition, "event.consignee_uscc");
  RefusedEvent(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-9", kUser),
               absl::StatusCode::kFailedPrecondition, "no waybill 'WB-9'");
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-1", kUser).ok());
  // The carrier departs and arrives.
  v1::WaybillRequest depart;
  depart.mutable_depart()->set_waybill_number("WB-1");
  ASSERT_TRUE(Submit(carrier_, depart).ok());
  v1::WaybillRequest arrive;
  arrive.mutable_arrive()->set_waybill_number("WB-1");
  ASSERT_TRUE(Submit(carrier_, arrive).ok());
  // Receipt by the wrong enterprise is refused; by the consignee, accepted.
  RefusedEvent(Event(other_, v1::RECEIVING, kOther, {Code(1)}),
               absl::StatusCode::kPermissionDenied, "consigned to " + kUser);
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}).ok());
  EXPECT_EQ(book_->Find("WB-1")->status, v1::ARRIVED) << "partly received stays open";
  EXPECT_EQ(book_->Find("WB-1")->received.size(), 1u);
  // Arrived waybills accept no more shipping.
  RefusedEvent(Event(producer_, v1::SHIPPING, kProducer, {Code(2)}, "WB-1", kUser),
               absl::StatusCode::kFailedPrecondition, "ARRIVED");
}

TEST_F(WaybillTest, ReceivingEverythingClosesTheWaybill) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-2", {Code(1), Code(2)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1), Code(2)}, "WB-2", kUser).ok());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}).ok());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(2)}).ok());
  EXPECT_EQ(book_->Find("WB-2")->status, v1::CLOSED);
  // Closed: the codes are free for a new waybill (a new journey).
  OpenAll();
  EXPECT_EQ(book_->Find("WB-2")->status, v1::CLOSED) << "rebuilt from the log";
}

TEST_F(WaybillTest, APackageIsOnAtMostOneOpenWaybillAndCancelStopsShipping) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-3", {Code(3)})).ok());
  Refused(&WaybillTest::Submit, carrier_, Waybill("WB-4", {Code(3)}),
          absl::StatusCode::kFailedPrecondition, "is already on open waybill WB-3");
  v1::WaybillRequest cancel;
  cancel.mutable_cancel()->set_waybill_number("WB-3");
  cancel.mutable_cancel()->set_reason("truck broke down");
  ASSERT_TRUE(Submit(carrier_, cancel).ok());
  RefusedEvent(Event(producer_, v1::SHIPPING, kProducer, {Code(3)}, "WB-3", kUser),
               absl::StatusCode::kFailedPrecondition, "CANCELLED");
  // Cancelled, the code may go on another waybill.
  EXPECT_TRUE(Submit(carrier_, Waybill("WB-4", {Code(3)})).ok());
}

TEST_F(WaybillTest, OnlyTheCarrierSubmitsAndGoodsMustMatchTheProducts) {
  Refused(&WaybillTest::Submit, producer_, Waybill("WB-5", {Code(4)}),
          absl::StatusCode::kPermissionDenied, "only the carrier's actors");
  v1::Waybill wrong = Waybill("WB-5", {Code(4)});
  wrong.mutable_goods(0)->set_un_number("1203");
  Refused(&WaybillTest::Submit, carrier_, wrong, absl::StatusCode::kInvalidArgument,
          "waybill.goods[0]: UN 1203");
  v1::Waybill not_custody = Waybill("WB-5", {Code(4)});
  not_custody.mutable_consignor()->set_uscc(kOther);
  Refused(&WaybillTest::Submit, carrier_, not_custody, absl::StatusCode::kFailedPrecondition,
          "is not in the custody of the consignor");
  v1::Waybill bad_plate = Waybill("WB-5", {Code(4)});
  bad_plate.mutable_vehicle()->set_plate("ABC");
  Refused(&WaybillTest::Submit, carrier_, bad_plate, absl::StatusCode::kInvalidArgument,
          "waybill.vehicle.plate");
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-5", {Code(4)})).ok());
  Refused(&WaybillTest::Submit, carrier_, Waybill("WB-5", {Code(5)}),
          absl::StatusCode::kAlreadyExists, "waybill.waybill_number");
}

TEST_F(WaybillTest, RetriesReturnTheOriginalResult) {
  v1::WaybillRequest r;
  r.set_request_id("carrier-batch-1");
  *r.mutable_submit() = Waybill("WB-6", {Code(6)});
  absl::StatusOr<WaybillReceipt> first = Submit(carrier_, r);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<WaybillReceipt> again = Submit(carrier_, r);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->log_index, first->log_index);
  r.mutable_submit()->set_emergency_phone("0591-11111111");
  EXPECT_EQ(Submit(carrier_, r).status().code(), absl::StatusCode::kAlreadyExists);
}

// Submissions and amendments come back with the waybill's code, signed with
// the platform's label key, which verifies offline against the label trust
// list; an amendment makes a new code with a later revision.
TEST_F(WaybillTest, SubmissionsComeWithASignedWaybillCode) {
  absl::StatusOr<WaybillReceipt> submitted = Submit(carrier_, Waybill("WB-Q1", {Code(1), Code(2)}));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const crypto::TrustList trust = issuer_->MakeTrustList(Today());
  crypto::WaybillCodeCheck check = crypto::VerifyWaybillCode(submitted->waybill_code, trust);
  ASSERT_EQ(check.verdict, crypto::LabelVerdict::kAuthentic) << check.detail << submitted->waybill_code;
  EXPECT_EQ(check.code->claims.waybill_number, "WB-Q1");
  EXPECT_EQ(check.code->claims.carrier_uscc, kCarrier);
  EXPECT_EQ(check.code->claims.vehicle_plate, "闽A12345");
  EXPECT_EQ(check.code->claims.trailer_plate, "闽A1234挂");
  EXPECT_EQ(check.code->claims.revision, submitted->log_index);
  ASSERT_EQ(check.code->claims.goods.size(), 1u);
  EXPECT_EQ(check.code->claims.goods[0].un_number, "1230");
  EXPECT_EQ(check.code->claims.goods[0].codes, 2u);
  EXPECT_EQ(check.code->claims.goods[0].quantity_milli, 400000u);

  v1::WaybillRequest amend;
  *amend.mutable_amend() = Waybill("WB-Q1", {Code(1), Code(2)});
  amend.mutable_amend()->mutable_vehicle()->set_plate("闽A54321");
  absl::StatusOr<WaybillReceipt> amended = Submit(carrier_, amend);
  ASSERT_TRUE(amended.ok()) << amended.status();
  check = crypto::VerifyWaybillCode(amended->waybill_code, trust);
  ASSERT_EQ(check.verdict, crypto::LabelVerdict::kAuthentic) << check.detail;
  EXPECT_EQ(check.code->claims.vehicle_plate, "闽A54321");
  EXPECT_EQ(check.code->claims.revision, amended->log_index);
  EXPECT_EQ(*book_->WaybillCode(*book_->Find("WB-Q1"), **book_->CodeKey()), amended->waybill_code);

  v1::WaybillRequest depart;
  depart.mutable_depart()->set_waybill_number("WB-Q1");
  absl::StatusOr<WaybillReceipt> departed = Submit(carrier_, depart);
  ASSERT_TRUE(departed.ok()) << departed.status();
  EXPECT_TRUE(departed->waybill_code.empty());
  // After a restart the same waybill gets the same code.
  OpenAll();
  EXPECT_EQ(*book_->WaybillCode(*book_->Find("WB-Q1"), **book_->CodeKey()), amended->waybill_code);
}

// A batch is checked in order against the book as its earlier requests leave
// it, and written once: a waybill submitted early in the batch departs later
// in it, a second waybill for the same package is refused, a repeated
// request gets the first one's receipt, and refused requests write nothing.
TEST_F(WaybillTest, ABatchSeesItsOwnEarlierRequestsAndWritesOnce) {
  std::vector<v1::WaybillRequest> requests(7);
  requests[0].set_request_id("b-0");
  *requests[0].mutable_submit() = Waybill("WB-B1", {Code(1), Code(2)});
  requests[1].set_request_id("b-1");
  *requests[1].mutable_submit() = Waybill("WB-B2", {Code(1)});  // Code(1) is on WB-B1
  requests[2].set_request_id("b-2");
  requests[2].mutable_depart()->set_waybill_number("WB-B1");
  requests[3] = requests[0];                                     // a repeat
  requests[4].set_request_id("b-4");
  *requests[4].mutable_submit() = Waybill("WB-B3", {Code(3)});
  requests[4].mutable_submit()->mutable_driver()->set_qualification_number("");
  requests[5].set_request_id("b-5");
  requests[5].mutable_cancel()->set_waybill_number("WB-B1");   // departed: may still cancel
  requests[5].mutable_cancel()->set_reason("consignee closed");
  requests[6].set_request_id("b-6");
  *requests[6].mutable_submit() = Waybill("WB-B4", {Code(1)});  // free again after the cancel
  std::vector<v1::SignedEnvelope> envelopes;
  for (const auto& r : requests) {
    envelopes.push_back(*envelope::Sign(kWaybillContext, r.SerializeAsString(), carrier_));
  }
  envelopes.push_back(envelopes[6]);
  envelopes.back().set_payload(envelopes.back().payload() + " ");  // signature no longer matches
  std::vector<const v1::SignedEnvelope*> pointers;
  for (const auto& e : envelopes) pointers.push_back(&e);

  const uint64_t before = log_->Size();
  std::vector<absl::StatusOr<WaybillReceipt>> results = book_->ApplyBatch(pointers);
  ASSERT_EQ(results.size(), envelopes.size());
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kFailedPrecondition) << results[1].status();
  EXPECT_NE(results[1].status().message().find("already on open waybill WB-B1"), std::string::npos)
      << results[1].status();
  ASSERT_TRUE(results[2].ok()) << results[2].status();
  ASSERT_TRUE(results[3].ok()) << results[3].status();
  EXPECT_TRUE(results[3]->replayed);
  EXPECT_EQ(results[3]->log_index, results[0]->log_index);
  EXPECT_EQ(results[4].status().code(), absl::StatusCode::kInvalidArgument) << results[4].status();
  EXPECT_NE(results[4].status().message().find("waybill.driver.qualification_number"),
            std::string::npos) << results[4].status();
  ASSERT_TRUE(results[5].ok()) << results[5].status();
  ASSERT_TRUE(results[6].ok()) << results[6].status();
  EXPECT_EQ(results[7].status().code(), absl::StatusCode::kUnauthenticated) << results[7].status();
  EXPECT_EQ(results[0]->log_index, before);
  EXPECT_EQ(results[2]->log_index, before + 1);
  EXPECT_EQ(results[6]->log_index, before + 3);
  EXPECT_EQ(log_->Size(), before + 4) << "four accepted, one write each, nothing for the refused";
  EXPECT_EQ(book_->Find("WB-B1")->status, v1::CANCELLED);
  EXPECT_EQ(book_->Find("WB-B1")->log_index, before + 2);
  EXPECT_FALSE(book_->Find("WB-B2").has_value());
  EXPECT_EQ(book_->Find("WB-B4")->status, v1::OPEN);
  // The log replays to the same book, and the batch sent again gets the
  // same results.
  OpenAll();
  EXPECT_EQ(book_->Find("WB-B1")->status, v1::CANCELLED);
  EXPECT_EQ(book_->Find("WB-B4")->log_index, before + 3);
  std::vector<absl::StatusOr<WaybillReceipt>> again = book_->ApplyBatch(pointers);
  ASSERT_EQ(again.size(), results.size());
  for (size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].status().code(), results[i].status().code()) << i << ": " << again[i].status();
    if (results[i].ok() && again[i].ok()) {
      EXPECT_EQ(again[i]->log_index, results[i]->log_index) << i;
      EXPECT_TRUE(again[i]->replayed) << i;
    }
  }
  EXPECT_EQ(log_->Size(), before + 4);
  // Shipping under the one open waybill works; under the cancelled, not.
  RefusedEvent(Event(producer_, v1::SHIPPING, kProducer, {Code(2)}, "WB-B1", kUser),
               absl::StatusCode::kFailedPrecondition, "CANCELLED");
  EXPECT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-B4", kUser).ok());
}

}  // namespace
}  // namespace chemledger::waybill
