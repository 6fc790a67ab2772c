#include "crypto/base32.h"

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chemledger::crypto {
namespace {

using ::testing::HasSubstr;

TEST(Base32Test, Rfc4648Vectors) {
  // RFC 4648 section 10, with the padding removed.
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},
      {"f", "MY"},
      {"fo", "MZXQ"},
      {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"},
      {"fooba", "MZXW6YTB"},
      {"foobar", "MZXW6YTBOI"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base32Encode(plain), encoded) << "encoding \"" << plain << "\"";
    absl::StatusOr<std::string> decoded = Base32Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded << ": " << decoded.status();
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base32Test, AllByteValuesRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  const std::string encoded = Base32Encode(all);
  EXPECT_EQ(encoded.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
            std::string::npos);
  EXPECT_EQ(*Base32Decode(encoded), all);
}

TEST(Base32Test, RandomRoundTripLengths0To100) {
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> byte(0, 255);
  for (size_t len = 0; len <= 100; ++len) {
    std::string data;
    for (size_t i = 0; i < len; ++i) data.push_back(static_cast<char>(byte(rng)));
    const std::string encoded = Base32Encode(data);
    EXPECT_EQ(encoded.size(), (len * 8 + 4) / 5) << "len " << len;
    absl::StatusOr<std::string> decoded = Base32Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << "len " << len << ": " << decoded.status();
    EXPECT_EQ(*decoded, data) << "len " << len;
  }
}

void ExpectInvalid(absl::string_view text, absl::string_view message_part) {
  absl::StatusOr<std::string> decoded = Base32Decode(text);
  ASSERT_FALSE(decoded.ok()) << "\"" << text << "\" was accepted";
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr(message_part))
      << "for \"" << text << "\"";
}

TEST(Base32Test, RejectsLowerCase) {
  ExpectInvalid("mzxw6", "invalid character 'm' at position 0 (lower case");
  ExpectInvalid("MZXw6", "invalid character 'w' at position 3");
}

TEST(Base32Test, RejectsPadding) {
  ExpectInvalid("MY======", "invalid character '=' at position 2 (padding");
  ExpectInvalid("MZXW6YQ=", "invalid character '=' at position 7");
}

TEST(Base32Test, RejectsCharactersOutsideAlphabet) {
  ExpectInvalid("MZXW6YT1", "invalid character '1' at position 7");
  ExpectInvalid("MZ0Q", "invalid character '0' at position 2");
  ExpectInvalid("MZ8Q", "invalid character '8' at position 2");
  ExpectInvalid("MZ Q", "invalid character ' ' at position 2");
  ExpectInvalid("MZ\nQ", "invalid character byte 0x0a at position 2");
  ExpectInvalid(std::string("MZ\0Q", 4), "byte 0x00 at position 2");
  ExpectInvalid("MZ\xc3\x89Q", "byte 0xc3 at position 2");
}

TEST(Base32Test, RejectsImpossibleLengths) {
  ExpectInvalid("M", "invalid length 1");
  ExpectInvalid("MZX", "invalid length 3");
  ExpectInvalid("MZXW6Y", "invalid length 6");
  ExpectInvalid("MZXW6YTBO", "invalid length 9");
  ExpectInvalid("MZXW6YTBOIM", "invalid length 11");
  ExpectInvalid("MZXW6YTBOIMZXW", "invalid length 14");
}

TEST(Base32Test, RejectsNonZeroTrailingBits) {
  // "MY" is "f"; "MZ" differs only in an unused low bit.
  ExpectInvalid("MZ", "non-canonical encoding");
  ExpectInvalid("MZXR", "last character 'R' at position 3");  // "fo" is MZXQ
  ExpectInvalid("MZXW7", "non-canonical");                    // "foo" is MZXW6
  ExpectInvalid("MZXW6YR", "non-canonical");                  // "foob" is ..YQ
  ExpectInvalid("MZXW6YTBOJ", "non-canonical");  // "foobar" is ..OI
  // For each length with unused bits, exactly the last characters whose
  // unused bits are zero decode: 32 >> spare_bits of the 32 digits.
  for (const char* canonical : {"MY", "MZXQ", "MZXW6", "MZXW6YQ"}) {
    const std::string base(canonical);
    const int spare_bits = static_cast<int>((base.size() * 5) % 8);
    int accepted = 0;
    for (char c : std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")) {
      std::string variant = base;
      variant.back() = c;
      if (Base32Decode(variant).ok()) ++accepted;
    }
    EXPECT_EQ(accepted, 32 >> spare_bits) << canonical;
  }
}

}  // namespace
}  // namespace chemledger::crypto
