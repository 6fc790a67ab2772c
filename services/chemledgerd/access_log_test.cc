#include "services/chemledgerd/access_log.h"

#include "gtest/gtest.h"

namespace chemledger::server {
namespace {

TEST(AccessLogTest, StringsAreJsonWhateverTheirBytes) {
  EXPECT_EQ(AccessLog::String("plain").json, "\"plain\"");
  EXPECT_EQ(AccessLog::String("a\"b\\c\nd\te\x01").json, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
  // Well-formed UTF-8 stays as it is.
  EXPECT_EQ(AccessLog::String("甲醇 ✓ 😀").json, "\"甲醇 ✓ 😀\"");
  // Anything else becomes U+FFFD, a byte at a time.
  EXPECT_EQ(AccessLog::String("\xff").json, "\"\\ufffd\"");
  EXPECT_EQ(AccessLog::String("a\xe7\x94").json, "\"a\\ufffd\\ufffd\"");    // cut short
  EXPECT_EQ(AccessLog::String("\xc0\xaf").json, "\"\\ufffd\\ufffd\"");      // overlong
  EXPECT_EQ(AccessLog::String("\xed\xa0\x80").json, "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
  EXPECT_EQ(AccessLog::String("\xf4\x90\x80\x80").json,
            "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // beyond U+10FFFF
}

}  // namespace
}  // namespace chemledger::server
