#include "crypto/label.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "crypto/base32.h"
#include "crypto/label_testing.h"
#include "crypto/sha256.h"
#include "gtest/gtest.h"

namespace chemledger::crypto {
namespace {

SigningKey KeyFromHexSeed(absl::string_view hex) {
  return SigningKey::FromSeed(*SecretSeed::FromBytes(*HexDecode(hex)));
}

// RFC 8032 section 7.1 TEST 1 and TEST 2 secrets.
const char kLabelSeed[] = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const char kOtherSeed[] = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

LabelClaims AmmoniumNitrate() { return testing::ExampleLabelClaims(); }

TEST(LabelTest, RoundTripAndSignature) {
  const SigningKey key = KeyFromHexSeed(kLabelSeed);
  absl::StatusOr<std::string> url = MakeLabelUrl(AmmoniumNitrate(), key);
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->substr(0, 61),
            "HTTPS://CL.EXAMPLE.CN/91350100M000100Y43.AN01/B2026112301.17/");
  EXPECT_EQ(url->size(), 61 + 144u);
  // Every character is in the QR alphanumeric set.
  for (char c : *url) {
    EXPECT_NE(std::string("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:").find(c),
              std::string::npos)
        << c;
  }
  absl::StatusOr<ParsedLabel> parsed = ParseLabelUrl(*url);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->claims, AmmoniumNitrate());
  EXPECT_EQ(parsed->claims.Code(), "91350100M000100Y43.AN01.B2026112301.17");
  EXPECT_EQ(parsed->version, kLabelVersion);
  EXPECT_EQ(parsed->key_id, key.key_id());
  EXPECT_TRUE(parsed->VerifySignature(key.verifying_key()).ok());
  EXPECT_FALSE(parsed->VerifySignature(KeyFromHexSeed(kOtherSeed).verifying_key()).ok());
}

// Computed independently with Python (hashlib, base64, `cryptography`) from
// docs/label-format.md: the worked example there.
TEST(LabelTest, WorkedExampleFromTheSpec) {
  const std::string expected =
      "HTTPS://CL.EXAMPLE.CN/91350100M000100Y43.AN01/B2026112301.17/"
      "AEKHJOTCUHR3H5YHSYAAAYXSFIAAAYNIJNDU2JS7DIBRJ3AXP7V5OTCNA5UD5VQGGUK6FNB4OOJYIHUGIU7U6RFJ"
      "AN6L55ZOYVEOQZT66DWGRSRRUJEBFYAHQI2W6HXNEKPDRF45ARWIKBIM";
  EXPECT_EQ(*MakeLabelUrl(AmmoniumNitrate(), KeyFromHexSeed(kLabelSeed)), expected);
  const ParsedLabel parsed = *ParseLabelUrl(expected);
  EXPECT_EQ(HexEncode(parsed.signed_message.substr(parsed.signed_message.size() - 26)),
            "011474ba62a1e3b3f70796000062f22a000061a84b474d265f1a");
}

TEST(LabelTest, DeterministicAndWithoutCas) {
  const SigningKey key = KeyFromHexSeed(kLabelSeed);
  LabelClaims c = AmmoniumNitrate();
  EXPECT_EQ(*MakeLabelUrl(c, key), *MakeLabelUrl(c, key));
  c.cas = "";  // mixtures such as some fuels carry no single CAS number
  c.un_number = "0004";
  auto parsed = ParseLabelUrl(*MakeLabelUrl(c, key));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->claims, c);
}

TEST(LabelTest, SignatureCoversEveryPart) {
  const SigningKey key = KeyFromHexSeed(kLabelSeed);
  const std::string url = *MakeLabelUrl(AmmoniumNitrate(), key);
  const std::string segment = url.substr(url.rfind('/') + 1);
  // The same signed segment under another resolver, product, batch or serial.
  for (const std::string& moved :
       {absl::StrCat("HTTPS://CL.EXAMPLE.COM/91350100M000100Y43.AN01/B2026112301.17/", segment),
        absl::StrCat("HTTPS://CL.EXAMPLE.CN/91350100M000100Y43.AN02/B2026112301.17/", segment),
        absl::StrCat("HTTPS://CL.EXAMPLE.CN/91110105771583283D.AN01/B2026112301.17/", segment),
        absl::StrCat("HTTPS://CL.EXAMPLE.CN/91350100M000100Y43.AN01/B2026112302.17/", segment),
        absl::StrCat("HTTPS://CL.EXAMPLE.CN/91350100M000100Y43.AN01/B2026112301.18/", segment)}) {
    absl::StatusOr<ParsedLabel> parsed = ParseLabelUrl(moved);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_FALSE(parsed->VerifySignature(key.verifying_key()).ok()) << moved;
  }
  // Any flipped bit of the claims or the signature.
  const std::string payload = *Base32Decode(segment);
  for (size_t byte = 9; byte < payload.size(); ++byte) {  // past version and key id
    std::string bad = payload;
    bad[byte] ^= 0x01;
    absl::StatusOr<ParsedLabel> parsed =
        ParseLabelUrl(url.substr(0, url.rfind('/') + 1) + Base32Encode(bad));
    if (!parsed.ok()) continue;  // the flip made a field invalid: refused anyway
    EXPECT_FALSE(parsed->VerifySignature(key.verifying_key()).ok()) << "byte " << byte;
  }
}

TEST(LabelTest, SignedForAnotherContextFails) {
  const SigningKey key = KeyFromHexSeed(kLabelSeed);
  const std::string url = *MakeLabelUrl(AmmoniumNitrate(), key);
  ParsedLabel parsed = *ParseLabelUrl(url);
  // Re-sign the same bytes for another purpose and splice the signature in.
  static constexpr SignatureContext kOther("application/vnd.chemledger.event.v1+protobuf");
  const Signature other = *key.Sign(kOther, parsed.signed_message);
  const std::string payload = *Base32Decode(url.substr(url.rfind('/') + 1));
  const std::string spliced = url.substr(0, url.rfind('/') + 1) +
                              Base32Encode(payload.substr(0, 26) + other.ToBytes());
  absl::StatusOr<ParsedLabel> forged = ParseLabelUrl(spliced);
  ASSERT_TRUE(forged.ok());
  EXPECT_FALSE(forged->VerifySignature(key.verifying_key()).ok());
}

void ExpectMalformed(const std::string& url, const std::string& fragment,
                     absl::StatusCode code = absl::StatusCode::kInvalidArgument) {
  absl::StatusOr<ParsedLabel> parsed = ParseLabelUrl(url);
  ASSERT_FALSE(parsed.ok()) << "accepted: " << url;
  EXPECT_EQ(parsed.status().code(), code) << parsed.status();
  EXPECT_NE(parsed.status().message().find(fragment), std::string::npos) << parsed.status();
}

TEST(LabelTest, MalformedUrlsAreRefused) {
  const std::string url = *MakeLabelUrl(AmmoniumNitrate(), KeyFromHexSeed(kLabelSeed));
  ExpectMalformed(url.substr(0, url.size() - 1), "truncated");
  ExpectMalformed(url.substr(0, url.size() - 8), "truncated");
  ExpectMalformed(url + "A", "trailing bytes");
  ExpectMalformed(url + "/", "must have 4 parts");
  ExpectMalformed(url + "?x=1", "trailing bytes");
  ExpectMalformed("https" + url.substr(5), "upper case");
  ExpectMalformed(url.substr(0, url.size() - 1) + "1", "base32");  // '1' is not Base32
  ExpectMalformed(url.substr(0, url.size() - 1) + "=", "base32");
  std::string lower = url;
  lower[url.size() - 3] = static_cast<char>(tolower(lower[url.size() - 3]));
  if (lower != url) ExpectMalformed(lower, "base32");
  ExpectMalformed("HTTPS://CL.EXAMPLE.CN/91350100M000100Y43AN01/B1.1/X", "<USCC>.<PRODUCT>");
  ExpectMalformed("HTTPS://CL.EXAMPLE.CN/91350100M000100Y43.AN01/B1.01/X", "leading zeros");
  ExpectMalformed("HTTPS://cl.example.cn/91350100M000100Y43.AN01/B1.1/X", "upper-case host");
  ExpectMalformed("", "must start with");
}

TEST(LabelTest, UnsupportedVersionIsItsOwnError) {
  const std::string url = *MakeLabelUrl(AmmoniumNitrate(), KeyFromHexSeed(kLabelSeed));
  std::string payload = *Base32Decode(url.substr(url.rfind('/') + 1));
  payload[0] = 2;
  ExpectMalformed(url.substr(0, url.rfind('/') + 1) + Base32Encode(payload),
                  "version 2 is not supported", absl::StatusCode::kUnimplemented);
  // A later version may be longer or shorter: still its own error.
  ExpectMalformed(url.substr(0, url.rfind('/') + 1) + Base32Encode(payload + "more bytes"),
                  "version 2 is not supported", absl::StatusCode::kUnimplemented);
  ExpectMalformed(url.substr(0, url.rfind('/') + 1) + Base32Encode(payload.substr(0, 40)),
                  "version 2 is not supported", absl::StatusCode::kUnimplemented);
}

TEST(LabelTest, BadClaimsAreRefusedWithTheField) {
  const SigningKey key = KeyFromHexSeed(kLabelSeed);
  const auto expect = [&](const LabelClaims& c, const std::string& fragment) {
    absl::StatusOr<std::string> url = MakeLabelUrl(c, key);
    ASSERT_FALSE(url.ok()) << fragment;
    EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(url.status().message().find(fragment), std::string::npos) << url.status();
  };
  LabelClaims c = AmmoniumNitrate();
  c.resolver = "cl.example.cn";
  expect(c, "label resolver");
  c = AmmoniumNitrate();
  c.enterprise = "91350100M000100Y4";
  expect(c, "label enterprise");
  c = AmmoniumNitrate();
  c.product = "an01";
  expect(c, "label product");
  c = AmmoniumNitrate();
  c.batch = "B-1";
  expect(c, "label batch");
  c = AmmoniumNitrate();
  c.serial = 0;
  expect(c, "label serial");
  c = AmmoniumNitrate();
  c.production_date = absl::CivilDay(1999, 12, 31);
  expect(c, "label production_date");
  c = AmmoniumNitrate();
  c.quantity_milli = 0;
  expect(c, "label quantity");
  c = AmmoniumNitrate();
  c.unit = "KG";
  expect(c, "label unit");
  c = AmmoniumNitrate();
  c.un_number = "194";
  expect(c, "label un_number");
  c = AmmoniumNitrate();
  c.cas = "6484522";
  expect(c, "label cas");
  c = AmmoniumNitrate();
  c.control_flags = 0x80;
  expect(c, "label control_flags");
}

TEST(LabelTest, LongestLabelStaysWithinQrVersion10) {
  LabelClaims c = AmmoniumNitrate();
  c.resolver = "CHEMLEDGER.EXAMPLE.GOV.C";  // 24 characters
  c.product = std::string(16, 'P');
  c.batch = std::string(20, 'B');
  c.serial = 999999999;
  const std::string url = *MakeLabelUrl(c, KeyFromHexSeed(kLabelSeed));
  // QR version 10 at error correction M holds 311 alphanumeric characters.
  EXPECT_LE(url.size(), 311u) << url.size();
}

}  // namespace
}  // namespace chemledger::crypto
