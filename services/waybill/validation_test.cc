#include "services/waybill/validation.h"

#include <functional>
#include <string>

#include "gtest/gtest.h"

namespace chemledger::waybill {
namespace {

v1::Waybill Example() {
  v1::Waybill w;
  w.set_waybill_number("YD-2026-000123");
  w.set_carrier_uscc("91110105771583283D");
  w.set_carrier_name("示例危险货物运输有限公司");
  w.set_carrier_licence("京交运管许可京字110105000001号");
  w.mutable_consignor()->set_uscc("91350100M000100Y43");
  w.mutable_consignor()->set_name("福州示例化工有限公司");
  w.mutable_consignor()->set_phone("0591-87654321");
  w.mutable_consignee()->set_uscc("91330200M000100Y40");
  w.mutable_consignee()->set_name("宁波示例材料有限公司");
  w.mutable_consignee()->set_phone("0574-12345678");
  *w.mutable_loader() = w.consignor();
  w.mutable_origin()->set_region_code("350100");
  w.mutable_origin()->set_address("福州市示例工业区化工路1号");
  w.mutable_destination()->set_region_code("330200");
  w.mutable_destination()->set_address("宁波市示例园区1号");
  w.mutable_planned_departure()->set_seconds(1795395600);
  w.mutable_planned_arrival()->set_seconds(1795395600 + 8 * 3600);
  v1::Vehicle* v = w.mutable_vehicle();
  v->set_plate("闽A12345");
  v->set_plate_colour(v1::YELLOW);
  v->set_transport_certificate("闽交运管榕字350100123456号");
  v->set_trailer_plate("闽A1234挂");
  v->set_trailer_transport_certificate("闽交运管榕字350100123457号");
  w.mutable_driver()->set_name("张三");
  w.mutable_driver()->set_qualification_number("350102198001011234");
  w.mutable_driver()->set_phone("13800000001");
  w.mutable_escort()->set_name("李四");
  w.mutable_escort()->set_qualification_number("350102198502021234");
  w.mutable_escort()->set_phone("13800000002");
  v1::GoodsLine* g = w.add_goods();
  g->set_un_number("1230");
  g->set_proper_shipping_name("甲醇 METHANOL");
  g->set_hazard_class("3");
  g->set_packing_group("II");
  g->set_packaging("200 L steel drums");
  g->set_quantity_milli(4000000);
  g->set_unit("LTR");
  g->add_codes("91350100M000100Y43.M01.B20261123.1");
  w.set_emergency_phone("0591-87654321");
  return w;
}

void ExpectRefused(const std::function<void(v1::Waybill*)>& change, const std::string& fragment) {
  v1::Waybill w = Example();
  change(&w);
  absl::Status s = ValidateWaybill(w);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << fragment << ": " << s;
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s;
}

TEST(WaybillValidationTest, TheExampleIsValid) {
  EXPECT_TRUE(ValidateWaybill(Example()).ok()) << ValidateWaybill(Example());
}

TEST(WaybillValidationTest, PlatesAndColours) {
  EXPECT_TRUE(ValidatePlate("p", "京A12345").ok());
  EXPECT_TRUE(ValidatePlate("p", "粤BD12345").ok());  // new energy
  EXPECT_FALSE(ValidatePlate("p", "XA12345").ok());
  EXPECT_FALSE(ValidatePlate("p", "闽A1234").ok());
  EXPECT_FALSE(ValidatePlate("p", "闽I12345").ok());
  EXPECT_FALSE(ValidatePlate("p", "闽A12O45").ok());
  EXPECT_TRUE(ValidateTrailerPlate("p", "闽A1234挂").ok());
  EXPECT_FALSE(ValidateTrailerPlate("p", "闽A12345").ok());
  ExpectRefused([](v1::Waybill* w) { w->mutable_vehicle()->set_plate("FJ-A12345"); },
                "waybill.vehicle.plate");
  ExpectRefused([](v1::Waybill* w) { w->mutable_vehicle()->clear_plate_colour(); },
                "waybill.vehicle.plate_colour");
  ExpectRefused([](v1::Waybill* w) { w->mutable_vehicle()->set_plate_colour(v1::GREEN); },
                "waybill.vehicle.plate_colour");
  ExpectRefused([](v1::Waybill* w) { w->mutable_vehicle()->set_trailer_plate("闽A1234"); },
                "waybill.vehicle.trailer_plate");
  ExpectRefused([](v1::Waybill* w) { w->mutable_vehicle()->clear_trailer_transport_certificate(); },
                "waybill.vehicle.trailer_transport_certificate");
  ExpectRefused([](v1::Waybill* w) { w->mutable_vehicle()->set_tank_number("TK-1"); },
                "waybill.vehicle.tank_volume_litres");
}

TEST(WaybillValidationTest, CrewPartiesPlacesAndTimes) {
  ExpectRefused([](v1::Waybill* w) { w->clear_escort(); }, "waybill.escort.name");
  ExpectRefused([](v1::Waybill* w) { w->mutable_driver()->clear_qualification_number(); },
                "waybill.driver.qualification_number");
  ExpectRefused(
      [](v1::Waybill* w) {
        w->mutable_escort()->set_qualification_number(w->driver().qualification_number());
      },
      "waybill.escort: must be another person");
  ExpectRefused([](v1::Waybill* w) { w->mutable_consignee()->set_uscc("91330200M000100Y41"); },
                "waybill.consignee.uscc");
  ExpectRefused([](v1::Waybill* w) { *w->mutable_consignee() = w->consignor(); },
                "waybill.consignee.uscc: must not be the consignor");
  ExpectRefused([](v1::Waybill* w) { w->mutable_destination()->set_region_code("990000"); },
                "waybill.destination.region_code");
  ExpectRefused(
      [](v1::Waybill* w) {
        w->mutable_planned_arrival()->set_seconds(w->planned_departure().seconds());
      },
      "waybill.planned_arrival: must be after planned_departure");
  ExpectRefused([](v1::Waybill* w) { w->mutable_driver()->set_phone("call me"); },
                "waybill.driver.phone");
  ExpectRefused([](v1::Waybill* w) { w->set_waybill_number("yd 1"); }, "waybill.waybill_number");
  ExpectRefused([](v1::Waybill* w) { w->clear_carrier_licence(); }, "waybill.carrier_licence");
}

TEST(WaybillValidationTest, GoodsAndWaste) {
  ExpectRefused([](v1::Waybill* w) { w->clear_goods(); }, "waybill.goods");
  ExpectRefused([](v1::Waybill* w) { w->mutable_goods(0)->set_un_number("123"); },
                "waybill.goods[0].un_number");
  ExpectRefused([](v1::Waybill* w) { w->mutable_goods(0)->set_hazard_class("10"); },
                "waybill.goods[0].hazard_class");
  ExpectRefused([](v1::Waybill* w) { w->mutable_goods(0)->clear_packing_group(); },
                "waybill.goods[0].packing_group");
  ExpectRefused(
      [](v1::Waybill* w) {
        w->mutable_goods(0)->set_hazard_class("2.3");  // no packing group for class 2
      },
      "waybill.goods[0].packing_group: must be empty");
  ExpectRefused([](v1::Waybill* w) { w->mutable_goods(0)->set_unit("DRUM"); },
                "waybill.goods[0].unit");
  ExpectRefused([](v1::Waybill* w) { w->mutable_goods(0)->clear_codes(); },
                "waybill.goods[0].codes");
  ExpectRefused([](v1::Waybill* w) { w->set_waste_code("900-041-49"); }, "waybill.waste_manifest");
  ExpectRefused(
      [](v1::Waybill* w) {
        w->set_waste_manifest("3501002026000042");
        w->set_waste_code("90004149");
      },
      "waybill.waste_code");
  v1::Waybill waste = Example();
  waste.set_waste_manifest("3501002026000042");
  waste.set_waste_code("900-041-49");
  EXPECT_TRUE(ValidateWaybill(waste).ok()) << ValidateWaybill(waste);
}

}  // namespace
}  // namespace chemledger::waybill
