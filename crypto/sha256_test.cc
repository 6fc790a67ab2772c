#include "crypto/sha256.h"

#include "gtest/gtest.h"

namespace chemledger::crypto {
namespace {

TEST(Sha256Test, KnownVectors) {
  // FIPS 180-2 examples.
  EXPECT_EQ(Sha256("").ToHex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256("abc").ToHex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").ToHex(),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, ConcatAndIncrementalMatchOneShot) {
  const Sha256Digest one = Sha256("hello, world");
  EXPECT_EQ(Sha256Concat({"hello", ", ", "world"}), one);
  Sha256Hasher h;
  h.Update("hel").Update("lo, wor").Update("ld");
  EXPECT_EQ(h.Finish(), one);
  EXPECT_NE(Sha256("hello, world!"), one);
}

TEST(Sha256Test, DigestParsing) {
  const Sha256Digest d = Sha256("abc");
  EXPECT_EQ(*Sha256Digest::FromHex(d.ToHex()), d);
  std::string upper = d.ToHex();
  for (char& c : upper) c = static_cast<char>(toupper(c));
  EXPECT_EQ(*Sha256Digest::FromHex(upper), d);
  EXPECT_EQ(*Sha256Digest::FromBytes(d.ToBytes()), d);
  EXPECT_FALSE(Sha256Digest::FromBytes("short").ok());
  EXPECT_FALSE(Sha256Digest::FromHex(d.ToHex().substr(2)).ok());
  std::string bad = d.ToHex();
  bad[10] = 'g';
  absl::StatusOr<Sha256Digest> parsed = Sha256Digest::FromHex(bad);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("position 10"), std::string::npos)
      << parsed.status();
}

TEST(HexTest, RoundTripAndErrors) {
  EXPECT_EQ(HexEncode(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(*HexDecode("00FF10"), std::string("\x00\xff\x10", 3));
  EXPECT_EQ(*HexDecode(""), "");
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
}

}  // namespace
}  // namespace chemledger::crypto
