// The producer the benchmarks register before they measure: an ammonium
// nitrate maker with a valid 安全生产许可证, one actor, and product AN01.

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_BENCH_PRODUCER_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_BENCH_PRODUCER_H_

#include <vector>

#include "chemledger/v1/registry.pb.h"
#include "crypto/keys.h"

namespace chemledger::chembench {

inline constexpr char kBenchUscc[] = "91350100M000100Y43";
inline constexpr char kBenchProduct[] = "AN01";

// One registry change to make, unsigned and without a request id: by a
// platform administrator, or by the producer's own actor.
struct BenchSetupStep {
  bool by_admin;
  v1::RegistryRequest request;
};

// The enterprise, `producer` as its admin actor, and its product, in order.
inline std::vector<BenchSetupStep> BenchProducerSetup(const crypto::VerifyingKey& producer) {
  std::vector<BenchSetupStep> steps(3);
  v1::Enterprise* e = steps[0].request.mutable_register_enterprise();
  steps[0].by_admin = true;
  e->set_uscc(kBenchUscc);
  e->set_name("基准测试化工有限公司");
  e->set_region_code("350100");
  e->set_address("测试路1号");
  e->add_roles(v1::PRODUCER);
  v1::Licence* l = e->add_licences();
  l->set_type(v1::SAFETY_PRODUCTION);
  l->set_number("BENCH-1");
  l->mutable_valid_from()->set_year(2020);
  l->mutable_valid_from()->set_month(1);
  l->mutable_valid_from()->set_day(1);
  l->mutable_valid_until()->set_year(2099);
  l->mutable_valid_until()->set_month(12);
  l->mutable_valid_until()->set_day(31);
  v1::Actor* a = steps[1].request.mutable_add_actor();
  steps[1].by_admin = true;
  a->set_name("bench producer");
  a->set_role(v1::ENTERPRISE_ADMIN);
  a->set_enterprise_uscc(kBenchUscc);
  a->set_public_key(producer.ToBytes());
  v1::Product* p = steps[2].request.mutable_register_product();
  steps[2].by_admin = false;
  p->set_enterprise_uscc(kBenchUscc);
  p->set_product_number(kBenchProduct);
  p->set_name_zh("硝酸铵");
  p->set_name_en("Ammonium nitrate");
  p->set_cas("6484-52-2");
  p->set_un_number("1942");
  p->set_hazard_class("5.1");
  p->set_packing_group("III");
  p->set_catalogue_number(2286);
  p->add_control_flags("重点监管");
  p->add_control_flags("高危");
  p->set_signal_word(v1::DANGER);
  p->set_emergency_phone("0591-12345678");
  return steps;
}

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_BENCH_PRODUCER_H_
