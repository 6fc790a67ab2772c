#include "services/registry/oversight.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "services/registry/registry_testing.h"
#include "testing/test_ledger.h"

namespace chemledger::registry {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;

class OversightTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t_ = TestLedger::Create("oversight", admin_);
    // Fuzhou (350100) with a site in the park, Xiamen (350200), Beijing (110105).
    for (const std::string& uscc : {kFuzhou, kXiamen, kBeijing}) {
      ASSERT_TRUE(t_->RegisterEnterprise(admin_, testing::ExampleProducer(uscc)).ok());
    }
    v1::RegistryRequest park;
    park.set_request_id("park");
    *park.mutable_register_park() = testing::ExamplePark("FZ-PARK");
    ASSERT_TRUE(t_->Registry(admin_, park).ok());
    v1::RegistryRequest site;
    site.set_request_id("site");
    *site.mutable_register_site() = testing::ExampleSite(kFuzhou, "WH-1");
    site.mutable_register_site()->set_park_id("FZ-PARK");
    ASSERT_TRUE(t_->Registry(admin_, site).ok());
  }

  static v1::Actor Regulator(v1::Department d, const std::string& where) {
    v1::Actor a;
    a.set_role(v1::REGULATOR);
    a.set_department(d);
    if (where == "national") {
      a.mutable_jurisdiction()->set_national(true);
    } else if (where.rfind("park:", 0) == 0) {
      a.mutable_jurisdiction()->set_park_id(where.substr(5));
    } else {
      a.mutable_jurisdiction()->set_region_prefix(where);
    }
    return a;
  }
  bool Oversees(const v1::Actor& a, const std::string& uscc) {
    absl::StatusOr<bool> r = OverseesEnterprise(*t_->snapshot(), a, uscc);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && *r;
  }

  const std::string kFuzhou = testing::ExampleUscc("350100");
  const std::string kXiamen = testing::ExampleUscc("350200");
  const std::string kBeijing = testing::ExampleUscc("110105");
  const crypto::SigningKey admin_ = TestKey(1);
  std::unique_ptr<TestLedger> t_;
};

TEST_F(OversightTest, AJurisdictionCoversItsRegionsOrItsPark) {
  const v1::Actor province = Regulator(v1::EMERGENCY_MANAGEMENT, "35");
  EXPECT_TRUE(Oversees(province, kFuzhou));
  EXPECT_TRUE(Oversees(province, kXiamen));
  EXPECT_FALSE(Oversees(province, kBeijing));
  const v1::Actor city = Regulator(v1::EMERGENCY_MANAGEMENT, "3502");
  EXPECT_FALSE(Oversees(city, kFuzhou));
  EXPECT_TRUE(Oversees(city, kXiamen));
  const v1::Actor park = Regulator(v1::PARK_ADMINISTRATION, "park:FZ-PARK");
  EXPECT_TRUE(Oversees(park, kFuzhou)) << "a registered site in the park";
  EXPECT_FALSE(Oversees(park, kXiamen));
  EXPECT_TRUE(*OverseesPark(*t_->snapshot(), park, "FZ-PARK"));
  EXPECT_TRUE(*OverseesPark(*t_->snapshot(), province, "FZ-PARK")) << "the park lies in 35";
  EXPECT_FALSE(*OverseesPark(*t_->snapshot(), Regulator(v1::TRANSPORT, "11"), "FZ-PARK"));
  const v1::Actor national = Regulator(v1::TRANSPORT, "national");
  EXPECT_TRUE(Oversees(national, kBeijing));
  EXPECT_TRUE(OverseesEverything(national));
  EXPECT_FALSE(Oversees(province, "91350000000000000X")) << "an enterprise not registered";
  v1::Actor legacy;
  legacy.set_role(v1::REGULATOR);  // registered before departments
  EXPECT_TRUE(OverseesEverything(legacy));
  v1::Actor enterprise;
  enterprise.set_role(v1::ENTERPRISE_ADMIN);
  enterprise.set_enterprise_uscc(kFuzhou);
  EXPECT_FALSE(HasOversightRole(enterprise));
  EXPECT_FALSE(Oversees(enterprise, kFuzhou)) << "its own records are read by other rules";
  EXPECT_EQ(JurisdictionText(city), "region 3502");
  EXPECT_EQ(JurisdictionText(park), "park FZ-PARK");
}

TEST_F(OversightTest, DepartmentsReadWhatTheySupervise) {
  using K = RecordKind;
  const auto reads = [](v1::Department d, K k) {
    return DepartmentReads(Regulator(d, "national"), k);
  };
  EXPECT_EQ(reads(v1::EMERGENCY_MANAGEMENT, K::kSites), Reads::kAll);
  EXPECT_EQ(reads(v1::TRANSPORT, K::kPackages), Reads::kNone);
  EXPECT_EQ(reads(v1::TRANSPORT, K::kWaybills), Reads::kAll);
  EXPECT_EQ(reads(v1::PUBLIC_SECURITY, K::kPackages), Reads::kControlledGoods);
  EXPECT_EQ(reads(v1::PUBLIC_SECURITY, K::kSites), Reads::kNone);
  EXPECT_EQ(reads(v1::ECOLOGY_ENVIRONMENT, K::kWaybills), Reads::kWaste);
  EXPECT_EQ(reads(v1::ECOLOGY_ENVIRONMENT, K::kScanSignals), Reads::kNone);
  EXPECT_EQ(reads(v1::MARKET_REGULATION, K::kScanSignals), Reads::kAll);
  EXPECT_EQ(reads(v1::MARKET_REGULATION, K::kVehicles), Reads::kNone);
  v1::Actor operator_;
  operator_.set_role(v1::ENTERPRISE_OPERATOR);
  EXPECT_EQ(DepartmentReads(operator_, K::kPackages), Reads::kNone);
  v1::Product cyanide;
  cyanide.add_control_flags("剧毒");
  EXPECT_TRUE(IsControlledGood(cyanide));
  v1::Product methanol;
  methanol.add_control_flags("重点监管");
  EXPECT_FALSE(IsControlledGood(methanol));
}

}  // namespace
}  // namespace chemledger::registry
