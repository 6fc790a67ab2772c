#include "services/registry/validation.h"

#include <string>

#include "gtest/gtest.h"
#include "services/registry/registry_testing.h"

namespace chemledger::registry {
namespace {

using testing::Date;

const Catalogue& Shipped() { return testing::ShippedCatalogue(); }

v1::Enterprise Producer() { return testing::ExampleProducer("91350100M000100Y43"); }

v1::Product AmmoniumNitrate() {
  v1::Product p;
  p.set_enterprise_uscc("91350100M000100Y43");
  p.set_product_number("AN01");
  p.set_name_zh("硝酸铵");
  p.set_name_en("Ammonium nitrate");
  p.set_cas("6484-52-2");
  p.set_un_number("1942");
  p.set_hazard_class("5.1");
  p.set_packing_group("III");
  p.set_catalogue_number(Shipped().FindByCas("6484-52-2")->catalogue_number);
  p.add_ghs_pictograms("GHS03");
  p.set_signal_word(v1::WARNING);
  p.add_hazard_statements("H272");
  for (const char* f : {"易制爆", "重点监管", "高危"}) {
    if (Shipped().FindByCas("6484-52-2")->flags & *ParseControlFlags(f)) p.add_control_flags(f);
  }
  p.set_sds_sha256(std::string(32, 'x'));
  p.set_sds_uri("https://example.cn/sds/an01.pdf");
  p.set_emergency_phone("0591-12345678");
  return p;
}

void ExpectInvalid(const absl::Status& s, const std::string& fragment) {
  ASSERT_FALSE(s.ok()) << "accepted";
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s;
}

TEST(ValidationTest, GoodRecordsPass) {
  EXPECT_TRUE(ValidateEnterprise(Producer()).ok()) << ValidateEnterprise(Producer());
  EXPECT_TRUE(ValidateProduct(AmmoniumNitrate(), Shipped()).ok())
      << ValidateProduct(AmmoniumNitrate(), Shipped());
}

TEST(ValidationTest, EnterpriseRules) {
  v1::Enterprise e = Producer();
  e.set_uscc("91350100M000100Y44");
  ExpectInvalid(ValidateEnterprise(e), "enterprise.uscc: '91350100M000100Y44' has check character '4'");
  e = Producer();
  e.set_region_code("990000");
  ExpectInvalid(ValidateEnterprise(e), "enterprise.region_code");
  e = Producer();
  e.clear_licences();
  ExpectInvalid(ValidateEnterprise(e), "role PRODUCER needs a SAFETY_PRODUCTION licence");
  e = Producer();
  e.add_roles(v1::DISPOSER);
  ExpectInvalid(ValidateEnterprise(e), "role DISPOSER needs a HAZARDOUS_WASTE licence");
  e = Producer();
  *e.mutable_licences(0)->mutable_valid_until() = Date(2023, 2, 30);
  ExpectInvalid(ValidateEnterprise(e), "enterprise.licences[0].valid_until: is not a valid date");
  e = Producer();
  *e.mutable_licences(0)->mutable_valid_until() = Date(2023, 1, 1);
  ExpectInvalid(ValidateEnterprise(e), "is before valid_from");
  e = Producer();
  e.clear_roles();
  ExpectInvalid(ValidateEnterprise(e), "enterprise.roles: at least one role");
}

// The refusals the labels issue lists for products, each naming its field.
TEST(ValidationTest, ProductRefusals) {
  v1::Product p = AmmoniumNitrate();
  p.set_enterprise_uscc("91350100M000100Y42");
  ExpectInvalid(ValidateProduct(p, Shipped()), "product.enterprise_uscc:");
  p = AmmoniumNitrate();
  p.set_cas("6484-52-3");
  ExpectInvalid(ValidateProduct(p, Shipped()), "product.cas: '6484-52-3' has check digit 3");
  p = AmmoniumNitrate();
  p.set_un_number("194");
  ExpectInvalid(ValidateProduct(p, Shipped()), "product.un_number: '194' must be exactly 4 digits");
  p = AmmoniumNitrate();
  p.set_un_number("2067");
  ExpectInvalid(ValidateProduct(p, Shipped()),
                "product.un_number: 2067 does not match CAS 6484-52-2: the catalogue says UN 1942");
  p = AmmoniumNitrate();
  p.set_catalogue_number(2829);
  ExpectInvalid(ValidateProduct(p, Shipped()), "product.catalogue_number: 2829 is out of range");
  p = AmmoniumNitrate();
  p.clear_control_flags();
  ExpectInvalid(ValidateProduct(p, Shipped()), "product.control_flags: must include");

  // Class 2 has no packing group; class 3 needs one (methanol, UN 1230).
  v1::Product gas = AmmoniumNitrate();
  gas.set_cas("");
  gas.set_un_number("1978");
  gas.set_hazard_class("2.1");
  gas.set_packing_group("II");
  ExpectInvalid(ValidateProduct(gas, Shipped()),
                "product.packing_group: must be empty: class 2.1 has no packing group");
  v1::Product liquid = AmmoniumNitrate();
  liquid.set_cas("");
  liquid.set_un_number("1230");
  liquid.set_hazard_class("3");
  liquid.set_packing_group("");
  ExpectInvalid(ValidateProduct(liquid, Shipped()),
                "product.packing_group: class 3 needs packing group I, II or III");
}

TEST(ValidationTest, OtherProductFields) {
  v1::Product p = AmmoniumNitrate();
  p.set_product_number("an-01");
  ExpectInvalid(ValidateProduct(p, Shipped()), "product.product_number");
  p = AmmoniumNitrate();
  p.add_ghs_pictograms("GHS10");
  ExpectInvalid(ValidateProduct(p, Shipped()), "product.ghs_pictograms[1]: 'GHS10'");
  p = AmmoniumNitrate();
  p.set_signal_word(v1::SIGNAL_WORD_UNSPECIFIED);
  ExpectInvalid(ValidateProduct(p, Shipped()), "product.signal_word");
  p = AmmoniumNitrate();
  p.add_hazard_statements("X200");
  ExpectInvalid(ValidateProduct(p, Shipped()), "product.hazard_statements[1]");
  p = AmmoniumNitrate();
  for (const char* good : {"P210", "P301+P310", "P303+P361+P353"}) p.add_precautionary_statements(good);
  p.set_first_aid("误食：漱口，立即就医。");
  EXPECT_TRUE(ValidateProduct(p, Shipped()).ok());
  for (const char* bad : {"P21", "H210", "P210+", "P301+P310+P330+P331", "P2100", "p210"}) {
    p = AmmoniumNitrate();
    p.add_precautionary_statements("P210");
    p.add_precautionary_statements(bad);
    ExpectInvalid(ValidateProduct(p, Shipped()), "product.precautionary_statements[1]");
  }
  p = AmmoniumNitrate();
  p.set_fire_fighting(std::string(kMaxSafetyTextBytes + 1, 'x'));
  ExpectInvalid(ValidateProduct(p, Shipped()), "product.fire_fighting: is 1001 bytes");
  p = AmmoniumNitrate();
  p.add_control_flags("危险");
  ExpectInvalid(ValidateProduct(p, Shipped()), "product.control_flags: unknown control flag");
  p = AmmoniumNitrate();
  p.set_sds_sha256("short");
  ExpectInvalid(ValidateProduct(p, Shipped()), "product.sds_sha256");
  p = AmmoniumNitrate();
  p.set_emergency_phone("");
  ExpectInvalid(ValidateProduct(p, Shipped()), "product.emergency_phone");
  p = AmmoniumNitrate();
  p.set_hazard_class("5.9");
  ExpectInvalid(ValidateProduct(p, Shipped()), "product.hazard_class");
}

}  // namespace
}  // namespace chemledger::registry
