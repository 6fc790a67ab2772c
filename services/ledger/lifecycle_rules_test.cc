// The lifecycle ledger's rules (lifecycle_rules.h), driven end to end
// through the Ledger personality on a whole ledger (testing/test_ledger.h):
// real LevelDB store, journal, registry, label issuance and e-waybill book.
// State is read back from snapshots with code_state.h; tests that write end
// by rebuilding the state from the log (TestLedger::Check).

#include "services/ledger/lifecycle_rules.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "crypto/keys.h"
#include "crypto/label.h"
#include "crypto/merkle.h"
#include "gtest/gtest.h"
#include "journal/journal.h"
#include "services/common/envelope.h"
#include "services/common/refusal.h"
#include "services/ledger/code_state.h"
#include "services/ledger/ledger.h"
#include "services/ledger/lifecycle_testing.h"
#include "services/registry/registry_state.h"
#include "services/registry/registry_testing.h"
#include "services/waybill/waybill_state.h"
#include "services/waybill/waybill_testing.h"
#include "services/waybill/waybills.h"
#include "testing/test_ledger.h"
namespace chemledger::ledger {
namespace {

using namespace lifecycle_testing;  // NOLINT: the fixture's parties and helpers

class LifecycleRulesTest : public LifecycleFixture {};

// From rules epoch 16 an event sets no field its step does not read (logged,
// it would look as if it meant something); entries of epoch 15 kept theirs.
TEST_F(LifecycleRulesTest, AnEventSetsNoFieldItsStepDoesNotRead) {
  Commission({1, 2, 3});
  v1::Event stored = Event(v1::STORING, kProducer, {Code(1)});
  stored.set_waybill_id("WB-1");
  Refused(
      producer_, stored, absl::StatusCode::kInvalidArgument,
      "event.waybill_id: is not read by a STORING event (only by SHIPPING, RECEIVING): leave it "
      "unset");
  v1::Event counted = Event(v1::STORING, kProducer, {Code(1)});
  counted.set_quantity_milli(5);
  Refused(producer_, counted, absl::StatusCode::kInvalidArgument,
          "event.quantity_milli: is not read by a STORING event (only by CONSUMING, REPACKAGING)");
  v1::Event used = Event(v1::CONSUMING, kProducer, {Code(1)});
  used.set_quantity_milli(1000);
  used.set_reason("used in batch 7");
  Refused(producer_, used, absl::StatusCode::kInvalidArgument,
          "event.reason: is not read by a CONSUMING event (only by LOSS_REPORT, FOUND, VOIDING, "
          "ERROR_DECLARATION, HOLDING, RELEASING, RECALLING): leave it unset");
  v1::Event packed = Event(v1::PACKING, kProducer, {Code(2)});
  packed.set_parent_code(Code(1));
  packed.set_manifest_id("M-1");
  Refused(producer_, packed, absl::StatusCode::kInvalidArgument,
          "event.manifest_id: is not read by a PACKING event (only by DESTROYING)");
  // Where the step reads them, they are taken.
  used.clear_reason();
  Ok(producer_, used);
  v1::Event held = Event(v1::HOLDING, kProducer, {Code(2)});
  held.set_reason("sampling");
  Ok(producer_, held);
  // A receipt may name the waybill its goods came on: the one they travel on.
  Ship(producer_, kProducer, kWarehouse, {Code(3)}, "WB-FIELDS");
  v1::Event received = Event(v1::RECEIVING, kWarehouse, {Code(3)});
  received.set_waybill_id("WB-OTHER");
  Refused(warehouse_, received, absl::StatusCode::kFailedPrecondition,
          "event.waybill_id: 'WB-OTHER' is not the waybill " + Code(3) + " came on ('WB-FIELDS')");
  received.set_waybill_id("WB-FIELDS");
  Ok(warehouse_, received);
  // Or the one that shipped them and was cancelled on the way.
  Commission({4, 5});
  Ship(producer_, kProducer, kWarehouse, {Code(4)}, "WB-GONE");
  v1::WaybillRequest cancel;
  cancel.mutable_cancel()->set_waybill_number("WB-GONE");
  cancel.mutable_cancel()->set_reason("the truck broke down; the goods come by van");
  ASSERT_TRUE(ApplyWaybill(cancel).ok());
  v1::Event came_anyway = Event(v1::RECEIVING, kWarehouse, {Code(4)});
  came_anyway.set_waybill_id("WB-OTHER");
  Refused(warehouse_, came_anyway, absl::StatusCode::kFailedPrecondition,
          "event.waybill_id: 'WB-OTHER' is not the waybill " + Code(4) +
              " came on (none is open for it)");
  came_anyway.set_waybill_id("WB-GONE");
  Ok(warehouse_, came_anyway);
  // Under rules epoch 15 such a field went unread.
  testing::TestLedgerOptions epoch15;
  epoch15.rules_epoch = 15;
  t_->Reopen(epoch15);
  ASSERT_FALSE(HasFatalFailure());
  v1::Event stored_then = Event(v1::STORING, kProducer, {Code(1)});
  stored_then.set_waybill_id("WB-1");
  Ok(producer_, stored_then);
  Ship(producer_, kProducer, kWarehouse, {Code(5)}, "WB-EPOCH15");
  v1::Event received_then = Event(v1::RECEIVING, kWarehouse, {Code(5)});
  received_then.set_waybill_id("WB-NOT-READ");
  Ok(warehouse_, received_then);
  t_->Reopen(testing::TestLedgerOptions());
  ASSERT_FALSE(HasFatalFailure());
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, APackageLivesItsWholeLife) {
  Commission({1, 2, 3, 4, 5, 6});
  Ok(producer_,
     Event(v1::STORING, kProducer, {Code(1), Code(2), Code(3), Code(4), Code(5), Code(6)}));
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1), Code(2), Code(3), Code(4)});
  EXPECT_EQ(Find(Code(1)).custodian, kWarehouse);
  Ok(warehouse_, Event(v1::STORING, kWarehouse, {Code(1)}));

  // Pack three onto a pallet, move the pallet, unpack at the user.
  const std::string pallet = kWarehouse + ".LU.P1";
  v1::Event pack = Event(v1::PACKING, kWarehouse, {Code(1), Code(2), Code(3)});
  pack.set_parent_code(pallet);
  Ok(warehouse_, pack);
  EXPECT_TRUE(Find(pallet).aggregate);
  EXPECT_EQ(Find(pallet).children, (std::set<std::string>{Code(1), Code(2), Code(3)}));
  Move(warehouse_, kWarehouse, user_, kUser, {pallet});
  EXPECT_EQ(Find(Code(2)).custodian, kUser) << "children move with their pallet";
  v1::Event unpack = Event(v1::UNPACKING, kUser, {Code(1), Code(2), Code(3)});
  unpack.set_parent_code(pallet);
  Ok(user_, unpack);
  EXPECT_TRUE(Find(Code(1)).parent.empty());
  EXPECT_TRUE(Find(pallet).children.empty());

  // Use part of one, all of another.
  v1::Event use = Event(v1::CONSUMING, kUser, {Code(1)});
  use.set_quantity_milli(10000);
  Ok(user_, use);
  EXPECT_EQ(Find(Code(1)).remaining_milli, 15000u);
  use = Event(v1::CONSUMING, kUser, {Code(2)});
  use.set_quantity_milli(25000);
  Ok(user_, use);
  EXPECT_EQ(Find(Code(2)).status, CodeStatus::kConsumed);

  // The producer splits package 5 into packages 7 and 8, declaring a loss.
  v1::Event split = Event(v1::REPACKAGING, kProducer, {Code(5)});
  split.set_quantity_milli(25000);
  v1::RepackagingOutput* out = split.add_outputs();
  out->set_code(Code(7));
  out->set_quantity_milli(12000);
  out = split.add_outputs();
  out->set_code(Code(8));
  out->set_quantity_milli(12500);
  split.set_declared_loss_milli(500);
  Ok(producer_, split);
  EXPECT_EQ(Find(Code(5)).status, CodeStatus::kConsumed);
  EXPECT_EQ(Find(Code(8)).remaining_milli, 12500u);
  EXPECT_EQ(Find(Code(8)).custodian, kProducer);

  // The rest of package 1 goes to the disposer and is destroyed.
  Move(user_, kUser, disposer_, kDisposer, {Code(1)});
  v1::Event destroy = Event(v1::DESTROYING, kDisposer, {Code(1)});
  destroy.set_manifest_id("3501002026000123");
  Ok(disposer_, destroy);
  EXPECT_EQ(Find(Code(1)).status, CodeStatus::kDisposed);
  EXPECT_EQ(Find(Code(1)).remaining_milli, 0u);

  // Lost and found; a misprinted label voided.
  v1::Event lost = Event(v1::LOSS_REPORT, kProducer, {Code(6)});
  lost.set_reason("missing at stocktake");
  Ok(producer_, lost);
  EXPECT_EQ(Find(Code(6)).status, CodeStatus::kLost);
  v1::Event found = Event(v1::FOUND, kProducer, {Code(6)});
  found.set_reason("found in bay 4");
  Ok(producer_, found);
  EXPECT_EQ(Find(Code(6)).status, CodeStatus::kActive);
  v1::Event void_label = Event(v1::VOIDING, kProducer, {Code(9)});
  void_label.set_reason("misprinted");
  Ok(producer_, void_label);
  EXPECT_EQ(Find(Code(9)).status, CodeStatus::kVoided);

  // An error declaration corrects an earlier event without editing it.
  v1::Event lost_again = Event(v1::LOSS_REPORT, kProducer, {Code(6)});
  lost_again.set_reason("missing again");
  Ok(producer_, lost_again);
  v1::Event error = Event(v1::ERROR_DECLARATION, kProducer, {});
  error.set_corrects_event_id(lost_again.event_id());
  error.set_reason("it was never lost: miscounted");
  Ok(producer_, error);
  EXPECT_EQ(Find(Code(6)).status, CodeStatus::kActive);

  for (int serial : {1, 2, 3, 5, 6, 7, 8, 9}) ExpectChainIntact(Code(serial));
  ExpectChainIntact(pallet);
  EXPECT_EQ(HistoryOf(Code(1)).size(), 13u);

  // Every enterprise that held package 1 (the issuer included), and only
  // those, may read its history; regulators always.
  for (const std::string& uscc : {kProducer, kWarehouse, kUser, kDisposer}) {
    EXPECT_TRUE(Held(Code(1), uscc)) << uscc;
  }
  EXPECT_FALSE(Held(Code(1), kCarrier));
  EXPECT_FALSE(Held(Code(4), kUser));
  v1::Actor reader;
  reader.set_role(v1::ENTERPRISE_OPERATOR);
  reader.set_enterprise_uscc(kUser);
  EXPECT_TRUE(*MayRead(*t_->snapshot(), reader, Code(1)));
  EXPECT_FALSE(*MayRead(*t_->snapshot(), reader, Code(4)));
  reader.set_enterprise_uscc(kCarrier);
  EXPECT_FALSE(*MayRead(*t_->snapshot(), reader, Code(1)));
  v1::Actor inspector;
  inspector.set_role(v1::REGULATOR);
  EXPECT_TRUE(*MayRead(*t_->snapshot(), inspector, Code(4)));
  EXPECT_FALSE(*MayRead(*t_->snapshot(), reader, Code(10))) << "a code the ledger has not seen";

  // The same state after a restart (read from the store, not replayed).
  const CodeState before = Find(Code(1));
  const std::vector<uint64_t> history_before = HistoryOf(Code(1));
  t_->Reopen();
  const CodeState after = Find(Code(1));
  EXPECT_EQ(HistoryOf(Code(1)), history_before);
  EXPECT_EQ(after.status, before.status);
  EXPECT_EQ(after.custodian, before.custodian);
  EXPECT_EQ(after.last_event_index, before.last_event_index);
  EXPECT_EQ(after.last_event_time, before.last_event_time);
  for (int serial : {1, 2, 3, 5, 6, 7, 8, 9}) ExpectChainIntact(Code(serial));
  ExpectCheckPasses();
}

// A site is free text of 1 to 64 characters, counted as characters: a
// Chinese name of 64 (192 bytes of UTF-8) is a site, one more is not.
TEST_F(LifecycleRulesTest, ASiteIsSixtyFourCharactersNotBytes) {
  Commission({1});
  std::string site;
  for (int i = 0; i < 64; ++i) site += "库";
  v1::Event store = Event(v1::STORING, kProducer, {Code(1)});
  store.mutable_location()->set_site(site);
  Ok(producer_, store);
  store = Event(v1::STORING, kProducer, {Code(1)});
  store.mutable_location()->set_site(site + "A");
  Refused(producer_, store, absl::StatusCode::kInvalidArgument,
          "location.site: 1 to 64 characters are required");
  store.mutable_location()->set_site("");
  Refused(producer_, store, absl::StatusCode::kInvalidArgument, "location.site");
}

TEST_F(LifecycleRulesTest, OnlyTheCustodianActsAndReceiptChangesCustody) {
  Commission({1});
  Refused(warehouse_, Event(v1::STORING, kWarehouse, {Code(1)}),
          absl::StatusCode::kPermissionDenied,
          "event.codes[0]: " + Code(1) + " is not a code " + kWarehouse + " holds");
  SubmitWaybill("WB-OPEN-2", kProducer, kWarehouse, {Code(1)});
  v1::Event ship = Event(v1::SHIPPING, kProducer, {Code(1)});
  ship.set_consignee_uscc(kWarehouse);
  ship.set_waybill_id("WB-OPEN-2");
  Ok(producer_, ship);
  EXPECT_EQ(Find(Code(1)).status, CodeStatus::kInTransit);
  EXPECT_EQ(Find(Code(1)).consignee, kWarehouse);
  EXPECT_EQ(Find(Code(1)).custodian, kProducer) << "custody changes on receipt, not shipment";
  // Someone else than the consignee cannot receive it.
  Refused(user_, Event(v1::RECEIVING, kUser, {Code(1)}), absl::StatusCode::kPermissionDenied,
          "is not a code " + kUser + " holds");
  // In transit, the shipper cannot use it either.
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_quantity_milli(1000);
  Refused(producer_, use, absl::StatusCode::kFailedPrecondition, "in transit");
  EXPECT_FALSE(Held(Code(1), kWarehouse));
  Ok(warehouse_, Event(v1::RECEIVING, kWarehouse, {Code(1)}));
  EXPECT_EQ(Find(Code(1)).custodian, kWarehouse);
  EXPECT_EQ(Find(Code(1)).status, CodeStatus::kActive);
  EXPECT_TRUE(Find(Code(1)).consignee.empty());
  EXPECT_TRUE(Held(Code(1), kWarehouse));
  EXPECT_TRUE(Held(Code(1), kProducer));
  Refused(producer_, Event(v1::STORING, kProducer, {Code(1)}),
          absl::StatusCode::kPermissionDenied, "in the custody of " + kWarehouse);
  // An actor records only for its own enterprise.
  Refused(producer_, Event(v1::STORING, kWarehouse, {Code(1)}),
          absl::StatusCode::kPermissionDenied, "event.location.enterprise_uscc");
  ExpectChainIntact(Code(1));
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, ARefusalAboutACodeTheCallerMayNotKnowSaysTheSameWhetherItExists) {
  // Code(1) is held by the producer, Code(2) is in transit to the warehouse,
  // Code(3) was issued but never commissioned, the last was never issued.
  Commission({1, 2});
  SubmitWaybill("WB-PROBE-1", kProducer, kWarehouse, {Code(2)});
  v1::Event ship = Event(v1::SHIPPING, kProducer, {Code(2)});
  ship.set_consignee_uscc(kWarehouse);
  ship.set_waybill_id("WB-PROBE-1");
  Ok(producer_, ship);
  const std::string never_issued = kProducer + ".M01.B9.99999";
  const uint64_t before = LogSize();
  for (v1::BusinessStep step : {v1::STORING, v1::RECEIVING, v1::LOSS_REPORT}) {
    std::set<std::string> told;  // each message, with the code taken out
    for (const std::string& code : {Code(1), Code(2), Code(3), never_issued}) {
      v1::Event probe = Event(step, kUser, {code});
      if (step == v1::LOSS_REPORT) probe.set_reason("probing");
      absl::StatusOr<EventReceipt> r = t_->ledger().Append(Signed(user_, probe));
      ASSERT_FALSE(r.ok()) << code;
      EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
      std::string message(r.status().message());
      ASSERT_NE(message.find(code), std::string::npos) << message;
      message.replace(message.find(code), code.size(), "<code>");
      // (Codes begin with their producer's USCC: looked for with the code out.)
      EXPECT_EQ(message.find(kProducer), std::string::npos) << "names the producer: " << message;
      EXPECT_EQ(message.find(kWarehouse), std::string::npos) << message;
      told.insert(message);
      // The full reason is kept with the refusal, for the regulator.
      std::optional<std::string> full = FullReason(r.status());
      ASSERT_TRUE(full.has_value()) << r.status();
      if (code == Code(1) && step == v1::STORING) {
        EXPECT_NE(full->find("in the custody of " + kProducer), std::string::npos) << *full;
      }
    }
    EXPECT_EQ(told.size(), 1u) << "the refusals differ: " << *told.begin() << " / "
                               << *told.rbegin();
    EXPECT_EQ(*told.begin(), "event.codes[0]: <code> is not a code " + kUser +
                                 " holds, has held or is sent");
  }
  // A waybill number or an event id of another enterprise is, to it, none.
  v1::Event ship_on_theirs = Event(v1::SHIPPING, kUser, {Code(1)});
  ship_on_theirs.set_consignee_uscc(kWarehouse);
  ship_on_theirs.set_waybill_id("WB-PROBE-1");
  Refused(user_, ship_on_theirs, absl::StatusCode::kPermissionDenied, "is not a code " + kUser);
  EXPECT_EQ(LogSize(), before);
  // The consignee may know the code on its way to it: it is told why.
  Refused(warehouse_, Event(v1::STORING, kWarehouse, {Code(2)}),
          absl::StatusCode::kPermissionDenied, "in the custody of " + kProducer);
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, RepackagingOutputsAreCodesIssuedToTheRepackager) {
  Commission({1});
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1)});
  // The warehouse holds the producer's drum; the producer's unused codes are
  // not the warehouse's to use, and a warehouse does not repackage.
  v1::Event split = Event(v1::REPACKAGING, kWarehouse, {Code(1)});
  split.set_quantity_milli(10000);
  v1::RepackagingOutput* out = split.add_outputs();
  out->set_code(Code(7));
  out->set_quantity_milli(10000);
  Refused(warehouse_, split, absl::StatusCode::kPermissionDenied,
          "only producers and importers repackage");
  // A producer may not use another producer's unused codes either.
  const std::string other = registry::testing::ExampleUscc("350600");
  const crypto::SigningKey other_key = TestKey(20);
  ASSERT_TRUE(t_->RegisterEnterprise(admin_, registry::testing::ExampleProducer(other)).ok());
  ASSERT_TRUE(t_->AddActor(admin_, other, v1::ENTERPRISE_OPERATOR, other_key).ok());
  ASSERT_TRUE(t_->RegisterProduct(admin_, registry::testing::ExampleMethanol(other, "M01")).ok());
  ASSERT_TRUE(t_->IssueBatch(other_key, other, "M01", "B1", 2, "25", "KGM").ok());
  Commission({2});
  v1::Event own = Event(v1::REPACKAGING, kProducer, {Code(2)});
  own.set_quantity_milli(10000);
  v1::RepackagingOutput* theirs = own.add_outputs();
  theirs->set_code(other + ".M01.B1.1");
  theirs->set_quantity_milli(10000);
  // (Another enterprise's code: the refusal is the uniform one, the rule is
  // in the full reason.)
  absl::StatusOr<EventReceipt> refused = t_->ledger().Append(Signed(producer_, own));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(refused.status().message().find("event.outputs[0].code: " + other +
                                            ".M01.B1.1 is not a code " + kProducer),
            std::string::npos)
      << refused.status();
  EXPECT_NE(FullReason(refused.status()).value_or("").find("was not issued to " + kProducer),
            std::string::npos)
      << refused.status();
  // The producer's commissioning of that code still works afterwards.
  Commission({7});
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, NothingShipsToABlacklistedConsigneeOrToACarrier) {
  Commission({1, 2});
  SubmitWaybill("WB-BL-1", kProducer, kWarehouse, {Code(1)});
  v1::RegistryRequest blacklist;
  blacklist.mutable_blacklist()->set_enterprise_uscc(kWarehouse);
  blacklist.mutable_blacklist()->set_blacklisted(true);
  blacklist.mutable_blacklist()->set_reason("storage licence suspended");
  *blacklist.mutable_blacklist()->mutable_date() = api::ToProtoDate(Today());
  absl::StatusOr<journal::Receipt> r = t_->Registry(regulator_, blacklist);
  ASSERT_TRUE(r.ok()) << r.status();
  v1::Event ship = Event(v1::SHIPPING, kProducer, {Code(1)});
  ship.set_consignee_uscc(kWarehouse);
  ship.set_waybill_id("WB-BL-1");
  Refused(producer_, ship, absl::StatusCode::kPermissionDenied,
          "event.consignee_uscc: " + kWarehouse + " is blacklisted");
  // Nor may a new waybill name it as the consignee.
  v1::WaybillRequest w;
  *w.mutable_submit() = waybill::testing::ExampleWaybill("WB-BL-2", kCarrier, kProducer, kWarehouse,
                                                          {Code(2)}, 25000, "KGM");
  absl::StatusOr<waybill::WaybillReceipt> refused = ApplyWaybill(w);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  EXPECT_NE(refused.status().message().find("waybill.consignee.uscc: " + kWarehouse +
                                            " is blacklisted"),
            std::string::npos)
      << refused.status();
  // A carrier moves goods; it is not sent them.
  ship.set_consignee_uscc(kCarrier);
  Refused(producer_, ship, absl::StatusCode::kPermissionDenied,
          "event.consignee_uscc: " + kCarrier + " has no role that receives goods");
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, ShippingNeedsAnOpenWaybill) {
  Commission({1, 2});
  v1::Event ship = Event(v1::SHIPPING, kProducer, {Code(1)});
  ship.set_consignee_uscc(kWarehouse);
  ship.clear_waybill_id();
  Refused(producer_, ship, absl::StatusCode::kInvalidArgument, "event.waybill_id");
  // A waybill the book has never seen.
  ship.set_waybill_id("WB-NONE-1");
  Refused(producer_, ship, absl::StatusCode::kNotFound,
          "event.waybill_id: " + kProducer + " is the consignor of no waybill 'WB-NONE-1'");

  // A cancelled waybill is not open.
  SubmitWaybill("WB-CANCELLED-1", kProducer, kWarehouse, {Code(1)});
  v1::WaybillRequest cancel;
  cancel.mutable_cancel()->set_waybill_number("WB-CANCELLED-1");
  cancel.mutable_cancel()->set_reason("truck broke down");
  absl::StatusOr<waybill::WaybillReceipt> cancelled = ApplyWaybill(cancel);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  ship.set_waybill_id("WB-CANCELLED-1");
  Refused(producer_, ship, absl::StatusCode::kFailedPrecondition,
          "event.waybill_id: waybill 'WB-CANCELLED-1' is CANCELLED");

  // An open waybill that lists another package, or goes to another consignee.
  SubmitWaybill("WB-OPEN-2", kProducer, kWarehouse, {Code(2)});
  ship.set_waybill_id("WB-OPEN-2");
  Refused(producer_, ship, absl::StatusCode::kFailedPrecondition,
          "event.waybill_id: waybill 'WB-OPEN-2' does not list " + Code(1));
  SubmitWaybill("WB-OPEN-1", kProducer, kWarehouse, {Code(1)});
  ship.set_waybill_id("WB-OPEN-1");
  ship.set_consignee_uscc(kUser);
  Refused(producer_, ship, absl::StatusCode::kFailedPrecondition,
          "event.consignee_uscc: waybill 'WB-OPEN-1' goes to " + kWarehouse);

  // Under the open waybill that lists it: shipped, received, the waybill closes.
  ship.set_consignee_uscc(kWarehouse);
  Ok(producer_, ship);
  std::optional<waybill::WaybillState> w = FindWaybill("WB-OPEN-1");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->shipped, std::set<std::string>{Code(1)});
  Ok(warehouse_, Event(v1::RECEIVING, kWarehouse, {Code(1)}));
  w = FindWaybill("WB-OPEN-1");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->status, v1::CLOSED);

  // A closed waybill carries nothing more: not back, not again.
  v1::Event back = Event(v1::SHIPPING, kWarehouse, {Code(1)});
  back.set_consignee_uscc(kProducer);
  back.set_waybill_id("WB-OPEN-1");
  Refused(warehouse_, back, absl::StatusCode::kNotFound,
          "event.waybill_id: " + kWarehouse + " is the consignor of no waybill 'WB-OPEN-1'");
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, QuantitiesNeverGoBelowZeroAndSplitsAreConserved) {
  Commission({1, 2});
  Move(producer_, kProducer, user_, kUser, {Code(1)});
  v1::Event use = Event(v1::CONSUMING, kUser, {Code(1)});
  use.set_quantity_milli(25001);
  Refused(user_, use, absl::StatusCode::kFailedPrecondition,
          "event.quantity_milli: 25001 is more than");
  use.set_quantity_milli(0);
  Refused(user_, use, absl::StatusCode::kInvalidArgument, "event.quantity_milli");

  v1::Event split = Event(v1::REPACKAGING, kProducer, {Code(2)});
  split.set_quantity_milli(20000);
  v1::RepackagingOutput* out = split.add_outputs();
  out->set_code(Code(7));
  out->set_quantity_milli(10000);
  out = split.add_outputs();
  out->set_code(Code(8));
  out->set_quantity_milli(9000);  // 19000 + loss 0 != 20000
  Refused(producer_, split, absl::StatusCode::kFailedPrecondition,
          "event.outputs: the outputs and declared loss add up to 19000");
  split.set_declared_loss_milli(1000);
  split.mutable_outputs(1)->set_code(kProducer + ".M01.B1.11");  // never issued
  Refused(producer_, split, absl::StatusCode::kNotFound, "event.outputs[1].code");
  split.mutable_outputs(1)->set_code(Code(2));  // the input itself
  Refused(producer_, split, absl::StatusCode::kFailedPrecondition, "event.outputs[1].code");
  split.mutable_outputs(1)->set_code(Code(8));
  Ok(producer_, split);
  EXPECT_EQ(Find(Code(2)).remaining_milli, 5000u);
  EXPECT_EQ(Find(Code(2)).status, CodeStatus::kActive);
  EXPECT_EQ(Find(Code(7)).remaining_milli, 10000u);
  EXPECT_EQ(Find(Code(8)).remaining_milli, 9000u);
  EXPECT_EQ(Find(Code(8)).unit, "KGM");
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, NothingHappensAfterATerminalState) {
  Commission({1, 2});
  Move(producer_, kProducer, user_, kUser, {Code(1)});
  v1::Event use = Event(v1::CONSUMING, kUser, {Code(1)});
  use.set_quantity_milli(25000);
  Ok(user_, use);
  use = Event(v1::CONSUMING, kUser, {Code(1)});
  use.set_quantity_milli(1);
  Refused(user_, use, absl::StatusCode::kFailedPrecondition, "is consumed");
  Refused(user_, Event(v1::STORING, kUser, {Code(1)}), absl::StatusCode::kFailedPrecondition,
          "is consumed");
  v1::Event void_label = Event(v1::VOIDING, kProducer, {Code(2)});
  void_label.set_reason("misprinted");
  Ok(producer_, void_label);
  Refused(producer_, Event(v1::STORING, kProducer, {Code(2)}),
          absl::StatusCode::kFailedPrecondition, "is voided");
  Refused(producer_, Event(v1::COMMISSIONING, kProducer, {Code(2)}),
          absl::StatusCode::kFailedPrecondition, "already commissioned");
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, AggregatesMoveWholeAndNeverContainThemselves) {
  Commission({1, 2, 3});
  const std::string pallet = kProducer + ".LU.P1";
  const std::string container = kProducer + ".LU.C1";
  v1::Event pack = Event(v1::PACKING, kProducer, {Code(1), Code(2)});
  pack.set_parent_code(pallet);
  Ok(producer_, pack);
  EXPECT_EQ(Find(Code(1)).parent, pallet);
  // A packed child does not move alone.
  Refused(producer_, Event(v1::STORING, kProducer, {Code(1)}),
          absl::StatusCode::kFailedPrecondition,
          "event.codes[0]: " + Code(1) + " is packed on " + pallet);
  // Nor goes on a second parent.
  pack = Event(v1::PACKING, kProducer, {Code(2)});
  pack.set_parent_code(container);
  Refused(producer_, pack, absl::StatusCode::kFailedPrecondition, "is packed on " + pallet);
  // The pallet on a container; then the container on the pallet: a cycle.
  pack = Event(v1::PACKING, kProducer, {pallet});
  pack.set_parent_code(container);
  Ok(producer_, pack);
  pack = Event(v1::PACKING, kProducer, {container});
  pack.set_parent_code(pallet);
  Refused(producer_, pack, absl::StatusCode::kFailedPrecondition,
          "an aggregate cannot contain itself");
  pack = Event(v1::PACKING, kProducer, {pallet});
  pack.set_parent_code(pallet);
  Refused(producer_, pack, absl::StatusCode::kFailedPrecondition,
          "an aggregate cannot contain itself");
  // Moving the container moves everything on it (its waybill lists only it).
  Move(producer_, kProducer, warehouse_, kWarehouse, {container});
  EXPECT_EQ(Find(Code(1)).custodian, kWarehouse);
  EXPECT_EQ(Find(pallet).custodian, kWarehouse);
  EXPECT_EQ(Find(container).custodian, kWarehouse);
  EXPECT_EQ(Find(Code(3)).custodian, kProducer);
  EXPECT_EQ(Find(Code(1)).parent, pallet) << "still packed after the journey";
  ExpectChainIntact(Code(1));
  ExpectChainIntact(container);
  // A bad aggregate code.
  pack = Event(v1::PACKING, kProducer, {Code(3)});
  pack.set_parent_code("PALLET-1");
  Refused(producer_, pack, absl::StatusCode::kInvalidArgument, "event.parent_code");
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, EventTimesAreNotInTheFutureNorBeforeThePreviousEvent) {
  Commission({1});
  v1::Event future = Event(v1::STORING, kProducer, {Code(1)});
  future.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Minutes(10)));
  Refused(producer_, future, absl::StatusCode::kFailedPrecondition, "event.event_time");
  v1::Event early = Event(v1::STORING, kProducer, {Code(1)}, absl::Hours(2));
  Refused(producer_, early, absl::StatusCode::kFailedPrecondition, "is before " + Code(1));
  v1::Event no_time = Event(v1::STORING, kProducer, {Code(1)});
  no_time.clear_event_time();
  Refused(producer_, no_time, absl::StatusCode::kInvalidArgument, "event.event_time");
  // Within the clock skew allowed is not the future.
  v1::Event soon = Event(v1::STORING, kProducer, {Code(1)});
  soon.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Minutes(2)));
  Ok(producer_, soon);
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, BlacklistedEnterprisesAndRevokedKeysWriteNothing) {
  Commission({1, 2});
  v1::RegistryRequest blacklist;
  blacklist.mutable_blacklist()->set_enterprise_uscc(kProducer);
  blacklist.mutable_blacklist()->set_blacklisted(true);
  blacklist.mutable_blacklist()->set_reason("inspection failed");
  *blacklist.mutable_blacklist()->mutable_date() = api::ToProtoDate(Today());
  absl::StatusOr<journal::Receipt> r = t_->Registry(regulator_, blacklist);
  ASSERT_TRUE(r.ok()) << r.status();
  Refused(producer_, Event(v1::STORING, kProducer, {Code(1)}),
          absl::StatusCode::kPermissionDenied, "blacklisted");
  v1::RegistryRequest lift;
  lift.mutable_blacklist()->set_enterprise_uscc(kProducer);
  lift.mutable_blacklist()->set_blacklisted(false);
  lift.mutable_blacklist()->set_reason("fixed");
  *lift.mutable_blacklist()->mutable_date() = api::ToProtoDate(Today());
  r = t_->Registry(regulator_, lift);
  ASSERT_TRUE(r.ok()) << r.status();
  Ok(producer_, Event(v1::STORING, kProducer, {Code(1)}));
  v1::RegistryRequest revoke;
  revoke.mutable_revoke_key()->set_key_id(producer_.key_id().ToString());
  revoke.mutable_revoke_key()->set_reason("left");
  r = t_->Registry(admin_, revoke);
  ASSERT_TRUE(r.ok()) << r.status();
  Refused(producer_, Event(v1::STORING, kProducer, {Code(2)}),
          absl::StatusCode::kPermissionDenied, "was revoked");
  v1::SignedEnvelope unsigned_event = Signed(producer_, Event(v1::STORING, kProducer, {Code(2)}));
  unsigned_event.clear_signatures();
  Refused(unsigned_event, absl::StatusCode::kInvalidArgument, "envelope.signatures");
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, RolesBoundTheSteps) {
  Refused(carrier_, Event(v1::COMMISSIONING, kCarrier, {Code(1)}),
          absl::StatusCode::kPermissionDenied, "a carrier");
  Commission({1});
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1)});
  v1::Event destroy = Event(v1::DESTROYING, kWarehouse, {Code(1)});
  destroy.set_manifest_id("M-1");
  Refused(warehouse_, destroy, absl::StatusCode::kPermissionDenied, "only licensed disposers");
  v1::Event use = Event(v1::CONSUMING, kWarehouse, {Code(1)});
  use.set_quantity_milli(1);
  Refused(warehouse_, use, absl::StatusCode::kPermissionDenied,
          "only users and producers consume");
  Refused(warehouse_, Event(v1::COMMISSIONING, kWarehouse, {Code(2)}),
          absl::StatusCode::kPermissionDenied, "only producers and importers");
  // Commissioning only issued codes, and only one's own.
  Refused(producer_, Event(v1::COMMISSIONING, kProducer, {kProducer + ".M01.B1.11"}),
          absl::StatusCode::kNotFound, "was never issued");
  Refused(producer_, Event(v1::COMMISSIONING, kProducer, {"not-a-code"}),
          absl::StatusCode::kInvalidArgument, "event.codes[0]");
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, DisposalNeedsAHazardousWasteLicenceValidOnTheEventDate) {
  Commission({1});
  Move(producer_, kProducer, disposer_, kDisposer, {Code(1)});
  // A second disposer whose licence expired three days ago.
  const std::string expired = registry::testing::ExampleUscc("350600");
  const crypto::SigningKey expired_key = TestKey(40);
  ASSERT_TRUE(t_->RegisterEnterprise(
                    admin_, ExampleEnterprise(expired, v1::DISPOSER, v1::HAZARDOUS_WASTE,
                                              Today() - 3))
                  .ok());
  AddOperator(expired, expired_key);
  Move(disposer_, kDisposer, expired_key, expired, {Code(1)});
  v1::Event destroy = Event(v1::DESTROYING, expired, {Code(1)});
  destroy.set_manifest_id("M-2");
  Refused(expired_key, destroy, absl::StatusCode::kPermissionDenied, "HAZARDOUS_WASTE");
  // The licence day is China's, whatever offset the event claims: an event
  // "now" written at UTC-14 still falls after the expiry.
  destroy.set_event_time_offset_minutes(-840);
  Refused(expired_key, destroy, absl::StatusCode::kPermissionDenied, "HAZARDOUS_WASTE");
  EXPECT_EQ(Find(Code(1)).status, CodeStatus::kActive);
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, DisposalNeedsAManifest) {
  Commission({1});
  Move(producer_, kProducer, disposer_, kDisposer, {Code(1)});
  Refused(disposer_, Event(v1::DESTROYING, kDisposer, {Code(1)}),
          absl::StatusCode::kInvalidArgument, "event.manifest_id");
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, SplitsCannotMakeQuantityOutOfNothing) {
  Commission({1});
  v1::Event split = Event(v1::REPACKAGING, kProducer, {Code(1)});
  split.set_quantity_milli(1000);
  split.add_outputs()->set_code(Code(7));
  split.mutable_outputs(0)->set_quantity_milli(5000000000ULL);
  split.set_declared_loss_milli(UINT64_MAX - 5000000000ULL + 1001);  // wraps to 1000
  Refused(producer_, split, absl::StatusCode::kFailedPrecondition, "event.declared_loss_milli");
  split.set_declared_loss_milli(0);
  Refused(producer_, split, absl::StatusCode::kFailedPrecondition, "its label states");
  split.mutable_outputs(0)->set_quantity_milli(800);
  split.add_outputs()->set_code(Code(8));
  split.mutable_outputs(1)->set_quantity_milli(300);  // 1100 > 1000
  Refused(producer_, split, absl::StatusCode::kFailedPrecondition, "event.outputs: the outputs");
  EXPECT_EQ(Find(Code(1)).remaining_milli, 25000u);
  absl::StatusOr<std::optional<CodeState>> seven = FindCode(*t_->snapshot(), Code(7));
  ASSERT_TRUE(seven.ok()) << seven.status();
  EXPECT_FALSE(seven->has_value()) << "a refused split made a code";
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, AggregatesNestAtMostEightDeep) {
  ASSERT_EQ(kMaxNesting, 8);
  Commission({1});
  std::string inner = Code(1);
  for (int level = 1; level <= kMaxNesting; ++level) {
    const std::string outer = absl::StrCat(kProducer, ".LU.N", level);
    v1::Event pack = Event(v1::PACKING, kProducer, {inner});
    pack.set_parent_code(outer);
    Ok(producer_, pack);
    inner = outer;
  }
  v1::Event pack = Event(v1::PACKING, kProducer, {inner});
  pack.set_parent_code(kProducer + ".LU.TOP");
  Refused(producer_, pack, absl::StatusCode::kFailedPrecondition, "more than 8 deep");
  // The whole stack still moves as one.
  Move(producer_, kProducer, warehouse_, kWarehouse, {inner});
  EXPECT_EQ(Find(Code(1)).custodian, kWarehouse);
  ExpectChainIntact(Code(1));
  ExpectCheckPasses();
}

// Event ids are unique per recording enterprise: another enterprise's use of
// an id neither blocks it nor shows that it exists.
TEST_F(LifecycleRulesTest, EventIdsAreUniquePerEnterprise) {
  Commission({1, 2});
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(2)});
  v1::Event mine = Event(v1::STORING, kProducer, {Code(1)});
  mine.set_event_id("store-1");
  const EventReceipt first = Ok(producer_, mine);
  v1::Event theirs = Event(v1::STORING, kWarehouse, {Code(2)});
  theirs.set_event_id("store-1");
  const EventReceipt second = Ok(warehouse_, theirs);
  EXPECT_NE(first.log_index, second.log_index);
  absl::StatusOr<std::optional<EventInfo>> a = FindEvent(*t_->snapshot(), kProducer, "store-1");
  absl::StatusOr<std::optional<EventInfo>> b = FindEvent(*t_->snapshot(), kWarehouse, "store-1");
  ASSERT_TRUE(a.ok() && a->has_value() && b.ok() && b->has_value());
  EXPECT_EQ((*a)->log_index, first.log_index);
  EXPECT_EQ((*b)->log_index, second.log_index);
  // Within one enterprise, an id names one event.
  v1::Event again = Event(v1::STORING, kProducer, {Code(1)});
  again.set_event_id("store-1");
  Refused(producer_, again, absl::StatusCode::kAlreadyExists,
          "event.event_id: 'store-1' was already used");
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, AnErrorDeclarationJoinsExactlyTheCorrectedEventsChains) {
  Commission({1, 2});
  v1::Event store = Event(v1::STORING, kProducer, {Code(1)});
  const EventReceipt stored = Ok(producer_, store);
  absl::StatusOr<std::optional<EventInfo>> info = FindEvent(*t_->snapshot(), kProducer, store.event_id());
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_TRUE(info->has_value());
  EXPECT_EQ((*info)->log_index, stored.log_index);
  EXPECT_EQ((*info)->enterprise, kProducer);
  v1::Event error = Event(v1::ERROR_DECLARATION, kProducer, {Code(2)});
  error.set_corrects_event_id(store.event_id());
  error.set_reason("wrong bay");
  Refused(producer_, error, absl::StatusCode::kInvalidArgument, "event.codes");
  error.clear_codes();
  // Only the enterprise that recorded it may declare it wrong.
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(2)});
  v1::Event foreign = Event(v1::ERROR_DECLARATION, kWarehouse, {});
  foreign.set_corrects_event_id(store.event_id());
  foreign.set_reason("not mine");
  // Another enterprise's event is, to it, no event at all.
  Refused(warehouse_, foreign, absl::StatusCode::kNotFound,
          "event.corrects_event_id: " + kWarehouse + " recorded no event '" + store.event_id() + "'");
  // An event the ledger has never seen.
  v1::Event unknown = Event(v1::ERROR_DECLARATION, kProducer, {});
  unknown.set_corrects_event_id("ev-never");
  unknown.set_reason("typo");
  Refused(producer_, unknown, absl::StatusCode::kNotFound, "event.corrects_event_id");
  Ok(producer_, error);
  EXPECT_EQ(HistoryOf(Code(1)).size(), 3u);  // commission, store, declaration
  EXPECT_EQ(HistoryOf(Code(2)).size(), 3u);  // commission, ship, receive
  ExpectChainIntact(Code(1));
  ExpectChainIntact(Code(2));
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, AnErrorDeclarationUndoesTheWrongEvent) {
  Commission({1, 2});
  Move(producer_, kProducer, user_, kUser, {Code(1)});
  // A wrong consumption, declared wrong: the quantity comes back.
  v1::Event use = Event(v1::CONSUMING, kUser, {Code(1)});
  use.set_quantity_milli(10000);
  Ok(user_, use);
  EXPECT_EQ(Find(Code(1)).remaining_milli, 15000u);
  v1::Event error = Event(v1::ERROR_DECLARATION, kUser, {});
  error.set_corrects_event_id(use.event_id());
  error.set_reason("scanned the wrong drum");
  const EventReceipt declared = Ok(user_, error);
  EXPECT_EQ(Find(Code(1)).remaining_milli, 25000u);
  EXPECT_EQ(Find(Code(1)).last_event_index, std::optional<uint64_t>(declared.log_index))
      << "the chain goes on from the declaration";
  ExpectChainIntact(Code(1));

  // A consumption to zero (terminal), declared wrong: active again.
  use = Event(v1::CONSUMING, kUser, {Code(1)});
  use.set_quantity_milli(25000);
  Ok(user_, use);
  EXPECT_EQ(Find(Code(1)).status, CodeStatus::kConsumed);
  error = Event(v1::ERROR_DECLARATION, kUser, {});
  error.set_corrects_event_id(use.event_id());
  error.set_reason("wrong code");
  Ok(user_, error);
  EXPECT_EQ(Find(Code(1)).status, CodeStatus::kActive);
  EXPECT_EQ(Find(Code(1)).custodian, kUser);

  // Only a code's latest event can be undone.
  v1::Event first = Event(v1::STORING, kUser, {Code(1)});
  Ok(user_, first);
  Ok(user_, Event(v1::STORING, kUser, {Code(1)}));
  error = Event(v1::ERROR_DECLARATION, kUser, {});
  error.set_corrects_event_id(first.event_id());
  error.set_reason("late");
  Refused(user_, error, absl::StatusCode::kFailedPrecondition, "has had events since");

  // A commissioning is not undone: the code is voided instead.
  v1::Event commission = Event(v1::COMMISSIONING, kProducer, {Code(3)});
  Ok(producer_, commission);
  error = Event(v1::ERROR_DECLARATION, kProducer, {});
  error.set_corrects_event_id(commission.event_id());
  error.set_reason("wrong label");
  Refused(producer_, error, absl::StatusCode::kFailedPrecondition, "void the code instead");

  // The same after a restart.
  t_->Reopen();
  EXPECT_EQ(Find(Code(1)).status, CodeStatus::kActive);
  EXPECT_EQ(Find(Code(1)).remaining_milli, 25000u);
  ExpectChainIntact(Code(1));
  ExpectCheckPasses();
}

// From rules epoch 10 a correction is not corrected: undoing it would put
// the wrong event's result back unchecked. Before, it was.
TEST_F(LifecycleRulesTest, AnErrorDeclarationIsNotItselfDeclaredAnError) {
  Commission({1});
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_quantity_milli(10000);
  Ok(producer_, use);
  v1::Event error = Event(v1::ERROR_DECLARATION, kProducer, {});
  error.set_corrects_event_id(use.event_id());
  error.set_reason("scanned the wrong drum");
  Ok(producer_, error);
  v1::Event undo = Event(v1::ERROR_DECLARATION, kProducer, {});
  undo.set_corrects_event_id(error.event_id());
  undo.set_reason("it was the right drum after all");
  Refused(producer_, undo, absl::StatusCode::kInvalidArgument,
          "event.corrects_event_id: '" + error.event_id() +
              "' is itself an error declaration: record the step it undid again instead");
  EXPECT_EQ(Find(Code(1)).remaining_milli, 25000u);
  // The step recorded again instead, checked as any.
  use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_event_id("ev-again");
  use.set_quantity_milli(10000);
  Ok(producer_, use);
  EXPECT_EQ(Find(Code(1)).remaining_milli, 15000u);

  // Under epoch 9 the undo was undone (entries of that epoch rebuild so).
  testing::TestLedgerOptions epoch9;
  epoch9.rules_epoch = 9;
  t_->Reopen(epoch9);
  v1::Event again = Event(v1::ERROR_DECLARATION, kProducer, {});
  again.set_corrects_event_id("ev-again");
  again.set_reason("wrong drum");
  Ok(producer_, again);
  v1::Event old_undo = Event(v1::ERROR_DECLARATION, kProducer, {});
  old_undo.set_corrects_event_id(again.event_id());
  old_undo.set_reason("right drum");
  Ok(producer_, old_undo);
  EXPECT_EQ(Find(Code(1)).remaining_milli, 15000u);
  t_->Reopen(testing::TestLedgerOptions());
  ExpectCheckPasses();
}

// What a waybill lists stays what ships, at any depth (rules epoch 10): a
// pallet on a listed pallet is not opened or added to, and an event on a
// listed package is not declared wrong (a shipment's or receipt's
// correction is the waybill book's, and stays allowed: waybill_rules_test).
TEST_F(LifecycleRulesTest, WhatAWaybillListsIsHeldAtAnyDepth) {
  Commission({1, 2, 3});
  const std::string inner = absl::StrCat(kProducer, ".LU.IN1");
  const std::string outer = absl::StrCat(kProducer, ".LU.OUT1");
  v1::Event pack = Event(v1::PACKING, kProducer, {Code(1)});
  pack.set_parent_code(inner);
  Ok(producer_, pack);
  v1::Event pack_outer = Event(v1::PACKING, kProducer, {inner});
  pack_outer.set_parent_code(outer);
  Ok(producer_, pack_outer);
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(3)});
  use.set_quantity_milli(5000);
  Ok(producer_, use);
  SubmitWaybill("WB-DEEP", kProducer, kWarehouse, {outer, Code(3)});

  v1::Event take = Event(v1::UNPACKING, kProducer, {Code(1)});
  take.set_parent_code(inner);
  Refused(producer_, take, absl::StatusCode::kFailedPrecondition,
          "event.parent_code: " + outer + " is on open waybill WB-DEEP");
  v1::Event add = Event(v1::PACKING, kProducer, {Code(2)});
  add.set_parent_code(inner);
  Refused(producer_, add, absl::StatusCode::kFailedPrecondition,
          "event.parent_code: " + outer + " is on open waybill WB-DEEP");
  v1::Event error = Event(v1::ERROR_DECLARATION, kProducer, {});
  error.set_corrects_event_id(use.event_id());
  error.set_reason("used the wrong drum");
  Refused(producer_, error, absl::StatusCode::kFailedPrecondition,
          "event.corrects_event_id: " + Code(3) + " is on open waybill WB-DEEP");
  EXPECT_EQ(Find(Code(3)).remaining_milli, 20000u);
  EXPECT_EQ(Find(Code(1)).parent, inner);

  // Under epoch 9 only the named aggregate was looked at.
  testing::TestLedgerOptions epoch9;
  epoch9.rules_epoch = 9;
  t_->Reopen(epoch9);
  take.set_event_id("ev-take-9");
  Ok(producer_, take);
  EXPECT_EQ(Find(Code(1)).parent, "");
  t_->Reopen(testing::TestLedgerOptions());
  ExpectCheckPasses();
}

// From rules epoch 10 a regulator's hold takes over the custodian's own
// quarantine, which the custodian could otherwise lift at will.
TEST_F(LifecycleRulesTest, ARegulatorsHoldTakesOverTheCustodiansOwn) {
  Commission({1});
  v1::Event own = Event(v1::HOLDING, kProducer, {Code(1)});
  own.set_reason("quarantine");
  Ok(producer_, own);
  EXPECT_FALSE(Find(Code(1)).hold_by_regulator);
  v1::Event seal = Event(v1::HOLDING, kProducer, {Code(1)});
  seal.set_reason("应急管理局 现场检查 封存");
  Ok(regulator_, seal);
  EXPECT_TRUE(Find(Code(1)).on_hold);
  EXPECT_TRUE(Find(Code(1)).hold_by_regulator);
  v1::Event lift = Event(v1::RELEASING, kProducer, {Code(1)});
  lift.set_reason("quarantine over");
  Refused(producer_, lift, absl::StatusCode::kPermissionDenied,
          "is on hold by a regulator: only a regulator releases it");
  // A regulator's hold is not placed twice.
  seal.set_event_id("ev-seal-again");
  Refused(regulator_, seal, absl::StatusCode::kFailedPrecondition, "is already on hold");
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, SameEventIdSameBytesIsTheOriginalReceipt) {
  Commission({1});
  const v1::Event store = Event(v1::STORING, kProducer, {Code(1)});
  const EventReceipt first = Ok(producer_, store);
  EXPECT_FALSE(first.replayed);
  const uint64_t size = LogSize();
  const EventReceipt again = Ok(producer_, store);
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.log_index, first.log_index);
  EXPECT_EQ(again.event_hash, first.event_hash);
  EXPECT_EQ(LogSize(), size);
  v1::Event changed = store;
  changed.mutable_location()->set_site("elsewhere");
  Refused(producer_, changed, absl::StatusCode::kAlreadyExists, "event.event_id");
  t_->Reopen();
  const EventReceipt after_restart = Ok(producer_, store);
  EXPECT_TRUE(after_restart.replayed);
  EXPECT_EQ(after_restart.log_index, first.log_index);
  EXPECT_EQ(after_restart.event_hash, first.event_hash);
  EXPECT_EQ(LogSize(), size);
  EXPECT_EQ(HistoryOf(Code(1)).size(), 2u);
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, ConcurrentWritersLoseAndDuplicateNothing) {
  Commission({1, 2, 3, 4, 5, 6, 7, 8});
  constexpr int kThreads = 8, kPerThread = 25;
  std::atomic<int> failures{0};
  std::vector<v1::SignedEnvelope> envelopes[kThreads];
  // One time for all: threads append in any order, and none may be before
  // another's event on the same code.
  const int64_t when = absl::ToUnixSeconds(absl::Now() - absl::Minutes(1));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      // Every thread stores its own package and, every fifth event, package 1.
      const std::string code = (i % 5 == 4) ? Code(1) : Code(t + 1);
      v1::Event e = Event(v1::STORING, kProducer, {code});
      e.mutable_event_time()->set_seconds(when);
      envelopes[t].push_back(Signed(producer_, e));
    }
  }
  const uint64_t before = LogSize();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (const v1::SignedEnvelope& env : envelopes[t]) {
        absl::StatusOr<EventReceipt> r = t_->ledger().Append(env);
        if (!r.ok() || r->replayed) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(LogSize(), before + kThreads * kPerThread);
  size_t events = 0;
  for (int serial = 1; serial <= 8; ++serial) {
    ExpectChainIntact(Code(serial));
    events += HistoryOf(Code(serial)).size() - 1;  // minus commissioning
  }
  EXPECT_EQ(events, static_cast<size_t>(kThreads * kPerThread));
  t_->Reopen();
  for (int serial = 1; serial <= 8; ++serial) ExpectChainIntact(Code(serial));
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, ABatchIsCheckedInOrderAndWrittenAtOnce) {
  Commission({1, 2});
  std::vector<v1::SignedEnvelope> batch;
  batch.push_back(Signed(producer_, Event(v1::STORING, kProducer, {Code(1)})));
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_quantity_milli(20000);
  batch.push_back(Signed(producer_, use));
  v1::Event too_much = Event(v1::CONSUMING, kProducer, {Code(1)});
  too_much.set_quantity_milli(6000);  // 5000 left after the one before
  batch.push_back(Signed(producer_, too_much));
  v1::SignedEnvelope forged = Signed(producer_, Event(v1::STORING, kProducer, {Code(2)}));
  forged.mutable_signatures(0)->set_sig(std::string(64, '\1'));
  batch.push_back(forged);
  batch.push_back(batch[0]);  // the same event twice in one batch
  v1::Event rest = Event(v1::CONSUMING, kProducer, {Code(1)});
  rest.set_quantity_milli(5000);
  batch.push_back(Signed(producer_, rest));
  const uint64_t before = LogSize();
  std::vector<absl::StatusOr<EventReceipt>> results =
      t_->ledger().AppendBatch(absl::Span<const v1::SignedEnvelope>(batch));
  ASSERT_EQ(results.size(), batch.size());
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kFailedPrecondition)
      << results[2].status();
  EXPECT_NE(results[2].status().message().find("event.quantity_milli: 6000 is more than the 5000"),
            std::string::npos)
      << results[2].status();
  EXPECT_EQ(results[3].status().code(), absl::StatusCode::kUnauthenticated) << results[3].status();
  ASSERT_TRUE(results[4].ok()) << results[4].status();
  EXPECT_TRUE(results[4]->replayed);
  EXPECT_EQ(results[4]->log_index, results[0]->log_index);
  EXPECT_EQ(results[4]->event_hash, results[0]->event_hash);
  ASSERT_TRUE(results[5].ok()) << results[5].status();
  EXPECT_EQ(results[1]->log_index, results[0]->log_index + 1);
  EXPECT_EQ(results[5]->log_index, results[0]->log_index + 2);
  EXPECT_EQ(LogSize(), before + 3);
  EXPECT_EQ(Find(Code(1)).status, CodeStatus::kConsumed);
  ExpectChainIntact(Code(1));
  t_->Reopen();
  ExpectChainIntact(Code(1));
  EXPECT_EQ(HistoryOf(Code(1)).size(), 4u);
  ExpectCheckPasses();
}

// docs/events.md's worked example, computed with ChemLedger's own code.
TEST(EventSigningTest, WorkedExampleFromTheDocs) {
  const crypto::SigningKey key = TestKey(1);
  v1::Event e;
  e.set_event_id("ev-2026-11-23-0001");
  e.set_step(v1::STORING);
  e.add_codes("91350100M000100Y43.M01.B20261123.1");
  e.mutable_event_time()->set_seconds(1795395600);
  e.set_event_time_offset_minutes(480);
  e.mutable_location()->set_enterprise_uscc("91350100M000100Y43");
  e.mutable_location()->set_site("tank farm, bay 2");
  e.set_deployment("chemledger.example");
  const std::string payload = e.SerializeAsString();
  EXPECT_EQ(absl::BytesToHexString(payload),
            "0a1265762d323032362d31312d32332d3030303110021a2239313335303130304d303030313030593433"
            "2e4d30312e4232303236313132332e3122060890a08ed80628e00332260a1239313335303130304d3030"
            "30313030593433121074616e6b206661726d2c206261792032f201126368656d6c65646765722e6578"
            "616d706c65");
  EXPECT_EQ(key.verifying_key().ToBase64(), "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=");
  EXPECT_EQ(key.key_id().ToString(), "beca62982f5d94c3");
  absl::StatusOr<v1::SignedEnvelope> signed_event =
      envelope::Sign(api::kEventContext, payload, key);
  ASSERT_TRUE(signed_event.ok()) << signed_event.status();
  EXPECT_EQ(signed_event->payload_type(), "application/vnd.chemledger.event.v1+protobuf");
  EXPECT_EQ(absl::Base64Escape(signed_event->signatures(0).sig()),
            "u68PsteT1n+o37rKrW0bw1RPS4IaMcl6/t4WdygpSmFK9GTu5l14zUI8Ko/MyxkXfH3EQ1Xyh+/6xZKJnv3BDA==");
  EXPECT_EQ(signed_event->signatures(0).key_id(), "beca62982f5d94c3");
}

TEST_F(LifecycleRulesTest, AHeldPackageIsNotShippedOrUsedUntilReleased) {
  Commission({1, 2, 3});
  using Code_ = absl::StatusCode;
  // The custodian holds it (a quarantine), with a reason.
  v1::Event hold = Event(v1::HOLDING, kProducer, {Code(1)});
  Refused(producer_, hold, Code_::kInvalidArgument, "event.reason: is required");
  hold.set_reason("suspected contamination");
  Ok(producer_, hold);
  EXPECT_TRUE(Find(Code(1)).on_hold);
  v1::Event again = Event(v1::HOLDING, kProducer, {Code(1)});
  again.set_reason("twice");
  Refused(producer_, again, Code_::kFailedPrecondition, "is already on hold");
  // Held: not consumed, repackaged or shipped (alone or on a pallet).
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_quantity_milli(1000);
  Refused(producer_, use, Code_::kFailedPrecondition, "is on hold (封存): released first");
  // Nor voided, nor packed on a pallet (from rules epoch 10).
  v1::Event void_it = Event(v1::VOIDING, kProducer, {Code(1)});
  void_it.set_reason("label damaged");
  Refused(producer_, void_it, Code_::kFailedPrecondition, "is on hold (封存): released first");
  const std::string pallet = absl::StrCat(kProducer, ".LU.P1");
  v1::Event pack = Event(v1::PACKING, kProducer, {Code(1), Code(2)});
  pack.set_parent_code(pallet);
  Refused(producer_, pack, Code_::kFailedPrecondition,
          "event.codes[0]: " + Code(1) + " is on hold (封存): released first");
  v1::Event lift = Event(v1::RELEASING, kProducer, {Code(1)});
  lift.set_reason("cleared");
  Ok(producer_, lift);
  // A held pallet holds what is on it: nothing ships, nothing is packed on
  // it or taken off it.
  pack = Event(v1::PACKING, kProducer, {Code(1), Code(2)});
  pack.set_parent_code(pallet);
  Ok(producer_, pack);
  v1::Event seal = Event(v1::HOLDING, kProducer, {pallet});
  seal.set_reason("suspected contamination");
  Ok(producer_, seal);
  EXPECT_TRUE(Find(Code(1)).on_hold);
  v1::Event add = Event(v1::PACKING, kProducer, {Code(3)});
  add.set_parent_code(pallet);
  Refused(producer_, add, Code_::kFailedPrecondition,
          "event.parent_code: " + pallet + " is on hold (封存): released first");
  v1::Event take = Event(v1::UNPACKING, kProducer, {Code(2)});
  take.set_parent_code(pallet);
  Refused(producer_, take, Code_::kFailedPrecondition, "is on hold (封存): released first");
  SubmitWaybill("WB-HELD", kProducer, kWarehouse, {pallet});
  v1::Event ship = Event(v1::SHIPPING, kProducer, {pallet});
  ship.set_consignee_uscc(kWarehouse);
  ship.set_waybill_id("WB-HELD");
  Refused(producer_, ship, Code_::kFailedPrecondition, " is on hold");
  // Storing it elsewhere on site is allowed.
  Ok(producer_, Event(v1::STORING, kProducer, {pallet}));
  // Another enterprise may not hold or release what it does not hold.
  v1::Event release = Event(v1::RELEASING, kWarehouse, {Code(3)});
  release.set_reason("not ours");
  Refused(warehouse_, release, Code_::kPermissionDenied, "event.codes[0]");
  // Released: it ships.
  release = Event(v1::RELEASING, kProducer, {absl::StrCat(kProducer, ".LU.P1")});
  release.set_reason("tests clear");
  Ok(producer_, release);
  EXPECT_FALSE(Find(Code(1)).on_hold);
  ship = Event(v1::SHIPPING, kProducer, {absl::StrCat(kProducer, ".LU.P1")});
  ship.set_consignee_uscc(kWarehouse);
  ship.set_waybill_id("WB-HELD");
  Ok(producer_, ship);
  ExpectChainIntact(Code(1));
}

TEST_F(LifecycleRulesTest, ARegulatorHoldsAndRecallsAnyPackageButRecordsNothingElse) {
  Commission({1, 2});
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1)});
  using Code_ = absl::StatusCode;
  // A regulator's hold names the custodian.
  v1::Event hold = Event(v1::HOLDING, kWarehouse, {Code(1)});
  hold.set_reason("应急管理局 现场检查 封存");
  Refused(regulator_, Event(v1::STORING, kWarehouse, {Code(1)}), Code_::kPermissionDenied,
          "regulators record holds and recalls only");
  v1::Event wrong = hold;
  wrong.mutable_location()->set_enterprise_uscc(kProducer);
  Refused(regulator_, wrong, Code_::kPermissionDenied,
          Code(1) + " is in the custody of " + kWarehouse);
  Ok(regulator_, hold);
  EXPECT_TRUE(Find(Code(1)).on_hold);
  // The warehouse cannot lift a regulator's hold; the regulator releases it.
  v1::Event release = Event(v1::RELEASING, kWarehouse, {Code(1)});
  release.set_reason("检查合格");
  Refused(warehouse_, release, Code_::kPermissionDenied,
          "is on hold by a regulator: only a regulator releases it");
  Ok(regulator_, release);
  // A recall names the issuer; the package is recalled wherever it is.
  v1::Event recall = Event(v1::RECALLING, kProducer, {Code(1), Code(2)});
  recall.set_reason("批次质量问题");
  Ok(regulator_, recall);
  EXPECT_TRUE(Find(Code(1)).recalled);
  EXPECT_TRUE(Find(Code(2)).recalled);
  // Its event id is the regulator's own: an enterprise may use the same.
  v1::Event same_id = Event(v1::STORING, kWarehouse, {Code(1)});
  same_id.set_event_id(recall.event_id());
  Ok(warehouse_, same_id);
}

// From rules epoch 8 a department holds and recalls what it supervises: 公安
// controlled goods (剧毒, 易制爆, 易制毒) only, 生态环境 nothing.
TEST_F(LifecycleRulesTest, ADepartmentHoldsOnlyWhatItSupervises) {
  const auto add_regulator = [&](const crypto::SigningKey& key, v1::Department department) {
    v1::RegistryRequest r;
    v1::Actor* a = r.mutable_add_actor();
    a->set_name(v1::Department_Name(department));
    a->set_role(v1::REGULATOR);
    a->set_public_key(key.verifying_key().ToBytes());
    a->set_department(department);
    a->mutable_jurisdiction()->set_national(true);
    absl::StatusOr<journal::Receipt> added = t_->Registry(admin_, r);
    ASSERT_TRUE(added.ok()) << added.status();
  };
  const crypto::SigningKey police = TestKey(20), ecology = TestKey(21);
  ASSERT_NO_FATAL_FAILURE(add_regulator(police, v1::PUBLIC_SECURITY));
  ASSERT_NO_FATAL_FAILURE(add_regulator(ecology, v1::ECOLOGY_ENVIRONMENT));
  v1::Product toxic = registry::testing::ExampleMethanol(kProducer, "T01");
  toxic.add_control_flags("剧毒");
  ASSERT_TRUE(t_->RegisterProduct(admin_, toxic).ok());
  absl::StatusOr<label::Issuance> issued =
      t_->IssueBatch(producer_, kProducer, "T01", "TX", 1, "25", "KGM");
  ASSERT_TRUE(issued.ok()) << issued.status();
  const std::string toxic_code = absl::StrCat(kProducer, ".T01.TX.1");
  Commission({1});
  Ok(producer_, Event(v1::COMMISSIONING, kProducer, {toxic_code}));

  // Under epoch 7 either held anything; what they held they may release.
  testing::TestLedgerOptions epoch7;
  epoch7.rules_epoch = 7;
  t_->Reopen(epoch7);
  v1::Event old_hold = Event(v1::HOLDING, kProducer, {Code(1)});
  old_hold.set_reason("生态环境 检查");
  Ok(ecology, old_hold);
  t_->Reopen(testing::TestLedgerOptions());
  v1::Event old_release = Event(v1::RELEASING, kProducer, {Code(1)});
  old_release.set_reason("检查合格");
  Ok(ecology, old_release);

  v1::Event hold = Event(v1::HOLDING, kProducer, {Code(1)});
  hold.set_reason("公安 检查");
  Refused(police, hold, absl::StatusCode::kPermissionDenied,
          "event.codes[0]: " + Code(1) +
              " is not a controlled good, nor an aggregate carrying one: 公安 (PUBLIC_SECURITY) "
              "holds and recalls controlled goods only");
  Refused(ecology, hold, absl::StatusCode::kPermissionDenied,
          "生态环境 (ECOLOGY_ENVIRONMENT) does not hold or recall goods");
  v1::Event recall = Event(v1::RECALLING, kProducer, {toxic_code, Code(1)});
  recall.set_reason("公安 召回");
  Refused(police, recall, absl::StatusCode::kPermissionDenied, "is not a controlled good");
  hold = Event(v1::HOLDING, kProducer, {toxic_code});
  hold.set_reason("公安 检查");
  Ok(police, hold);
  EXPECT_TRUE(Find(toxic_code).on_hold);
  v1::Event release = Event(v1::RELEASING, kProducer, {toxic_code});
  release.set_reason("检查合格");
  Ok(police, release);
  // A pallet carrying a controlled good is held whole; one that carries
  // none is refused, naming the pallet, not what is on it.
  const std::string mixed = kProducer + ".LU.MIX", plain = kProducer + ".LU.PLAIN";
  Commission({2, 3});
  v1::Event pack = Event(v1::PACKING, kProducer, {toxic_code, Code(2)});
  pack.set_parent_code(mixed);
  Ok(producer_, pack);
  pack = Event(v1::PACKING, kProducer, {Code(3)});
  pack.set_parent_code(plain);
  Ok(producer_, pack);
  hold = Event(v1::HOLDING, kProducer, {plain});
  hold.set_reason("公安 检查");
  {
    absl::StatusOr<EventReceipt> refused = t_->ledger().Append(Signed(police, hold));
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("event.codes[0]: " + plain +
                                              " is not a controlled good, nor an aggregate"),
              std::string::npos)
        << refused.status();
    EXPECT_EQ(refused.status().message().find(Code(3)), std::string::npos) << refused.status();
  }
  hold = Event(v1::HOLDING, kProducer, {mixed});
  hold.set_reason("公安 检查");
  Ok(police, hold);
  EXPECT_TRUE(Find(mixed).on_hold);
  // 应急管理 holds any package.
  hold = Event(v1::HOLDING, kProducer, {Code(1)});
  hold.set_reason("应急管理局 检查");
  Ok(regulator_, hold);
}

TEST_F(LifecycleRulesTest, ARecallIsTheIssuersAndStopsUseForGood) {
  Commission({1, 2});
  Move(producer_, kProducer, user_, kUser, {Code(1)});
  using Code_ = absl::StatusCode;
  // Not by whoever holds it: by the issuer.
  v1::Event recall = Event(v1::RECALLING, kUser, {Code(1)});
  recall.set_reason("we think so");
  Refused(user_, recall, Code_::kPermissionDenied, "only its issuer may recall it");
  recall = Event(v1::RECALLING, kProducer, {Code(1)});
  recall.set_reason("wrong concentration");
  Ok(producer_, recall);
  v1::Event use = Event(v1::CONSUMING, kUser, {Code(1)});
  use.set_quantity_milli(1000);
  Refused(user_, use, Code_::kFailedPrecondition, "is recalled: not to be consumed");
  // It may go back to its supplier, and nowhere else.
  SubmitWaybill("WB-RECALL-ELSEWHERE", kUser, kWarehouse, {Code(1)});
  v1::Event elsewhere = Event(v1::SHIPPING, kUser, {Code(1)});
  elsewhere.set_consignee_uscc(kWarehouse);
  elsewhere.set_waybill_id("WB-RECALL-ELSEWHERE");
  Refused(user_, elsewhere, Code_::kFailedPrecondition, "is recalled: it ships back to");
  v1::WaybillRequest cancel;
  cancel.mutable_cancel()->set_waybill_number("WB-RECALL-ELSEWHERE");
  cancel.mutable_cancel()->set_reason("recalled goods go back");
  ASSERT_TRUE(ApplyWaybill(cancel).ok());
  Move(user_, kUser, producer_, kProducer, {Code(1)});
  // Aggregates are not recalled; codes never commissioned are not known.
  v1::Event pallet = Event(v1::RECALLING, kProducer, {absl::StrCat(kProducer, ".LU.X")});
  pallet.set_reason("r");
  Refused(producer_, pallet, Code_::kInvalidArgument, "is not a package code");
  v1::Event unknown = Event(v1::RECALLING, kProducer, {Code(9)});
  unknown.set_reason("r");
  Refused(producer_, unknown, Code_::kNotFound, "is not in the ledger");
}

// From rules epoch 10 one package seen by enterprises of two cities within
// six hours is a signal (one label is a copy); the same city, hours apart,
// or a carrier on the road is not.
TEST_F(LifecycleRulesTest, APackageSeenInTwoCitiesWithinHoursIsASignal) {
  clock_ = absl::Now() - absl::Hours(20);
  Commission({1, 2, 3});
  Move(producer_, kProducer, user_, kUser, {Code(1)});
  // The user (registered in 350300) scans what it holds; the warehouse
  // (350200, another city) scans the same code seconds later.
  Ok(user_, Event(v1::OBSERVING, kUser, {Code(1)}));
  const EventReceipt twice = Ok(warehouse_, Event(v1::OBSERVING, kWarehouse, {Code(1)}));
  // Hours apart: nothing to tell about the time (code 2 at the producer,
  // seen by the warehouse 19 hours later: only seen away from its custodian).
  Ok(producer_, Event(v1::OBSERVING, kProducer, {Code(2)}));
  Ok(warehouse_, Event(v1::OBSERVING, kWarehouse, {Code(2)}, -absl::Hours(19)));
  // A carrier's scan on the road is not a place.
  Ok(producer_, Event(v1::OBSERVING, kProducer, {Code(3)}));
  Ok(carrier_, Event(v1::OBSERVING, kCarrier, {Code(3)}));
  // Seen at the producer, then shipped and received in another city within
  // the hour: its history explains the second place.
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(3)});
  Ok(warehouse_, Event(v1::OBSERVING, kWarehouse, {Code(3)}));
  absl::StatusOr<std::vector<ScanSignal>> signals = ListScanSignals(*t_->snapshot(), 0, "", 100);
  ASSERT_TRUE(signals.ok()) << signals.status();
  std::vector<ScanSignal> two_places;
  for (const ScanSignal& s : *signals) {
    if (s.kind == "seen-in-two-places") two_places.push_back(s);
  }
  ASSERT_EQ(two_places.size(), 1u);
  EXPECT_EQ(two_places[0].log_index, twice.log_index);
  EXPECT_EQ(two_places[0].code, Code(1));
  EXPECT_EQ(two_places[0].seen_by, kWarehouse);
  EXPECT_EQ(two_places[0].earlier_seen_by, kUser);
  EXPECT_EQ(two_places[0].custodian, kUser);

  // Under epoch 9 there was no such signal (entries of that epoch rebuild so).
  testing::TestLedgerOptions epoch9;
  epoch9.rules_epoch = 9;
  t_->Reopen(epoch9);
  const size_t before = ListScanSignals(*t_->snapshot(), 0, "", 100)->size();
  Ok(user_, Event(v1::OBSERVING, kUser, {Code(1)}));  // seconds after the warehouse's
  EXPECT_EQ(ListScanSignals(*t_->snapshot(), 0, "", 100)->size(), before) << "no new signal";
  t_->Reopen(testing::TestLedgerOptions());
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, AnObservationChangesNothingAndKeepsUnexplainedScansAsSignals) {
  Commission({1, 2, 3});
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(2)});
  use.set_quantity_milli(25000);
  Ok(producer_, use);
  const CodeState before = Find(Code(1));
  // The custodian's own scan: nothing to explain.
  const v1::Event own_event = Event(v1::OBSERVING, kProducer, {Code(1)});
  const std::string own_event_id = own_event.event_id();
  const EventReceipt own = Ok(producer_, own_event);
  EXPECT_EQ(Find(Code(1)).custodian, before.custodian);
  EXPECT_EQ(Find(Code(1)).remaining_milli, before.remaining_milli);
  EXPECT_EQ(HistoryOf(Code(1)).back(), own.log_index);
  ExpectChainIntact(Code(1));
  // A warehouse sees a package still at the producer (and not sent to it),
  // and a used-up one: both kept as signals; a carrier may record scans.
  const EventReceipt away = Ok(warehouse_, Event(v1::OBSERVING, kWarehouse, {Code(3), Code(2)}));
  const EventReceipt roadside = Ok(carrier_, Event(v1::OBSERVING, kCarrier, {Code(1)}));
  EXPECT_EQ(Find(Code(2)).status, CodeStatus::kConsumed);  // still
  absl::StatusOr<std::vector<ScanSignal>> signals = ListScanSignals(*t_->snapshot(), 0, "", 100);
  ASSERT_TRUE(signals.ok()) << signals.status();
  ASSERT_EQ(signals->size(), 3u);
  EXPECT_EQ((*signals)[0].log_index, away.log_index);
  EXPECT_EQ((*signals)[0].code, Code(2));
  EXPECT_EQ((*signals)[0].kind, "ended-package-seen");
  EXPECT_EQ((*signals)[0].status, "consumed");
  EXPECT_EQ((*signals)[1].code, Code(3));
  EXPECT_EQ((*signals)[1].kind, "seen-away-from-custodian");
  EXPECT_EQ((*signals)[1].seen_by, kWarehouse);
  EXPECT_EQ((*signals)[1].custodian, kProducer);
  EXPECT_EQ((*signals)[2].log_index, roadside.log_index);
  // A page may end inside one observation's signals: the next goes on from
  // the last signal, not the last entry.
  signals = ListScanSignals(*t_->snapshot(), 0, "", 1);
  ASSERT_TRUE(signals.ok());
  ASSERT_EQ(signals->size(), 1u);
  signals = ListScanSignals(*t_->snapshot(), signals->front().log_index, signals->front().code, 100);
  ASSERT_TRUE(signals.ok());
  ASSERT_EQ(signals->size(), 2u);
  EXPECT_EQ(signals->front().code, Code(3));
  EXPECT_EQ(signals->back().log_index, roadside.log_index);
  // A code the ledger does not know.
  Refused(warehouse_, Event(v1::OBSERVING, kWarehouse, {Code(9)}), absl::StatusCode::kPermissionDenied,
          "is not a code " + kWarehouse + " holds, has held or is sent");
  // From rules epoch 13 someone else's package is observed with the label
  // scanned from it. Without one the refusal is the same for a package in
  // the ledger (3), one issued but never commissioned (9) and a code never
  // issued: guessing codes tells nothing (nor, by the event time, when a
  // package last changed). The same for a label the log never issued
  // (signed with a leaked key).
  {
    const std::string never_issued = kProducer + ".M01.B1.77";
    const crypto::SigningKey forger = TestKey(60);
    // `code`'s label with its claims, signed by a key not the ledger's.
    const auto forged_label = [&](const std::string& code) {
      absl::StatusOr<crypto::ParsedLabel> genuine = crypto::ParseLabelUrl(LabelUrl(code));
      EXPECT_TRUE(genuine.ok()) << code;
      absl::StatusOr<std::string> forged =
          crypto::MakeLabelUrl(genuine.ok() ? genuine->claims : crypto::LabelClaims(), forger);
      EXPECT_TRUE(forged.ok()) << forged.status();
      return forged.ok() ? *forged : "";
    };
    // Signed by the ledger's own label key (as a leaked one would), for a
    // serial the log never issued.
    absl::StatusOr<crypto::ParsedLabel> genuine = crypto::ParseLabelUrl(LabelUrl(Code(3)));
    ASSERT_TRUE(genuine.ok());
    absl::StatusOr<const crypto::SigningKey*> label_key = t_->keyring().Find(genuine->key_id);
    ASSERT_TRUE(label_key.ok()) << label_key.status();
    crypto::LabelClaims unissued_claims = genuine->claims;
    unissued_claims.serial = 77;
    absl::StatusOr<std::string> unissued = crypto::MakeLabelUrl(unissued_claims, **label_key);
    ASSERT_TRUE(unissued.ok()) << unissued.status();
    const uint64_t before = LogSize();
    for (const auto& [code, label] : std::vector<std::pair<std::string, std::string>>{
             {Code(3), ""}, {Code(9), ""}, {never_issued, ""}, {never_issued, *unissued}}) {
      v1::Event e = Event(v1::OBSERVING, kWarehouse, {code});
      e.clear_label_urls();
      e.add_label_urls(label);
      absl::StatusOr<EventReceipt> r = t_->ledger().Append(Signed(warehouse_, e));
      ASSERT_FALSE(r.ok()) << code << " with label '" << label << "' was observed";
      EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
      EXPECT_EQ(r.status().message(), absl::StrCat("event.codes[0]: ", code, " is not a code ",
                                                   kWarehouse, " holds, has held or is sent"));
    }
    EXPECT_EQ(LogSize(), before);
    // From rules epoch 14 a label no label key of the ledger signed is
    // refused as such, on any code (the observer's own too: a forged label
    // is in circulation), before anything of the ledger is read: checked
    // with the event's signature, not as the ledger orders writes.
    for (const auto& [key, uscc, code] :
         std::vector<std::tuple<const crypto::SigningKey*, std::string, std::string>>{
             {&warehouse_, kWarehouse, Code(3)},
             {&warehouse_, kWarehouse, never_issued},
             {&producer_, kProducer, Code(1)}}) {
      v1::Event e = Event(v1::OBSERVING, uscc, {code});
      e.set_label_urls(0, forged_label(code == never_issued ? Code(3) : code));
      if (code == never_issued) {
        // (A label of serial 77 with the claims of serial 3.)
        absl::StatusOr<crypto::ParsedLabel> genuine = crypto::ParseLabelUrl(LabelUrl(Code(3)));
        ASSERT_TRUE(genuine.ok());
        crypto::LabelClaims claims = genuine->claims;
        claims.serial = 77;
        absl::StatusOr<std::string> forged = crypto::MakeLabelUrl(claims, forger);
        ASSERT_TRUE(forged.ok());
        e.set_label_urls(0, *forged);
      }
      Refused(*key, e, absl::StatusCode::kPermissionDenied,
              "event.label_urls[0]: not a label this ledger issued");
    }
    EXPECT_EQ(LogSize(), before);
    // Labels one per code or none, each its own code's, and on observations
    // only (what a label says is read before any state, and tells nothing).
    v1::Event swapped = Event(v1::OBSERVING, kWarehouse, {Code(3)});
    swapped.set_label_urls(0, LabelUrl(Code(4)));
    Refused(warehouse_, swapped, absl::StatusCode::kInvalidArgument,
            "event.label_urls[0]: is the label of " + Code(4) + ", not of " + Code(3));
    v1::Event two = Event(v1::OBSERVING, kProducer, {Code(1), Code(3)});
    two.mutable_label_urls()->RemoveLast();
    Refused(producer_, two, absl::StatusCode::kInvalidArgument,
            "event.label_urls: one per code, in the order of codes (2), or none; 1 given");
    v1::Event stored = Event(v1::STORING, kProducer, {Code(4)});
    stored.add_label_urls(LabelUrl(Code(4)));
    Refused(producer_, stored, absl::StatusCode::kInvalidArgument,
            "event.label_urls: is not read by a STORING event (only by OBSERVING)");
    // The carrier of the open waybill a package travels on knows what it
    // carries: its roadside scan needs no label. Anyone else's does.
    Commission({4});
    Ship(producer_, kProducer, kWarehouse, {Code(4)}, "WB-ROAD");
    v1::Event roadside_bare = Event(v1::OBSERVING, kCarrier, {Code(4)});
    roadside_bare.clear_label_urls();
    Ok(carrier_, roadside_bare);
    v1::Event user_bare = Event(v1::OBSERVING, kUser, {Code(4)});
    user_bare.clear_label_urls();
    Refused(user_, user_bare, absl::StatusCode::kPermissionDenied,
            "is not a code " + kUser + " holds, has held or is sent");
    Ok(warehouse_, Event(v1::RECEIVING, kWarehouse, {Code(4)}));
    // At most 100 codes an observation that labels must prove.
    {
      v1::Event many = Event(v1::OBSERVING, kWarehouse, {});
      for (int serial = 1000; serial <= 1100; ++serial) {
        many.add_codes(absl::StrCat(kProducer, ".M01.B1.", serial));
        many.add_label_urls("");
      }
      Refused(warehouse_, many, absl::StatusCode::kInvalidArgument,
              "event.codes: an observation names at most 100 packages");
      many.mutable_codes()->RemoveLast();
      many.mutable_label_urls()->RemoveLast();
      Refused(warehouse_, many, absl::StatusCode::kPermissionDenied, "is not a code");
      // From rules epoch 14 at most 100 labels an observation (each a
      // signature check), counted before any is read.
      v1::Event labelled = Event(v1::OBSERVING, kProducer, {});
      for (int serial = 1000; serial <= 1100; ++serial) {
        labelled.add_codes(absl::StrCat(kProducer, ".M01.B1.", serial));
        labelled.add_label_urls("not read");
      }
      Refused(producer_, labelled, absl::StatusCode::kInvalidArgument,
              "event.label_urls: an observation carries at most 100 labels (101 given): split it");
    }
    // The producer's own packages need none; entries of epoch 12 kept theirs.
    v1::Event own = Event(v1::OBSERVING, kProducer, {Code(1)});
    own.clear_label_urls();
    Ok(producer_, own);
    // Entries of epoch 13 kept theirs: a forged label on what the observer
    // holds went unread, one on someone else's was refused alike whether the
    // code exists or not.
    testing::TestLedgerOptions epoch13;
    epoch13.rules_epoch = 13;
    t_->Reopen(epoch13);
    ASSERT_FALSE(HasFatalFailure());
    v1::Event own_forged = Event(v1::OBSERVING, kProducer, {Code(1)});
    own_forged.set_label_urls(0, forged_label(Code(1)));
    Ok(producer_, own_forged);
    v1::Event others_forged = Event(v1::OBSERVING, kWarehouse, {Code(3)});
    others_forged.set_label_urls(0, forged_label(Code(3)));
    Refused(warehouse_, others_forged, absl::StatusCode::kPermissionDenied,
            absl::StrCat("event.codes[0]: ", Code(3), " is not a code ", kWarehouse,
                         " holds, has held or is sent"));
    testing::TestLedgerOptions epoch12;
    epoch12.rules_epoch = 12;
    t_->Reopen(epoch12);
    ASSERT_FALSE(HasFatalFailure());
    v1::Event bare = Event(v1::OBSERVING, kWarehouse, {Code(3)});
    bare.clear_label_urls();
    Ok(warehouse_, bare);
    t_->Reopen(testing::TestLedgerOptions());
    ASSERT_FALSE(HasFatalFailure());
  }
  // Observations do not stand in the way of correcting the last change, and
  // are not themselves "corrected".
  v1::Event wrong_use = Event(v1::CONSUMING, kProducer, {Code(1)});
  wrong_use.set_quantity_milli(5000);
  Ok(producer_, wrong_use);
  Ok(warehouse_, Event(v1::OBSERVING, kWarehouse, {Code(1)}, absl::Minutes(-4)));
  v1::Event fix = Event(v1::ERROR_DECLARATION, kProducer, {});
  fix.set_corrects_event_id(wrong_use.event_id());
  fix.set_reason("weighed wrong");
  Ok(producer_, fix);
  EXPECT_EQ(Find(Code(1)).remaining_milli, 25000u);
  v1::Event fix_observation = Event(v1::ERROR_DECLARATION, kProducer, {});
  fix_observation.set_corrects_event_id(own_event_id);
  fix_observation.set_reason("no");
  Refused(producer_, fix_observation, absl::StatusCode::kInvalidArgument,
          "is an observation: it changed nothing");
  ExpectChainIntact(Code(1));
  ExpectCheckPasses();  // the epoch 13 observation's forged label included
}

// A new observation's labels are checked with its signature, before the
// ledger orders it (Ledger::VerifyBatch); when the state is rebuilt from the
// log (`chemledgerd check`) the rules read them again: an entry whose forged
// label got past (here, submitted around the personality) fails the check.
TEST_F(LifecycleRulesTest, CheckReadsLoggedObservationsLabelsAgain) {
  Commission({1});
  ExpectCheckPasses();
  absl::StatusOr<crypto::ParsedLabel> genuine = crypto::ParseLabelUrl(LabelUrl(Code(1)));
  ASSERT_TRUE(genuine.ok());
  absl::StatusOr<std::string> forged = crypto::MakeLabelUrl(genuine->claims, TestKey(60));
  ASSERT_TRUE(forged.ok()) << forged.status();
  v1::Event e = Event(v1::OBSERVING, kProducer, {Code(1)});
  e.set_label_urls(0, *forged);
  std::vector<journal::Request> around_the_ledger(1);
  around_the_ledger[0].envelope = Signed(producer_, e);
  ASSERT_TRUE(t_->client().Submit(std::move(around_the_ledger))[0].ok());
  absl::StatusOr<journal::CheckReport> report = t_->Check();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss) << report.status();
  EXPECT_NE(report.status().message().find("event.label_urls[0]: not a label this ledger issued"),
            std::string::npos)
      << report.status();
}

// A request names the last second it may be recorded in (rules epoch 15,
// services/registry/request_binding.h): later, a new request is refused; a
// retry of one recorded in time gets its receipt, however late; `check`
// holds logged entries to it; entries of epoch 14 did not know the field.
TEST_F(LifecycleRulesTest, ARequestIsNotRecordedAfterItsExpiry) {
  Commission({1, 2, 3});
  absl::Time now = absl::Now();
  testing::TestLedgerOptions options;
  options.clock = [&now] { return now; };
  t_->Reopen(options);

  v1::Event store = Event(v1::STORING, kProducer, {Code(1)});
  store.set_expires_unix_seconds(absl::ToUnixSeconds(now) + 60);
  const v1::SignedEnvelope in_time = Signed(producer_, store);
  absl::StatusOr<EventReceipt> first = t_->ledger().Append(in_time);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);

  now += absl::Minutes(5);
  absl::StatusOr<EventReceipt> retried = t_->ledger().Append(in_time);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_TRUE(retried->replayed);
  EXPECT_EQ(retried->log_index, first->log_index);

  v1::Event late = Event(v1::STORING, kProducer, {Code(2)});
  late.set_expires_unix_seconds(absl::ToUnixSeconds(now) - 1);
  Refused(producer_, late, absl::StatusCode::kFailedPrecondition,
          "expires_unix_seconds: the request expired at");
  // Its last second is still in time.
  late.set_expires_unix_seconds(absl::ToUnixSeconds(now));
  Ok(producer_, late);
  ExpectCheckPasses();

  // Epoch 14 took the field as any unknown one: recorded whatever it says.
  options.rules_epoch = 14;
  t_->Reopen(options);
  v1::Event old = Event(v1::STORING, kProducer, {Code(3)});
  old.set_expires_unix_seconds(1);
  Ok(producer_, old);
  ExpectCheckPasses();
}

// A logged request names no other deployment (rules epoch 15): checked
// before it is sequenced, beside its signature, and again by the rules, so
// that one submitted around that check is refused too (and `check` holds
// the log to it); one naming this deployment is taken.
TEST_F(LifecycleRulesTest, ARequestOfAnotherDeploymentIsRefusedAroundTheGateToo) {
  Commission({1});
  v1::Event e = Event(v1::STORING, kProducer, {Code(1)});
  e.set_deployment("chemledger.elsewhere");
  Refused(producer_, e, absl::StatusCode::kUnauthenticated,
          "deployment: the request was signed for deployment \"chemledger.elsewhere\"");
  const uint64_t size = LogSize();
  std::vector<journal::Request> around_the_ledger(1);
  around_the_ledger[0].envelope = Signed(producer_, e);
  absl::StatusOr<journal::Receipt> around = t_->client().Submit(std::move(around_the_ledger))[0];
  EXPECT_EQ(around.status().code(), absl::StatusCode::kUnauthenticated) << around.status();
  EXPECT_EQ(LogSize(), size);
  absl::StatusOr<state::DeploymentRecord> here = registry::ReadDeployment(*t_->snapshot());
  ASSERT_TRUE(here.ok()) << here.status();
  e.set_deployment(here->deployment());
  Ok(producer_, e);
  ExpectCheckPasses();
}

TEST_F(LifecycleRulesTest, TheStockIndexFollowsCustodySiteAndStatus) {
  const auto stock = [&](const std::string& uscc, const std::string& site) {
    bool more = false;
    absl::StatusOr<std::vector<CodeState>> s = ListStock(*t_->snapshot(), uscc, site, "", 100, &more);
    EXPECT_TRUE(s.ok()) << s.status();
    std::vector<std::string> codes;
    if (s.ok()) {
      for (const CodeState& c : *s) codes.push_back(c.code);
    }
    return codes;
  };
  Commission({1, 2, 3});
  EXPECT_EQ(stock(kProducer, "main"), (std::vector<std::string>{Code(1), Code(2), Code(3)}));
  v1::Event store = Event(v1::STORING, kProducer, {Code(2)});
  store.mutable_location()->set_site("bay 2/east");
  Ok(producer_, store);
  EXPECT_EQ(stock(kProducer, "main"), (std::vector<std::string>{Code(1), Code(3)}));
  EXPECT_EQ(stock(kProducer, "bay 2/east"), (std::vector<std::string>{Code(2)}));
  EXPECT_EQ(Find(Code(2)).site, "bay 2/east");
  // A site written as its own escaped form is another site (state format 14).
  EXPECT_TRUE(stock(kProducer, "bay 2%2Feast").empty());
  // Used up: gone from the shelf; shipped: on the road; received: there.
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(3)});
  use.set_quantity_milli(25000);
  Ok(producer_, use);
  EXPECT_EQ(stock(kProducer, "main"), (std::vector<std::string>{Code(1)}));
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1)});
  EXPECT_TRUE(stock(kProducer, "main").empty());
  EXPECT_EQ(stock(kWarehouse, "main"), (std::vector<std::string>{Code(1)}));
  // An observation elsewhere moves nothing.
  v1::Event seen = Event(v1::OBSERVING, kWarehouse, {Code(1)});
  seen.mutable_location()->set_site("gate");
  Ok(warehouse_, seen);
  EXPECT_EQ(stock(kWarehouse, "main"), (std::vector<std::string>{Code(1)}));
  // A pallet packed at a site is there with what is on it.
  v1::Event pack = Event(v1::PACKING, kProducer, {Code(2)});
  pack.set_parent_code(absl::StrCat(kProducer, ".LU.P9"));
  pack.mutable_location()->set_site("dock");
  Ok(producer_, pack);
  EXPECT_EQ(stock(kProducer, "dock"),
            (std::vector<std::string>{absl::StrCat(kProducer, ".LU.P9"), Code(2)}));
  EXPECT_TRUE(stock(kProducer, "bay 2/east").empty());
}

TEST_F(LifecycleRulesTest, AnEnterpriseWithRegisteredSitesPutsGoodsAtOne) {
  Commission({1, 2});  // free-text site "main": no sites registered yet
  v1::RegistryRequest r;
  r.set_request_id("site-wh3");
  *r.mutable_register_site() = registry::testing::ExampleSite(kProducer, "WH-3");
  ASSERT_TRUE(t_->Registry(admin_, r).ok());
  Refused(producer_, Event(v1::STORING, kProducer, {Code(1)}), absl::StatusCode::kInvalidArgument,
          "event.location.site: 'main' is not a registered site of " + kProducer);
  v1::Event store = Event(v1::STORING, kProducer, {Code(1)});
  store.mutable_location()->set_site("WH-3");
  Ok(producer_, store);
  EXPECT_EQ(Find(Code(1)).site, "WH-3");
  // Steps that put nothing anywhere name any site (a loading dock, a gate).
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(2)});
  use.set_quantity_milli(1000);
  Ok(producer_, use);
  // Another enterprise without registered sites keeps free text.
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(2)});
}

}  // namespace
}  // namespace chemledger::ledger
