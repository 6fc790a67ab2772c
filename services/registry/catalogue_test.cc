#include "services/registry/catalogue.h"

#include <string>

#include "gtest/gtest.h"
#include "services/registry/registry_testing.h"

namespace chemledger::registry {
namespace {

// Loading it at all checks every row (Catalogue::Parse validates each line).
const Catalogue& Shipped() { return testing::ShippedCatalogue(); }

TEST(CatalogueTest, ShippedCatalogueLoads) {
  absl::StatusOr<Catalogue> c = Catalogue::Load(
      chemledger::testing::RunfilePath("services/registry/data/catalogue.tsv"));
  ASSERT_TRUE(c.ok()) << c.status();
}

TEST(CatalogueTest, ShippedCatalogueIsValidAndHasTheRequiredChemicals) {
  EXPECT_GE(Shipped().entries().size(), 40u);
  // The chemicals the issue names, by CAS: ammonium nitrate, sodium cyanide,
  // nitrocellulose, ammonia, chlorine, benzene, methanol, toluene, acetone,
  // sulfuric, hydrochloric and nitric acid, hydrogen peroxide, sodium
  // hydroxide, ethanol, petrol, diesel, LPG.
  for (const char* cas : {"6484-52-2", "143-33-9", "9004-70-0", "7664-41-7", "7782-50-5",
                          "71-43-2", "67-56-1", "108-88-3", "67-64-1", "7664-93-9",
                          "7647-01-0", "7697-37-2", "7722-84-1", "1310-73-2", "64-17-5",
                          "86290-81-5", "68334-30-5", "68476-85-7"}) {
    EXPECT_NE(Shipped().FindByCas(cas), nullptr) << cas;
  }
}

TEST(CatalogueTest, KnownEntries) {
  const CatalogueEntry* an = Shipped().FindByCas("6484-52-2");
  ASSERT_NE(an, nullptr);
  EXPECT_EQ(an->un_number, "1942");
  EXPECT_EQ(an->hazard_class, "5.1");
  EXPECT_EQ(an->packing_group, "III");
  EXPECT_TRUE(an->flags & kHighHazard);
  const CatalogueEntry* cyanide = Shipped().FindByCas("143-33-9");
  ASSERT_NE(cyanide, nullptr);
  EXPECT_EQ(cyanide->catalogue_number, 1688);
  EXPECT_TRUE(cyanide->flags & kHighlyToxic);
  const CatalogueEntry* chlorine = Shipped().FindByCas("7782-50-5");
  ASSERT_NE(chlorine, nullptr);
  EXPECT_EQ(chlorine->packing_group, "");  // class 2.3: no packing group
}

TEST(CatalogueTest, MalformedRowsNameTheLineAndRule) {
  const std::string header =
      "catalogue_no\tname_zh\tname_en\tcas\tun\thazard_class\tpacking_group\tflags\n";
  const auto error = [&](const std::string& row) {
    return std::string(Catalogue::Parse(header + row + "\n").status().message());
  };
  EXPECT_NE(error("2829\t甲\tA\t67-56-1\t1230\t3\tII\t-").find("line 2: catalogue_no: 2829"),
            std::string::npos);
  EXPECT_NE(error("1022\t甲醇\tMethanol\t67-56-2\t1230\t3\tII\t-").find("check digit"),
            std::string::npos);
  EXPECT_NE(error("1022\t甲醇\tMethanol\t67-56-1\t123\t3\tII\t-").find("4 digits"),
            std::string::npos);
  EXPECT_NE(error("1022\t甲醇\tMethanol\t67-56-1\t1230\t3\t-\t-").find("needs a packing group"),
            std::string::npos);
  EXPECT_NE(error("2\t氨\tAmmonia\t7664-41-7\t1005\t2.3\tII\t-").find("has no packing group"),
            std::string::npos);
  EXPECT_NE(error("1022\t甲醇\tMethanol\t67-56-1\t1230\t3\tII\t危险").find("unknown control flag"),
            std::string::npos);
  EXPECT_NE(error("1022\t甲醇\tMethanol\t67-56-1\t1230\t3.5\tII\t-").find("not a GB 6944 class"),
            std::string::npos);
  EXPECT_FALSE(Catalogue::Parse("wrong header\n").ok());
}

TEST(CatalogueTest, FlagsText) {
  EXPECT_EQ(*ParseControlFlags("易制爆,重点监管"), kExplosivesPrecursor | kKeySupervised);
  EXPECT_EQ(ControlFlagsText(kExplosivesPrecursor | kKeySupervised), "易制爆,重点监管");
  EXPECT_EQ(ControlFlagsText(0), "-");
  EXPECT_EQ(*ParseControlFlags("-"), 0);
}

}  // namespace
}  // namespace chemledger::registry
