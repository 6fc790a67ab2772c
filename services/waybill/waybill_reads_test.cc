// WaybillReads (waybill_reads.h) on a real store (testing/test_ledger.h):
// who reads a waybill, a listing and the vehicles in a park, without the
// network. The gRPC adapter's part (read credentials) is tested in
// tests/waybill_e2e_test.cc and tests/scan_page_e2e_test.cc.

#include "services/waybill/waybill_reads.h"

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "gtest/gtest.h"
#include "services/common/envelope.h"
#include "services/common/page_cursor.h"
#include "services/registry/registry_state.h"
#include "services/registry/registry_testing.h"
#include "services/waybill/waybill_testing.h"
#include "testing/test_ledger.h"

namespace chemledger::waybill {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;

const std::string kProducer = registry::testing::ExampleUscc("350100");  // consignor
const std::string kUser = registry::testing::ExampleUscc("330200");      // consignee
const std::string kCarrier = registry::testing::ExampleUscc("110105");
const std::string kOtherCarrier = registry::testing::ExampleUscc("310000");
const std::string kOther = registry::testing::ExampleUscc("440300");  // party to nothing

class WaybillReadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t_ = TestLedger::Create("waybill_reads", admin_);
    ASSERT_TRUE(t_->RegisterEnterprise(admin_, registry::testing::ExampleProducer(kProducer)).ok());
    for (const auto& [uscc, role, licence] :
         {std::make_tuple(kUser, v1::USER, v1::LICENCE_TYPE_UNSPECIFIED),
          std::make_tuple(kCarrier, v1::CARRIER, v1::ROAD_TRANSPORT),
          std::make_tuple(kOtherCarrier, v1::CARRIER, v1::ROAD_TRANSPORT),
          std::make_tuple(kOther, v1::USER, v1::LICENCE_TYPE_UNSPECIFIED)}) {
      ASSERT_TRUE(
          t_->RegisterEnterprise(admin_, registry::testing::ExampleEnterprise(uscc, role, licence))
              .ok());
    }
    for (const auto& [uscc, key] :
         {std::make_pair(kProducer, &producer_), std::make_pair(kUser, &user_),
          std::make_pair(kCarrier, &carrier_), std::make_pair(kOtherCarrier, &other_carrier_),
          std::make_pair(kOther, &other_)}) {
      ASSERT_TRUE(t_->AddActor(admin_, uscc, v1::ENTERPRISE_ADMIN, *key).ok());
    }
    ASSERT_TRUE(
        t_->RegisterProduct(admin_, registry::testing::ExampleMethanol(kProducer, "M01")).ok());
    ASSERT_TRUE(t_->AddLabelKey(admin_).ok());
    ASSERT_TRUE(t_->IssueBatch(producer_, kProducer, "M01", "B1", 10, "200", "LTR").ok());
    std::vector<std::string> codes;
    for (int i = 1; i <= 10; ++i) codes.push_back(Code(i));
    ASSERT_NO_FATAL_FAILURE(Commission("commission", codes));
    ASSERT_TRUE(t_->AuthorizeCarrier(producer_, kCarrier).ok());
    ASSERT_TRUE(t_->AuthorizeCarrier(producer_, kOtherCarrier).ok());
    reads_ = std::make_unique<WaybillReads>(&t_->waybills());
  }

  static std::string Code(int serial) { return absl::StrCat(kProducer, ".M01.B1.", serial); }

  // The producer commissions `codes` at its site "main", now.
  void Commission(const std::string& event_id, const std::vector<std::string>& codes) {
    v1::Event commissioning;
    commissioning.set_event_id(event_id);
    commissioning.set_step(v1::COMMISSIONING);
    for (const std::string& code : codes) commissioning.add_codes(code);
    commissioning.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    commissioning.set_event_time_offset_minutes(480);
    commissioning.mutable_location()->set_enterprise_uscc(kProducer);
    commissioning.mutable_location()->set_site("main");
    absl::StatusOr<v1::SignedEnvelope> signed_event =
        envelope::Sign(api::kEventContext, commissioning.SerializeAsString(), producer_);
    ASSERT_TRUE(signed_event.ok());
    absl::Status committed = t_->ledger().Append(*signed_event).status();
    ASSERT_TRUE(committed.ok()) << committed;
  }

  absl::StatusOr<WaybillReceipt> Submit(const crypto::SigningKey& key, v1::WaybillRequest r) {
    r.set_request_id(absl::StrCat("wb-", ++next_id_));
    absl::StatusOr<v1::SignedEnvelope> e =
        envelope::Sign(api::kWaybillContext, r.SerializeAsString(), key);
    if (!e.ok()) return e.status();
    return t_->waybills().Apply(*e);
  }
  void SubmitWaybill(const std::string& number, int code, const std::string& carrier = kCarrier,
                     const std::string& plate = "闽A12345") {
    v1::WaybillRequest r;
    *r.mutable_submit() = testing::ExampleWaybill(number, carrier, kProducer, kUser, {Code(code)});
    r.mutable_submit()->mutable_vehicle()->set_plate(plate);
    absl::StatusOr<WaybillReceipt> done =
        Submit(carrier == kCarrier ? carrier_ : other_carrier_, std::move(r));
    ASSERT_TRUE(done.ok()) << done.status();
  }
  // Registers a regulator of `department` whose jurisdiction is `region`
  // ("" for the whole country), signing with `key`.
  void AddRegulator(const crypto::SigningKey& key, v1::Department department,
                    const std::string& region) {
    v1::RegistryRequest r;
    *r.mutable_add_actor() =
        registry::testing::ExampleRegulator(department, region, key.verifying_key());
    absl::StatusOr<journal::Receipt> added = t_->Registry(admin_, r);
    ASSERT_TRUE(added.ok()) << added.status();
  }
  v1::Actor ActorOf(const crypto::SigningKey& key) {
    absl::StatusOr<v1::Actor> actor = registry::ActiveSigner(*t_->snapshot(), key.key_id());
    EXPECT_TRUE(actor.ok()) << actor.status();
    return actor.ok() ? *actor : v1::Actor();
  }
  absl::StatusOr<v1::WaybillRecord> Get(const crypto::SigningKey& reader, const std::string& number,
                                        const std::string& carrier = "") {
    v1::GetWaybillRequest r;
    r.set_waybill_number(number);
    r.set_carrier_uscc(carrier);
    return reads_->GetWaybill(*t_->snapshot(), ActorOf(reader), r);
  }
  // Every waybill number `reader` lists with `request`, page by page of
  // `page_size`, each page at the first page's snapshot.
  std::vector<std::string> ListAll(const crypto::SigningKey& reader,
                                   v1::ListWaybillsRequest request, int page_size,
                                   int* pages = nullptr) {
    std::shared_ptr<const storage::Snapshot> at = t_->snapshot();
    request.set_page_size(page_size);
    std::vector<std::string> numbers;
    std::string after;
    for (int page = 1;; ++page) {
      absl::StatusOr<WaybillReads::ListWaybillsPage> got =
          reads_->ListWaybills(*at, ActorOf(reader), request, after);
      EXPECT_TRUE(got.ok()) << got.status();
      if (!got.ok()) return numbers;
      EXPECT_EQ(got->response.log_size(), at->size());
      EXPECT_LE(got->response.waybills_size(), page_size);
      for (const v1::WaybillRecord& w : got->response.waybills()) {
        numbers.push_back(w.waybill().waybill_number());
        EXPECT_EQ(w.changes_size(), 0) << "a listing carries no changes";
      }
      if (got->resume_after.empty()) {
        if (pages != nullptr) *pages = page;
        return numbers;
      }
      after = got->resume_after;
    }
  }

  const crypto::SigningKey admin_ = TestKey(1);
  const crypto::SigningKey producer_ = TestKey(2);
  const crypto::SigningKey user_ = TestKey(3);
  const crypto::SigningKey carrier_ = TestKey(4);
  const crypto::SigningKey other_carrier_ = TestKey(5);
  const crypto::SigningKey other_ = TestKey(6);
  std::unique_ptr<TestLedger> t_;
  std::unique_ptr<WaybillReads> reads_;
  int next_id_ = 0;
};

TEST_F(WaybillReadsTest, ThePartiesReadAWaybillWithItsCodeAndEverySignedChange) {
  ASSERT_NO_FATAL_FAILURE(SubmitWaybill("YD-1", 1));
  v1::WaybillRequest depart;
  depart.mutable_depart()->set_waybill_number("YD-1");
  ASSERT_TRUE(Submit(carrier_, depart).ok());
  for (const crypto::SigningKey* party : {&carrier_, &producer_, &user_}) {
    absl::StatusOr<v1::WaybillRecord> got = Get(*party, "YD-1", kCarrier);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->waybill().carrier_uscc(), kCarrier);
    EXPECT_EQ(got->status(), v1::DEPARTED);
    EXPECT_FALSE(got->waybill_code().empty()) << "an open waybill has its code";
    // The submission and the departure, each as its entry's exact bytes.
    ASSERT_EQ(got->changes_size(), 2);
    for (const v1::WaybillChange& change : got->changes()) {
      absl::StatusOr<std::string> entry = t_->snapshot()->Entry(change.log_index());
      ASSERT_TRUE(entry.ok());
      EXPECT_EQ(change.entry(), *entry);
      v1::LogEntry parsed;
      EXPECT_TRUE(parsed.ParseFromString(change.entry()));
    }
    EXPECT_EQ(got->log_index(), got->changes(1).log_index());
    EXPECT_EQ(got->revision(), got->changes(0).log_index());
  }
  // Without the carrier: the one numbered so that the reader may read.
  absl::StatusOr<v1::WaybillRecord> by_number = Get(user_, "YD-1");
  ASSERT_TRUE(by_number.ok()) << by_number.status();
  EXPECT_EQ(by_number->waybill().waybill_number(), "YD-1");
}

TEST_F(WaybillReadsTest, WhoMayNotReadLearnsNotEvenWhetherItExists) {
  ASSERT_NO_FATAL_FAILURE(SubmitWaybill("YD-1", 1));
  absl::StatusOr<v1::WaybillRecord> there = Get(other_, "YD-1", kCarrier);
  absl::StatusOr<v1::WaybillRecord> not_there = Get(other_, "YD-NONE", kCarrier);
  EXPECT_TRUE(absl::IsPermissionDenied(there.status())) << there.status();
  EXPECT_EQ(there.status(), not_there.status()) << "the same refusal either way";
  EXPECT_NE(there.status().message().find("carrier, consignor, consignee or a regulator"),
            std::string::npos)
      << there.status();
  // Nor by number alone.
  EXPECT_TRUE(absl::IsPermissionDenied(Get(other_, "YD-1").status()));
  // A regulator who oversees everything is told what is not there.
  const crypto::SigningKey national = TestKey(20);
  ASSERT_NO_FATAL_FAILURE(AddRegulator(national, v1::EMERGENCY_MANAGEMENT, ""));
  absl::StatusOr<v1::WaybillRecord> missing = Get(national, "YD-NONE", kCarrier);
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find("waybill_number: no waybill 'YD-NONE'"),
            std::string::npos);
  EXPECT_TRUE(Get(national, "YD-1", kCarrier).ok());
  // A national regulator whose department does not read this waybill is
  // told it is there and not its to read, by number alone as with the
  // carrier named; one that is not there is NOT_FOUND either way.
  const crypto::SigningKey market = TestKey(24);
  ASSERT_NO_FATAL_FAILURE(AddRegulator(market, v1::MARKET_REGULATION, ""));
  EXPECT_TRUE(absl::IsPermissionDenied(Get(market, "YD-1", kCarrier).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(Get(market, "YD-1").status()))
      << Get(market, "YD-1").status();
  EXPECT_TRUE(absl::IsNotFound(Get(market, "YD-NONE").status()));
  EXPECT_TRUE(absl::IsNotFound(Get(market, "YD-NONE", kCarrier).status()));
}

TEST_F(WaybillReadsTest, ARegulatorReadsItsDepartmentsWaybillsWithAPartyInItsJurisdiction) {
  ASSERT_NO_FATAL_FAILURE(SubmitWaybill("YD-1", 1));
  const crypto::SigningKey zhejiang = TestKey(21);   // the consignee's province
  const crypto::SigningKey guangdong = TestKey(22);  // no party there
  const crypto::SigningKey ecology = TestKey(23);    // reads waste only
  ASSERT_NO_FATAL_FAILURE(AddRegulator(zhejiang, v1::TRANSPORT, "33"));
  ASSERT_NO_FATAL_FAILURE(AddRegulator(guangdong, v1::TRANSPORT, "44"));
  ASSERT_NO_FATAL_FAILURE(AddRegulator(ecology, v1::ECOLOGY_ENVIRONMENT, ""));
  EXPECT_TRUE(Get(zhejiang, "YD-1", kCarrier).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(Get(guangdong, "YD-1", kCarrier).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(Get(ecology, "YD-1", kCarrier).status()))
      << "methanol is not waste";
  // In listings alike.
  v1::ListWaybillsRequest all;
  EXPECT_EQ(ListAll(zhejiang, all, 100), std::vector<std::string>{"YD-1"});
  EXPECT_TRUE(ListAll(guangdong, all, 100).empty());
  EXPECT_TRUE(ListAll(ecology, all, 100).empty());
}

// 公安 reads the waybills of controlled goods, told from the products they
// list: 易制爆 goods (sulphur) need no permit, so a waybill of them names
// none, and 公安 reads it all the same; a waybill of methanol it does not.
TEST_F(WaybillReadsTest, PublicSecurityReadsWaybillsOfGoodsThatNeedNoPermit) {
  ASSERT_NO_FATAL_FAILURE(SubmitWaybill("YD-M", 1));
  v1::Product sulphur = registry::testing::ExampleMethanol(kProducer, "S01");
  sulphur.set_name_zh("硫磺");
  sulphur.set_name_en("Sulphur");
  sulphur.set_cas("7704-34-9");
  sulphur.set_un_number("1350");
  sulphur.set_hazard_class("4.1");
  sulphur.set_packing_group("III");
  sulphur.set_catalogue_number(1290);
  sulphur.clear_ghs_pictograms();
  sulphur.add_ghs_pictograms("GHS02");
  sulphur.clear_hazard_statements();
  sulphur.add_hazard_statements("H228");
  sulphur.clear_control_flags();
  sulphur.add_control_flags("易制爆");
  absl::Status registered = t_->RegisterProduct(admin_, sulphur);
  ASSERT_TRUE(registered.ok()) << registered;
  ASSERT_TRUE(t_->IssueBatch(producer_, kProducer, "S01", "B1", 1, "25", "KGM").ok());
  const std::string bag = absl::StrCat(kProducer, ".S01.B1.1");
  ASSERT_NO_FATAL_FAILURE(Commission("commission-sulphur", {bag}));
  v1::WaybillRequest r;
  *r.mutable_submit() =
      testing::ExampleWaybill("YD-S", kCarrier, kProducer, kUser, {bag}, 25000, "KGM");
  v1::GoodsLine* g = r.mutable_submit()->mutable_goods(0);
  g->set_un_number("1350");
  g->set_proper_shipping_name("硫磺 SULPHUR");
  g->set_hazard_class("4.1");
  g->set_packing_group("III");
  absl::StatusOr<WaybillReceipt> submitted = Submit(carrier_, std::move(r));
  ASSERT_TRUE(submitted.ok()) << submitted.status();

  const crypto::SigningKey police = TestKey(24);
  ASSERT_NO_FATAL_FAILURE(AddRegulator(police, v1::PUBLIC_SECURITY, ""));
  EXPECT_TRUE(Get(police, "YD-S", kCarrier).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(Get(police, "YD-M", kCarrier).status()))
      << "methanol is not a controlled good";
  EXPECT_EQ(ListAll(police, v1::ListWaybillsRequest(), 100), std::vector<std::string>{"YD-S"});
}

TEST_F(WaybillReadsTest, ANumberTwoCarriersUseNeedsTheCarrierWhenBothAreReadable) {
  ASSERT_NO_FATAL_FAILURE(SubmitWaybill("YD-SAME", 1, kCarrier));
  ASSERT_NO_FATAL_FAILURE(SubmitWaybill("YD-SAME", 2, kOtherCarrier));
  // The consignor is party to both.
  absl::StatusOr<v1::WaybillRecord> both = Get(producer_, "YD-SAME");
  EXPECT_TRUE(absl::IsInvalidArgument(both.status())) << both.status();
  EXPECT_NE(both.status().message().find("carrier_uscc: several waybills numbered 'YD-SAME'"),
            std::string::npos)
      << both.status();
  absl::StatusOr<v1::WaybillRecord> named = Get(producer_, "YD-SAME", kOtherCarrier);
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->waybill().carrier_uscc(), kOtherCarrier);
  // Each carrier is party to its own only.
  absl::StatusOr<v1::WaybillRecord> own = Get(other_carrier_, "YD-SAME");
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->waybill().carrier_uscc(), kOtherCarrier);
}

TEST_F(WaybillReadsTest, RefusalsNameTheField) {
  absl::StatusOr<v1::WaybillRecord> unnamed = Get(carrier_, "");
  EXPECT_TRUE(absl::IsInvalidArgument(unnamed.status())) << unnamed.status();
  EXPECT_NE(unnamed.status().message().find("waybill_number: required"), std::string::npos);
  v1::ListWaybillsRequest too_big;
  too_big.set_page_size(100000);
  absl::StatusOr<WaybillReads::ListWaybillsPage> page =
      reads_->ListWaybills(*t_->snapshot(), ActorOf(carrier_), too_big, "");
  EXPECT_TRUE(absl::IsInvalidArgument(page.status())) << page.status();
  EXPECT_NE(page.status().message().find("page_size"), std::string::npos) << page.status();
  absl::StatusOr<v1::VehiclesInPark> no_park =
      reads_->ListVehiclesInPark(*t_->snapshot(), ActorOf(carrier_), {});
  EXPECT_TRUE(absl::IsInvalidArgument(no_park.status())) << no_park.status();
  EXPECT_NE(no_park.status().message().find("park_id: required"), std::string::npos);
}

TEST_F(WaybillReadsTest, AListingGoesPageByPageAtOneSnapshotAndFilters) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_NO_FATAL_FAILURE(
        SubmitWaybill(absl::StrCat("YD-", i), i, kCarrier, i == 3 ? "闽A99999" : "闽A12345"));
  }
  const std::set<std::string> all = {"YD-1", "YD-2", "YD-3", "YD-4", "YD-5"};
  int pages = 0;
  std::vector<std::string> listed = ListAll(carrier_, {}, 2, &pages);
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), all);
  EXPECT_EQ(listed.size(), 5u) << "each once";
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ListAll(user_, {}, 100).size(), 5u);
  EXPECT_TRUE(ListAll(other_, {}, 100).empty()) << "party to none";
  v1::ListWaybillsRequest by_plate;
  by_plate.set_vehicle_plate("闽A99999");
  EXPECT_EQ(ListAll(producer_, by_plate, 100), std::vector<std::string>{"YD-3"});
  // A regulator's listing through the index of the party it names.
  const crypto::SigningKey national = TestKey(20);
  ASSERT_NO_FATAL_FAILURE(AddRegulator(national, v1::TRANSPORT, ""));
  v1::ListWaybillsRequest of_consignee;
  of_consignee.set_consignee_uscc(kUser);
  EXPECT_EQ(ListAll(national, of_consignee, 2).size(), 5u);
  of_consignee.set_consignee_uscc(kOther);
  EXPECT_TRUE(ListAll(national, of_consignee, 2).empty());
  v1::ListWaybillsRequest of_carrier;
  of_carrier.set_carrier_uscc(kOtherCarrier);
  EXPECT_TRUE(ListAll(national, of_carrier, 2).empty());
  // Departures in a window: all of them left now.
  v1::ListWaybillsRequest departed;
  departed.set_departure_from(absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
  departed.set_departure_to(absl::ToUnixSeconds(absl::Now() + absl::Hours(1)));
  EXPECT_EQ(ListAll(carrier_, departed, 100).size(), 5u);
  departed.set_departure_from(absl::ToUnixSeconds(absl::Now() + absl::Hours(1)));
  departed.set_departure_to(0);
  EXPECT_TRUE(ListAll(carrier_, departed, 100).empty());
  // A page read at the first page's snapshot does not see a later waybill.
  std::shared_ptr<const storage::Snapshot> first = t_->snapshot();
  v1::ListWaybillsRequest one;
  one.set_page_size(4);
  absl::StatusOr<WaybillReads::ListWaybillsPage> page1 =
      reads_->ListWaybills(*first, ActorOf(carrier_), one, "");
  ASSERT_TRUE(page1.ok() && !page1->resume_after.empty());
  ASSERT_NO_FATAL_FAILURE(SubmitWaybill("YD-6", 6));
  absl::StatusOr<WaybillReads::ListWaybillsPage> page2 =
      reads_->ListWaybills(*first, ActorOf(carrier_), one, page1->resume_after);
  ASSERT_TRUE(page2.ok()) << page2.status();
  EXPECT_EQ(page2->response.waybills_size(), 1);
  EXPECT_TRUE(page2->resume_after.empty());
}

TEST_F(WaybillReadsTest, APageTokenCarriesItsSnapshotAndNothingElseOpens) {
  const WaybillListPosition position{42, absl::StrCat(kCarrier, "/YD-9")};
  absl::StatusOr<WaybillListPosition> opened = OpenListWaybillsToken(ListWaybillsToken(position));
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->log_size, 42u);
  EXPECT_EQ(opened->after, position.after);
  // Not sealed by this process; sealed, but not a size and a position.
  for (const std::string& bad : std::vector<std::string>{
           "", "42:x", "garbage", std::string(200, 'A'), SealPageCursor("no colon"),
           SealPageCursor("x:y"), SealPageCursor(":y")}) {
    absl::StatusOr<WaybillListPosition> refused = OpenListWaybillsToken(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << bad << ": " << refused.status();
    EXPECT_NE(refused.status().message().find("page_token"), std::string::npos) << refused.status();
  }
}

TEST_F(WaybillReadsTest, AResponderReadsAWaybillOnlyAfterBreakingGlassForIt) {
  ASSERT_NO_FATAL_FAILURE(SubmitWaybill("YD-1", 1));
  const crypto::SigningKey responder = TestKey(30);
  ASSERT_TRUE(t_->AddActor(admin_, "", v1::RESPONDER, responder).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(Get(responder, "YD-1", kCarrier).status()));
  v1::RegistryRequest glass;
  glass.mutable_break_glass()->set_carrier_uscc(kCarrier);
  glass.mutable_break_glass()->set_waybill_number("YD-1");
  glass.mutable_break_glass()->set_reason("122 事故: tanker leaking");
  ASSERT_TRUE(t_->Registry(responder, glass).ok());
  absl::StatusOr<v1::WaybillRecord> read = Get(responder, "YD-1", kCarrier);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->waybill().goods(0).un_number(), "1230");
  // The grant names the carrier's waybill: by number alone it is not used.
  EXPECT_TRUE(absl::IsPermissionDenied(Get(responder, "YD-1").status()));
  // Nor after it lapsed.
  WaybillReads later(&t_->waybills(), [] { return absl::Now() + absl::Hours(24 * 30); });
  v1::GetWaybillRequest r;
  r.set_waybill_number("YD-1");
  r.set_carrier_uscc(kCarrier);
  EXPECT_TRUE(
      absl::IsPermissionDenied(later.GetWaybill(*t_->snapshot(), ActorOf(responder), r).status()));
}

TEST_F(WaybillReadsTest, AParksGatesAndItsRegulatorsReadWhoIsInside) {
  v1::RegistryRequest park;
  *park.mutable_register_park() = registry::testing::ExamplePark("FZ-CHEM");
  ASSERT_TRUE(t_->Registry(admin_, park).ok());
  *park.mutable_register_park() = registry::testing::ExamplePark("XM-CHEM");
  ASSERT_TRUE(t_->Registry(admin_, park).ok());
  const crypto::SigningKey gate = TestKey(40);
  const crypto::SigningKey other_gate = TestKey(41);
  for (const auto& [key, park_id] :
       {std::make_pair(&gate, "FZ-CHEM"), std::make_pair(&other_gate, "XM-CHEM")}) {
    v1::RegistryRequest add;
    *add.mutable_add_actor() = registry::testing::ExampleActor(
        absl::StrCat("gate of ", park_id), v1::PARK_GATE, "", key->verifying_key());
    add.mutable_add_actor()->set_park_id(park_id);
    ASSERT_TRUE(t_->Registry(admin_, add).ok());
  }
  ASSERT_NO_FATAL_FAILURE(SubmitWaybill("YD-GATE", 1));
  v1::WaybillRequest entry;
  v1::GatePassage* g = entry.mutable_gate();
  g->set_waybill_number("YD-GATE");
  g->set_carrier_uscc(kCarrier);
  g->set_park_id("FZ-CHEM");
  g->set_gate_id("G1");
  g->set_direction(v1::GatePassage::ENTRY);
  g->mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  absl::StatusOr<WaybillReceipt> entered = Submit(gate, entry);
  ASSERT_TRUE(entered.ok()) << entered.status();

  v1::ListVehiclesInParkRequest fz;
  fz.set_park_id("FZ-CHEM");
  const auto read = [&](const crypto::SigningKey& reader) {
    return reads_->ListVehiclesInPark(*t_->snapshot(), ActorOf(reader), fz);
  };
  absl::StatusOr<v1::VehiclesInPark> inside = read(gate);
  ASSERT_TRUE(inside.ok()) << inside.status();
  ASSERT_EQ(inside->vehicles_size(), 1);
  EXPECT_EQ(inside->vehicles(0).waybill_number(), "YD-GATE");
  EXPECT_EQ(inside->vehicles(0).carrier_uscc(), kCarrier);
  EXPECT_EQ(inside->vehicles(0).vehicle_plate(), "闽A12345");
  EXPECT_EQ(inside->vehicles(0).log_index(), entered->log_index);
  ASSERT_EQ(inside->vehicles(0).un_numbers_size(), 1);
  EXPECT_EQ(inside->vehicles(0).un_numbers(0), "1230");
  EXPECT_EQ(inside->log_size(), t_->snapshot()->size());
  // Transport regulators of the whole country and of the park's province;
  // one of another province; a regulator of a department that does not read
  // vehicles; another park's gate; an enterprise.
  const crypto::SigningKey transport = TestKey(42);
  const crypto::SigningKey fujian = TestKey(44);
  const crypto::SigningKey guangdong = TestKey(45);
  const crypto::SigningKey market = TestKey(43);
  ASSERT_NO_FATAL_FAILURE(AddRegulator(transport, v1::TRANSPORT, ""));
  ASSERT_NO_FATAL_FAILURE(AddRegulator(fujian, v1::TRANSPORT, "35"));
  ASSERT_NO_FATAL_FAILURE(AddRegulator(guangdong, v1::TRANSPORT, "44"));
  ASSERT_NO_FATAL_FAILURE(AddRegulator(market, v1::MARKET_REGULATION, ""));
  EXPECT_TRUE(read(transport).ok()) << read(transport).status();
  EXPECT_TRUE(read(fujian).ok()) << read(fujian).status();
  for (const crypto::SigningKey* refused : {&guangdong, &market, &other_gate, &carrier_}) {
    absl::StatusOr<v1::VehiclesInPark> no = read(*refused);
    EXPECT_TRUE(absl::IsPermissionDenied(no.status())) << no.status();
    EXPECT_NE(no.status().message().find("park_id: the vehicles inside a park"), std::string::npos);
  }

  // The carrier amends the waybill's vehicle (nothing shipped yet): the
  // vehicle inside is still the one the gate let in.
  v1::WaybillRequest amend;
  *amend.mutable_amend() =
      testing::ExampleWaybill("YD-GATE", kCarrier, kProducer, kUser, {Code(1)});
  amend.mutable_amend()->mutable_vehicle()->set_plate("闽A99999");
  absl::StatusOr<WaybillReceipt> amended = Submit(carrier_, amend);
  ASSERT_TRUE(amended.ok()) << amended.status();
  ASSERT_EQ(Get(carrier_, "YD-GATE")->waybill().vehicle().plate(), "闽A99999");
  inside = read(gate);
  ASSERT_TRUE(inside.ok()) << inside.status();
  ASSERT_EQ(inside->vehicles_size(), 1);
  EXPECT_EQ(inside->vehicles(0).vehicle_plate(), "闽A12345");
}

}  // namespace
}  // namespace chemledger::waybill
