#include "crypto/waybill_code.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/base32.h"
#include "crypto/label.h"
#include "crypto/label_testing.h"
#include "gtest/gtest.h"

namespace chemledger::crypto {
namespace {

using testing::TestKey;

WaybillCodeClaims Example() { return testing::ExampleWaybillCodeClaims(); }

class WaybillCodeTest : public ::testing::Test {
 protected:
  WaybillCodeTest() : key_(TestKey(2)), revoked_(TestKey(4)), stranger_(TestKey(5)) {
    trust_.resolver = "CL.EXAMPLE.CN";
    trust_.issued = absl::CivilDay(2026, 11, 23);
    trust_.keys.push_back({key_.verifying_key(), absl::CivilDay(2026, 1, 1),
                           absl::CivilDay(2027, 12, 31), absl::nullopt});
    trust_.keys.push_back({revoked_.verifying_key(), absl::CivilDay(2025, 1, 1),
                           absl::CivilDay(2026, 12, 31), absl::CivilDay(2026, 6, 1)});
  }

  SigningKey key_, revoked_, stranger_;
  TrustList trust_;
};

TEST_F(WaybillCodeTest, RoundTripsAndStaysInTheQrAlphanumericSet) {
  WaybillCodeClaims many = Example();
  many.vehicle_plate = "粤BD12345";  // new energy: 6 after the letter
  many.plate_colour = 6;
  many.trailer_plate = "";
  many.goods.clear();
  const char* classes[] = {"1.4", "2.3", "3", "4.1", "5.2", "6.1", "8", "9"};
  const char* groups[] = {"", "", "I", "II", "III", "I", "II", "III"};
  for (int i = 0; i < 8; ++i) {
    many.goods.push_back({absl::StrCat(1000 + i), classes[i], groups[i],
                          (uint64_t{1} << 48) - 1 - i, "KGM", (1u << 24) - 1});
  }
  many.goods_lines = 12;  // four more than the code lists
  for (const WaybillCodeClaims& claims : {Example(), many}) {
    absl::StatusOr<std::string> url = MakeWaybillCodeUrl(claims, key_);
    ASSERT_TRUE(url.ok()) << url.status();
    EXPECT_TRUE(IsWaybillCodeUrl(*url));
    EXPECT_EQ(url->rfind(absl::StrCat("HTTPS://CL.EXAMPLE.CN/W/", claims.waybill_number, "/"), 0), 0u);
    for (char c : *url) {
      EXPECT_NE(std::string("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:").find(c), std::string::npos)
          << "'" << c << "' is outside the QR alphanumeric set";
    }
    WaybillCodeCheck check = VerifyWaybillCode(*url, trust_);
    EXPECT_EQ(check.verdict, LabelVerdict::kAuthentic) << check.detail;
    ASSERT_TRUE(check.code.has_value());
    EXPECT_EQ(check.code->claims, claims);
    EXPECT_EQ(check.code->key_id, key_.key_id());
    // Signing is deterministic: the same waybill, the same code.
    EXPECT_EQ(*MakeWaybillCodeUrl(claims, key_), *url);
  }
  // One line keeps the URL short enough for a small symbol (about QR
  // version 10 at error correction M).
  EXPECT_LE(MakeWaybillCodeUrl(Example(), key_)->size(), 280u);
  EXPECT_FALSE(IsWaybillCodeUrl(*MakeLabelUrl(testing::ExampleLabelClaims(), key_)));
}

TEST_F(WaybillCodeTest, ForgedCopiedOrDamagedCodesFail) {
  const std::string good = *MakeWaybillCodeUrl(Example(), key_);
  const size_t cut = good.rfind('/') + 1;
  const std::string prefix = good.substr(0, cut);
  const std::string payload = *Base32Decode(good.substr(cut));
  const auto verdict = [&](const std::string& url) { return VerifyWaybillCode(url, trust_).verdict; };

  // Copied onto another waybill number.
  EXPECT_EQ(verdict("HTTPS://CL.EXAMPLE.CN/W/YD350100-20261123-0002/" + good.substr(cut)),
            LabelVerdict::kBadSignature);
  // A claim changed: the vehicle's plate (闽A12345 -> 闽A12346).
  std::string plate = payload;
  plate[38] = '6';
  EXPECT_EQ(verdict(prefix + Base32Encode(plate)), LabelVerdict::kBadSignature);
  // The quantity changed.
  std::string quantity = payload;
  quantity[69] ^= 0x01;
  EXPECT_EQ(verdict(prefix + Base32Encode(quantity)), LabelVerdict::kBadSignature);
  // A signature bit.
  std::string flipped = payload;
  flipped[payload.size() - 1] ^= 0x80;
  EXPECT_EQ(verdict(prefix + Base32Encode(flipped)), LabelVerdict::kBadSignature);
  // Truncated, trailing bytes, not a URL.
  WaybillCodeCheck truncated = VerifyWaybillCode(prefix + Base32Encode(payload.substr(0, 130)), trust_);
  EXPECT_EQ(truncated.verdict, LabelVerdict::kMalformed);
  EXPECT_NE(truncated.detail.find("truncated"), std::string::npos) << truncated.detail;
  EXPECT_EQ(verdict(prefix + Base32Encode(payload + "xxxxx")), LabelVerdict::kMalformed);
  EXPECT_EQ(verdict(good.substr(0, good.size() - 1)), LabelVerdict::kMalformed);
  EXPECT_EQ(verdict("HTTPS://CL.EXAMPLE.CN/W/"), LabelVerdict::kMalformed);
  // A version this verifier does not know.
  std::string v2 = payload;
  v2[0] = 2;
  EXPECT_EQ(verdict(prefix + Base32Encode(v2)), LabelVerdict::kUnsupportedVersion);
  // Keys: unknown, revoked; another deployment's resolver.
  EXPECT_EQ(verdict(*MakeWaybillCodeUrl(Example(), stranger_)), LabelVerdict::kUnknownKey);
  WaybillCodeCheck revoked = VerifyWaybillCode(*MakeWaybillCodeUrl(Example(), revoked_), trust_);
  EXPECT_EQ(revoked.verdict, LabelVerdict::kRevokedKey);
  EXPECT_NE(revoked.detail.find("2026-06-01"), std::string::npos);
  WaybillCodeClaims elsewhere = Example();
  elsewhere.resolver = "CL.EXAMPLE.COM";
  EXPECT_EQ(verdict(*MakeWaybillCodeUrl(elsewhere, key_)), LabelVerdict::kWrongResolver);

  // A label's signature is no waybill code's: the same key signing the
  // same bytes for labels does not verify here.
  const ParsedWaybillCode parsed = *ParseWaybillCodeUrl(good);
  const Signature as_label = *key_.Sign(kLabelContext, parsed.signed_message);
  const std::string claims = payload.substr(0, payload.size() - Signature::kSize);
  EXPECT_EQ(verdict(prefix + Base32Encode(claims + as_label.ToBytes())), LabelVerdict::kBadSignature);
  EXPECT_FALSE(ParseLabelUrl(good).ok());
}

TEST_F(WaybillCodeTest, ClaimsAreCheckedFieldByField) {
  const auto refused = [&](void (*change)(WaybillCodeClaims*), const std::string& field) {
    WaybillCodeClaims c = Example();
    change(&c);
    absl::StatusOr<std::string> url = MakeWaybillCodeUrl(c, key_);
    ASSERT_FALSE(url.ok()) << field;
    EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(url.status().message().find("waybill code " + field + ":"), std::string::npos)
        << url.status();
  };
  refused([](WaybillCodeClaims* c) { c->waybill_number = "yd-1"; }, "waybill_number");
  refused([](WaybillCodeClaims* c) { c->waybill_number = ""; }, "waybill_number");
  refused([](WaybillCodeClaims* c) { c->carrier_uscc = "9111"; }, "carrier_uscc");
  refused([](WaybillCodeClaims* c) { c->vehicle_plate = "XA12345"; }, "vehicle_plate");
  refused([](WaybillCodeClaims* c) { c->vehicle_plate = "闽A1234"; }, "vehicle_plate");
  refused([](WaybillCodeClaims* c) { c->plate_colour = 0; }, "plate_colour");
  refused([](WaybillCodeClaims* c) { c->trailer_plate = "闽A12345"; }, "trailer_plate");
  refused([](WaybillCodeClaims* c) { c->origin_region = "3501"; }, "origin_region");
  refused([](WaybillCodeClaims* c) { c->planned_arrival = absl::CivilDay(2026, 11, 22); },
          "planned_arrival");
  refused([](WaybillCodeClaims* c) { c->goods.clear(); }, "goods");
  refused([](WaybillCodeClaims* c) { c->goods_lines = 0; }, "goods_lines");
  refused([](WaybillCodeClaims* c) { c->goods[0].hazard_class = "2.4"; }, "goods[0].hazard_class");
  refused([](WaybillCodeClaims* c) { c->goods[0].packing_group = "IV"; }, "goods[0].packing_group");
  refused([](WaybillCodeClaims* c) { c->goods[0].un_number = "123"; }, "goods[0].un_number");
  refused([](WaybillCodeClaims* c) { c->goods[0].quantity_milli = 0; }, "goods[0].quantity_milli");
  refused([](WaybillCodeClaims* c) { c->revision = uint64_t{1} << 48; }, "revision");
}

// The worked example of docs/waybill-code.md, byte for byte: signed with the
// key whose seed is 32 bytes of 0x02.
TEST_F(WaybillCodeTest, TheDocumentedExample) {
  const std::string url = *MakeWaybillCodeUrl(Example(), key_);
  EXPECT_EQ(url,
            "HTTPS://CL.EXAMPLE.CN/W/YD350100-20261123-0001/"
            "AFI6NO4IJ2DUNPAAAAAAAETHHEYTCMJQGEYDKTKBGAYDAMBQGA3UYGCBGEZDGNBVAABBQQJRGIZTIBKXSQCQTWB"
            "GL4TGAAIBATHB4AQAAAAD2CIAJRKFEAAACTJMJTEKL4YHSUJLOMTHP6VRVGLSRJHAKAKFRCNWNQY5HVW6RNA5H7"
            "WLL3S66SOPOS7Z23562LWGP2E5JPXKCTM2SNQMQFQDL6B6ETIG");
  const ParsedWaybillCode parsed = *ParseWaybillCodeUrl(url);
  EXPECT_EQ(absl::BytesToHexString(parsed.signed_message.substr(parsed.signed_message.rfind('/') + 1)),
            "01"  // version
            "51e6bb884e8746bc"  // key id
            "000000001267"  // revision
            "39313131303130354d41303030303030374c"  // carrier
            "18"  // plate province
            "41313233343500"  // plate tail
            "02"  // colour
            "18"  // trailer province
            "4131323334"  // trailer tail
            "055794"  // origin
            "0509d8"  // destination
            "265f"  // departure
            "2660"  // arrival
            "01"  // lines
            "01"  // listed
            "04ce"  // un
            "1e"  // class
            "02"  // pg
            "0000003d0900"  // quantity
            "4c5452"  // unit
            "000014");  // codes
}

}  // namespace
}  // namespace chemledger::crypto
