// An example e-waybill that passes validation, for the waybill tests, the
// end-to-end tests and chembench's waybill benchmark (never for the services).

#ifndef CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_TESTING_H_
#define CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_TESTING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "api/china_time.h"
#include "chemledger/v1/waybill.pb.h"
#include "services/registry/example_names.h"

namespace chemledger::waybill::testing {

// A road transport of methanol (UN 1230, class 3, PG II) by `carrier` from
// `consignor` to `consignee` (regions taken from their codes), on a yellow-
// plated truck with a trailer, leaving now and arriving 8 hours later; one
// goods line listing `codes`, each `milli_per_code` thousandths of `unit`.
inline v1::Waybill ExampleWaybill(const std::string& number, const std::string& carrier,
                                  const std::string& consignor, const std::string& consignee,
                                  const std::vector<std::string>& codes,
                                  uint64_t milli_per_code = 200000,
                                  const std::string& unit = "LTR") {
  v1::Waybill w;
  w.set_waybill_number(number);
  w.set_carrier_uscc(carrier);
  // The parties as registry::testing::ExampleEnterprise registers them.
  w.set_carrier_name(registry::examples::ExampleName(carrier));
  w.set_carrier_licence(registry::examples::ExampleLicenceNumber(carrier));
  w.mutable_consignor()->set_uscc(consignor);
  w.mutable_consignor()->set_name(registry::examples::ExampleName(consignor));
  w.mutable_consignor()->set_phone("0591-87654321");
  w.mutable_consignee()->set_uscc(consignee);
  w.mutable_consignee()->set_name(registry::examples::ExampleName(consignee));
  w.mutable_consignee()->set_phone("0574-12345678");
  *w.mutable_loader() = w.consignor();
  w.mutable_origin()->set_region_code(consignor.substr(2, 6));
  w.mutable_origin()->set_address("示例工业区化工路1号");
  w.mutable_destination()->set_region_code(consignee.substr(2, 6));
  w.mutable_destination()->set_address("示例园区1号");
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  w.mutable_planned_departure()->set_seconds(now);
  w.mutable_planned_arrival()->set_seconds(now + 8 * 3600);
  v1::Vehicle* v = w.mutable_vehicle();
  v->set_plate("闽A12345");
  v->set_plate_colour(v1::YELLOW);
  v->set_transport_certificate("闽交运管榕字350100123456号");
  v->set_trailer_plate("闽A1234挂");
  v->set_trailer_transport_certificate("闽交运管榕字350100123457号");
  w.mutable_driver()->set_name("张三");
  w.mutable_driver()->set_qualification_number("350102198001011233");
  w.mutable_driver()->set_phone("13800000001");
  w.mutable_escort()->set_name("李四");
  w.mutable_escort()->set_qualification_number("350102198502021237");
  w.mutable_escort()->set_phone("13800000002");
  v1::GoodsLine* g = w.add_goods();
  g->set_un_number("1230");
  g->set_proper_shipping_name("甲醇 METHANOL");
  g->set_hazard_class("3");
  g->set_packing_group("II");
  g->set_packaging("steel drums");
  g->set_quantity_milli(milli_per_code * codes.size());
  g->set_unit(unit);
  for (const std::string& c : codes) g->add_codes(c);
  w.set_emergency_phone("0591-87654321");
  return w;
}

// A consignor's standing authorization of `carrier` for `days` days from
// today (China time), with request id `request_id`; to be signed by an actor
// of the consignor.
inline v1::WaybillRequest AuthorizeCarrierRequest(const std::string& request_id,
                                                  const std::string& carrier, int days = 365) {
  v1::WaybillRequest r;
  r.set_request_id(request_id);
  r.mutable_authorize_carrier()->set_carrier_uscc(carrier);
  *r.mutable_authorize_carrier()->mutable_valid_until() =
      api::ToProtoDate(api::TodayInChina() + days);
  return r;
}

// The end of a consignor's authorization of `carrier`.
inline v1::WaybillRequest WithdrawCarrierRequest(const std::string& request_id,
                                                 const std::string& carrier) {
  v1::WaybillRequest r;
  r.set_request_id(request_id);
  r.mutable_authorize_carrier()->set_carrier_uscc(carrier);
  r.mutable_authorize_carrier()->set_withdraw(true);
  return r;
}

}  // namespace chemledger::waybill::testing

#endif  // CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_TESTING_H_
