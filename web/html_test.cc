#include "web/html.h"

#include "gtest/gtest.h"

namespace chemledger::web {
namespace {

TEST(HtmlTest, EscapeLeavesNoMarkup) {
  EXPECT_EQ(Escape("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
  EXPECT_EQ(Escape("a \"b\" & c"), "a &quot;b&quot; &amp; c");
  EXPECT_EQ(Escape("丙酮 acetone"), "丙酮 acetone");
  // Control characters and bytes that are not UTF-8 become U+FFFD.
  EXPECT_EQ(Escape(std::string("a\0b", 3)), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(Escape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");    // overlong '/'
  EXPECT_EQ(Escape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  EXPECT_EQ(Escape("\xE4\xB8"), "\xEF\xBF\xBD\xEF\xBF\xBD");    // cut short
  EXPECT_EQ(Escape("tab\tnew\nline"), "tab\tnew\nline");
}

TEST(HtmlTest, ClipCutsAtACharacterBoundary) {
  EXPECT_EQ(Clip("abc", 3), "abc");
  EXPECT_EQ(Clip("abcd", 3), "abc…");
  // 甲 is three bytes: never half of it.
  EXPECT_EQ(Clip("甲乙", 4), "甲…");
  EXPECT_EQ(Clip("甲乙", 2), "…");
  EXPECT_EQ(Clip("甲乙", 6), "甲乙");
}

TEST(HtmlTest, UrlEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(UrlEncode("91350100M000100Y43"), "91350100M000100Y43");
  EXPECT_EQ(UrlEncode("a b&c=d/e"), "a%20b%26c%3Dd%2Fe");
  EXPECT_EQ(UrlEncode("丙"), "%E4%B8%99");
}

}  // namespace
}  // namespace chemledger::web
