#include "services/common/package_code.h"

#include "gtest/gtest.h"
#include "services/common/identifiers.h"

namespace chemledger::ids {
namespace {

std::string Uscc() {
  const std::string first17 = "91350100M000100Y4";
  return first17 + UsccCheckCharacter(first17);
}

TEST(PackageCodeTest, ParsesAndFormatsPackageCodes) {
  const std::string code = Uscc() + ".M01.B1.7";
  std::optional<PackageCode> p = PackageCode::Parse(code);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->uscc, Uscc());
  EXPECT_EQ(p->product, "M01");
  EXPECT_EQ(p->batch, "B1");
  EXPECT_EQ(p->serial, 7u);
  EXPECT_EQ(p->ToString(), code);
  EXPECT_EQ(EnterpriseOfCode(code), Uscc());
}

TEST(PackageCodeTest, RefusesWhatIsNotAPackageCode) {
  for (const std::string& bad :
       {Uscc() + ".M01.B1.07", Uscc() + ".M01.B1.0", Uscc() + ".m01.B1.7",
        Uscc() + ".M01.B1", Uscc() + ".M01.B1.1000000000", Uscc() + "..B1.7",
        std::string("91350100M000100Y40.M01.B1.7"), Uscc() + ".LU.P1"}) {
    EXPECT_FALSE(PackageCode::Parse(bad).has_value()) << bad;
  }
  EXPECT_EQ(EnterpriseOfCode("nonsense"), "");
}

TEST(PackageCodeTest, RecognisesAggregateCodes) {
  EXPECT_TRUE(IsAggregateCode(Uscc() + ".LU.PALLET7"));
  EXPECT_FALSE(IsAggregateCode(Uscc() + ".LU."));
  EXPECT_FALSE(IsAggregateCode(Uscc() + ".LX.P1"));
  EXPECT_FALSE(IsAggregateCode(Uscc() + ".LU." + std::string(33, 'A')));
  EXPECT_EQ(EnterpriseOfCode(Uscc() + ".LU.P1"), Uscc());
}

}  // namespace
}  // namespace chemledger::ids
