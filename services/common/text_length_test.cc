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

TEST(TextLengthTest, Utf8SequenceLengthTakesWellFormedSequencesOnly) {
  EXPECT_EQ(Utf8SequenceLength(""), 0u);
  EXPECT_EQ(Utf8SequenceLength("a"), 1u);
  EXPECT_EQ(Utf8SequenceLength("\x7F"), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xC2\x80"), 2u);           // U+0080
  EXPECT_EQ(Utf8SequenceLength("号仓"), 3u);               // the first only
  EXPECT_EQ(Utf8SequenceLength("\xEF\xBF\xBD"), 3u);       // U+FFFD
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x9B\xA2x"), 4u);  // U+1F6E2
  EXPECT_EQ(Utf8SequenceLength("\xF4\x8F\xBF\xBF"), 4u);   // U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("\x80"), 0u);               // continues nothing
  EXPECT_EQ(Utf8SequenceLength("\xC0\xAF"), 0u);           // overlong '/'
  EXPECT_EQ(Utf8SequenceLength("\xC1\xBF"), 0u);           // overlong
  EXPECT_EQ(Utf8SequenceLength("\xE0\x9F\xBF"), 0u);       // overlong U+07FF
  EXPECT_EQ(Utf8SequenceLength("\xED\xA0\x80"), 0u);       // U+D800, a surrogate
  EXPECT_EQ(Utf8SequenceLength("\xF0\x8F\xBF\xBF"), 0u);   // overlong U+FFFF
  EXPECT_EQ(Utf8SequenceLength("\xF4\x90\x80\x80"), 0u);   // U+110000
  EXPECT_EQ(Utf8SequenceLength("\xF5\x80\x80\x80"), 0u);
  EXPECT_EQ(Utf8SequenceLength("\xE5\x8F"), 0u);   // cut short
  EXPECT_EQ(Utf8SequenceLength("\xE5\x8Fx"), 0u);  // not continued
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
