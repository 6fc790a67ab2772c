#include "crypto/trust_list.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "crypto/base32.h"
#include "crypto/label_testing.h"
#include "crypto/sha256.h"
#include "gtest/gtest.h"

namespace chemledger::crypto {
namespace {

using testing::TestKey;

LabelClaims Claims() { return testing::ExampleLabelClaims(1); }

class TrustListTest : public ::testing::Test {
 protected:
  TrustListTest()
      : root_(*NoteSigner::Create("CL.EXAMPLE.CN/label-trust", TestKey(1))),
        current_(TestKey(2)),
        previous_(TestKey(3)),
        revoked_(TestKey(4)),
        stranger_(TestKey(5)) {
    list_.resolver = "CL.EXAMPLE.CN";
    list_.issued = absl::CivilDay(2026, 11, 23);
    list_.keys.push_back({current_.verifying_key(), absl::CivilDay(2026, 1, 1),
                          absl::CivilDay(2027, 12, 31), absl::nullopt});
    list_.keys.push_back({previous_.verifying_key(), absl::CivilDay(2024, 1, 1),
                          absl::CivilDay(2025, 12, 31), absl::nullopt});
    list_.keys.push_back({revoked_.verifying_key(), absl::CivilDay(2025, 1, 1),
                          absl::CivilDay(2026, 12, 31), absl::CivilDay(2026, 6, 1)});
  }

  TrustList Opened() {
    absl::StatusOr<std::string> note = SignTrustList(list_, root_);
    EXPECT_TRUE(note.ok()) << note.status();
    absl::StatusOr<TrustList> opened = OpenTrustList(*note, root_.verifier());
    EXPECT_TRUE(opened.ok()) << opened.status();
    return *opened;
  }

  NoteSigner root_;
  SigningKey current_, previous_, revoked_, stranger_;
  TrustList list_;
};

TEST_F(TrustListTest, SignedTextAndRoundTrip) {
  const std::string note = *SignTrustList(list_, root_);
  const std::string expected_start = absl::StrCat(
      "chemledger-label-trust-list v1\nresolver CL.EXAMPLE.CN\nissued 2026-11-23\nkey ",
      current_.key_id().ToString(), " ", current_.verifying_key().ToBase64(),
      " valid 2026-01-01 2027-12-31\n");
  EXPECT_EQ(note.substr(0, expected_start.size()), expected_start);
  EXPECT_NE(note.find(" valid 2025-01-01 2026-12-31 revoked 2026-06-01\n\n\xE2\x80\x94 "),
            std::string::npos);
  const TrustList opened = Opened();
  EXPECT_EQ(opened.resolver, "CL.EXAMPLE.CN");
  ASSERT_EQ(opened.keys.size(), 3u);
  EXPECT_EQ(opened.keys[2].revoked_on, absl::CivilDay(2026, 6, 1));
  EXPECT_EQ(opened.Find(previous_.key_id())->valid_until, absl::CivilDay(2025, 12, 31));
  EXPECT_EQ(opened.Find(stranger_.key_id()), nullptr);
}

TEST_F(TrustListTest, AListWithAnExpiryIsFormatTwo) {
  list_.expires = absl::CivilDay(2026, 11, 30);
  const std::string note = *SignTrustList(list_, root_);
  EXPECT_EQ(note.substr(0, 91),
            "chemledger-label-trust-list v2\nresolver CL.EXAMPLE.CN\nissued 2026-11-23\n"
            "expires 2026-11-30\n");
  const TrustList opened = Opened();
  EXPECT_EQ(opened.expires, absl::CivilDay(2026, 11, 30));
  EXPECT_EQ(opened.keys.size(), 3u);
  // A v1 list has none; a list cannot expire before it is issued; the
  // expiry is under the signature like everything else.
  list_.expires = absl::nullopt;
  EXPECT_FALSE(Opened().expires.has_value());
  list_.expires = absl::CivilDay(2026, 11, 22);
  EXPECT_EQ(SignTrustList(list_, root_).status().code(), absl::StatusCode::kInvalidArgument);
  const std::string extended = absl::StrReplaceAll(note, {{"expires 2026-11-30", "expires 2027-11-30"}});
  EXPECT_EQ(OpenTrustList(extended, root_.verifier()).status().code(),
            absl::StatusCode::kUnauthenticated);
  const std::string v2_without =
      "chemledger-label-trust-list v2\nresolver CL.EXAMPLE.CN\nissued 2026-11-23\n";
  absl::Status s = OpenTrustList(*root_.SignNote(v2_without), root_.verifier()).status();
  EXPECT_NE(s.message().find("line 4: expected \"expires <date>\""), std::string::npos) << s;
}

TEST_F(TrustListTest, TamperedOrForeignListIsRefused) {
  const std::string note = *SignTrustList(list_, root_);
  // Dropping a revocation is exactly what a forger would want.
  const std::string unrevoked = absl::StrReplaceAll(note, {{" revoked 2026-06-01", ""}});
  EXPECT_EQ(OpenTrustList(unrevoked, root_.verifier()).status().code(),
            absl::StatusCode::kUnauthenticated);
  const NoteSigner impostor = *NoteSigner::Create("CL.EXAMPLE.CN/label-trust", TestKey(9));
  EXPECT_EQ(OpenTrustList(*SignTrustList(list_, impostor), root_.verifier()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(TrustListTest, MalformedListsAreRefusedByLine) {
  const auto open_text = [&](const std::string& text) {
    return OpenTrustList(*root_.SignNote(text), root_.verifier()).status();
  };
  const std::string head = "chemledger-label-trust-list v1\nresolver CL.EXAMPLE.CN\nissued 2026-11-23\n";
  const std::string id = current_.key_id().ToString();
  const std::string pk = current_.verifying_key().ToBase64();
  EXPECT_TRUE(open_text(head).ok());
  absl::Status s = open_text("chemledger-label-trust-list v3\n" + head.substr(31));
  EXPECT_NE(s.message().find("line 1"), std::string::npos) << s;
  s = open_text(head + "key " + id + " " + pk + " valid 2026-02-30 2027-01-01\n");
  EXPECT_NE(s.message().find("line 4: valid-from '2026-02-30'"), std::string::npos) << s;
  s = open_text(head + "key " + previous_.key_id().ToString() + " " + pk +
                " valid 2026-01-01 2027-01-01\n");
  EXPECT_NE(s.message().find("does not match the public key"), std::string::npos) << s;
  s = open_text(head + "key " + id + " " + pk + " valid 2026-01-01\n");
  EXPECT_NE(s.message().find("line 4: expected"), std::string::npos) << s;
  const std::string line = "key " + id + " " + pk + " valid 2026-01-01 2027-01-01\n";
  s = open_text(head + line + line);
  EXPECT_NE(s.message().find("listed twice"), std::string::npos) << s;
}

TEST_F(TrustListTest, Verdicts) {
  const TrustList trust = Opened();
  const std::string good = *MakeLabelUrl(Claims(), current_);
  LabelCheck check = VerifyLabel(good, trust);
  EXPECT_EQ(check.verdict, LabelVerdict::kAuthentic) << check.detail;
  ASSERT_TRUE(check.label.has_value());
  EXPECT_EQ(check.label->claims, Claims());

  // Keys rotate: a label from the previous key still verifies.
  EXPECT_EQ(VerifyLabel(*MakeLabelUrl(Claims(), previous_), trust).verdict,
            LabelVerdict::kAuthentic);
  check = VerifyLabel(*MakeLabelUrl(Claims(), revoked_), trust);
  EXPECT_EQ(check.verdict, LabelVerdict::kRevokedKey);
  EXPECT_NE(check.detail.find("revoked on 2026-06-01"), std::string::npos);
  EXPECT_EQ(VerifyLabel(*MakeLabelUrl(Claims(), stranger_), trust).verdict,
            LabelVerdict::kUnknownKey);

  LabelClaims elsewhere = Claims();
  elsewhere.resolver = "CL.EXAMPLE.COM";
  EXPECT_EQ(VerifyLabel(*MakeLabelUrl(elsewhere, current_), trust).verdict,
            LabelVerdict::kWrongResolver);

  EXPECT_EQ(VerifyLabel(good.substr(0, good.size() - 4), trust).verdict,
            LabelVerdict::kMalformed);
  EXPECT_EQ(VerifyLabel(good + "AAAA", trust).verdict, LabelVerdict::kMalformed);
  EXPECT_EQ(VerifyLabel("not a label", trust).verdict, LabelVerdict::kMalformed);

  const std::string prefix = good.substr(0, good.rfind('/') + 1);
  std::string payload = *Base32Decode(good.substr(good.rfind('/') + 1));
  std::string flipped = payload;
  flipped[60] ^= 0x04;  // a signature bit
  EXPECT_EQ(VerifyLabel(prefix + Base32Encode(flipped), trust).verdict,
            LabelVerdict::kBadSignature);
  std::string v2 = payload;
  v2[0] = 2;
  EXPECT_EQ(VerifyLabel(prefix + Base32Encode(v2), trust).verdict,
            LabelVerdict::kUnsupportedVersion);

  // The code copied onto another product's URL.
  const std::string copied =
      "HTTPS://CL.EXAMPLE.CN/91350100M000100Y43.NC07/B2026112301.1/" +
      good.substr(good.rfind('/') + 1);
  EXPECT_EQ(VerifyLabel(copied, trust).verdict, LabelVerdict::kBadSignature);

  // Signed for another purpose with a trusted key.
  static constexpr SignatureContext kOther("application/vnd.chemledger.waybill.v1");
  const ParsedLabel parsed = *ParseLabelUrl(good);
  const Signature other = *current_.Sign(kOther, parsed.signed_message);
  EXPECT_EQ(VerifyLabel(prefix + Base32Encode(payload.substr(0, 26) + other.ToBytes()), trust)
                .verdict,
            LabelVerdict::kBadSignature);
  EXPECT_EQ(LabelVerdictName(LabelVerdict::kRevokedKey), "revoked-key");
}

}  // namespace
}  // namespace chemledger::crypto
