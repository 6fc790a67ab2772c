// Every parser here takes bytes from outside (a scanned QR code, a trust
// list or checkpoint fetched over the network): empty, random, every
// truncation of a valid input, single-byte corruptions, and oversized input
// each get a clear error (or a verdict), never a crash or an acceptance of
// something that was changed.

#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "crypto/checkpoint.h"
#include "crypto/label.h"
#include "crypto/label_testing.h"
#include "crypto/trust_list.h"
#include "crypto/waybill_code.h"
#include "gtest/gtest.h"

namespace chemledger::crypto {
namespace {

using testing::ExampleLabelClaims;
using testing::TestKey;

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

TEST(HostileInputTest, LabelUrls) {
  const SigningKey key = TestKey(2);
  const std::string good = *MakeLabelUrl(ExampleLabelClaims(), key);
  ASSERT_TRUE(ParseLabelUrl(good).ok());
  std::mt19937 rng(1);
  for (const std::string& bad : {std::string(), std::string(1 << 20, 'A'), RandomBytes(rng, 200),
                                 std::string("HTTPS://"), good + "/", good + good}) {
    EXPECT_FALSE(ParseLabelUrl(bad).ok()) << bad.substr(0, 60);
  }
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(ParseLabelUrl(good.substr(0, n)).ok()) << n;
  }
  // A changed character: refused as malformed, or parsed but its signature
  // fails; never verified.
  for (size_t i = 0; i < good.size(); ++i) {
    std::string changed = good;
    changed[i] = changed[i] == 'B' ? 'C' : 'B';
    absl::StatusOr<ParsedLabel> parsed = ParseLabelUrl(changed);
    if (parsed.ok()) EXPECT_FALSE(parsed->VerifySignature(key.verifying_key()).ok()) << i;
  }
}

TEST(HostileInputTest, WaybillCodeUrls) {
  const SigningKey key = TestKey(2);
  const std::string good = *MakeWaybillCodeUrl(testing::ExampleWaybillCodeClaims(), key);
  ASSERT_TRUE(ParseWaybillCodeUrl(good).ok());
  std::mt19937 rng(2);
  for (const std::string& bad : {std::string(), std::string(1 << 20, 'W'), RandomBytes(rng, 300),
                                 std::string("HTTPS://CL.EXAMPLE.CN/W/"), good + "A"}) {
    EXPECT_FALSE(ParseWaybillCodeUrl(bad).ok()) << bad.substr(0, 60);
  }
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(ParseWaybillCodeUrl(good.substr(0, n)).ok()) << n;
  }
  for (size_t i = 0; i < good.size(); ++i) {
    std::string changed = good;
    changed[i] = changed[i] == 'B' ? 'C' : 'B';
    absl::StatusOr<ParsedWaybillCode> parsed = ParseWaybillCodeUrl(changed);
    if (parsed.ok()) EXPECT_FALSE(parsed->VerifySignature(key.verifying_key()).ok()) << i;
  }
}

TEST(HostileInputTest, SignedNotesTrustListsAndCheckpoints) {
  const NoteSigner signer = *NoteSigner::Create("CL.EXAMPLE.CN/label-trust", TestKey(1));
  TrustList list;
  list.resolver = "CL.EXAMPLE.CN";
  list.issued = absl::CivilDay(2026, 11, 23);
  list.expires = absl::CivilDay(2026, 11, 30);
  list.keys.push_back({TestKey(2).verifying_key(), absl::CivilDay(2026, 1, 1),
                       absl::CivilDay(2027, 1, 1), absl::nullopt});
  const std::string good = *SignTrustList(list, signer);
  ASSERT_TRUE(OpenTrustList(good, signer.verifier()).ok());
  std::mt19937 rng(3);
  for (const std::string& bad : {std::string(), std::string(2 << 20, '\n'), RandomBytes(rng, 500),
                                 good + good}) {
    EXPECT_FALSE(OpenTrustList(bad, signer.verifier()).ok());
    EXPECT_FALSE(OpenCheckpoint(bad, "CL.EXAMPLE.CN/label-trust", signer.verifier()).ok());
  }
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(OpenTrustList(good.substr(0, n), signer.verifier()).ok()) << n;
  }
  // Any changed byte is refused (a changed text fails the signature; a
  // changed signature fails too).
  for (size_t i = 0; i < good.size(); ++i) {
    std::string changed = good;
    changed[i] = static_cast<char>(changed[i] ^ 0x01);
    EXPECT_FALSE(OpenTrustList(changed, signer.verifier()).ok()) << i;
  }
}

}  // namespace
}  // namespace chemledger::crypto
