#include "services/common/text_length.h"

#include "gtest/gtest.h"

namespace chemledger {
namespace {

TEST(TextLengthTest, CountsCharactersNotBytes) {
  EXPECT_EQ(CharacterCount(""), 0u);
  EXPECT_EQ(CharacterCount("bay 12"), 6u);
  EXPECT_EQ(CharacterCount("3号仓库"), 4u);           // 1 + 3 + 3 + 3 bytes
  EXPECT_EQ(CharacterCount("\xF0\x9F\x9B\xA2"), 1u);  // one 4-byte character
}

TEST(TextLengthTest, FirstCharactersNeverCutsOne) {
  EXPECT_EQ(FirstCharacters("3号仓库", 2), "3号");
  EXPECT_EQ(FirstCharacters("3号仓库", 4), "3号仓库");
  EXPECT_EQ(FirstCharacters("3号仓库", 9), "3号仓库");
  EXPECT_EQ(FirstCharacters("abc", 0), "");
}

TEST(TextLengthTest, OneToMostCharacters) {
  std::string site;
  for (int i = 0; i < 64; ++i) site += "库";  // 64 characters, 192 bytes
  EXPECT_TRUE(HasOneToCharacters(site, 64));
  EXPECT_FALSE(HasOneToCharacters(site + "x", 64));
  EXPECT_FALSE(HasOneToCharacters("", 64));
}

}  // namespace
}  // namespace chemledger
