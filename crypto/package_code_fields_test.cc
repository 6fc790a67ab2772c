#include "crypto/package_code_fields.h"

#include <string>

#include "gtest/gtest.h"

namespace chemledger::crypto {
namespace {

TEST(PackageCodeFieldsTest, ProductNumbersAndBatchesAreUpperCaseLettersAndDigits) {
  EXPECT_TRUE(IsProductNumber("M01"));
  EXPECT_TRUE(IsProductNumber(std::string(kMaxProductNumberLength, 'A')));
  EXPECT_FALSE(IsProductNumber(std::string(kMaxProductNumberLength + 1, 'A')));
  EXPECT_FALSE(IsProductNumber(""));
  EXPECT_FALSE(IsProductNumber("m01"));
  EXPECT_FALSE(IsProductNumber("M-01"));
  EXPECT_FALSE(IsProductNumber("M.01"));  // the code's separator
  EXPECT_TRUE(IsBatch(std::string(kMaxBatchLength, '9')));
  EXPECT_FALSE(IsBatch(std::string(kMaxBatchLength + 1, '9')));
  EXPECT_FALSE(IsBatch("B 1"));
  EXPECT_EQ(kMaxSerial, 999999999u);  // nine decimal digits, as labels encode it
}

}  // namespace
}  // namespace chemledger::crypto
