#include "services/audit/reconciliation.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "services/audit/reconciliation_check.h"
#include "services/ledger/lifecycle_testing.h"
#include "services/waybill/waybill_testing.h"

namespace chemledger::audit {
namespace {

using ledger::lifecycle_testing::kCarrier;
using ledger::lifecycle_testing::kDisposer;
using ledger::lifecycle_testing::kProducer;
using ledger::lifecycle_testing::kUser;
using ledger::lifecycle_testing::kWarehouse;

// A state reader that hides the state keys containing `hidden`: a store
// whose quantity flows lost a record.
class HidingReader final : public storage::StateReader {
 public:
  HidingReader(const storage::StateReader& base, std::string hidden)
      : base_(base), hidden_(std::move(hidden)) {}
  uint64_t size() const override { return base_.size(); }
  absl::StatusOr<std::string> Entry(uint64_t index) const override { return base_.Entry(index); }
  absl::StatusOr<storage::Sha256Digest> LeafHash(uint64_t index) const override {
    return base_.LeafHash(index);
  }
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const override {
    if (absl::StrContains(key, hidden_)) return std::nullopt;
    return base_.Get(key);
  }
  absl::Status Scan(absl::string_view begin, absl::string_view end,
                    const storage::ScanVisitor& visit) const override {
    return base_.Scan(begin, end, [&](absl::string_view k, absl::string_view v) {
      return absl::StrContains(k, hidden_) ? true : visit(k, v);
    });
  }

 private:
  const storage::StateReader& base_;
  const std::string hidden_;
};

class ReconciliationTest : public ledger::lifecycle_testing::LifecycleFixture {
 protected:
  v1::Actor Regulator() { return ActorOf(regulator_); }
  v1::Reconciliation Run(const v1::Actor& reader, const v1::ReconcileRequest& request) {
    absl::StatusOr<v1::Reconciliation> r = Reconcile(*t_->snapshot(), reader, request);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::Reconciliation();
  }
  static const v1::ReconciliationRow* Row(const v1::Reconciliation& r, const std::string& uscc) {
    for (const v1::ReconciliationRow& row : r.rows()) {
      if (row.enterprise_uscc() == uscc) return &row;
    }
    return nullptr;
  }
  static void ExpectBalanced(const v1::ReconciliationRow& row) {
    EXPECT_EQ(row.figures().stock_difference_milli(), 0) << row.DebugString();
    EXPECT_EQ(row.figures().transit_difference_milli(), 0) << row.DebugString();
    EXPECT_EQ(row.figures().lost_difference_milli(), 0) << row.DebugString();
    EXPECT_EQ(row.codes_behind_differences_size(), 0) << row.DebugString();
  }

  // Six packages of 25 kg produced; two to the warehouse, one to the
  // disposer (who destroys it), one on its way to the user, 10 kg of one
  // used by the producer, one lost. Returns the time after commissioning.
  absl::Time LifeOfSix() {
    Commission({1, 2, 3, 4, 5, 6});
    // Event times are whole seconds, a second apart.
    const absl::Time after_commissioning =
        absl::FromUnixSeconds(absl::ToUnixSeconds(clock_)) + absl::Milliseconds(500);
    Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1), Code(2)});
    Move(producer_, kProducer, disposer_, kDisposer, {Code(6)});
    v1::Event destroy = Event(v1::DESTROYING, kDisposer, {Code(6)});
    destroy.set_manifest_id("3501002026000123");
    Ok(disposer_, destroy);
    SubmitWaybill("WB-USER", kProducer, kUser, {Code(3)});
    v1::Event ship = Event(v1::SHIPPING, kProducer, {Code(3)});
    ship.set_consignee_uscc(kUser);
    ship.set_waybill_id("WB-USER");
    Ok(producer_, ship);
    v1::Event use = Event(v1::CONSUMING, kProducer, {Code(4)});
    use.set_quantity_milli(10000);
    Ok(producer_, use);
    v1::Event loss = Event(v1::LOSS_REPORT, kProducer, {Code(5)});
    loss.set_reason("stolen from the yard");
    Ok(producer_, loss);
    return after_commissioning;
  }

  // Ships declared waste `code` from the producer to the disposer under
  // waybill `number`, which names 危险废物转移联单 `manifest`; the disposer
  // receives and destroys it. Returns the destruction.
  v1::Event DisposeOfWaste(const std::string& code, const std::string& number,
                           const std::string& manifest) {
    v1::WaybillRequest submit;
    *submit.mutable_submit() = waybill::testing::ExampleWaybill(number, kCarrier, kProducer,
                                                                kDisposer, {code}, 25000, "KGM");
    submit.mutable_submit()->set_waste_manifest(manifest);
    submit.mutable_submit()->set_waste_code("900-041-49");
    absl::StatusOr<waybill::WaybillReceipt> opened = ApplyWaybill(submit);
    EXPECT_TRUE(opened.ok()) << opened.status();
    v1::Event ship = Event(v1::SHIPPING, kProducer, {code});
    ship.set_consignee_uscc(kDisposer);
    ship.set_waybill_id(number);
    Ok(producer_, ship);
    Ok(disposer_, Event(v1::RECEIVING, kDisposer, {code}));
    v1::Event destroy = Event(v1::DESTROYING, kDisposer, {code});
    destroy.set_manifest_id(manifest);
    Ok(disposer_, destroy);
    return destroy;
  }
};

TEST_F(ReconciliationTest, EveryColumnOfAPackagesLife) {
  LifeOfSix();
  const v1::Reconciliation r = Run(Regulator(), v1::ReconcileRequest());
  EXPECT_EQ(r.format(), kReconciliationFormat);
  EXPECT_TRUE(r.checked_against_package_states());
  EXPECT_EQ(r.log_size(), LogSize());

  const v1::ReconciliationRow* producer = Row(r, kProducer);
  ASSERT_NE(producer, nullptr);
  EXPECT_EQ(producer->unit(), "KGM");
  EXPECT_EQ(producer->product_number(), "M01");
  const v1::QuantityFigures& p = producer->figures();
  EXPECT_EQ(p.opening_stock_milli(), 0u);
  EXPECT_EQ(p.produced_milli(), 150000u);
  EXPECT_EQ(p.shipped_milli(), 100000u);
  EXPECT_EQ(p.consumed_milli(), 10000u);
  EXPECT_EQ(p.lost_milli(), 25000u);
  EXPECT_EQ(p.closing_stock_milli(), 15000u);
  EXPECT_EQ(p.delivered_milli(), 75000u);
  EXPECT_EQ(p.closing_in_transit_milli(), 25000u);
  EXPECT_EQ(p.closing_lost_milli(), 25000u);
  ExpectBalanced(*producer);

  const v1::ReconciliationRow* warehouse = Row(r, kWarehouse);
  ASSERT_NE(warehouse, nullptr);
  EXPECT_EQ(warehouse->figures().received_milli(), 50000u);
  EXPECT_EQ(warehouse->figures().closing_stock_milli(), 50000u);
  ExpectBalanced(*warehouse);

  const v1::ReconciliationRow* disposer = Row(r, kDisposer);
  ASSERT_NE(disposer, nullptr);
  EXPECT_EQ(disposer->figures().received_milli(), 25000u);
  EXPECT_EQ(disposer->figures().disposed_milli(), 25000u);
  EXPECT_EQ(disposer->figures().closing_stock_milli(), 0u);
  ExpectBalanced(*disposer);

  // The user has received nothing yet: no row.
  EXPECT_EQ(Row(r, kUser), nullptr);

  ASSERT_EQ(r.totals_size(), 1);
  const v1::QuantityFigures& total = r.totals(0).figures();
  EXPECT_EQ(r.totals(0).unit(), "KGM");
  EXPECT_EQ(total.produced_milli(), 150000u);
  EXPECT_EQ(total.received_milli(), 75000u);
  EXPECT_EQ(total.closing_stock_milli(), 65000u);
  EXPECT_EQ(total.closing_in_transit_milli(), 25000u);
  ExpectBalanced(r.totals(0));

  ASSERT_EQ(r.carriers_size(), 1);
  EXPECT_EQ(r.carriers(0).carrier_uscc(), kCarrier);
  EXPECT_EQ(r.carriers(0).shipped_milli(), 100000u);
  EXPECT_EQ(r.carriers(0).waybills(), 3u);
}

TEST_F(ReconciliationTest, APeriodOpensWithTheStockBeforeIt) {
  const absl::Time after_commissioning = LifeOfSix();
  v1::ReconcileRequest request;
  request.mutable_from()->set_seconds(absl::ToUnixSeconds(after_commissioning));
  request.mutable_from()->set_nanos(500000000);
  const v1::Reconciliation r = Run(Regulator(), request);
  const v1::ReconciliationRow* producer = Row(r, kProducer);
  ASSERT_NE(producer, nullptr);
  EXPECT_EQ(producer->figures().opening_stock_milli(), 150000u);
  EXPECT_EQ(producer->figures().produced_milli(), 0u);
  EXPECT_EQ(producer->figures().closing_stock_milli(), 15000u);
  ExpectBalanced(*producer);

  // A period that ends before the shipments: everything still at the
  // producer, nothing checked against today's states.
  v1::ReconcileRequest early;
  early.mutable_to()->set_seconds(absl::ToUnixSeconds(after_commissioning) + 1);
  const v1::Reconciliation e = Run(Regulator(), early);
  EXPECT_FALSE(e.checked_against_package_states());
  ASSERT_NE(Row(e, kProducer), nullptr);
  EXPECT_EQ(Row(e, kProducer)->figures().closing_stock_milli(), 150000u);
  EXPECT_EQ(Row(e, kWarehouse), nullptr);
}

TEST_F(ReconciliationTest, AnErrorDeclarationCountsAsACorrection) {
  Commission({1});
  SubmitWaybill("WB-WRONG", kProducer, kWarehouse, {Code(1)});
  v1::Event ship = Event(v1::SHIPPING, kProducer, {Code(1)});
  ship.set_consignee_uscc(kWarehouse);
  ship.set_waybill_id("WB-WRONG");
  Ok(producer_, ship);
  v1::Event undo = Event(v1::ERROR_DECLARATION, kProducer, {});
  undo.set_corrects_event_id(ship.event_id());
  undo.set_reason("loaded on the wrong truck");
  Ok(producer_, undo);
  const v1::Reconciliation r = Run(Regulator(), v1::ReconcileRequest());
  const v1::ReconciliationRow* producer = Row(r, kProducer);
  ASSERT_NE(producer, nullptr);
  EXPECT_EQ(producer->figures().shipped_milli(), 25000u);
  EXPECT_EQ(producer->figures().stock_corrections_milli(), 25000);
  EXPECT_EQ(producer->figures().transit_corrections_milli(), -25000);
  EXPECT_EQ(producer->figures().closing_stock_milli(), 25000u);
  EXPECT_EQ(producer->figures().closing_in_transit_milli(), 0u);
  ExpectBalanced(*producer);
}

TEST_F(ReconciliationTest, AMissingFlowLeavesADifferenceNamingItsPackage) {
  LifeOfSix();
  // The flow of the consumption of package 4 is gone from the store.
  const std::shared_ptr<const storage::Snapshot> snapshot = t_->snapshot();
  std::string hidden;
  ASSERT_TRUE(snapshot
                  ->Scan("l/flow/", storage::PrefixEnd("l/flow/"),
                         [&](absl::string_view key, absl::string_view value) {
                           state::FlowRecord f;
                           EXPECT_TRUE(f.ParseFromString(std::string(value)));
                           if (f.step() == v1::CONSUMING) hidden = std::string(key.substr(key.rfind('/') - 16));
                           return true;
                         })
                  .ok());
  ASSERT_FALSE(hidden.empty());
  HidingReader damaged(*snapshot, hidden);
  absl::StatusOr<v1::Reconciliation> r =
      Reconcile(damaged, Regulator(), v1::ReconcileRequest());
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::ReconciliationRow* producer = Row(*r, kProducer);
  ASSERT_NE(producer, nullptr);
  EXPECT_EQ(producer->figures().consumed_milli(), 0u);
  EXPECT_EQ(producer->figures().stock_difference_milli(), 10000);
  ASSERT_EQ(producer->codes_behind_differences_size(), 1);
  EXPECT_EQ(producer->codes_behind_differences(0), Code(4));
  EXPECT_NE(r->totals(0).figures().stock_difference_milli(), 0);
}

TEST_F(ReconciliationTest, ChemicalsAndPlaces) {
  LifeOfSix();
  v1::ReconcileRequest by_cas;
  by_cas.set_cas("67-56-1");  // methanol
  const v1::Reconciliation methanol = Run(Regulator(), by_cas);
  ASSERT_NE(Row(methanol, kProducer), nullptr);
  EXPECT_EQ(Row(methanol, kProducer)->cas(), "67-56-1");
  EXPECT_EQ(methanol.totals(0).figures().produced_milli(), 150000u);

  v1::ReconcileRequest other;
  other.set_cas("7664-93-9");
  EXPECT_EQ(Run(Regulator(), other).rows_size(), 0);

  v1::ReconcileRequest flagged;
  flagged.set_control_flag("剧毒");
  EXPECT_EQ(Run(Regulator(), flagged).rows_size(), 0);

  v1::ReconcileRequest one;
  one.set_enterprise_uscc(kWarehouse);
  const v1::Reconciliation warehouse = Run(Regulator(), one);
  ASSERT_EQ(warehouse.rows_size(), 1);
  EXPECT_EQ(warehouse.rows(0).enterprise_uscc(), kWarehouse);

  v1::ReconcileRequest region;
  region.set_region_prefix(kWarehouse.substr(2, 6));
  const v1::Reconciliation in_region = Run(Regulator(), region);
  for (const v1::ReconciliationRow& row : in_region.rows()) {
    EXPECT_EQ(row.enterprise_uscc(), kWarehouse);
  }
}

TEST_F(ReconciliationTest, AnEnterpriseReadsItsOwnBooksOnly) {
  LifeOfSix();
  const v1::Actor warehouse = ActorOf(warehouse_);
  const v1::Reconciliation own = Run(warehouse, v1::ReconcileRequest());
  ASSERT_EQ(own.rows_size(), 1);
  EXPECT_EQ(own.rows(0).enterprise_uscc(), kWarehouse);

  v1::ReconcileRequest other;
  other.set_enterprise_uscc(kProducer);
  absl::StatusOr<v1::Reconciliation> refused = Reconcile(*t_->snapshot(), warehouse, other);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  v1::ReconcileRequest region;
  region.set_region_prefix("35");
  EXPECT_EQ(Reconcile(*t_->snapshot(), warehouse, region).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ReconciliationTest, BadRequestsNameTheField) {
  const v1::Actor regulator = Regulator();
  auto refused = [&](const v1::ReconcileRequest& r, absl::string_view field) {
    absl::StatusOr<v1::Reconciliation> out = Reconcile(*t_->snapshot(), regulator, r);
    ASSERT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
    EXPECT_TRUE(absl::StartsWith(out.status().message(), field)) << out.status();
  };
  v1::ReconcileRequest two;
  two.set_cas("67-56-1");
  two.set_control_flag("剧毒");
  refused(two, "cas, un_number, catalogue_number");
  v1::ReconcileRequest places;
  places.set_enterprise_uscc(kProducer);
  places.set_region_prefix("35");
  refused(places, "enterprise_uscc, region_prefix");
  v1::ReconcileRequest region;
  region.set_region_prefix("3x");
  refused(region, "region_prefix");
  v1::ReconcileRequest flag;
  flag.set_control_flag("poisonous");
  refused(flag, "control_flag");
  v1::ReconcileRequest backwards;
  backwards.mutable_from()->set_seconds(2000000000);
  backwards.mutable_to()->set_seconds(1000000000);
  refused(backwards, "to");
  v1::ReconcileRequest half;
  half.set_product_number("M01");
  refused(half, "product_uscc");
}

TEST_F(ReconciliationTest, AMisprintedLabelVoidedBeforeUseMovesNothing) {
  Commission({1});
  v1::Event voiding = Event(v1::VOIDING, kProducer, {Code(9)});
  voiding.set_reason("smudged print");
  Ok(producer_, voiding);
  const v1::Reconciliation r = Run(Regulator(), v1::ReconcileRequest());
  ASSERT_EQ(r.rows_size(), 1) << r.DebugString();
  EXPECT_EQ(r.rows(0).unit(), "KGM");
  EXPECT_EQ(r.rows(0).figures().voided_milli(), 0u);
  ASSERT_EQ(r.totals_size(), 1);
  EXPECT_EQ(r.totals(0).unit(), "KGM");
}

TEST_F(ReconciliationTest, APeriodEndingAfterEveryRecordIsCheckedAgainstStates) {
  LifeOfSix();
  v1::ReconcileRequest year;
  year.mutable_to()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24)));
  EXPECT_TRUE(Run(Regulator(), year).checked_against_package_states());
  v1::ReconcileRequest past;
  past.mutable_to()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(24)));
  EXPECT_FALSE(Run(Regulator(), past).checked_against_package_states());
  v1::ReconcileRequest bad_cas;
  bad_cas.set_cas("67-56-2");
  EXPECT_EQ(Reconcile(*t_->snapshot(), Regulator(), bad_cas).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// 谁产生、谁处置: declared waste goes to a licensed disposer under a transfer
// manifest, and the reconciliation reports it.
TEST_F(ReconciliationTest, HazardousWasteIsDeclaredShippedUnderAManifestAndDisposed) {
  Commission({1, 2});
  v1::Event declare = Event(v1::WASTE_DECLARING, kProducer, {Code(1), Code(2)});
  declare.set_waste_code("bad");
  Refused(producer_, declare, absl::StatusCode::kInvalidArgument, "event.waste_code");
  declare.set_waste_code("900-041-49");
  Ok(producer_, declare);
  EXPECT_TRUE(Find(Code(1)).waste);
  v1::Event again = Event(v1::WASTE_DECLARING, kProducer, {Code(1)});
  again.set_waste_code("900-041-49");
  Refused(producer_, again, absl::StatusCode::kFailedPrecondition, "already declared waste");
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_quantity_milli(1000);
  Refused(producer_, use, absl::StatusCode::kFailedPrecondition, "is declared waste");

  // Not to a warehouse; not without the manifest.
  SubmitWaybill("WB-W1", kProducer, kWarehouse, {Code(1)});
  v1::Event ship = Event(v1::SHIPPING, kProducer, {Code(1)});
  ship.set_consignee_uscc(kWarehouse);
  ship.set_waybill_id("WB-W1");
  Refused(producer_, ship, absl::StatusCode::kFailedPrecondition, "ships only to a disposer");
  v1::WaybillRequest cancel;
  cancel.mutable_cancel()->set_waybill_number("WB-W1");
  cancel.mutable_cancel()->set_reason("wrong consignee");
  ASSERT_TRUE(ApplyWaybill(cancel).ok());
  SubmitWaybill("WB-W2", kProducer, kDisposer, {Code(1)});
  ship.set_consignee_uscc(kDisposer);
  ship.set_waybill_id("WB-W2");
  Refused(producer_, ship, absl::StatusCode::kFailedPrecondition, "names no 危险废物转移联单");
  cancel.mutable_cancel()->set_waybill_number("WB-W2");
  ASSERT_TRUE(ApplyWaybill(cancel).ok());

  // Under a manifest, to the disposer, destroyed there.
  DisposeOfWaste(Code(1), "WB-W3", "3501002026000777");
  ASSERT_FALSE(HasFatalFailure());

  const v1::Reconciliation r = Run(Regulator(), v1::ReconcileRequest());
  const v1::ReconciliationRow* producer = Row(r, kProducer);
  ASSERT_NE(producer, nullptr);
  EXPECT_EQ(producer->figures().waste_declared_milli(), 50000u);
  EXPECT_EQ(producer->figures().closing_waste_stock_milli(), 25000u);
  ExpectBalanced(*producer);
  const v1::ReconciliationRow* disposer = Row(r, kDisposer);
  ASSERT_NE(disposer, nullptr);
  EXPECT_EQ(disposer->figures().waste_disposed_milli(), 25000u);
  EXPECT_EQ(disposer->figures().disposed_milli(), 25000u);
  ExpectBalanced(*disposer);
  ASSERT_EQ(r.totals_size(), 1);
  EXPECT_DOUBLE_EQ(r.totals(0).figures().waste_disposal_rate(), 0.5);
  ExpectCheckPasses();
}

// A period in which an earlier period's disposal of declared waste is
// declared an error adds up to less than no waste disposed: the column
// reads 0, and the disposal rate is taken from the figures as they read
// (0 disposed of what was declared, not a negative rate), as a reader
// recomputes it (chemaudit verify: CheckReconciliationAddsUp).
TEST_F(ReconciliationTest, AWasteColumnBelowZeroReadsZeroAndTheRateFollowsIt) {
  Commission({1, 2});
  v1::Event declare = Event(v1::WASTE_DECLARING, kProducer, {Code(2)});
  declare.set_waste_code("900-041-49");
  Ok(producer_, declare);
  const v1::Event destroy = DisposeOfWaste(Code(2), "WB-NEG", "3501002026000999");
  ASSERT_FALSE(HasFatalFailure());
  Move(producer_, kProducer, disposer_, kDisposer, {Code(1)});
  // Event times are whole seconds, a second apart: the period begins here.
  const absl::Time period_start =
      absl::FromUnixSeconds(absl::ToUnixSeconds(clock_)) + absl::Milliseconds(500);
  v1::Event undo = Event(v1::ERROR_DECLARATION, kDisposer, {});
  undo.set_corrects_event_id(destroy.event_id());
  undo.set_reason("destroyed the wrong drum on paper");
  Ok(disposer_, undo);
  // The disposer declares waste of its own in the period: its row has waste
  // declared and less than none disposed.
  v1::Event more = Event(v1::WASTE_DECLARING, kDisposer, {Code(1)});
  more.set_waste_code("900-041-49");
  Ok(disposer_, more);

  v1::ReconcileRequest request;
  request.mutable_from()->set_seconds(absl::ToUnixSeconds(period_start));
  request.mutable_from()->set_nanos(500000000);
  const v1::Reconciliation r = Run(Regulator(), request);
  const v1::ReconciliationRow* disposer = Row(r, kDisposer);
  ASSERT_NE(disposer, nullptr);
  EXPECT_EQ(disposer->figures().waste_disposed_milli(), 0u) << "-25 kg in the period reads 0";
  EXPECT_EQ(disposer->figures().waste_declared_milli(), 25000u);
  EXPECT_EQ(disposer->figures().waste_disposal_rate(), 0.0) << "not -25 / 25";
  ASSERT_EQ(r.totals_size(), 1);
  EXPECT_EQ(r.totals(0).figures().waste_declared_milli(), 25000u);
  EXPECT_EQ(r.totals(0).figures().waste_disposed_milli(), 0u);
  EXPECT_EQ(r.totals(0).figures().waste_disposal_rate(), 0.0) << "not -25 / 25";
  const absl::Status adds_up = CheckReconciliationAddsUp("reconciliation", r);
  EXPECT_TRUE(adds_up.ok()) << adds_up;
  ExpectCheckPasses();
}

TEST_F(ReconciliationTest, WasteIsNotVoidedNorShippedUnderAnotherCodeAndItsDeclarationUndoes) {
  Commission({1, 2});
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(2)});
  v1::Event declare = Event(v1::WASTE_DECLARING, kProducer, {Code(1)});
  declare.set_waste_code("900-041-49");
  Ok(producer_, declare);
  v1::Event voiding = Event(v1::VOIDING, kProducer, {Code(1)});
  voiding.set_reason("gone");
  Refused(producer_, voiding, absl::StatusCode::kFailedPrecondition, "not voided");
  v1::WaybillRequest submit;
  *submit.mutable_submit() = waybill::testing::ExampleWaybill("WB-X", kCarrier, kProducer,
                                                              kDisposer, {Code(1)}, 25000, "KGM");
  submit.mutable_submit()->set_waste_manifest("3501002026000888");
  submit.mutable_submit()->set_waste_code("251-001-08");
  ASSERT_TRUE(ApplyWaybill(submit).ok());
  v1::Event ship = Event(v1::SHIPPING, kProducer, {Code(1)});
  ship.set_consignee_uscc(kDisposer);
  ship.set_waybill_id("WB-X");
  Refused(producer_, ship, absl::StatusCode::kFailedPrecondition, "carries waste 251-001-08");
  // The warehouse declares the drum it bought waste: the producer's books
  // (which sold it) stay clean.
  v1::Event theirs = Event(v1::WASTE_DECLARING, kWarehouse, {Code(2)});
  theirs.set_waste_code("900-041-49");
  Ok(warehouse_, theirs);
  // The producer's declaration undone: no waste declared any more. Not
  // while the waste waybill lists the drum (rules epoch 10): it is
  // cancelled first.
  v1::Event undo = Event(v1::ERROR_DECLARATION, kProducer, {});
  undo.set_corrects_event_id(declare.event_id());
  undo.set_reason("declared the wrong drum");
  Refused(producer_, undo, absl::StatusCode::kFailedPrecondition, "is on open waybill WB-X");
  v1::WaybillRequest cancel;
  cancel.mutable_cancel()->set_waybill_number("WB-X");
  cancel.mutable_cancel()->set_reason("not waste after all");
  ASSERT_TRUE(ApplyWaybill(cancel).ok());
  Ok(producer_, undo);
  const v1::Reconciliation r = Run(Regulator(), v1::ReconcileRequest());
  const v1::ReconciliationRow* producer = Row(r, kProducer);
  ASSERT_NE(producer, nullptr);
  EXPECT_EQ(producer->figures().waste_declared_milli(), 0u);
  EXPECT_EQ(producer->figures().closing_waste_stock_milli(), 0u);
  ExpectBalanced(*producer);
  const v1::ReconciliationRow* warehouse = Row(r, kWarehouse);
  ASSERT_NE(warehouse, nullptr);
  EXPECT_EQ(warehouse->figures().waste_declared_milli(), 25000u);
  EXPECT_EQ(warehouse->figures().closing_waste_stock_milli(), 25000u);
  ExpectBalanced(*warehouse);
  ExpectCheckPasses();
}

TEST_F(ReconciliationTest, TheFlowsRebuildFromTheLog) {
  LifeOfSix();
  ExpectCheckPasses();
}

}  // namespace
}  // namespace chemledger::audit
