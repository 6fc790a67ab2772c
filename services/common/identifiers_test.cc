#include "services/common/identifiers.h"

#include <string>

#include "gtest/gtest.h"

namespace chemledger::ids {
namespace {

void ExpectInvalid(const absl::Status& s, const std::string& fragment) {
  ASSERT_FALSE(s.ok()) << "accepted";
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s;
}

TEST(UsccTest, RealCodesPass) {
  // Published codes of registered organisations (check characters verified
  // independently with the GB 32100 and GB 11714 algorithms).
  for (const char* code : {"91350100M000100Y43", "91110105771583283D", "91110000802100433B",
                           "91440300708461136T", "51610700305332460K", "11610923MB2900168E",
                           "91341000MA2N0ABGXX"}) {
    EXPECT_TRUE(ValidateUscc("enterprise.uscc", code).ok()) << code;
  }
  EXPECT_EQ(UsccCheckCharacter("91350100M000100Y4"), '3');
}

TEST(UsccTest, EachRuleNamesTheFieldAndTheRule) {
  ExpectInvalid(ValidateUscc("enterprise.uscc", "91350100M000100Y4"),
                "enterprise.uscc: '91350100M000100Y4' must be 18 characters");
  ExpectInvalid(ValidateUscc("enterprise.uscc", "91350100M000100Y44"),
                "check character '4', expected '3' (GB 32100)");
  ExpectInvalid(ValidateUscc("f", "91350100m000100Y43"), "'m' at position 9");
  ExpectInvalid(ValidateUscc("f", "91350100M0001O0Y43"), "'O' at position 14");
  ExpectInvalid(ValidateUscc("f", "B1350100M000100Y43"), "registration authority code 'B'");
  ExpectInvalid(ValidateUscc("f", "91990100M000100Y43"), "region code 990100");
  ExpectInvalid(ValidateUscc("f", "91350100M000100Y53"), "(GB 11714)");
}

TEST(RegionCodeTest, Rules) {
  EXPECT_TRUE(ValidateRegionCode("r", "320506").ok());
  EXPECT_TRUE(ValidateRegionCode("r", "820000").ok());
  ExpectInvalid(ValidateRegionCode("origin.region", "32050"), "origin.region: '32050' must be 6 digits");
  ExpectInvalid(ValidateRegionCode("r", "3205A6"), "must be 6 digits");
  ExpectInvalid(ValidateRegionCode("r", "990000"), "starts with 99");
}

TEST(CasTest, RealNumbersPass) {
  for (const char* cas : {"7732-18-5", "6484-52-2", "143-33-9", "7782-50-5", "71-43-2",
                          "67-56-1", "108-88-3", "67-64-1", "7664-93-9", "7647-01-0",
                          "7697-37-2", "7722-84-1", "1310-73-2", "64-17-5", "7664-41-7",
                          "9004-70-0", "8006-61-9", "68476-85-7"}) {
    EXPECT_TRUE(ValidateCas("product.cas", cas).ok()) << cas;
  }
}

TEST(CasTest, Rules) {
  ExpectInvalid(ValidateCas("product.cas", "6484-52-3"),
                "product.cas: '6484-52-3' has check digit 3, expected 2");
  ExpectInvalid(ValidateCas("c", "6484522"), "must have the form");
  ExpectInvalid(ValidateCas("c", "6484-5-2"), "must have the form");
  ExpectInvalid(ValidateCas("c", "1-52-2"), "must have the form");
  ExpectInvalid(ValidateCas("c", "12345678-52-2"), "must have the form");
  ExpectInvalid(ValidateCas("c", "6484-52-2-1"), "must have the form");
  ExpectInvalid(ValidateCas("c", "0484-52-2"), "must not start with 0");
  ExpectInvalid(ValidateCas("c", ""), "must have the form");
}

TEST(UnNumberTest, Rules) {
  EXPECT_TRUE(ValidateUnNumber("product.un_number", "1942").ok());
  EXPECT_TRUE(ValidateUnNumber("u", "0004").ok());
  ExpectInvalid(ValidateUnNumber("product.un_number", "194"),
                "product.un_number: '194' must be exactly 4 digits");
  ExpectInvalid(ValidateUnNumber("u", "UN1942"), "must be exactly 4 digits");
  ExpectInvalid(ValidateUnNumber("u", "19420"), "must be exactly 4 digits");
  ExpectInvalid(ValidateUnNumber("u", "0000"), "is not a UN number");
}

TEST(CatalogueNumberTest, Range) {
  EXPECT_TRUE(ValidateCatalogueNumber("product.catalogue_number", 1).ok());
  EXPECT_TRUE(ValidateCatalogueNumber("c", 2828).ok());
  ExpectInvalid(ValidateCatalogueNumber("product.catalogue_number", 2829),
                "product.catalogue_number: 2829 is out of range");
  ExpectInvalid(ValidateCatalogueNumber("c", 0), "out of range");
}

TEST(IdentifiersTest, PrecautionaryStatementCodes) {
  for (const char* good : {"P210", "P301+P310", "P303+P361+P353", "P501"}) {
    EXPECT_TRUE(IsPrecautionaryStatementCode(good)) << good;
  }
  for (const char* bad : {"", "P21", "P2100", "H210", "p210", "P210+", "+P210", "P21A",
                          "P301+P310+P330+P331", "P210 "}) {
    EXPECT_FALSE(IsPrecautionaryStatementCode(bad)) << bad;
  }
}

}  // namespace
}  // namespace chemledger::ids
