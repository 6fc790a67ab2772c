#include "services/audit/in_transit.h"

#include <string>

#include "absl/time/clock.h"
#include "api/wire.h"
#include "chemledger/v1/waybill.pb.h"
#include "crypto/keys.h"
#include "gtest/gtest.h"
#include "services/common/envelope.h"
#include "services/ledger/lifecycle_testing.h"
#include "services/registry/registry_testing.h"
#include "services/waybill/waybill_testing.h"
#include "testing/test_ledger.h"

namespace chemledger::audit {
namespace {

using namespace ledger::lifecycle_testing;  // NOLINT: the fixture and its parties

class InTransitTest : public LifecycleFixture {
 protected:
  // Codes 1 and 2 shipped to the warehouse on WB-T1; only code 1 received.
  void ShipTwoReceiveOne() {
    Commission({1, 2, 3});
    SubmitWaybill("WB-T1", kProducer, kWarehouse, {Code(1), Code(2)});
    v1::Event ship = Event(v1::SHIPPING, kProducer, {Code(1), Code(2)});
    ship.set_consignee_uscc(kWarehouse);
    ship.set_waybill_id("WB-T1");
    Ok(producer_, ship);
    Ok(warehouse_, Event(v1::RECEIVING, kWarehouse, {Code(1)}));
  }
  absl::StatusOr<v1::InTransitReport> Query(const v1::Actor& reader, v1::InTransitQuery q = {}) {
    return QueryInTransit(*t_->snapshot(), reader, q, absl::Now());
  }
};

TEST_F(InTransitTest, AShipmentIsInTransitUntilAllItsGoodsAreReceived) {
  ShipTwoReceiveOne();
  absl::StatusOr<v1::InTransitReport> r = Query(ActorOf(regulator_));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->shipments_size(), 1);
  const v1::ShipmentInTransit& s = r->shipments(0);
  EXPECT_EQ(s.waybill_number(), "WB-T1");
  EXPECT_EQ(s.carrier_uscc(), kCarrier);
  EXPECT_EQ(s.consignor_uscc(), kProducer);
  EXPECT_EQ(s.consignee_uscc(), kWarehouse);
  EXPECT_EQ(s.packages_shipped(), 2u);
  EXPECT_EQ(s.packages_received(), 1u);
  EXPECT_FALSE(s.vehicle_plate().empty());
  EXPECT_FALSE(s.controlled_goods());
  EXPECT_EQ(r->log_size(), t_->snapshot()->size());

  // The enterprises concerned see it; one not concerned does not.
  v1::InTransitQuery by_consignee;
  by_consignee.set_enterprise_uscc(kWarehouse);
  EXPECT_EQ(Query(ActorOf(regulator_), by_consignee)->shipments_size(), 1);
  EXPECT_EQ(Query(ActorOf(warehouse_))->shipments_size(), 1);
  EXPECT_EQ(Query(ActorOf(user_))->shipments_size(), 0);
  // 交通运输 reads every waybill; 生态环境 only those with a waste manifest.
  v1::Actor transport = ActorOf(regulator_);
  transport.set_department(v1::TRANSPORT);
  EXPECT_EQ(Query(transport)->shipments_size(), 1);
  v1::Actor ecology = ActorOf(regulator_);
  ecology.set_department(v1::ECOLOGY_ENVIRONMENT);
  EXPECT_EQ(Query(ecology)->shipments_size(), 0);
  // Bad input names the field.
  v1::InTransitQuery bad;
  bad.set_region_prefix("3x");
  absl::StatusOr<v1::InTransitReport> refused = Query(ActorOf(regulator_), bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("region_prefix"), std::string::npos);

  // The rest received: no longer in transit.
  Ok(warehouse_, Event(v1::RECEIVING, kWarehouse, {Code(2)}));
  EXPECT_EQ(Query(ActorOf(regulator_))->shipments_size(), 0);
}

// The vehicles inside a park are those its gates let in: an amendment of
// the waybill's plate since does not change which vehicle is inside.
TEST_F(InTransitTest, AParksVehiclesCarryThePlateItsGateRecorded) {
  Commission({1});
  v1::RegistryRequest park;
  *park.mutable_register_park() = registry::testing::ExamplePark("FZ-CHEM");
  ASSERT_TRUE(t_->Registry(admin_, park).ok());
  const crypto::SigningKey gate = chemledger::testing::TestKey(40);
  v1::RegistryRequest add;
  *add.mutable_add_actor() =
      registry::testing::ExampleActor("gate of FZ-CHEM", v1::PARK_GATE, "", gate.verifying_key());
  add.mutable_add_actor()->set_park_id("FZ-CHEM");
  ASSERT_TRUE(t_->Registry(admin_, add).ok());
  SubmitWaybill("WB-P1", kProducer, kWarehouse, {Code(1)});
  const std::string entered_plate = "闽A12345";  // waybill::testing::ExampleWaybill's

  v1::WaybillRequest entry;
  entry.set_request_id("gate-1");
  v1::GatePassage* g = entry.mutable_gate();
  g->set_waybill_number("WB-P1");
  g->set_carrier_uscc(kCarrier);
  g->set_park_id("FZ-CHEM");
  g->set_gate_id("G1");
  g->set_direction(v1::GatePassage::ENTRY);
  g->mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  absl::StatusOr<v1::SignedEnvelope> signed_entry =
      envelope::Sign(api::kWaybillContext, entry.SerializeAsString(), gate);
  ASSERT_TRUE(signed_entry.ok()) << signed_entry.status();
  ASSERT_TRUE(t_->waybills().Apply(*signed_entry).ok());

  // Nothing shipped yet: the carrier may still amend the vehicle.
  v1::WaybillRequest amend;
  *amend.mutable_amend() = waybill::testing::ExampleWaybill("WB-P1", kCarrier, kProducer,
                                                            kWarehouse, {Code(1)}, 25000, "KGM");
  amend.mutable_amend()->mutable_goods(0)->set_quantity_milli(ContentsMilli(Code(1)));
  amend.mutable_amend()->mutable_vehicle()->set_plate("闽A99999");
  absl::StatusOr<waybill::WaybillReceipt> amended = ApplyWaybill(amend);
  ASSERT_TRUE(amended.ok()) << amended.status();

  v1::Actor transport = ActorOf(regulator_);
  transport.set_department(v1::TRANSPORT);
  v1::InTransitQuery in_park;
  in_park.set_park_id("FZ-CHEM");
  absl::StatusOr<v1::InTransitReport> r = Query(transport, in_park);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->vehicles_in_park_size(), 1);
  const v1::VehiclesInPark::Vehicle& v = r->vehicles_in_park(0);
  EXPECT_EQ(v.waybill_number(), "WB-P1");
  EXPECT_EQ(v.carrier_uscc(), kCarrier);
  EXPECT_EQ(v.gate_id(), "G1");
  EXPECT_EQ(v.vehicle_plate(), entered_plate);
  ASSERT_EQ(v.un_numbers_size(), 1);
}

}  // namespace
}  // namespace chemledger::audit
