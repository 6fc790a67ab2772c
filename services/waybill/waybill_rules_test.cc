// WaybillRules (waybill_rules.h) through the whole write path: signed
// WaybillRequests through WaybillBook, ledger events through Ledger, on a
// real store (testing/test_ledger.h); the state read back with
// waybill_state.h at snapshots.

#include "services/waybill/waybill_rules.h"

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "crypto/label.h"
#include "crypto/trust_list.h"
#include "crypto/waybill_code.h"
#include "gtest/gtest.h"
#include "journal/journal.h"
#include "services/common/envelope.h"
#include "services/common/refusal.h"
#include "services/label/issuance.h"
#include "services/label/label_resolution.h"
#include "services/ledger/ledger.h"
#include "services/registry/registry_testing.h"
#include "services/waybill/waybill_state.h"
#include "services/waybill/waybill_testing.h"
#include "services/waybill/waybills.h"
#include "testing/test_ledger.h"

namespace chemledger::waybill {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;

const std::string kProducer = registry::testing::ExampleUscc("350100");
const std::string kUser = registry::testing::ExampleUscc("330200");
const std::string kCarrier = registry::testing::ExampleUscc("110105");
const std::string kOther = registry::testing::ExampleUscc("440300");

class WaybillRulesTest : public ::testing::Test {
 protected:
  WaybillRulesTest()
      : admin_(TestKey(1)), producer_(TestKey(2)), user_(TestKey(3)), carrier_(TestKey(4)),
        other_(TestKey(5)) {}

  void SetUp() override {
    t_ = TestLedger::Create("waybill_rules", admin_);
    ASSERT_TRUE(t_->RegisterEnterprise(admin_, registry::testing::ExampleProducer(kProducer)).ok());
    ASSERT_TRUE(t_->RegisterEnterprise(admin_, registry::testing::ExampleEnterprise(
                                                   kUser, v1::USER, v1::LICENCE_TYPE_UNSPECIFIED))
                    .ok());
    ASSERT_TRUE(t_->RegisterEnterprise(admin_, registry::testing::ExampleEnterprise(
                                                   kCarrier, v1::CARRIER, v1::ROAD_TRANSPORT))
                    .ok());
    ASSERT_TRUE(t_->RegisterEnterprise(admin_, registry::testing::ExampleEnterprise(
                                                   kOther, v1::USER, v1::LICENCE_TYPE_UNSPECIFIED))
                    .ok());
    for (auto [uscc, key] : {std::make_pair(kProducer, &producer_), std::make_pair(kUser, &user_),
                             std::make_pair(kCarrier, &carrier_), std::make_pair(kOther, &other_)}) {
      absl::Status s =
          t_->AddActor(admin_, uscc, v1::ENTERPRISE_ADMIN, *key, absl::StrCat("operator of ", uscc));
      ASSERT_TRUE(s.ok()) << s;
    }
    ASSERT_TRUE(t_->RegisterProduct(admin_, registry::testing::ExampleMethanol(kProducer, "M01")).ok());
    absl::StatusOr<crypto::KeyId> label_key = t_->AddLabelKey(admin_);
    ASSERT_TRUE(label_key.ok()) << label_key.status();
    label_key_ = *label_key;
    absl::StatusOr<label::Issuance> issued =
        t_->IssueBatch(producer_, kProducer, "M01", "B1", 10, "200", "LTR");
    ASSERT_TRUE(issued.ok()) << issued.status();
    claims_ = issued->claims;
    std::vector<std::string> codes;
    for (int i = 1; i <= 6; ++i) codes.push_back(Code(i));
    absl::Status commissioned = Event(producer_, v1::COMMISSIONING, kProducer, codes);
    ASSERT_TRUE(commissioned.ok()) << commissioned;
    // The producer lets the carrier's waybills open at once (consent by
    // countersigning is tested below).
    absl::Status authorized = t_->AuthorizeCarrier(producer_, kCarrier);
    ASSERT_TRUE(authorized.ok()) << authorized;
  }

  static std::string Code(int serial) { return absl::StrCat(kProducer, ".M01.B1.", serial); }

  absl::Status Event(const crypto::SigningKey& key, v1::BusinessStep step, const std::string& uscc,
                     const std::vector<std::string>& codes, const std::string& waybill = "",
                     const std::string& consignee = "") {
    return EventWith(key, step, uscc, codes, [&](v1::Event* e) {
      e->set_waybill_id(waybill);
      e->set_consignee_uscc(consignee);
    });
  }
  // An event of `step` on `codes`, signed by `key` for `uscc`, with `fill`
  // setting what its step needs besides (ids "ev-<n>", one second apart).
  absl::Status EventWith(const crypto::SigningKey& key, v1::BusinessStep step,
                         const std::string& uscc, const std::vector<std::string>& codes,
                         const std::function<void(v1::Event*)>& fill) {
    v1::Event e;
    e.set_event_id(absl::StrCat("ev-", ++next_id_));
    e.set_step(step);
    for (const std::string& c : codes) e.add_codes(c);
    clock_ += absl::Seconds(1);
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(clock_));
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(uscc);
    e.mutable_location()->set_site("main");
    fill(&e);
    absl::StatusOr<v1::SignedEnvelope> signed_event =
        envelope::Sign(api::kEventContext, e.SerializeAsString(), key);
    if (!signed_event.ok()) return signed_event.status();
    return t_->ledger().Append(*signed_event).status();
  }
  // `uscc`'s event `wrong` declared an error by `key`.
  absl::Status DeclareError(const crypto::SigningKey& key, const std::string& uscc,
                            const std::string& wrong) {
    return EventWith(key, v1::ERROR_DECLARATION, uscc, {}, [&](v1::Event* e) {
      e->set_corrects_event_id(wrong);
      e->set_reason("recorded by mistake");
    });
  }
  // Registers park `park_id` (with gate G1) and `gate` as a gate actor of it.
  void RegisterParkWithGateActor(const std::string& park_id, const crypto::SigningKey& gate) {
    v1::RegistryRequest park;
    park.set_request_id("park-" + park_id);
    *park.mutable_register_park() = registry::testing::ExamplePark(park_id);
    ASSERT_TRUE(t_->Registry(admin_, park).ok());
    v1::RegistryRequest add_gate;
    add_gate.set_request_id("gate-actor-" + park_id);
    *add_gate.mutable_add_actor() = registry::testing::ExampleActor(
        "gate of " + park_id, v1::PARK_GATE, "", gate.verifying_key());
    add_gate.mutable_add_actor()->set_park_id(park_id);
    ASSERT_TRUE(t_->Registry(admin_, add_gate).ok());
  }
  // Under rules epoch 8 (the ledger reopened so): waybill `number` lists
  // codes 1 and 2, code 1 ships, the vehicle departs and arrives.
  void ArriveWithCodeTwoUnshippedUnderEpochEight(const std::string& number) {
    chemledger::testing::TestLedgerOptions epoch8;
    epoch8.rules_epoch = 8;
    t_->Reopen(epoch8);
    ASSERT_TRUE(Submit(carrier_, Waybill(number, {Code(1), Code(2)})).ok());
    ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, number, kUser).ok());
    ASSERT_TRUE(Submit(carrier_, Depart(number)).ok());
    ASSERT_TRUE(Submit(carrier_, Arrive(number)).ok());
  }
  // The platform blacklists `uscc`.
  void Blacklist(const std::string& uscc, const std::string& reason) {
    v1::RegistryRequest blacklist;
    blacklist.set_request_id("blacklist-" + uscc);
    blacklist.mutable_blacklist()->set_enterprise_uscc(uscc);
    blacklist.mutable_blacklist()->set_blacklisted(true);
    blacklist.mutable_blacklist()->set_reason(reason);
    ASSERT_TRUE(t_->Registry(admin_, blacklist).ok());
  }

  v1::Waybill Waybill(const std::string& number, const std::vector<std::string>& codes) {
    return testing::ExampleWaybill(number, kCarrier, kProducer, kUser, codes);
  }

  v1::SignedEnvelope Sign(const crypto::SigningKey& key, const v1::WaybillRequest& r) {
    absl::StatusOr<v1::SignedEnvelope> e =
        envelope::Sign(api::kWaybillContext, r.SerializeAsString(), key);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *std::move(e) : v1::SignedEnvelope();
  }

  absl::StatusOr<WaybillReceipt> Submit(const crypto::SigningKey& key, v1::WaybillRequest r) {
    if (r.request_id().empty()) r.set_request_id(absl::StrCat("wb-", ++next_id_));
    return t_->waybills().Apply(Sign(key, r));
  }
  absl::StatusOr<WaybillReceipt> Submit(const crypto::SigningKey& key, const v1::Waybill& w) {
    v1::WaybillRequest r;
    *r.mutable_submit() = w;
    return Submit(key, std::move(r));
  }

  static v1::WaybillRequest Amend(const v1::Waybill& w) {
    v1::WaybillRequest r;
    *r.mutable_amend() = w;
    return r;
  }
  // `carrier`: empty when the carrier cancels (it is the signer's).
  static v1::WaybillRequest Cancel(const std::string& number, const std::string& reason,
                                   const std::string& carrier = "") {
    v1::WaybillRequest r;
    r.mutable_cancel()->set_waybill_number(number);
    r.mutable_cancel()->set_reason(reason);
    r.mutable_cancel()->set_carrier_uscc(carrier);
    return r;
  }
  static v1::WaybillRequest Depart(const std::string& number) {
    v1::WaybillRequest r;
    r.mutable_depart()->set_waybill_number(number);
    return r;
  }
  static v1::WaybillRequest Arrive(const std::string& number) {
    v1::WaybillRequest r;
    r.mutable_arrive()->set_waybill_number(number);
    return r;
  }

  uint64_t LogSize() { return t_->snapshot()->size(); }

  // `request` signed by `key` is refused with `code` and a message holding
  // `fragment`, and the log does not grow.
  void Refused(const crypto::SigningKey& key, const v1::WaybillRequest& request,
               absl::StatusCode code, const std::string& fragment) {
    const uint64_t before = LogSize();
    absl::StatusOr<WaybillReceipt> r = Submit(key, request);
    ASSERT_FALSE(r.ok()) << "accepted; expected " << fragment;
    EXPECT_EQ(r.status().code(), code) << r.status();
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status();
    EXPECT_EQ(LogSize(), before);
  }
  void Refused(const crypto::SigningKey& key, const v1::Waybill& w, absl::StatusCode code,
               const std::string& fragment) {
    v1::WaybillRequest r;
    *r.mutable_submit() = w;
    Refused(key, r, code, fragment);
  }
  void RefusedEvent(absl::Status s, absl::StatusCode code, const std::string& fragment) {
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_NE(s.message().find(fragment), std::string::npos) << s;
  }

  // The carrier's waybill at the latest snapshot.
  std::optional<WaybillState> Find(const std::string& number,
                                   const std::string& carrier = kCarrier) {
    absl::StatusOr<std::optional<WaybillState>> w = FindWaybill(*t_->snapshot(), carrier, number);
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? *std::move(w) : std::nullopt;
  }
  // The number of the open waybill listing `code` at the latest snapshot
  // ("" for none).
  std::string OpenWaybill(const std::string& code) {
    absl::StatusOr<std::optional<std::string>> open = OpenWaybillOf(*t_->snapshot(), code);
    EXPECT_TRUE(open.ok()) << open.status();
    return open.ok() && *open ? NumberOfRef(**open) : "";
  }

  // Registers the road carrier `uscc` with `key` as its admin's.
  void RegisterCarrier(const std::string& uscc, const crypto::SigningKey& key) {
    ASSERT_TRUE(t_->RegisterEnterprise(admin_, registry::testing::ExampleEnterprise(
                                                   uscc, v1::CARRIER, v1::ROAD_TRANSPORT))
                    .ok());
    ASSERT_TRUE(t_->AddActor(admin_, uscc, v1::ENTERPRISE_ADMIN, key).ok());
  }

  // The state rebuilt from the log is the state the writes left.
  void ExpectStateRebuildsFromTheLog() {
    absl::StatusOr<journal::CheckReport> report = t_->Check();
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->entries, LogSize());
  }

  crypto::SigningKey admin_, producer_, user_, carrier_, other_;
  std::unique_ptr<TestLedger> t_;
  crypto::KeyId label_key_ = TestKey(99).key_id();
  crypto::LabelClaims claims_;  // of batch B1's first label
  absl::Time clock_ = absl::Now() - absl::Hours(1);
  int next_id_ = 0;
};

TEST_F(WaybillRulesTest, AParkGateLetsInOnlyWhatMayTravelAndKnowsWhoIsInside) {
  // A park with one gate, and a gate actor of it.
  ASSERT_NO_FATAL_FAILURE(RegisterParkWithGateActor("FZ-CHEM", TestKey(9)));

  ASSERT_TRUE(Submit(carrier_, Waybill("YD-GATE-1", {Code(1)})).ok());
  v1::Waybill second_truck = Waybill("YD-GATE-2", {Code(2)});
  second_truck.mutable_vehicle()->set_plate("闽A54321");
  ASSERT_TRUE(Submit(carrier_, second_truck).ok());
  const auto passage = [&](const std::string& number, v1::GatePassage::Direction direction,
                           const crypto::SigningKey& key = TestKey(9),
                           absl::Time when = absl::Now(), const std::string& request_id = "",
                           const std::string& park = "FZ-CHEM") {
    v1::WaybillRequest r;
    r.set_request_id(request_id);
    v1::GatePassage* g = r.mutable_gate();
    g->set_waybill_number(number);
    g->set_carrier_uscc(kCarrier);
    g->set_park_id(park);
    g->set_gate_id("G1");
    g->set_direction(direction);
    g->mutable_time()->set_seconds(absl::ToUnixSeconds(when));
    return Submit(key, std::move(r));
  };
  // A gate's clock an hour ahead: refused, naming the field.
  absl::StatusOr<WaybillReceipt> ahead =
      passage("YD-GATE-1", v1::GatePassage::ENTRY, TestKey(9), absl::Now() + absl::Hours(1));
  EXPECT_TRUE(absl::IsInvalidArgument(ahead.status())) << ahead.status();
  EXPECT_NE(ahead.status().message().find("gate.time: "), std::string::npos) << ahead.status();
  absl::StatusOr<WaybillReceipt> in = passage("YD-GATE-1", v1::GatePassage::ENTRY);
  ASSERT_TRUE(in.ok()) << in.status();
  // Another park's gate uses the same request id for its own passage: its
  // ids are its park's, neither blocked by nor telling of this park's.
  {
    ASSERT_NO_FATAL_FAILURE(RegisterParkWithGateActor("XM-CHEM", TestKey(10)));
    absl::StatusOr<WaybillReceipt> first_here =
        passage("YD-GATE-2", v1::GatePassage::ENTRY, TestKey(9), absl::Now(), "PASS-1");
    ASSERT_TRUE(first_here.ok()) << first_here.status();
    absl::StatusOr<WaybillReceipt> first_there =
        passage("YD-GATE-2", v1::GatePassage::ENTRY, TestKey(10), absl::Now(), "PASS-1", "XM-CHEM");
    ASSERT_TRUE(first_there.ok()) << first_there.status();
    EXPECT_FALSE(first_there->replayed);
    EXPECT_NE(first_there->log_index, first_here->log_index);
    // Back out of the first park, so that the rest of the test goes as it did.
    ASSERT_TRUE(passage("YD-GATE-2", v1::GatePassage::EXIT).ok());
  }
  // An exit dated before the entry.
  absl::StatusOr<WaybillReceipt> early =
      passage("YD-GATE-1", v1::GatePassage::EXIT, TestKey(9), absl::Now() - absl::Hours(1));
  EXPECT_TRUE(absl::IsInvalidArgument(early.status())) << early.status();
  EXPECT_NE(early.status().message().find("an exit before the vehicle's entry"), std::string::npos)
      << early.status();
  absl::StatusOr<WaybillReceipt> twice = passage("YD-GATE-1", v1::GatePassage::ENTRY);
  EXPECT_TRUE(absl::IsFailedPrecondition(twice.status())) << twice.status();
  // The same truck on another waybill: inside already, by its plate.
  ASSERT_TRUE(Submit(carrier_, Waybill("YD-GATE-4", {Code(4)})).ok());
  absl::StatusOr<WaybillReceipt> same_truck = passage("YD-GATE-4", v1::GatePassage::ENTRY);
  EXPECT_TRUE(absl::IsFailedPrecondition(same_truck.status())) << same_truck.status();
  EXPECT_NE(same_truck.status().message().find(
                "vehicle 闽A12345 is already inside FZ-CHEM (on waybill YD-GATE-1)"),
            std::string::npos)
      << same_truck.status();
  absl::StatusOr<std::vector<VehicleInPark>> inside = VehiclesInPark(*t_->snapshot(), "FZ-CHEM");
  ASSERT_TRUE(inside.ok()) << inside.status();
  ASSERT_EQ(inside->size(), 1u);
  EXPECT_EQ(inside->front().waybill_ref, WaybillRef(kCarrier, "YD-GATE-1"));
  EXPECT_EQ(inside->front().gate_id, "G1");
  EXPECT_EQ(inside->front().plate, "闽A12345");
  // The passage is one of the waybill's changes.
  absl::StatusOr<std::vector<uint64_t>> changes =
      WaybillChanges(*t_->snapshot(), WaybillRef(kCarrier, "YD-GATE-1"));
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->back(), in->log_index);
  ASSERT_TRUE(passage("YD-GATE-1", v1::GatePassage::EXIT).ok());
  EXPECT_TRUE(VehiclesInPark(*t_->snapshot(), "FZ-CHEM")->empty());
  // Out, the truck enters again on its other waybill.
  ASSERT_TRUE(passage("YD-GATE-4", v1::GatePassage::ENTRY).ok());
  ASSERT_TRUE(passage("YD-GATE-4", v1::GatePassage::EXIT).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(passage("YD-GATE-1", v1::GatePassage::EXIT).status()));

  // Entry refused, with the reason: a cancelled waybill; a blacklisted party.
  v1::WaybillRequest cancel;
  cancel.mutable_cancel()->set_waybill_number("YD-GATE-2");
  cancel.mutable_cancel()->set_reason("plans changed");
  ASSERT_TRUE(Submit(carrier_, std::move(cancel)).ok());
  absl::StatusOr<WaybillReceipt> refused = passage("YD-GATE-2", v1::GatePassage::ENTRY);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("entry refused: waybill 'YD-GATE-2' is CANCELLED"),
            std::string::npos)
      << refused.status();
  ASSERT_TRUE(Submit(carrier_, Waybill("YD-GATE-3", {Code(3)})).ok());
  ASSERT_NO_FATAL_FAILURE(Blacklist(kUser, "storage without licence"));
  refused = passage("YD-GATE-3", v1::GatePassage::ENTRY);
  EXPECT_NE(refused.status().message().find("is blacklisted"), std::string::npos)
      << refused.status();
  // Only the park's gate actors record passages.
  refused = passage("YD-GATE-1", v1::GatePassage::ENTRY, carrier_);
  EXPECT_TRUE(absl::IsPermissionDenied(refused.status())) << refused.status();
}

TEST_F(WaybillRulesTest, ShippingFollowsTheWaybillAndReceiptClosesIt) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-1", {Code(1), Code(2)})).ok());
  // Not listed, wrong consignee, no waybill: refused by the ledger.
  RefusedEvent(Event(producer_, v1::SHIPPING, kProducer, {Code(3)}, "WB-1", kUser),
               absl::StatusCode::kFailedPrecondition, "does not list " + Code(3));
  RefusedEvent(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-1", kOther),
               absl::StatusCode::kFailedPrecondition, "event.consignee_uscc");
  RefusedEvent(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-9", kUser),
               absl::StatusCode::kNotFound, kProducer + " is the consignor of no waybill 'WB-9'");
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-1", kUser).ok());
  std::optional<WaybillState> shipped = Find("WB-1");
  ASSERT_TRUE(shipped.has_value());
  EXPECT_EQ(shipped->shipped, std::set<std::string>{Code(1)});
  // The carrier departs and arrives.
  ASSERT_TRUE(Submit(carrier_, Depart("WB-1")).ok());
  ASSERT_TRUE(Submit(carrier_, Arrive("WB-1")).ok());
  // Receipt by the wrong enterprise is refused; by the consignee, accepted.
  RefusedEvent(Event(other_, v1::RECEIVING, kOther, {Code(1)}),
               absl::StatusCode::kPermissionDenied, "is not a code " + kOther + " holds");
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}).ok());
  std::optional<WaybillState> w = Find("WB-1");
  ASSERT_TRUE(w.has_value());
  // What shipped is received: closed, though code 2 never shipped (rules
  // epoch 9; it stayed ARRIVED for good before, holding code 2).
  EXPECT_EQ(w->status, v1::CLOSED);
  EXPECT_EQ(w->received, std::set<std::string>{Code(1)});
  EXPECT_EQ(OpenWaybill(Code(1)), "") << "received: off the waybill";
  EXPECT_EQ(OpenWaybill(Code(2)), "") << "never shipped: released at arrival";
  // The trip is over: its waybill ships nothing more, and code 2 goes on
  // another one.
  RefusedEvent(Event(producer_, v1::SHIPPING, kProducer, {Code(2)}, "WB-1", kUser),
               absl::StatusCode::kFailedPrecondition, "waybill 'WB-1' is CLOSED");
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-1B", {Code(2)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(2)}, "WB-1B", kUser).ok());
  ExpectStateRebuildsFromTheLog();
}

// Under rules epoch 8 an arrived waybill kept the codes that never shipped
// (entries of that epoch rebuild so).
TEST_F(WaybillRulesTest, BeforeEpochNineAnArrivedWaybillKeptItsUnshippedCodes) {
  ASSERT_NO_FATAL_FAILURE(ArriveWithCodeTwoUnshippedUnderEpochEight("WB-8"));
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}).ok());
  EXPECT_EQ(Find("WB-8")->status, v1::ARRIVED);
  EXPECT_EQ(OpenWaybill(Code(2)), "WB-8");
  ExpectStateRebuildsFromTheLog();
  // Under epoch 9 that trip no longer holds code 2: it goes on a new
  // waybill (which takes it over), and WB-8 stays as it was.
  t_->Reopen(chemledger::testing::TestLedgerOptions());
  absl::StatusOr<WaybillReceipt> relisted = Submit(carrier_, Waybill("WB-9", {Code(2)}));
  ASSERT_TRUE(relisted.ok()) << relisted.status();
  EXPECT_EQ(OpenWaybill(Code(2)), "WB-9");
  EXPECT_EQ(Find("WB-8")->status, v1::ARRIVED);
  ExpectStateRebuildsFromTheLog();
}

// A waybill that arrived under epoch 8 settles at its first receipt under
// epoch 9: the code it never shipped is released and it closes.
TEST_F(WaybillRulesTest, AWaybillArrivedBeforeEpochNineSettlesAtItsNextReceipt) {
  ASSERT_NO_FATAL_FAILURE(ArriveWithCodeTwoUnshippedUnderEpochEight("WB-88"));
  EXPECT_EQ(OpenWaybill(Code(2)), "WB-88");
  t_->Reopen(chemledger::testing::TestLedgerOptions());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}).ok());
  EXPECT_EQ(Find("WB-88")->status, v1::CLOSED);
  EXPECT_EQ(OpenWaybill(Code(2)), "");
  ExpectStateRebuildsFromTheLog();
}

// An arrival with nothing shipped closes the waybill (nothing is left to
// receive), and a shipment declared an error on an arrived waybill releases
// its codes; a receipt declared an error reopens a waybill closed so.
TEST_F(WaybillRulesTest, ArrivedWaybillsSettleWhatTheirTripLeft) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-N", {Code(1)})).ok());
  ASSERT_TRUE(Submit(carrier_, Depart("WB-N")).ok());
  ASSERT_TRUE(Submit(carrier_, Arrive("WB-N")).ok());
  EXPECT_EQ(Find("WB-N")->status, v1::CLOSED);
  EXPECT_EQ(OpenWaybill(Code(1)), "");

  // Two shipped, one received; then the other shipment was a mistake: the
  // waybill, arrived, releases that code and closes.
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-M", {Code(2), Code(3)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(2)}, "WB-M", kUser).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(3)}, "WB-M", kUser).ok());
  const std::string wrong_shipment = absl::StrCat("ev-", next_id_);
  ASSERT_TRUE(Submit(carrier_, Depart("WB-M")).ok());
  ASSERT_TRUE(Submit(carrier_, Arrive("WB-M")).ok());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(2)}).ok());
  const std::string receipt = absl::StrCat("ev-", next_id_);
  EXPECT_EQ(Find("WB-M")->status, v1::ARRIVED);
  ASSERT_TRUE(DeclareError(producer_, kProducer, wrong_shipment).ok());
  EXPECT_EQ(Find("WB-M")->status, v1::CLOSED);
  EXPECT_EQ(OpenWaybill(Code(3)), "");
  // The receipt was wrong too: open again, arrived, waiting for code 2.
  ASSERT_TRUE(DeclareError(user_, kUser, receipt).ok());
  EXPECT_EQ(Find("WB-M")->status, v1::ARRIVED);
  EXPECT_EQ(OpenWaybill(Code(2)), "WB-M");
  ExpectStateRebuildsFromTheLog();
}

// Received before the carrier records the arrival: the arrival closes it.
TEST_F(WaybillRulesTest, AnArrivalAfterEverythingShippedWasReceivedClosesTheWaybill) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-R", {Code(1), Code(2)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-R", kUser).ok());
  ASSERT_TRUE(Submit(carrier_, Depart("WB-R")).ok());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}).ok());
  EXPECT_EQ(Find("WB-R")->status, v1::DEPARTED);
  ASSERT_TRUE(Submit(carrier_, Arrive("WB-R")).ok());
  EXPECT_EQ(Find("WB-R")->status, v1::CLOSED);
  EXPECT_EQ(OpenWaybill(Code(2)), "");
  ExpectStateRebuildsFromTheLog();
}

// A carrier blacklisted after it submitted: its waybill is not consented
// to, and nothing ships under an open one.
TEST_F(WaybillRulesTest, ABlacklistedCarrierTakesNoGoods) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-B1", {Code(1)})).ok());
  ASSERT_NO_FATAL_FAILURE(Blacklist(kCarrier, "vehicles without inspection"));
  const uint64_t before = LogSize();
  RefusedEvent(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-B1", kUser),
               absl::StatusCode::kPermissionDenied,
               "carried by " + kCarrier + ", which is blacklisted");
  EXPECT_EQ(LogSize(), before);
  ExpectStateRebuildsFromTheLog();
}

// From rules epoch 12 a blacklisted carrier's departed waybill, which its
// own actors can no longer arrive, is arrived by a regulator of 交通运输
// whose jurisdiction holds one of its parties: the codes that never shipped
// are free again (used, listed on another waybill), the ones that shipped
// are received and close it. Nobody else may, nor for a carrier in good
// standing, nor under the rules before.
TEST_F(WaybillRulesTest, ARegulatorArrivesABlacklistedCarriersStrandedWaybills) {
  const auto add_regulator = [&](const crypto::SigningKey& key, v1::Department department,
                                 const std::string& region) {
    v1::RegistryRequest r;
    r.set_request_id(absl::StrCat("regulator-", key.key_id().ToString()));
    *r.mutable_add_actor() =
        registry::testing::ExampleRegulator(department, region, key.verifying_key());
    ASSERT_TRUE(t_->Registry(admin_, r).ok());
  };
  const crypto::SigningKey transport_zhejiang = TestKey(40);   // the consignee's province
  const crypto::SigningKey transport_guangdong = TestKey(41);  // no party's
  const crypto::SigningKey emergency = TestKey(42);
  ASSERT_NO_FATAL_FAILURE(add_regulator(transport_zhejiang, v1::TRANSPORT, "33"));
  ASSERT_NO_FATAL_FAILURE(add_regulator(transport_guangdong, v1::TRANSPORT, "44"));
  ASSERT_NO_FATAL_FAILURE(add_regulator(emergency, v1::EMERGENCY_MANAGEMENT, ""));

  // Codes 1 and 2 listed, code 1 shipped, the vehicle departed; codes 3
  // and 4 on another, code 3 shipped, not departed.
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-R", {Code(1), Code(2)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-R", kUser).ok());
  ASSERT_TRUE(Submit(carrier_, Depart("WB-R")).ok());
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-R2", {Code(3), Code(4)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(3)}, "WB-R2", kUser).ok());
  v1::WaybillRequest arrive = Arrive("WB-R");
  arrive.mutable_arrive()->set_carrier_uscc(kCarrier);

  ASSERT_TRUE(Submit(carrier_, Waybill("WB-R3", {Code(5)})).ok());
  // A carrier in good standing arrives its waybills itself, and nobody but a
  // regulator names a carrier in a movement.
  Refused(transport_zhejiang, arrive, absl::StatusCode::kFailedPrecondition,
          "arrive.carrier_uscc: " + kCarrier + " is not blacklisted");
  Refused(carrier_, arrive, absl::StatusCode::kInvalidArgument,
          "arrive.carrier_uscc: only a regulator names the carrier");
  v1::WaybillRequest depart_named = Depart("WB-R3");
  depart_named.mutable_depart()->set_carrier_uscc(kCarrier);
  Refused(carrier_, depart_named, absl::StatusCode::kInvalidArgument,
          "depart.carrier_uscc: must be empty");
  ASSERT_NO_FATAL_FAILURE(Blacklist(kCarrier, "vehicles without inspection"));
  // Its own actors sign nothing now, and code 2 is held by the waybill.
  Refused(carrier_, Arrive("WB-R"), absl::StatusCode::kPermissionDenied, "");
  const auto used = [](v1::Event* e) { e->set_quantity_milli(1000); };
  RefusedEvent(EventWith(producer_, v1::CONSUMING, kProducer, {Code(2)}, used),
               absl::StatusCode::kFailedPrecondition, "is on open waybill WB-R");

  // Not another department, not outside the parties' regions, not without
  // naming the carrier.
  Refused(emergency, arrive, absl::StatusCode::kPermissionDenied, "only a regulator of 交通运输");
  Refused(transport_guangdong, arrive, absl::StatusCode::kPermissionDenied,
          "whose carrier, consignor or consignee its jurisdiction holds");
  // A regional regulator learns nothing of waybills outside its
  // jurisdiction: a number nobody used is refused as one outside it.
  v1::WaybillRequest unused = Arrive("WB-NEVER");
  unused.mutable_arrive()->set_carrier_uscc(kCarrier);
  Refused(transport_guangdong, unused, absl::StatusCode::kPermissionDenied,
          "whose carrier, consignor or consignee its jurisdiction holds");
  Refused(transport_zhejiang, Arrive("WB-R"), absl::StatusCode::kInvalidArgument,
          "arrive.carrier_uscc: is required when a regulator records the arrival");

  // Nor under the rules of epoch 11: the regulator has no waybill of its own.
  chemledger::testing::TestLedgerOptions epoch11;
  epoch11.rules_epoch = 11;
  t_->Reopen(epoch11);
  Refused(transport_zhejiang, arrive, absl::StatusCode::kNotFound, "has no waybill 'WB-R'");
  t_->Reopen(chemledger::testing::TestLedgerOptions());

  const uint64_t before = LogSize();
  absl::StatusOr<WaybillReceipt> arrived = Submit(transport_zhejiang, arrive);
  ASSERT_TRUE(arrived.ok()) << arrived.status();
  EXPECT_EQ(LogSize(), before + 1);
  EXPECT_EQ(Find("WB-R")->status, v1::ARRIVED);
  // Code 2, which never shipped, is free; code 1's receipt closes the trip.
  EXPECT_TRUE(EventWith(producer_, v1::CONSUMING, kProducer, {Code(2)}, used).ok());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}, "WB-R").ok());
  EXPECT_EQ(Find("WB-R")->status, v1::CLOSED);
  // Arrived once: a second arrival is refused by the status.
  Refused(transport_zhejiang, arrive, absl::StatusCode::kFailedPrecondition,
          "a regulator arrives a DEPARTED waybill, or an OPEN one with goods shipped");
  // An OPEN one with nothing shipped is its consignor's to cancel.
  v1::WaybillRequest arrive_unshipped = Arrive("WB-R3");
  arrive_unshipped.mutable_arrive()->set_carrier_uscc(kCarrier);
  Refused(transport_zhejiang, arrive_unshipped, absl::StatusCode::kFailedPrecondition,
          "'WB-R3' is OPEN with nothing shipped: its consignor cancels it");
  // The OPEN one, loaded but never departed (its consignor may no longer
  // cancel it: code 3 shipped), arrives too, and code 4 is free.
  Refused(producer_, Cancel("WB-R2", "carrier blacklisted", kCarrier),
          absl::StatusCode::kFailedPrecondition, "before anything on it has shipped");
  v1::WaybillRequest arrive_open = Arrive("WB-R2");
  arrive_open.mutable_arrive()->set_carrier_uscc(kCarrier);
  ASSERT_TRUE(Submit(transport_zhejiang, arrive_open).ok());
  EXPECT_EQ(Find("WB-R2")->status, v1::ARRIVED);
  EXPECT_TRUE(EventWith(producer_, v1::CONSUMING, kProducer, {Code(4)}, used).ok());
  ExpectStateRebuildsFromTheLog();
}

// A waybill submitted before its carrier was blacklisted waits for a
// consent that is then refused.
TEST_F(WaybillRulesTest, AConsentToABlacklistedCarriersWaybillIsRefused) {
  ASSERT_TRUE(Submit(producer_, testing::WithdrawCarrierRequest("", kCarrier)).ok());
  absl::StatusOr<WaybillReceipt> pending = Submit(carrier_, Waybill("WB-B2", {Code(2)}));
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_EQ(Find("WB-B2")->status, v1::PENDING);
  ASSERT_NO_FATAL_FAILURE(Blacklist(kCarrier, "vehicles without inspection"));
  v1::WaybillRequest consent;
  consent.mutable_consent()->set_waybill_number("WB-B2");
  consent.mutable_consent()->set_carrier_uscc(kCarrier);
  consent.mutable_consent()->set_revision(pending->log_index);
  Refused(producer_, consent, absl::StatusCode::kPermissionDenied,
          "waybill.carrier_uscc: " + kCarrier + " is blacklisted");
  EXPECT_EQ(Find("WB-B2")->status, v1::PENDING);
  ExpectStateRebuildsFromTheLog();
}

// A receipt declared wrong after its code went on another open waybill
// would leave the code on two: refused until that waybill lets it go.
TEST_F(WaybillRulesTest, AReceiptIsNotUndoneUnderAnotherWaybillsListing) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-U1", {Code(1)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-U1", kUser).ok());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}).ok());
  const std::string receipt = absl::StrCat("ev-", next_id_);
  ASSERT_TRUE(t_->AuthorizeCarrier(user_, kCarrier).ok());
  ASSERT_TRUE(
      Submit(carrier_, testing::ExampleWaybill("WB-U2", kCarrier, kUser, kOther, {Code(1)})).ok());
  ASSERT_EQ(OpenWaybill(Code(1)), "WB-U2");
  RefusedEvent(DeclareError(user_, kUser, receipt), absl::StatusCode::kFailedPrecondition,
               "is on open waybill WB-U2");
  EXPECT_EQ(OpenWaybill(Code(1)), "WB-U2");
  ExpectStateRebuildsFromTheLog();
}

// A receipt made under no waybill (the goods came on one cancelled on the
// way) is not undone either while a waybill lists its code, from rules
// epoch 11; under epoch 10 it was, and the code went back in transit while
// the new waybill still listed it.
TEST_F(WaybillRulesTest, AReceiptUnderNoWaybillIsNotUndoneUnderAWaybillsListing) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-N1", {Code(1)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-N1", kUser).ok());
  ASSERT_TRUE(Submit(carrier_, Cancel("WB-N1", "consignee refused the goods")).ok());
  ASSERT_EQ(OpenWaybill(Code(1)), "");
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}).ok());
  const std::string receipt = absl::StrCat("ev-", next_id_);
  ASSERT_TRUE(t_->AuthorizeCarrier(user_, kCarrier).ok());
  ASSERT_TRUE(
      Submit(carrier_, testing::ExampleWaybill("WB-N2", kCarrier, kUser, kOther, {Code(1)})).ok());
  ASSERT_EQ(OpenWaybill(Code(1)), "WB-N2");
  RefusedEvent(DeclareError(user_, kUser, receipt), absl::StatusCode::kFailedPrecondition,
               "is on open waybill WB-N2");
  EXPECT_EQ(OpenWaybill(Code(1)), "WB-N2");
  // An entry of epoch 10 keeps its rule (a store written then rebuilds).
  chemledger::testing::TestLedgerOptions epoch10;
  epoch10.rules_epoch = 10;
  t_->Reopen(epoch10);
  absl::Status undone = DeclareError(user_, kUser, receipt);
  EXPECT_TRUE(undone.ok()) << undone;
  t_->Reopen(chemledger::testing::TestLedgerOptions());
  ExpectStateRebuildsFromTheLog();
}

// The waybill a code was last received under is remembered past that trip:
// from rules epoch 11 a later receipt under no waybill, declared wrong, does
// not reopen it (before, the old, closed waybill went back to DEPARTED with
// the code open on it again).
TEST_F(WaybillRulesTest, AReceiptUnderNoWaybillDoesNotReopenTheWaybillOfAnEarlierTrip) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-T1", {Code(1)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-T1", kUser).ok());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}).ok());
  ASSERT_EQ(Find("WB-T1")->status, v1::CLOSED);
  ASSERT_TRUE(t_->AuthorizeCarrier(user_, kCarrier).ok());
  ASSERT_TRUE(
      Submit(carrier_, testing::ExampleWaybill("WB-T2", kCarrier, kUser, kOther, {Code(1)})).ok());
  ASSERT_TRUE(Event(user_, v1::SHIPPING, kUser, {Code(1)}, "WB-T2", kOther).ok());
  ASSERT_TRUE(Submit(carrier_, Cancel("WB-T2", "consignee refused the goods")).ok());
  ASSERT_TRUE(Event(other_, v1::RECEIVING, kOther, {Code(1)}).ok());
  const std::string receipt = absl::StrCat("ev-", next_id_);
  absl::Status undone = DeclareError(other_, kOther, receipt);
  ASSERT_TRUE(undone.ok()) << undone;
  EXPECT_EQ(Find("WB-T1")->status, v1::CLOSED);
  EXPECT_EQ(Find("WB-T1")->received.count(Code(1)), 1u);
  EXPECT_EQ(OpenWaybill(Code(1)), "");
  ExpectStateRebuildsFromTheLog();
}

// A package lost on the trip and found again is back with its shipper: from
// rules epoch 10 the waybill no longer counts it as shipped, so the arrival
// settles the waybill and the package is free (it was held for good).
TEST_F(WaybillRulesTest, APackageLostOnTheTripAndFoundIsNoLongerOnIt) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-L", {Code(1), Code(2)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1), Code(2)}, "WB-L", kUser).ok());
  ASSERT_TRUE(Submit(carrier_, Depart("WB-L")).ok());
  const auto with_reason = [](v1::Event* e) { e->set_reason("fell off the truck"); };
  ASSERT_TRUE(EventWith(producer_, v1::LOSS_REPORT, kProducer, {Code(1)}, with_reason).ok());
  EXPECT_EQ(OpenWaybill(Code(1)), "WB-L") << "lost on the trip: still the trip's";
  ASSERT_TRUE(EventWith(producer_, v1::FOUND, kProducer, {Code(1)}, with_reason).ok());
  EXPECT_EQ(Find("WB-L")->shipped.count(Code(1)), 0u);
  ASSERT_TRUE(Submit(carrier_, Arrive("WB-L")).ok());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(2)}).ok());
  EXPECT_EQ(Find("WB-L")->status, v1::CLOSED);
  EXPECT_EQ(OpenWaybill(Code(1)), "");
  // Free: it is used at the shipper's.
  ASSERT_TRUE(EventWith(producer_, v1::CONSUMING, kProducer, {Code(1)}, [](v1::Event* e) {
                e->set_quantity_milli(1000);
              }).ok());
  ExpectStateRebuildsFromTheLog();
}

// A waybill that arrived under epoch 8 without shipping a code still names
// it in the open-waybill index, but does not hold it: a receipt of that code
// may be declared wrong under epoch 9, and the code goes back on the
// waybill it was received from.
TEST_F(WaybillRulesTest, AReceiptIsUndoneUnderAWaybillThatArrivedBeforeEpochNineWithoutIt) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-E1", {Code(1)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-E1", kUser).ok());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}).ok());
  const std::string receipt = absl::StrCat("ev-", next_id_);
  ASSERT_TRUE(t_->AuthorizeCarrier(user_, kCarrier).ok());
  chemledger::testing::TestLedgerOptions epoch8;
  epoch8.rules_epoch = 8;
  t_->Reopen(epoch8);
  ASSERT_TRUE(
      Submit(carrier_, testing::ExampleWaybill("WB-E2", kCarrier, kUser, kOther, {Code(1)})).ok());
  ASSERT_TRUE(Submit(carrier_, Depart("WB-E2")).ok());
  ASSERT_TRUE(Submit(carrier_, Arrive("WB-E2")).ok());
  ASSERT_EQ(Find("WB-E2")->status, v1::ARRIVED) << "epoch 8: an arrival settles nothing";
  ASSERT_EQ(OpenWaybill(Code(1)), "WB-E2");

  t_->Reopen(chemledger::testing::TestLedgerOptions());
  absl::Status undone = DeclareError(user_, kUser, receipt);
  ASSERT_TRUE(undone.ok()) << undone;
  EXPECT_EQ(OpenWaybill(Code(1)), "WB-E1") << "back in transit on the waybill it came on";
  EXPECT_EQ(Find("WB-E2")->status, v1::ARRIVED);
  ExpectStateRebuildsFromTheLog();
}

// What an open waybill states stays what ships: a listed package is not
// used, split, packed, voided or disposed of until the waybill lets it go.
TEST_F(WaybillRulesTest, AListedPackageIsNotUsedUntilItsWaybillLetsItGo) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-Q", {Code(1)})).ok());
  const auto on_one = [&](v1::BusinessStep step, const std::function<void(v1::Event*)>& fill) {
    return EventWith(producer_, step, kProducer, {Code(1)}, fill);
  };
  const auto consume = [&] {
    return on_one(v1::CONSUMING, [](v1::Event* e) { e->set_quantity_milli(50000); });
  };
  const auto misprint = [](v1::Event* e) { e->set_reason("misprint"); };
  RefusedEvent(
      consume(), absl::StatusCode::kFailedPrecondition,
      "event.codes[0]: " + Code(1) + " is on open waybill WB-Q of " + kCarrier + " (OPEN)");
  RefusedEvent(on_one(v1::PACKING, [](v1::Event* e) { e->set_parent_code(kProducer + ".LU.P1"); }),
               absl::StatusCode::kFailedPrecondition, "is on open waybill WB-Q");
  RefusedEvent(on_one(v1::VOIDING, misprint), absl::StatusCode::kFailedPrecondition,
               "is on open waybill WB-Q");
  // Departed, it may still ship under the waybill: still held.
  ASSERT_TRUE(Submit(carrier_, Depart("WB-Q")).ok());
  RefusedEvent(consume(), absl::StatusCode::kFailedPrecondition,
               "WB-Q of " + kCarrier + " (DEPARTED)");
  // Arrived without it: released, its holder's again.
  ASSERT_TRUE(Submit(carrier_, Arrive("WB-Q")).ok());
  absl::Status consumed = consume();
  EXPECT_TRUE(consumed.ok()) << consumed;
  // Cancelling lets a package go too.
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-Q2", {Code(2)})).ok());
  RefusedEvent(EventWith(producer_, v1::VOIDING, kProducer, {Code(2)}, misprint),
               absl::StatusCode::kFailedPrecondition, "is on open waybill WB-Q2");
  ASSERT_TRUE(Submit(carrier_, Cancel("WB-Q2", "load changed")).ok());
  absl::Status voided = EventWith(producer_, v1::VOIDING, kProducer, {Code(2)}, misprint);
  EXPECT_TRUE(voided.ok()) << voided;
  ExpectStateRebuildsFromTheLog();
}

// Times a device states are not after the platform's clock (give or take
// five minutes), and a vehicle leaves a park after it entered.
TEST_F(WaybillRulesTest, DepartureAndArrivalAreNotDatedInTheFuture) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-T", {Code(1)})).ok());
  v1::WaybillRequest depart = Depart("WB-T");
  depart.mutable_depart()->mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 3600);
  Refused(carrier_, depart, absl::StatusCode::kInvalidArgument, "depart.time: ");
  depart.mutable_depart()->mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 60);
  ASSERT_TRUE(Submit(carrier_, depart).ok());
  v1::WaybillRequest arrive = Arrive("WB-T");
  arrive.mutable_arrive()->mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 3600);
  Refused(carrier_, arrive, absl::StatusCode::kInvalidArgument, "is later than the platform's");
  ExpectStateRebuildsFromTheLog();
}

// An error declaration undoes a shipment or a receipt in the ledger; the
// waybill book undoes what it noted of it.
TEST_F(WaybillRulesTest, AWrongReceiptOrShipmentDeclaredIsUndoneOnTheWaybillToo) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-E1", {Code(1), Code(2)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1), Code(2)}, "WB-E1", kUser).ok());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}).ok());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(2)}).ok());
  const std::string wrong_receipt = absl::StrCat("ev-", next_id_);
  ASSERT_EQ(Find("WB-E1")->status, v1::CLOSED);
  EXPECT_EQ(OpenWaybill(Code(2)), "");

  // The second receipt was wrong: the waybill is open again, listing it.
  ASSERT_TRUE(DeclareError(user_, kUser, wrong_receipt).ok());
  std::optional<WaybillState> w = Find("WB-E1");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->status, v1::OPEN);
  EXPECT_EQ(w->received, (std::set<std::string>{Code(1)}));
  EXPECT_EQ(w->shipped, (std::set<std::string>{Code(1), Code(2)}));
  EXPECT_EQ(OpenWaybill(Code(2)), "WB-E1");
  // Received again, rightly: closed again.
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(2)}).ok());
  EXPECT_EQ(Find("WB-E1")->status, v1::CLOSED);

  // A wrong shipment: the waybill no longer counts it, and may be amended.
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-E2", {Code(3)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(3)}, "WB-E2", kUser).ok());
  const std::string wrong_shipment = absl::StrCat("ev-", next_id_);
  Refused(carrier_, Amend(Waybill("WB-E2", {Code(3), Code(4)})),
          absl::StatusCode::kFailedPrecondition, "nothing on it has shipped");
  ASSERT_TRUE(DeclareError(producer_, kProducer, wrong_shipment).ok());
  EXPECT_TRUE(Find("WB-E2")->shipped.empty());
  EXPECT_EQ(OpenWaybill(Code(3)), "WB-E2");
  EXPECT_TRUE(Submit(carrier_, Amend(Waybill("WB-E2", {Code(3), Code(4)}))).ok());
  ExpectStateRebuildsFromTheLog();
}

TEST_F(WaybillRulesTest, ReceivingEverythingClosesTheWaybill) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-2", {Code(1), Code(2)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1), Code(2)}, "WB-2", kUser).ok());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}).ok());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(2)}).ok());
  std::optional<WaybillState> w = Find("WB-2");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->status, v1::CLOSED);
  // Closed: the codes are free for a new waybill (a new journey, from the
  // consignee that holds them now).
  EXPECT_EQ(OpenWaybill(Code(1)), "");
  EXPECT_EQ(OpenWaybill(Code(2)), "");
  t_->Reopen();
  w = Find("WB-2");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->status, v1::CLOSED) << "kept in the store";
  absl::StatusOr<WaybillReceipt> onward = Submit(
      carrier_, testing::ExampleWaybill("WB-2A", kCarrier, kUser, kOther, {Code(1), Code(2)}));
  EXPECT_TRUE(onward.ok()) << onward.status();
  ExpectStateRebuildsFromTheLog();
}

TEST_F(WaybillRulesTest, APackageIsOnAtMostOneOpenWaybillAndCancelStopsShipping) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-3", {Code(3)})).ok());
  Refused(carrier_, Waybill("WB-4", {Code(3)}), absl::StatusCode::kFailedPrecondition,
          "cannot be listed: it must be in the consignor's custody, active, not packed and on no other open waybill");
  ASSERT_TRUE(Submit(carrier_, Cancel("WB-3", "truck broke down")).ok());
  EXPECT_EQ(Find("WB-3")->status, v1::CANCELLED);
  RefusedEvent(Event(producer_, v1::SHIPPING, kProducer, {Code(3)}, "WB-3", kUser),
               absl::StatusCode::kFailedPrecondition, "CANCELLED");
  // Cancelled, the code may go on another waybill.
  EXPECT_TRUE(Submit(carrier_, Waybill("WB-4", {Code(3)})).ok());
  EXPECT_EQ(OpenWaybill(Code(3)), "WB-4");
  ExpectStateRebuildsFromTheLog();
}

TEST_F(WaybillRulesTest, OnlyTheCarrierSubmitsAndGoodsMustMatchTheProducts) {
  Refused(producer_, Waybill("WB-5", {Code(4)}), absl::StatusCode::kPermissionDenied,
          "only the carrier's actors");
  v1::Waybill wrong = Waybill("WB-5", {Code(4)});
  wrong.mutable_goods(0)->set_un_number("1203");
  Refused(carrier_, wrong, absl::StatusCode::kInvalidArgument, "waybill.goods[0]: UN 1203");
  // Goods of a consignor that has not authorised this carrier: the waybill
  // is only pending, checks (and tells) nothing about the goods, and
  // reserves none of them.
  v1::Waybill not_custody = Waybill("WB-5X", {Code(4)});
  not_custody.mutable_consignor()->set_uscc(kOther);
  not_custody.mutable_consignor()->set_name(registry::testing::ExampleName(kOther));
  *not_custody.mutable_loader() = not_custody.consignor();
  ASSERT_TRUE(Submit(carrier_, not_custody).ok());
  ASSERT_TRUE(Find("WB-5X").has_value());
  EXPECT_EQ(Find("WB-5X")->status, v1::PENDING);
  EXPECT_EQ(OpenWaybill(Code(4)), "");
  v1::Waybill bad_plate = Waybill("WB-5", {Code(4)});
  bad_plate.mutable_vehicle()->set_plate("ABC");
  Refused(carrier_, bad_plate, absl::StatusCode::kInvalidArgument, "waybill.vehicle.plate");
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-5", {Code(4)})).ok());
  Refused(carrier_, Waybill("WB-5", {Code(5)}), absl::StatusCode::kAlreadyExists,
          "waybill.waybill_number");
  // Only the carrier's actors change it afterwards, too.
  // To anyone else, another enterprise's waybill is none.
  Refused(producer_, Depart("WB-5"), absl::StatusCode::kNotFound,
          "depart.waybill_number: " + kProducer + " has no waybill 'WB-5'");
  ExpectStateRebuildsFromTheLog();
}

// The rules of registry and ledger that new content must meet besides the
// goods: the carrier's licence, registered parties, codes in the ledger and
// listed once.
TEST_F(WaybillRulesTest, TheCarrierNeedsAValidLicenceAndTheCodesMustBeShippable) {
  // An enterprise that is not a carrier may not carry, even signing for
  // itself.
  v1::Waybill not_a_carrier = testing::ExampleWaybill("WB-L1", kOther, kProducer, kUser, {Code(1)});
  Refused(other_, not_a_carrier, absl::StatusCode::kPermissionDenied,
          "waybill.carrier_uscc: " + kOther + " is not registered as a carrier");
  // Nor a carrier whose licence ended yesterday.
  const std::string expired = registry::testing::ExampleUscc("350200");
  const crypto::SigningKey expired_key = TestKey(6);
  ASSERT_TRUE(t_->RegisterEnterprise(admin_, registry::testing::ExampleEnterprise(
                                                 expired, v1::CARRIER, v1::ROAD_TRANSPORT,
                                                 api::TodayInChina() - 1))
                  .ok());
  ASSERT_TRUE(t_->AddActor(admin_, expired, v1::ENTERPRISE_ADMIN, expired_key).ok());
  Refused(expired_key, testing::ExampleWaybill("WB-L1", expired, kProducer, kUser, {Code(1)}),
          absl::StatusCode::kPermissionDenied, "waybill.carrier_uscc: " + expired + " holds no");
  // Parties must be registered.
  const std::string stranger = registry::testing::ExampleUscc("310115");
  Refused(carrier_, testing::ExampleWaybill("WB-L1", kCarrier, kProducer, stranger, {Code(1)}),
          absl::StatusCode::kNotFound, "waybill.consignee.uscc: " + stranger + " is not registered");
  // Codes: in the ledger (serial 7 is issued but not commissioned), listed
  // once.
  Refused(carrier_, Waybill("WB-L1", {Code(7)}), absl::StatusCode::kFailedPrecondition,
          "waybill.goods[0].codes[0]: " + Code(7) + " cannot be listed: it must be in the consignor's custody, active, not packed and on no other open waybill");
  Refused(carrier_, Waybill("WB-L1", {Code(1), Code(1)}), absl::StatusCode::kInvalidArgument,
          "waybill.goods[0].codes[1]: " + Code(1) + " is listed twice");
  // A shipped code is in transit: it goes on no other waybill, even once
  // the one it shipped under is cancelled.
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-L2", {Code(2)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(2)}, "WB-L2", kUser).ok());
  ASSERT_TRUE(Submit(carrier_, Cancel("WB-L2", "consignee refused the goods")).ok());
  Refused(carrier_, Waybill("WB-L3", {Code(2)}), absl::StatusCode::kFailedPrecondition,
          Code(2) + " cannot be listed: it must be in the consignor's custody, active, not packed and on no other open waybill");
  EXPECT_FALSE(Find("WB-L1").has_value());
  EXPECT_FALSE(Find("WB-L3").has_value());
  ExpectStateRebuildsFromTheLog();
}

// 剧毒 goods carry their road transport permit, 易制毒 goods their transport
// permit.
// What the waybill code states, the platform has checked: the registered
// names and licence, the quantities and unit the codes hold, the formats of
// the document numbers.
TEST_F(WaybillRulesTest, WhatTheWaybillStatesIsWhatTheRegistryAndTheLedgerHold) {
  const auto refused = [&](const std::function<void(v1::Waybill*)>& change,
                           absl::StatusCode code, const std::string& fragment) {
    v1::Waybill w = Waybill("WB-FACTS", {Code(1), Code(2)});
    change(&w);
    Refused(carrier_, w, code, fragment);
  };
  const absl::StatusCode invalid = absl::StatusCode::kInvalidArgument;
  refused([](v1::Waybill* w) { w->set_carrier_licence("京交运管许可京字110105999999号"); },
          invalid, "waybill.carrier_licence: '京交运管许可京字110105999999号' is not a 道路运输经营许可证 of");
  refused([](v1::Waybill* w) { w->set_carrier_name("某某物流"); }, invalid,
          "waybill.carrier_name: '某某物流' is not the registered name of " + kCarrier);
  refused([](v1::Waybill* w) { w->mutable_consignor()->set_name("某某化工"); }, invalid,
          "waybill.consignor.name: '某某化工' is not the registered name of " + kProducer);
  refused([](v1::Waybill* w) { w->mutable_consignee()->set_name("某某公司"); }, invalid,
          "waybill.consignee.name");
  // 999 t declared for two 200 L drums; litres the labels state, in kilograms.
  refused([](v1::Waybill* w) { w->mutable_goods(0)->set_quantity_milli(999000000000); }, invalid,
          "waybill.goods[0].quantity_milli: 999000000000 thousandths of LTR is not what its codes "
          "hold now");
  refused([](v1::Waybill* w) { w->mutable_goods(0)->set_unit("KGM"); }, invalid,
          "waybill.goods[0].unit: KGM is not the unit its codes are labelled in");
  // Document numbers in their formats.
  refused([](v1::Waybill* w) { w->mutable_vehicle()->set_transport_certificate("12345"); },
          invalid, "waybill.vehicle.transport_certificate: '12345' must be a 道路运输证号");
  refused([](v1::Waybill* w) {
            w->mutable_driver()->set_qualification_number("350102198001011234");
          },
          invalid, "waybill.driver.qualification_number: '350102198001011234' is not a 居民身份证号");
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-FACTS", {Code(1), Code(2)})).ok());
  // A drum partly used: the line states what is left in it.
  v1::Event use;
  use.set_event_id("ev-use-3");
  use.set_step(v1::CONSUMING);
  use.add_codes(Code(3));
  use.set_quantity_milli(50000);
  clock_ += absl::Seconds(1);
  use.mutable_event_time()->set_seconds(absl::ToUnixSeconds(clock_));
  use.set_event_time_offset_minutes(480);
  use.mutable_location()->set_enterprise_uscc(kProducer);
  use.mutable_location()->set_site("main");
  absl::StatusOr<v1::SignedEnvelope> signed_use =
      envelope::Sign(api::kEventContext, use.SerializeAsString(), producer_);
  ASSERT_TRUE(signed_use.ok());
  ASSERT_TRUE(t_->ledger().Append(*signed_use).ok());
  {
    // The carrier is told the line is wrong; the numbers are the
    // consignor's, kept for the regulator.
    const uint64_t before = LogSize();
    absl::StatusOr<WaybillReceipt> r = Submit(carrier_, Waybill("WB-USED", {Code(3)}));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message().find("150000"), std::string::npos) << r.status();
    EXPECT_NE(FullReason(r.status()).value_or("").find("its codes hold 150000"), std::string::npos)
        << r.status();
    // The full reason reads as a told one does: the field first, no code.
    EXPECT_TRUE(absl::StartsWith(FullReason(r.status()).value_or(""), "waybill.goods[0]"))
        << FullReason(r.status()).value_or("");
    EXPECT_EQ(LogSize(), before);
  }
  v1::Waybill rest = Waybill("WB-USED", {Code(3)});
  rest.mutable_goods(0)->set_quantity_milli(150000);
  ASSERT_TRUE(Submit(carrier_, rest).ok());
  ExpectStateRebuildsFromTheLog();
}

// A waybill opens only with its consignor's consent: countersigned, or by a
// standing authorization of the carrier. Until then it is pending: no code,
// nothing reserved, no departure, no shipment; so a carrier that lists goods
// it was not asked to carry blocks nothing.
TEST_F(WaybillRulesTest, AWaybillOpensOnlyWithItsConsignorsConsent) {
  // (Submit gives each request an id.)
  const auto authorization = [&](bool withdraw) {
    return withdraw ? testing::WithdrawCarrierRequest("", kCarrier)
                    : testing::AuthorizeCarrierRequest("", kCarrier, 30);
  };
  const auto consent = [](const std::string& number, uint64_t revision) {
    v1::WaybillRequest r;
    r.mutable_consent()->set_waybill_number(number);
    r.mutable_consent()->set_carrier_uscc(kCarrier);
    r.mutable_consent()->set_revision(revision);
    return r;
  };
  ASSERT_TRUE(Submit(producer_, authorization(/*withdraw=*/true)).ok());

  absl::StatusOr<WaybillReceipt> first = Submit(carrier_, Waybill("WB-C1", {Code(1)}));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->waybill_code.empty()) << "a pending waybill has no code";
  EXPECT_EQ(Find("WB-C1")->status, v1::PENDING);
  EXPECT_EQ(OpenWaybill(Code(1)), "");
  // Another submission listing the same drum is not blocked by it.
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-C2", {Code(1)})).ok());
  Refused(carrier_, Depart("WB-C1"), absl::StatusCode::kFailedPrecondition,
          "depart.waybill_number: 'WB-C1' is PENDING");
  EXPECT_EQ(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-C1", kUser).code(),
            absl::StatusCode::kFailedPrecondition);

  // Only the consignor consents, to the revision it read.
  Refused(carrier_, consent("WB-C1", first->log_index), absl::StatusCode::kPermissionDenied,
          "only the consignor's actors may");
  Refused(producer_, consent("WB-C1", first->log_index - 1), absl::StatusCode::kFailedPrecondition,
          "consent.revision: 'WB-C1' is at revision");
  absl::StatusOr<WaybillReceipt> consented = Submit(producer_, consent("WB-C1", first->log_index));
  ASSERT_TRUE(consented.ok()) << consented.status();
  EXPECT_FALSE(consented->waybill_code.empty()) << "consent opens it: its code comes back";
  EXPECT_EQ(Find("WB-C1")->status, v1::OPEN);
  EXPECT_EQ(OpenWaybill(Code(1)), "WB-C1");
  // The other waybill cannot be consented to now: the drum is taken.
  Refused(producer_, consent("WB-C2", Find("WB-C2")->content_log_index),
          absl::StatusCode::kFailedPrecondition, "on no other open waybill");
  // The consignor cancels a waybill its goods are on, while not departed.
  ASSERT_TRUE(Submit(producer_, Cancel("WB-C2", "not our carrier", kCarrier)).ok());
  EXPECT_EQ(Find("WB-C2")->status, v1::CANCELLED);

  // An amendment without standing consent needs consent again, and frees
  // what it held meanwhile.
  ASSERT_TRUE(Submit(carrier_, Amend(Waybill("WB-C1", {Code(1), Code(2)}))).ok());
  EXPECT_EQ(Find("WB-C1")->status, v1::PENDING);
  EXPECT_EQ(OpenWaybill(Code(1)), "");

  // A standing authorization: the carrier's waybills open at once.
  ASSERT_TRUE(Submit(producer_, authorization(/*withdraw=*/false)).ok());
  absl::StatusOr<WaybillReceipt> standing = Submit(carrier_, Waybill("WB-C3", {Code(3)}));
  ASSERT_TRUE(standing.ok()) << standing.status();
  EXPECT_EQ(Find("WB-C3")->status, v1::OPEN);
  EXPECT_FALSE(standing->waybill_code.empty());
  ASSERT_TRUE(Submit(carrier_, Depart("WB-C3")).ok());
  Refused(
      producer_, Cancel("WB-C3", "too late", kCarrier), absl::StatusCode::kFailedPrecondition,
      "its consignor cancels it only while PENDING or OPEN and before anything on it has shipped");
  // Another enterprise neither consents nor cancels: to it the waybill is
  // none. The carrier may not consent to its own waybill.
  Refused(user_, consent("WB-C1", Find("WB-C1")->content_log_index),
          absl::StatusCode::kNotFound, "consent.waybill_number: " + kUser + " has no waybill 'WB-C1'");
  Refused(user_, Cancel("WB-C1", "no", kCarrier), absl::StatusCode::kNotFound,
          "cancel.waybill_number: " + kUser + " has no waybill 'WB-C1'");
  // A consignor that does not name the carrier cancels the waybill of that
  // number it is consignor of (as cancellations from before carriers were
  // named did).
  ASSERT_TRUE(Submit(producer_, Cancel("WB-C1", "no longer needed")).ok());
  EXPECT_EQ(Find("WB-C1")->status, v1::CANCELLED);
  ExpectStateRebuildsFromTheLog();
}

// Under the rules of epoch 2 (chemledgerd serve --waybill-consent=off, for
// the deprecation window) a submission opens at once, as it used to.
TEST_F(WaybillRulesTest, WithoutTheConsentRulesAWaybillOpensAtOnce) {
  chemledger::testing::TestLedgerOptions legacy;
  legacy.rules_epoch = 2;
  t_->Reopen(legacy);
  ASSERT_TRUE(Submit(producer_, testing::WithdrawCarrierRequest("", kCarrier)).ok());
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-L", {Code(1)})).ok());
  EXPECT_EQ(Find("WB-L")->status, v1::OPEN);
  ExpectStateRebuildsFromTheLog();
}

TEST_F(WaybillRulesTest, ToxicAndPrecursorGoodsNeedTheirPermits) {
  const v1::Product cyanide = registry::testing::ExampleSodiumCyanide(kProducer, "C01");
  v1::Product acetone = registry::testing::ExampleMethanol(kProducer, "A01");
  acetone.set_name_zh("丙酮");
  acetone.set_name_en("Acetone");
  acetone.set_cas("67-64-1");
  acetone.set_un_number("1090");
  acetone.set_catalogue_number(137);
  acetone.clear_ghs_pictograms();
  acetone.add_ghs_pictograms("GHS02");
  acetone.add_ghs_pictograms("GHS07");
  acetone.clear_hazard_statements();
  acetone.add_hazard_statements("H225");
  acetone.add_hazard_statements("H319");
  acetone.clear_control_flags();
  acetone.add_control_flags("易制毒");
  for (const v1::Product& p : {cyanide, acetone}) {
    absl::Status s = t_->RegisterProduct(producer_, p);
    ASSERT_TRUE(s.ok()) << s;
    absl::StatusOr<label::Issuance> issued =
        t_->IssueBatch(producer_, kProducer, p.product_number(), "B1", 1, "50", "KGM");
    ASSERT_TRUE(issued.ok()) << issued.status();
  }
  const std::string cyanide_code = absl::StrCat(kProducer, ".C01.B1.1");
  const std::string acetone_code = absl::StrCat(kProducer, ".A01.B1.1");
  ASSERT_TRUE(Event(producer_, v1::COMMISSIONING, kProducer, {cyanide_code, acetone_code}).ok());

  v1::Waybill toxic = Waybill("WB-T1", {cyanide_code});
  v1::GoodsLine* g = toxic.mutable_goods(0);
  g->set_un_number("1689");
  g->set_proper_shipping_name("氰化钠 SODIUM CYANIDE, SOLID");
  g->set_hazard_class("6.1");
  g->set_packing_group("I");
  g->set_quantity_milli(50000);
  g->set_unit("KGM");
  Refused(carrier_, toxic, absl::StatusCode::kInvalidArgument,
          "waybill.toxic_permit: 剧毒 goods need their 剧毒化学品道路运输通行证 number");
  toxic.set_toxic_permit("闽公剧通字2026000001号");
  absl::StatusOr<WaybillReceipt> r = Submit(carrier_, toxic);
  EXPECT_TRUE(r.ok()) << r.status();

  v1::Waybill precursor = Waybill("WB-P1", {acetone_code});
  g = precursor.mutable_goods(0);
  g->set_un_number("1090");
  g->set_proper_shipping_name("丙酮 ACETONE");
  g->set_quantity_milli(50000);
  g->set_unit("KGM");
  Refused(carrier_, precursor, absl::StatusCode::kInvalidArgument,
          "waybill.precursor_permit: 易制毒 goods need their transport permit or filing number");
  precursor.set_precursor_permit("闽公易运字2026000001号");
  r = Submit(carrier_, precursor);
  EXPECT_TRUE(r.ok()) << r.status();

  // An amendment is held to the same rule: dropping the permit is refused.
  v1::Waybill no_permit = toxic;
  no_permit.clear_toxic_permit();
  Refused(carrier_, Amend(no_permit), absl::StatusCode::kInvalidArgument, "waybill.toxic_permit");
  EXPECT_EQ(Find("WB-T1")->waybill.toxic_permit(), "闽公剧通字2026000001号");
  ExpectStateRebuildsFromTheLog();
}

// The carrier's licence is checked again as goods are loaded and as the
// vehicle leaves (rules epoch 19), on the day each is recorded: a licence
// revoked since the waybill opened takes no goods and does not depart;
// renewed, it does.
TEST_F(WaybillRulesTest, ACarrierWhoseLicenceWasRevokedTakesNoGoodsAndDoesNotDepart) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-LIC", {Code(1)})).ok());
  const absl::CivilDay today = api::TodayInChina();
  v1::RegistryRequest revoke;
  revoke.set_request_id("revoke-licence");
  v1::LicenceChange* c = revoke.mutable_change_licence();
  c->set_enterprise_uscc(kCarrier);
  c->set_reason("吊销：京交运罚〔2026〕3号");
  c->mutable_end()->set_type(v1::ROAD_TRANSPORT);
  c->mutable_end()->set_number(registry::examples::ExampleLicenceNumber(kCarrier));
  *c->mutable_end()->mutable_ended_on() = api::ToProtoDate(today);
  ASSERT_TRUE(t_->Registry(admin_, revoke).ok());
  RefusedEvent(
      Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-LIC", kUser),
      absl::StatusCode::kPermissionDenied,
      "holds no 道路运输经营许可证 (ROAD_TRANSPORT) valid today: no goods are handed to it");
  Refused(carrier_, Depart("WB-LIC"), absl::StatusCode::kPermissionDenied,
          "depart.waybill_number: its carrier " + kCarrier + " holds no 道路运输经营许可证");
  v1::RegistryRequest renew;
  renew.set_request_id("renew-licence");
  c = renew.mutable_change_licence();
  c->set_enterprise_uscc(kCarrier);
  c->set_reason("重新核发");
  c->mutable_add()->set_type(v1::ROAD_TRANSPORT);
  c->mutable_add()->set_number("京交运管许可京字110105000099号");
  *c->mutable_add()->mutable_valid_from() = api::ToProtoDate(today);
  *c->mutable_add()->mutable_valid_until() = api::ToProtoDate(today + 365);
  ASSERT_TRUE(t_->Registry(admin_, renew).ok());
  absl::Status shipped = Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-LIC", kUser);
  EXPECT_TRUE(shipped.ok()) << shipped;
  absl::StatusOr<WaybillReceipt> departed = Submit(carrier_, Depart("WB-LIC"));
  EXPECT_TRUE(departed.ok()) << departed.status();
  ExpectStateRebuildsFromTheLog();
}

// A line that lists a pallet is checked against every package packed on
// it (rules epoch 19): their products' UN number, class and packing group,
// and their 剧毒 flag asks for the permit; before, a pallet carried
// anything under any line, and its rebuild keeps what it accepted then.
TEST_F(WaybillRulesTest, APalletsPackagesAreCheckedAsIfListedThemselves) {
  const v1::Product cyanide = registry::testing::ExampleSodiumCyanide(kProducer, "C01");
  ASSERT_TRUE(t_->RegisterProduct(producer_, cyanide).ok());
  ASSERT_TRUE(t_->IssueBatch(producer_, kProducer, "C01", "B1", 2, "50", "KGM").ok());
  const std::string drum = absl::StrCat(kProducer, ".C01.B1.1");
  const std::string drum_before = absl::StrCat(kProducer, ".C01.B1.2");
  const std::string pallet = kProducer + ".LU.PAL1";
  const std::string pallet_before = kProducer + ".LU.PAL0";
  ASSERT_TRUE(Event(producer_, v1::COMMISSIONING, kProducer, {drum, drum_before}).ok());
  for (const auto& [code, on] :
       {std::make_pair(drum, pallet), std::make_pair(drum_before, pallet_before)}) {
    absl::Status packed = EventWith(producer_, v1::PACKING, kProducer, {code},
                                    [on = on](v1::Event* e) { e->set_parent_code(on); });
    ASSERT_TRUE(packed.ok()) << packed;
  }
  // A line that says the pallet holds methanol (UN 1230, class 3).
  const auto waybill_of = [&](const std::string& number, const std::string& code) {
    v1::Waybill w = Waybill(number, {code});
    v1::GoodsLine* g = w.mutable_goods(0);
    g->set_quantity_milli(50000);
    g->set_unit("KGM");
    return w;
  };
  Refused(carrier_, waybill_of("WB-PAL", pallet), absl::StatusCode::kInvalidArgument,
          absl::StrCat("waybill.goods[0]: UN 1230 class 3 PG 'II' does not match ", drum,
                       " (packed on ", pallet, ") (UN 1689 class 6.1 PG 'I')"));
  v1::Waybill toxic = waybill_of("WB-PAL", pallet);
  v1::GoodsLine* g = toxic.mutable_goods(0);
  g->set_un_number("1689");
  g->set_proper_shipping_name("氰化钠 SODIUM CYANIDE, SOLID");
  g->set_hazard_class("6.1");
  g->set_packing_group("I");
  Refused(carrier_, toxic, absl::StatusCode::kInvalidArgument,
          "waybill.toxic_permit: 剧毒 goods need their 剧毒化学品道路运输通行证 number");
  toxic.set_toxic_permit("闽公剧通字2026000002号");
  absl::StatusOr<WaybillReceipt> opened = Submit(carrier_, toxic);
  EXPECT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(OpenWaybill(pallet), "WB-PAL");

  // Under epoch 18 the same wrong line was taken, and it rebuilds so.
  chemledger::testing::TestLedgerOptions epoch18;
  epoch18.rules_epoch = 18;
  t_->Reopen(epoch18);
  opened = Submit(carrier_, waybill_of("WB-PAL0", pallet_before));
  EXPECT_TRUE(opened.ok()) << opened.status();
  t_->Reopen(chemledger::testing::TestLedgerOptions());
  ExpectStateRebuildsFromTheLog();
}

// Amend while open and nothing has shipped, never to another carrier; cancel
// while open or departed and nothing received, with a reason; depart when
// open; arrive when departed.
// Each waybill is indexed under its carrier, consignor and consignee; an
// amendment to another consignee moves it. Listings read the index of one
// party, and examine a bounded number of waybills per page.
TEST_F(WaybillRulesTest, WaybillsAreListedByPartyThroughAnIndex) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-P1", {Code(1)})).ok());
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-P2", {Code(2)})).ok());
  ASSERT_TRUE(Submit(carrier_, testing::ExampleWaybill("WB-P3", kCarrier, kProducer, kOther,
                                                       {Code(3)}))
                  .ok());
  const auto numbers = [&](absl::string_view party, const std::string& after, size_t limit,
                           size_t max_examined, std::string* resume) {
    absl::StatusOr<WaybillPage> page = ListWaybillsOf(
        *t_->snapshot(), party, after, limit, [](const WaybillState&) { return true; },
        max_examined);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> out;
    if (!page.ok()) return out;
    for (const WaybillState& w : page->waybills) out.push_back(w.waybill.waybill_number());
    if (resume != nullptr) *resume = page->resume_after;
    return out;
  };
  using Numbers = std::vector<std::string>;
  std::string resume;
  EXPECT_EQ(numbers(kCarrier, "", 10, 100, &resume), (Numbers{"WB-P1", "WB-P2", "WB-P3"}));
  EXPECT_EQ(resume, "");
  EXPECT_EQ(numbers(kProducer, "", 10, 100, nullptr), (Numbers{"WB-P1", "WB-P2", "WB-P3"}));
  EXPECT_EQ(numbers(kUser, "", 10, 100, nullptr), (Numbers{"WB-P1", "WB-P2"}));
  EXPECT_EQ(numbers(kOther, "", 10, 100, nullptr), (Numbers{"WB-P3"}));
  // Paged by limit, and by what a page may examine.
  EXPECT_EQ(numbers(kCarrier, "", 2, 100, &resume), (Numbers{"WB-P1", "WB-P2"}));
  EXPECT_EQ(resume, WaybillRef(kCarrier, "WB-P2"));
  EXPECT_EQ(numbers(kCarrier, resume, 2, 100, &resume), (Numbers{"WB-P3"}));
  EXPECT_EQ(resume, "");
  absl::StatusOr<WaybillPage> picky = ListWaybillsOf(
      *t_->snapshot(), kCarrier, "", 10,
      [](const WaybillState& w) { return w.waybill.waybill_number() == "WB-P3"; }, 2);
  ASSERT_TRUE(picky.ok());
  EXPECT_TRUE(picky->waybills.empty());
  EXPECT_EQ(picky->resume_after, WaybillRef(kCarrier, "WB-P2"))
      << "two examined, none kept: go on after WB-P2";

  // Amended to another consignee: listed under it, no longer under kUser.
  ASSERT_TRUE(Submit(carrier_, Amend(testing::ExampleWaybill("WB-P2", kCarrier, kProducer, kOther,
                                                             {Code(2)})))
                  .ok());
  EXPECT_EQ(numbers(kUser, "", 10, 100, nullptr), (Numbers{"WB-P1"}));
  EXPECT_EQ(numbers(kOther, "", 10, 100, nullptr), (Numbers{"WB-P2", "WB-P3"}));
  // Status changes keep it where it is.
  ASSERT_TRUE(Submit(carrier_, Cancel("WB-P1", "plans changed")).ok());
  EXPECT_EQ(numbers(kUser, "", 10, 100, nullptr), (Numbers{"WB-P1"}));
  ExpectStateRebuildsFromTheLog();
}

// Waybill numbers are unique per carrier: two carriers may use one number;
// each change, shipment and read finds the right one.
TEST_F(WaybillRulesTest, WaybillNumbersAreUniquePerCarrier) {
  const std::string carrier2 = registry::testing::ExampleUscc("110108");
  const crypto::SigningKey carrier2_key = TestKey(7);
  ASSERT_NO_FATAL_FAILURE(RegisterCarrier(carrier2, carrier2_key));
  ASSERT_TRUE(t_->AuthorizeCarrier(producer_, carrier2).ok());
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-N1", {Code(1)})).ok());
  // Another carrier's number is no concern of this one: accepted, and
  // nothing tells it the number is in use elsewhere.
  absl::StatusOr<WaybillReceipt> second = Submit(
      carrier2_key, testing::ExampleWaybill("WB-N1", carrier2, kProducer, kUser, {Code(2)}));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(Find("WB-N1").has_value());
  ASSERT_TRUE(Find("WB-N1", carrier2).has_value());
  EXPECT_EQ(CodesOf(Find("WB-N1", carrier2)->waybill), std::vector<std::string>{Code(2)});
  absl::StatusOr<std::vector<WaybillState>> numbered = WaybillsNumbered(*t_->snapshot(), "WB-N1");
  ASSERT_TRUE(numbered.ok());
  EXPECT_EQ(numbered->size(), 2u);
  // One carrier uses a number once.
  Refused(carrier2_key, testing::ExampleWaybill("WB-N1", carrier2, kProducer, kUser, {Code(3)}),
          absl::StatusCode::kAlreadyExists, "'WB-N1' is already taken");
  // The consignor ships under the number: the waybill that lists the code.
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(2)}, "WB-N1", kUser).ok());
  EXPECT_EQ(Find("WB-N1", carrier2)->shipped, std::set<std::string>{Code(2)});
  EXPECT_TRUE(Find("WB-N1")->shipped.empty());
  // Each carrier's changes reach its own.
  ASSERT_TRUE(Submit(carrier2_key, Depart("WB-N1")).ok());
  EXPECT_EQ(Find("WB-N1", carrier2)->status, v1::DEPARTED);
  EXPECT_EQ(Find("WB-N1")->status, v1::OPEN);
  // A receipt that names the number is of one waybill (rules epoch 16):
  // codes on two carriers' waybills of that number are received apart.
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-N1", kUser).ok());
  const absl::Status both = Event(user_, v1::RECEIVING, kUser, {Code(2), Code(1)}, "WB-N1");
  EXPECT_EQ(both.code(), absl::StatusCode::kFailedPrecondition) << both;
  EXPECT_NE(both.message().find(
                "event.codes: the codes are on different carriers' waybills numbered 'WB-N1'"),
            std::string::npos)
      << both;
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(2)}, "WB-N1").ok());
  EXPECT_EQ(Find("WB-N1", carrier2)->status, v1::CLOSED);
  EXPECT_EQ(OpenWaybill(Code(1)), "WB-N1");
  ExpectStateRebuildsFromTheLog();
}

// Another carrier's pending waybill of the same number, listing the same
// goods (no consent needed to file it), changes nothing for the real one:
// the shipment goes on the open waybill that lists the goods.
TEST_F(WaybillRulesTest, ARivalsPendingWaybillOfTheSameNumberCannotTakeAShipment) {
  const std::string rival = registry::testing::ExampleUscc("110108");
  const crypto::SigningKey rival_key = TestKey(7);
  ASSERT_NO_FATAL_FAILURE(RegisterCarrier(rival, rival_key));
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-R1", {Code(1)})).ok());
  ASSERT_TRUE(
      Submit(rival_key, testing::ExampleWaybill("WB-R1", rival, kProducer, kUser, {Code(1)})).ok());
  EXPECT_EQ(Find("WB-R1", rival)->status, v1::PENDING);
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-R1", kUser).ok());
  EXPECT_EQ(Find("WB-R1")->shipped, std::set<std::string>{Code(1)});
  EXPECT_TRUE(Find("WB-R1", rival)->shipped.empty());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}).ok());
  EXPECT_EQ(Find("WB-R1")->status, v1::CLOSED);
  ExpectStateRebuildsFromTheLog();
}

// A scan of a package in transit by anyone but its carrier, its consignee
// or a regulator is worth a second look (the scan's verdict warns).
TEST_F(WaybillRulesTest, APackageInTransitWarnsScansByOthers) {
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-T9", {Code(1)})).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-T9", kUser).ok());
  crypto::LabelClaims claims = claims_;
  claims.serial = 1;
  absl::StatusOr<const crypto::SigningKey*> key = t_->keyring().Find(label_key_);
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<std::string> url = crypto::MakeLabelUrl(claims, **key);
  ASSERT_TRUE(url.ok()) << url.status();
  const auto warned = [&](const label::Scanner& scanner) {
    absl::StatusOr<v1::ResolveLabelResponse> r =
        label::ResolveLabel(*t_->snapshot(), *url, api::TodayInChina(), scanner);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return false;
    EXPECT_EQ(r->assessment(), "genuine");
    for (const v1::ScanWarning& w : r->scan_warnings()) {
      if (w.kind() == v1::IN_TRANSIT_ELSEWHERE) return true;
    }
    return false;
  };
  const auto actor = [](v1::ActorRole role, const std::string& uscc) {
    v1::Actor a;
    a.set_role(role);
    a.set_enterprise_uscc(uscc);
    return label::Scanner::Actor(a);
  };
  EXPECT_TRUE(warned(label::Scanner::Anyone()));
  EXPECT_TRUE(warned(actor(v1::ENTERPRISE_OPERATOR, kOther)));
  EXPECT_FALSE(warned(actor(v1::ENTERPRISE_OPERATOR, kCarrier)));
  EXPECT_FALSE(warned(actor(v1::ENTERPRISE_ADMIN, kUser)));
  EXPECT_FALSE(warned(actor(v1::REGULATOR, "")));
  // Received: no longer in transit.
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(1)}).ok());
  EXPECT_FALSE(warned(label::Scanner::Anyone()));
}

TEST_F(WaybillRulesTest, EachChangeNeedsTheStatusItChanges) {
  Refused(carrier_, Depart("WB-S9"), absl::StatusCode::kNotFound, "has no waybill 'WB-S9'");
  Refused(carrier_, Amend(Waybill("WB-S9", {Code(1)})), absl::StatusCode::kNotFound,
          "waybill.waybill_number: " + kCarrier + " has no waybill 'WB-S9'");

  absl::StatusOr<WaybillReceipt> submitted = Submit(carrier_, Waybill("WB-S1", {Code(1), Code(2)}));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  Refused(carrier_, Arrive("WB-S1"), absl::StatusCode::kFailedPrecondition,
          "arrive.waybill_number: 'WB-S1' is OPEN: only a DEPARTED waybill arrives");
  Refused(carrier_, Cancel("WB-S1", ""), absl::StatusCode::kInvalidArgument, "cancel.reason");

  // An amendment replaces the codes: the dropped one is free, the new one
  // is on the waybill.
  absl::StatusOr<WaybillReceipt> amended = Submit(carrier_, Amend(Waybill("WB-S1", {Code(1), Code(3)})));
  ASSERT_TRUE(amended.ok()) << amended.status();
  std::optional<WaybillState> w = Find("WB-S1");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->status, v1::OPEN);
  EXPECT_EQ(w->content_log_index, amended->log_index);
  EXPECT_EQ(w->log_index, amended->log_index);
  EXPECT_EQ(OpenWaybill(Code(1)), "WB-S1");
  EXPECT_EQ(OpenWaybill(Code(2)), "");
  EXPECT_EQ(OpenWaybill(Code(3)), "WB-S1");
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-S2", {Code(2)})).ok());

  // Another carrier may not take the waybill over.
  const std::string carrier2 = registry::testing::ExampleUscc("110108");
  const crypto::SigningKey carrier2_key = TestKey(7);
  ASSERT_NO_FATAL_FAILURE(RegisterCarrier(carrier2, carrier2_key));
  v1::Waybill taken_over = testing::ExampleWaybill("WB-S1", carrier2, kProducer, kUser, {Code(1)});
  Refused(carrier2_key, Amend(taken_over), absl::StatusCode::kNotFound,
          "waybill.waybill_number: " + carrier2 + " has no waybill 'WB-S1'");
  Refused(carrier_, Amend(taken_over), absl::StatusCode::kInvalidArgument,
          "waybill.carrier_uscc: an amendment cannot change the carrier");

  // Once something has shipped, the content is fixed.
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-S1", kUser).ok());
  Refused(carrier_, Amend(Waybill("WB-S1", {Code(1), Code(3)})), absl::StatusCode::kFailedPrecondition,
          "can only be amended while open or pending and nothing on it has shipped");

  ASSERT_TRUE(Submit(carrier_, Depart("WB-S1")).ok());
  Refused(carrier_, Depart("WB-S1"), absl::StatusCode::kFailedPrecondition,
          "depart.waybill_number: 'WB-S1' is DEPARTED");
  Refused(carrier_, Amend(Waybill("WB-S1", {Code(1), Code(3)})), absl::StatusCode::kFailedPrecondition,
          "can only be amended while open");
  // Departed, shipping may go on (the rest of the load).
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(3)}, "WB-S1", kUser).ok());
  ASSERT_TRUE(Submit(carrier_, Arrive("WB-S1")).ok());
  Refused(carrier_, Arrive("WB-S1"), absl::StatusCode::kFailedPrecondition,
          "'WB-S1' is ARRIVED: only a DEPARTED waybill arrives");
  Refused(carrier_, Cancel("WB-S1", "too late"), absl::StatusCode::kFailedPrecondition,
          "cancel.waybill_number: 'WB-S1' is ARRIVED");

  // A departed waybill with receipts cannot be cancelled: it closes when
  // the rest is received.
  ASSERT_TRUE(Submit(carrier_, Depart("WB-S2")).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(2)}, "WB-S2", kUser).ok());
  ASSERT_TRUE(Submit(carrier_, Waybill("WB-S3", {Code(4), Code(5)})).ok());
  ASSERT_TRUE(Submit(carrier_, Depart("WB-S3")).ok());
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(4), Code(5)}, "WB-S3", kUser).ok());
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(4)}).ok());
  Refused(carrier_, Cancel("WB-S3", "lost a drum"), absl::StatusCode::kFailedPrecondition,
          "cancel.waybill_number: 'WB-S3' has receipts");
  ASSERT_TRUE(Event(user_, v1::RECEIVING, kUser, {Code(5)}).ok());
  EXPECT_EQ(Find("WB-S3")->status, v1::CLOSED) << "received in full while departed";
  Refused(carrier_, Cancel("WB-S3", "closed"), absl::StatusCode::kFailedPrecondition,
          "cancel.waybill_number: 'WB-S3' is CLOSED");
  Refused(carrier_, Depart("WB-S3"), absl::StatusCode::kFailedPrecondition, "'WB-S3' is CLOSED");
  // Departed and nothing received: may still be cancelled.
  EXPECT_TRUE(Submit(carrier_, Cancel("WB-S2", "consignee closed")).ok());
  EXPECT_EQ(Find("WB-S2")->status, v1::CANCELLED);
  ExpectStateRebuildsFromTheLog();
}

TEST_F(WaybillRulesTest, RetriesReturnTheOriginalResult) {
  v1::WaybillRequest r;
  r.set_request_id("carrier-batch-1");
  *r.mutable_submit() = Waybill("WB-6", {Code(6)});
  absl::StatusOr<WaybillReceipt> first = Submit(carrier_, r);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  absl::StatusOr<WaybillReceipt> again = Submit(carrier_, r);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->log_index, first->log_index);
  // A retry gets its original result, not a check against today's custody:
  // the code has shipped since.
  ASSERT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(6)}, "WB-6", kUser).ok());
  t_->Reopen();
  again = Submit(carrier_, r);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->log_index, first->log_index);
  // The same id with other bytes is refused.
  r.mutable_submit()->set_emergency_phone("0591-11111111");
  Refused(carrier_, r, absl::StatusCode::kAlreadyExists,
          "request.request_id: 'carrier-batch-1' was already used");
  ExpectStateRebuildsFromTheLog();
}

// Submissions and amendments come back with the waybill's code, signed with
// the platform's label key, which verifies offline against the label trust
// list; an amendment makes a new code with a later revision.
TEST_F(WaybillRulesTest, SubmissionsComeWithASignedWaybillCode) {
  absl::StatusOr<WaybillReceipt> submitted =
      Submit(carrier_, Waybill("WB-Q1", {Code(1), Code(2)}));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  absl::StatusOr<crypto::TrustList> trust =
      label::MakeTrustList(*t_->snapshot(), api::TodayInChina());
  ASSERT_TRUE(trust.ok()) << trust.status();
  crypto::WaybillCodeCheck check = crypto::VerifyWaybillCode(submitted->waybill_code, *trust);
  ASSERT_EQ(check.verdict, crypto::LabelVerdict::kAuthentic)
      << check.detail << submitted->waybill_code;
  EXPECT_EQ(check.code->claims.waybill_number, "WB-Q1");
  EXPECT_EQ(check.code->claims.carrier_uscc, kCarrier);
  EXPECT_EQ(check.code->claims.vehicle_plate, "闽A12345");
  EXPECT_EQ(check.code->claims.trailer_plate, "闽A1234挂");
  EXPECT_EQ(check.code->claims.revision, submitted->log_index);
  ASSERT_EQ(check.code->claims.goods.size(), 1u);
  EXPECT_EQ(check.code->claims.goods[0].un_number, "1230");
  EXPECT_EQ(check.code->claims.goods[0].codes, 2u);
  EXPECT_EQ(check.code->claims.goods[0].quantity_milli, 400000u);

  v1::Waybill changed = Waybill("WB-Q1", {Code(1), Code(2)});
  changed.mutable_vehicle()->set_plate("闽A54321");
  absl::StatusOr<WaybillReceipt> amended = Submit(carrier_, Amend(changed));
  ASSERT_TRUE(amended.ok()) << amended.status();
  check = crypto::VerifyWaybillCode(amended->waybill_code, *trust);
  ASSERT_EQ(check.verdict, crypto::LabelVerdict::kAuthentic) << check.detail;
  EXPECT_EQ(check.code->claims.vehicle_plate, "闽A54321");
  EXPECT_EQ(check.code->claims.revision, amended->log_index);
  EXPECT_GT(amended->log_index, submitted->log_index);
  // The code WaybillCode gives for the waybill as it now stands.
  auto expect_current_code = [&](const std::string& expected) {
    std::shared_ptr<const storage::Snapshot> snapshot = t_->snapshot();
    absl::StatusOr<const crypto::SigningKey*> key = t_->waybills().CodeKey(*snapshot);
    ASSERT_TRUE(key.ok()) << key.status();
    std::optional<WaybillState> w = Find("WB-Q1");
    ASSERT_TRUE(w.has_value());
    absl::StatusOr<std::string> code = WaybillCode(*snapshot, *w, **key);
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, expected);
  };
  expect_current_code(amended->waybill_code);

  absl::StatusOr<WaybillReceipt> departed = Submit(carrier_, Depart("WB-Q1"));
  ASSERT_TRUE(departed.ok()) << departed.status();
  EXPECT_TRUE(departed->waybill_code.empty());
  // After a restart the same waybill gets the same code.
  t_->Reopen();
  expect_current_code(amended->waybill_code);
  ExpectStateRebuildsFromTheLog();
}

// A batch is checked in order against the state as its earlier requests
// leave it, and written once: a waybill submitted early in the batch departs
// later in it, a second waybill for the same package is refused, a repeated
// request gets the first one's receipt, and refused requests write nothing.
TEST_F(WaybillRulesTest, ABatchSeesItsOwnEarlierRequestsAndWritesOnce) {
  std::vector<v1::WaybillRequest> requests(7);
  requests[0].set_request_id("b-0");
  *requests[0].mutable_submit() = Waybill("WB-B1", {Code(1), Code(2)});
  requests[1].set_request_id("b-1");
  *requests[1].mutable_submit() = Waybill("WB-B2", {Code(1)});  // Code(1) is on WB-B1
  requests[2].set_request_id("b-2");
  requests[2].mutable_depart()->set_waybill_number("WB-B1");
  requests[3] = requests[0];  // a repeat
  requests[4].set_request_id("b-4");
  *requests[4].mutable_submit() = Waybill("WB-B3", {Code(3)});
  requests[4].mutable_submit()->mutable_driver()->set_qualification_number("");
  requests[5].set_request_id("b-5");
  requests[5].mutable_cancel()->set_waybill_number("WB-B1");  // departed: may still cancel
  requests[5].mutable_cancel()->set_reason("consignee closed");
  requests[6].set_request_id("b-6");
  *requests[6].mutable_submit() = Waybill("WB-B4", {Code(1)});  // free again after the cancel
  std::vector<v1::SignedEnvelope> envelopes;
  for (const auto& r : requests) envelopes.push_back(Sign(carrier_, r));
  envelopes.push_back(envelopes[6]);
  envelopes.back().set_payload(envelopes.back().payload() + " ");  // signature no longer matches
  std::vector<const v1::SignedEnvelope*> pointers;
  for (const auto& e : envelopes) pointers.push_back(&e);

  const uint64_t before = LogSize();
  std::vector<absl::StatusOr<WaybillReceipt>> results = t_->waybills().ApplyBatch(pointers);
  ASSERT_EQ(results.size(), envelopes.size());
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kFailedPrecondition) << results[1].status();
  EXPECT_NE(results[1].status().message().find("on no other open waybill"), std::string::npos)
      << results[1].status();
  ASSERT_TRUE(results[2].ok()) << results[2].status();
  ASSERT_TRUE(results[3].ok()) << results[3].status();
  EXPECT_TRUE(results[3]->replayed);
  EXPECT_EQ(results[3]->log_index, results[0]->log_index);
  EXPECT_EQ(results[4].status().code(), absl::StatusCode::kInvalidArgument) << results[4].status();
  EXPECT_NE(results[4].status().message().find("waybill.driver.qualification_number"),
            std::string::npos)
      << results[4].status();
  ASSERT_TRUE(results[5].ok()) << results[5].status();
  ASSERT_TRUE(results[6].ok()) << results[6].status();
  EXPECT_EQ(results[7].status().code(), absl::StatusCode::kUnauthenticated) << results[7].status();
  EXPECT_EQ(results[0]->log_index, before);
  EXPECT_EQ(results[2]->log_index, before + 1);
  EXPECT_EQ(results[5]->log_index, before + 2);
  EXPECT_EQ(results[6]->log_index, before + 3);
  EXPECT_EQ(LogSize(), before + 4) << "four accepted, one entry each, nothing for the refused";
  std::optional<WaybillState> b1 = Find("WB-B1");
  ASSERT_TRUE(b1.has_value());
  EXPECT_EQ(b1->status, v1::CANCELLED);
  EXPECT_EQ(b1->log_index, before + 2);
  EXPECT_FALSE(Find("WB-B2").has_value());
  EXPECT_FALSE(Find("WB-B3").has_value());
  std::optional<WaybillState> b4 = Find("WB-B4");
  ASSERT_TRUE(b4.has_value());
  EXPECT_EQ(b4->status, v1::OPEN);
  EXPECT_EQ(OpenWaybill(Code(1)), "WB-B4");
  EXPECT_EQ(OpenWaybill(Code(2)), "");
  absl::StatusOr<WaybillPage> listed =
      ListWaybills(*t_->snapshot(), "", 10, [](const WaybillState&) { return true; });
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->waybills.size(), 2u);
  EXPECT_EQ(listed->waybills[0].waybill.waybill_number(), "WB-B1");
  EXPECT_EQ(listed->waybills[1].waybill.waybill_number(), "WB-B4");
  EXPECT_TRUE(listed->resume_after.empty());

  // Reopened, the store holds the same waybills, and the batch sent again
  // gets the same results.
  t_->Reopen();
  b1 = Find("WB-B1");
  ASSERT_TRUE(b1.has_value());
  EXPECT_EQ(b1->status, v1::CANCELLED);
  b4 = Find("WB-B4");
  ASSERT_TRUE(b4.has_value());
  EXPECT_EQ(b4->log_index, before + 3);
  std::vector<absl::StatusOr<WaybillReceipt>> again = t_->waybills().ApplyBatch(pointers);
  ASSERT_EQ(again.size(), results.size());
  for (size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].status().code(), results[i].status().code()) << i << ": " << again[i].status();
    if (results[i].ok() && again[i].ok()) {
      EXPECT_EQ(again[i]->log_index, results[i]->log_index) << i;
      EXPECT_TRUE(again[i]->replayed) << i;
    }
  }
  EXPECT_EQ(LogSize(), before + 4);
  // Shipping under the one open waybill works; under the cancelled, not.
  RefusedEvent(Event(producer_, v1::SHIPPING, kProducer, {Code(2)}, "WB-B1", kUser),
               absl::StatusCode::kFailedPrecondition, "CANCELLED");
  EXPECT_TRUE(Event(producer_, v1::SHIPPING, kProducer, {Code(1)}, "WB-B4", kUser).ok());
  ExpectStateRebuildsFromTheLog();
}

}  // namespace
}  // namespace chemledger::waybill
