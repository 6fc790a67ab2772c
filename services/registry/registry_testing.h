// Test-only: the shipped catalogue and example registry records shared by the
// registry tests.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_TESTING_H_
#define CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_TESTING_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/china_time.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/keys.h"
#include "services/common/identifiers.h"
#include "services/registry/catalogue.h"
#include "services/registry/example_names.h"
#include "services/registry/registry_state.h"
#include "tests/subprocess.h"

namespace chemledger::registry::testing {

// services/registry/data/catalogue.tsv from the test's runfiles (the test
// needs it in `data`). Aborts the test binary if it does not load.
inline const Catalogue& ShippedCatalogue() {
  static const Catalogue* catalogue = new Catalogue(*Catalogue::Load(
      chemledger::testing::RunfilePath("services/registry/data/catalogue.tsv")));
  return *catalogue;
}

inline v1::Date Date(int year, int month, int day) {
  v1::Date d;
  d.set_year(year);
  d.set_month(month);
  d.set_day(day);
  return d;
}

// The names and licence numbers below (example_names.h).
using examples::ExampleLicenceNumber;
using examples::ExampleName;

// A producer with its 安全生产许可证, valid from two years before today to two
// years after (so tests do not expire); its region is the one in its code.
inline v1::Enterprise ExampleProducer(const std::string& uscc) {
  v1::Enterprise e;
  e.set_uscc(uscc);
  e.set_name(ExampleName(uscc));
  e.set_region_code(uscc.substr(2, 6));
  e.set_address("示例路1号");
  e.add_roles(v1::PRODUCER);
  v1::Licence* l = e.add_licences();
  l->set_type(v1::SAFETY_PRODUCTION);
  l->set_number("(闽)WH安许证字[2024]000001");
  const int year = static_cast<int>(absl::ToCivilYear(absl::Now(), absl::UTCTimeZone()).year());
  *l->mutable_valid_from() = Date(year - 2, 1, 1);
  *l->mutable_valid_until() = Date(year + 2, 12, 31);
  return e;
}

// Today in China Standard Time, the day licences and records are dated in.
using api::TodayInChina;

// A valid 统一社会信用代码 in GB/T 2260 `region` (6 digits).
inline std::string ExampleUscc(const std::string& region) {
  const std::string first17 = "91" + region + "M000100Y4";
  return first17 + ids::UsccCheckCharacter(first17);
}

// An enterprise with one `role` and, unless LICENCE_TYPE_UNSPECIFIED, one
// `licence` valid from a year ago until `until`.
inline v1::Enterprise ExampleEnterprise(const std::string& uscc, v1::EnterpriseRole role,
                                        v1::LicenceType licence,
                                        absl::CivilDay until = TodayInChina() + 365) {
  v1::Enterprise e;
  e.set_uscc(uscc);
  e.set_name(ExampleName(uscc));
  e.set_region_code(uscc.substr(2, 6));
  e.set_address("示例路1号");
  e.add_roles(role);
  if (licence != v1::LICENCE_TYPE_UNSPECIFIED) {
    v1::Licence* l = e.add_licences();
    l->set_type(licence);
    l->set_number(ExampleLicenceNumber(uscc));
    *l->mutable_valid_from() = ToProtoDate(TodayInChina() - 365);
    *l->mutable_valid_until() = ToProtoDate(until);
  }
  return e;
}

// An actor of `uscc` ("" for a regulator) in `role`, signing with `key`. A
// regulator is of 应急管理 with a national jurisdiction.
inline v1::Actor ExampleActor(const std::string& name, v1::ActorRole role,
                              const std::string& uscc, const crypto::VerifyingKey& key) {
  v1::Actor a;
  a.set_name(name);
  a.set_role(role);
  a.set_enterprise_uscc(uscc);
  a.set_public_key(key.ToBytes());
  if (role == v1::REGULATOR) {
    a.set_department(v1::EMERGENCY_MANAGEMENT);
    a.mutable_jurisdiction()->set_national(true);
  }
  return a;
}

// A regulator of `department` whose jurisdiction is the region prefix
// `region` ("" for the whole country), signing with `key`.
inline v1::Actor ExampleRegulator(v1::Department department, const std::string& region,
                                  const crypto::VerifyingKey& key) {
  v1::Actor a =
      ExampleActor(absl::StrCat("regulator ", department, " ", region), v1::REGULATOR, "", key);
  a.set_department(department);
  if (!region.empty()) {
    a.mutable_jurisdiction()->set_national(false);
    a.mutable_jurisdiction()->set_region_prefix(region);
  }
  return a;
}

// Methanol (甲醇, CAS 67-56-1, UN 1230, class 3, PG II, catalogue 1022,
// 重点监管 and 高危) as product `number` of `uscc`.
inline v1::Product ExampleMethanol(const std::string& uscc, const std::string& number) {
  v1::Product p;
  p.set_enterprise_uscc(uscc);
  p.set_product_number(number);
  p.set_name_zh("甲醇");
  p.set_name_en("Methanol");
  p.set_cas("67-56-1");
  p.set_un_number("1230");
  p.set_hazard_class("3");
  p.set_packing_group("II");
  p.set_catalogue_number(1022);
  p.add_ghs_pictograms("GHS02");
  p.add_ghs_pictograms("GHS06");
  p.add_ghs_pictograms("GHS08");
  p.set_signal_word(v1::DANGER);
  p.add_hazard_statements("H225");
  p.add_hazard_statements("H301");
  p.add_hazard_statements("H311");
  p.add_hazard_statements("H331");
  p.add_hazard_statements("H370");
  p.add_control_flags("重点监管");
  p.add_control_flags("高危");
  p.set_emergency_phone("0591-12345678");
  return p;
}

// Sodium cyanide (UN 1689, class 6.1, PG I; catalogue 1688): a 剧毒
// product, whose waybills need a 剧毒化学品道路运输通行证. Product `number` of
// `uscc`, its other fields as ExampleMethanol's.
inline v1::Product ExampleSodiumCyanide(const std::string& uscc, const std::string& number) {
  v1::Product p = ExampleMethanol(uscc, number);
  p.set_name_zh("氰化钠");
  p.set_name_en("Sodium cyanide");
  p.set_cas("143-33-9");
  p.set_un_number("1689");
  p.set_hazard_class("6.1");
  p.set_packing_group("I");
  p.set_catalogue_number(1688);
  p.clear_ghs_pictograms();
  p.add_ghs_pictograms("GHS06");
  p.add_ghs_pictograms("GHS09");
  p.clear_hazard_statements();
  p.add_hazard_statements("H300");
  p.add_hazard_statements("H410");
  p.clear_control_flags();
  for (const char* flag : {"剧毒", "重点监管", "高危"}) p.add_control_flags(flag);
  return p;
}

// Park `park_id` in Fuzhou with one gate, "G1".
inline v1::Park ExamplePark(const std::string& park_id) {
  v1::Park p;
  p.set_park_id(park_id);
  p.set_name("福州化工园区");
  p.set_region_code("350100");
  p.set_administration("园区管委会");
  v1::Park::Gate* gate = p.add_gates();
  gate->set_gate_id("G1");
  gate->set_name("1号门");
  return p;
}

// A site `site_id` of `uscc`: a 四级 重大危险源 warehouse for class 3 and
// 6.1 goods, in Fuzhou.
inline v1::Site ExampleSite(const std::string& uscc, const std::string& site_id) {
  v1::Site s;
  s.set_enterprise_uscc(uscc);
  s.set_site_id(site_id);
  s.set_name("甲类仓库 " + site_id);
  s.set_address("福州市示例工业区化工路1号");
  s.set_region_code("350100");
  s.set_major_hazard_grade(v1::GRADE_4);
  v1::StorageCapacity* flammable = s.add_capacities();
  flammable->set_hazard_class("3");
  flammable->set_capacity_milli(50000000);  // 50 t
  flammable->set_unit("KGM");
  v1::StorageCapacity* toxic = s.add_capacities();
  toxic->set_hazard_class("6.1");
  toxic->set_capacity_milli(5000000);
  toxic->set_unit("KGM");
  for (v1::ResponsiblePerson* p :
       {s.mutable_principal(), s.mutable_technical(), s.mutable_operational()}) {
    p->set_name("负责人");
    p->set_phone("0591-87654321");
  }
  s.add_licensed_cas("67-56-1");
  return s;
}

}  // namespace chemledger::registry::testing

#endif  // CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_TESTING_H_
