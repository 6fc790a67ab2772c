#include "services/waybill/validation.h"

#include <functional>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "services/waybill/waybill_testing.h"

namespace chemledger::waybill {
namespace {

v1::Waybill Example() {
  return testing::ExampleWaybill("YD-2026-000123", "91110105771583283D", "91350100M000100Y43",
                                 "91330200M000100Y40",
                                 {"91350100M000100Y43.M01.B20261123.1"}, 4000000, "LTR");
}

void ExpectRefused(const std::function<void(v1::Waybill*)>& change, const std::string& fragment) {
  v1::Waybill w = Example();
  change(&w);
  absl::Status s = ValidateWaybill(w, absl::Now());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << fragment << ": " << s;
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s;
}

TEST(WaybillValidationTest, TheExampleIsValid) {
  EXPECT_TRUE(ValidateWaybill(Example(), absl::Now()).ok()) << ValidateWaybill(Example(), absl::Now());
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
  ExpectRefused(
      [](v1::Waybill* w) {
        w->mutable_planned_departure()->set_seconds(w->planned_departure().seconds() + 2 * 366 * 86400);
        w->mutable_planned_arrival()->set_seconds(w->planned_departure().seconds() + 3600);
      },
      "waybill.planned_departure: must be from 2000 to at most a year from now");
  ExpectRefused([](v1::Waybill* w) { w->mutable_planned_departure()->set_seconds(0); },
                "waybill.planned_departure");
  ExpectRefused(
      [](v1::Waybill* w) {
        w->mutable_planned_arrival()->set_seconds(w->planned_departure().seconds() + 31 * 86400);
      },
      "waybill.planned_arrival: must be at most 30 days after planned_departure");
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
  EXPECT_TRUE(ValidateWaybill(waste, absl::Now()).ok()) << ValidateWaybill(waste, absl::Now());
}

TEST(DocumentNumbersTest, TransportCertificatesAreTwelveDigitsWithAnOptionalAuthority) {
  for (const char* ok : {"350100123456", "闽交运管榕字350100123456号", "350100123456号"}) {
    EXPECT_TRUE(ValidateTransportCertificate("f", ok).ok()) << ok;
  }
  for (const char* bad : {"", "12345", "35010012345", "3501001234567", "990100123456",
                          "FJ350100123456", "350100-23456", "闽交运管榕字35010012345X号",
                          "号", "350100123456号号"}) {
    absl::Status s = ValidateTransportCertificate("waybill.vehicle.transport_certificate", bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("waybill.vehicle.transport_certificate"), std::string::npos) << s;
  }
  EXPECT_FALSE(ValidateTransportCertificate("f", std::string(10000, '9')).ok());
}

TEST(DocumentNumbersTest, ResidentIdNumbersCarryTheirCheckCharacter) {
  for (const char* ok : {"350102198001011233", "110105198502021231", "11010519491231002X"}) {
    EXPECT_TRUE(ValidateResidentIdNumber("f", ok).ok()) << ValidateResidentIdNumber("f", ok);
  }
  const std::pair<const char*, const char*> bad[] = {
      {"", "18 characters"},
      {"35010219800101123", "18 characters"},
      {"3501021980010112333", "18 characters"},
      {"350102198001011234", "check character"},
      {"35010219800101123x", "check character"},
      {"3501021980O101123X", "digits"},
      {"350102198013011230", "birth date"},   // month 13 (check character fits)
      {"350102180001011238", "birth date"},   // before 1900
      {"990102198001011232", "region code"},
  };
  for (const auto& [number, why] : bad) {
    absl::Status s = ValidateResidentIdNumber("waybill.driver.qualification_number", number);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << number;
    EXPECT_NE(s.message().find(why), std::string::npos) << number << ": " << s;
  }
}

}  // namespace
}  // namespace chemledger::waybill
