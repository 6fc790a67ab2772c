// The enterprises the benchmarks register before they measure: an ammonium
// nitrate producer with a valid 安全生产许可证, one actor and product AN01; and,
// for the waybill benchmark, a road carrier with a valid 道路运输经营许可证 and
// one actor, and a consignee that uses the goods.

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_BENCH_ENTERPRISES_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_BENCH_ENTERPRISES_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "services/waybill/waybill_testing.h"
#include "crypto/keys.h"

namespace chemledger::chembench {

inline constexpr char kBenchUscc[] = "91350100M000100Y43";
inline constexpr char kBenchProduct[] = "AN01";
inline constexpr char kBenchCarrierUscc[] = "91110105M000100Y4D";
inline constexpr char kBenchConsigneeUscc[] = "91330200M000100Y40";
// Their registered names, and the number of an enterprise's licence.
inline constexpr char kBenchName[] = "基准测试化工有限公司";
inline constexpr char kBenchCarrierName[] = "基准测试危险货物运输有限公司";
inline constexpr char kBenchConsigneeName[] = "基准测试材料有限公司";
inline std::string BenchLicenceNumber(const std::string& uscc) { return "BENCH-" + uscc; }

// One registry change to make, unsigned and without a request id: by a
// platform administrator, or by the enterprise's own actor.
struct BenchSetupStep {
  bool by_admin;
  v1::RegistryRequest request;
};

// A registration of enterprise `uscc` (in the region its code names) with
// one `role` and, unless LICENCE_TYPE_UNSPECIFIED, a `licence` valid from
// 2020 to 2099.
inline BenchSetupStep RegisterBenchEnterprise(const std::string& uscc, const std::string& name,
                                              v1::EnterpriseRole role, v1::LicenceType licence) {
  BenchSetupStep step{true, {}};
  v1::Enterprise* e = step.request.mutable_register_enterprise();
  e->set_uscc(uscc);
  e->set_name(name);
  e->set_region_code(uscc.substr(2, 6));
  e->set_address("测试路1号");
  e->add_roles(role);
  if (licence != v1::LICENCE_TYPE_UNSPECIFIED) {
    v1::Licence* l = e->add_licences();
    l->set_type(licence);
    l->set_number(BenchLicenceNumber(uscc));
    l->mutable_valid_from()->set_year(2020);
    l->mutable_valid_from()->set_month(1);
    l->mutable_valid_from()->set_day(1);
    l->mutable_valid_until()->set_year(2099);
    l->mutable_valid_until()->set_month(12);
    l->mutable_valid_until()->set_day(31);
  }
  return step;
}

// `key` as the ENTERPRISE_ADMIN actor `name` of enterprise `uscc`.
inline BenchSetupStep AddBenchAdmin(const std::string& uscc, const std::string& name,
                                    const crypto::VerifyingKey& key) {
  BenchSetupStep step{true, {}};
  v1::Actor* a = step.request.mutable_add_actor();
  a->set_name(name);
  a->set_role(v1::ENTERPRISE_ADMIN);
  a->set_enterprise_uscc(uscc);
  a->set_public_key(key.ToBytes());
  return step;
}

// The producer's product: ammonium nitrate, UN 1942, class 5.1, PG III.
inline v1::Product BenchProduct() {
  v1::Product p;
  p.set_enterprise_uscc(kBenchUscc);
  p.set_product_number(kBenchProduct);
  p.set_name_zh("硝酸铵");
  p.set_name_en("Ammonium nitrate");
  p.set_cas("6484-52-2");
  p.set_un_number("1942");
  p.set_hazard_class("5.1");
  p.set_packing_group("III");
  p.set_catalogue_number(2286);
  p.add_control_flags("重点监管");
  p.add_control_flags("高危");
  p.set_signal_word(v1::DANGER);
  p.set_emergency_phone("0591-12345678");
  return p;
}

// The enterprise, `producer` as its admin actor, and its product, in order.
inline std::vector<BenchSetupStep> BenchProducerSetup(const crypto::VerifyingKey& producer) {
  std::vector<BenchSetupStep> steps = {
      RegisterBenchEnterprise(kBenchUscc, kBenchName, v1::PRODUCER,
                              v1::SAFETY_PRODUCTION),
      AddBenchAdmin(kBenchUscc, "bench producer", producer), BenchSetupStep{false, {}}};
  *steps[2].request.mutable_register_product() = BenchProduct();
  return steps;
}

// The carrier, `carrier` as its admin actor (who signs its waybills), and
// the consignee, in order.
inline std::vector<BenchSetupStep> BenchCarrierSetup(const crypto::VerifyingKey& carrier) {
  return {RegisterBenchEnterprise(kBenchCarrierUscc, kBenchCarrierName,
                                  v1::CARRIER, v1::ROAD_TRANSPORT),
          AddBenchAdmin(kBenchCarrierUscc, "bench dispatcher", carrier),
          RegisterBenchEnterprise(kBenchConsigneeUscc, kBenchConsigneeName, v1::USER,
                                  v1::LICENCE_TYPE_UNSPECIFIED)};
}

// Waybill `number`: `codes` of `product` from the producer to the
// consignee, by the carrier.
inline v1::Waybill BenchWaybill(const v1::Product& product, const std::string& number,
                         const std::vector<std::string>& codes) {
  v1::Waybill w = waybill::testing::ExampleWaybill(number, kBenchCarrierUscc, kBenchUscc,
                                                   kBenchConsigneeUscc, codes, 25000, "KGM");
  // The parties as the bench registered them (bench_enterprises.h).
  w.set_carrier_name(kBenchCarrierName);
  w.set_carrier_licence(BenchLicenceNumber(kBenchCarrierUscc));
  w.mutable_consignor()->set_name(kBenchName);
  *w.mutable_loader() = w.consignor();
  w.mutable_consignee()->set_name(kBenchConsigneeName);
  v1::GoodsLine* g = w.mutable_goods(0);
  g->set_un_number(product.un_number());
  g->set_proper_shipping_name(absl::StrCat(product.name_zh(), " ", product.name_en()));
  g->set_hazard_class(product.hazard_class());
  g->set_packing_group(product.packing_group());
  g->set_packaging("25 kg bags");
  return w;
}

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_BENCH_ENTERPRISES_H_
