#include "crypto/keys.h"

#include <sstream>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/internal/raw_ed25519.h"
#include "crypto/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chemledger::crypto {
namespace {

using ::testing::HasSubstr;

constexpr SignatureContext kEventContext(
    "application/vnd.chemledger.event.v1+protobuf");
constexpr SignatureContext kCheckpointContext(
    "application/vnd.chemledger.checkpoint.v1");
static_assert(kEventContext.IsValid(), "");
static_assert(!SignatureContext("has space").IsValid(), "");
static_assert(!SignatureContext("").IsValid(), "");

// RFC 8032 section 7.1, TEST 1 and TEST 2.
constexpr char kRfcSeed1[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr char kRfcPublic1[] =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr char kRfcSig1[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590"
    "a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
constexpr char kRfcSeed2[] =
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
constexpr char kRfcPublic2[] =
    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
constexpr char kRfcSig2[] =
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e"
    "15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

SigningKey KeyFromHexSeed(absl::string_view hex) {
  absl::StatusOr<std::string> raw = HexDecode(hex);
  EXPECT_TRUE(raw.ok());
  absl::StatusOr<SecretSeed> seed = SecretSeed::FromBytes(*raw);
  EXPECT_TRUE(seed.ok()) << seed.status();
  return SigningKey::FromSeed(*seed);
}

// ---- Signatures -----------------------------------------------------------

TEST(KeysTest, SignAndVerify) {
  const SigningKey key = SigningKey::Generate();
  absl::StatusOr<Signature> sig = key.Sign(kEventContext, "event bytes");
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_TRUE(key.verifying_key().Verify(kEventContext, "event bytes", *sig).ok());
  // Two generated keys differ.
  EXPECT_NE(SigningKey::Generate().verifying_key(), key.verifying_key());
}

TEST(KeysTest, WrongContextFails) {
  const SigningKey key = SigningKey::Generate();
  const Signature sig = *key.Sign(kEventContext, "payload");
  const absl::Status status =
      key.verifying_key().Verify(kCheckpointContext, "payload", sig);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(status.message(),
            absl::StrCat("signature does not verify for key ",
                         key.key_id().ToString(),
                         " and context application/vnd.chemledger.checkpoint.v1"));
}

TEST(KeysTest, WrongMessageFails) {
  const SigningKey key = SigningKey::Generate();
  const Signature sig = *key.Sign(kEventContext, "payload");
  EXPECT_EQ(key.verifying_key().Verify(kEventContext, "payloaD", sig).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(key.verifying_key().Verify(kEventContext, "", sig).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(KeysTest, WrongKeyFails) {
  const SigningKey key = SigningKey::Generate();
  const SigningKey other = SigningKey::Generate();
  const Signature sig = *key.Sign(kEventContext, "payload");
  EXPECT_EQ(other.verifying_key().Verify(kEventContext, "payload", sig).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(KeysTest, FlippedSignatureBitFails) {
  const SigningKey key = SigningKey::Generate();
  const std::string good = key.Sign(kEventContext, "payload")->ToBytes();
  for (size_t i : {0, 31, 32, 63}) {
    std::string bad = good;
    bad[i] ^= 0x01;
    EXPECT_FALSE(key.verifying_key()
                     .Verify(kEventContext, "payload", *Signature::FromBytes(bad))
                     .ok())
        << "byte " << i;
  }
}

TEST(KeysTest, InvalidContextIsInvalidArgument) {
  const SigningKey key = SigningKey::Generate();
  const Signature sig = *key.Sign(kEventContext, "m");
  struct Case {
    SignatureContext context;
    const char* message;
  };
  static constexpr char k129[] =
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  static_assert(sizeof(k129) == 130, "");
  const Case cases[] = {
      {SignatureContext(""), "must not be empty"},
      {SignatureContext("has space"), "byte 0x20 at position 3"},
      {SignatureContext("tab\there"), "byte 0x09 at position 3"},
      {SignatureContext("caf\xc3\xa9"), "byte 0xc3 at position 3"},
      {SignatureContext(k129), "at most 128 characters, got 129"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Signature> signed_ = key.Sign(c.context, "m");
    EXPECT_EQ(signed_.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(signed_.status().message()), HasSubstr(c.message));
    const absl::Status verified = key.verifying_key().Verify(c.context, "m", sig);
    EXPECT_EQ(verified.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(verified.message()), HasSubstr(c.message));
  }
  // 128 characters is fine.
  static constexpr char k128[] =
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  static_assert(sizeof(k128) == 129, "");
  EXPECT_TRUE(key.Sign(SignatureContext(k128), "m").ok());
}

TEST(KeysTest, PreAuthEncodingMatchesDsseSpecExample) {
  // The example from the DSSE v1 protocol description.
  EXPECT_EQ(PreAuthEncode(SignatureContext("http://example.com/HelloWorld"),
                          "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  EXPECT_EQ(PreAuthEncode(SignatureContext("a/b"), ""), "DSSEv1 3 a/b 0 ");
  // Lengths are bytes, and the body may contain anything.
  EXPECT_EQ(PreAuthEncode(SignatureContext("t"), std::string("\0\n\xff", 3)),
            std::string("DSSEv1 1 t 3 \0\n\xff", 16));
}

TEST(KeysTest, SignatureIsPlainEd25519OverPae) {
  // What a client in another language does: Ed25519-sign the PAE bytes. The
  // expected value was computed independently (Python `cryptography`) over
  // b"DSSEv1 44 application/vnd.chemledger.event.v1+protobuf 5 hello".
  const SigningKey key = KeyFromHexSeed(kRfcSeed1);
  const Signature sig = *key.Sign(kEventContext, "hello");
  EXPECT_EQ(HexEncode(sig.ToBytes()),
            "f2bce84acae176bcf95bf72b13f4f02cfa5a2ca1e73cf9b0ded2059574c5e07f8cf7"
            "ad5ec028f821096760ec9923d15d189401b8803889a69b197bfba9b04309");
  EXPECT_TRUE(internal::RawEd25519::Verify(
      key.verifying_key(), PreAuthEncode(kEventContext, "hello"), sig));
  // ... and is not a signature of the bare message.
  EXPECT_FALSE(internal::RawEd25519::Verify(key.verifying_key(), "hello", sig));
}

TEST(KeysTest, Rfc8032Vectors) {
  const struct {
    const char* seed;
    const char* public_key;
    const char* message_hex;
    const char* signature;
  } vectors[] = {
      {kRfcSeed1, kRfcPublic1, "", kRfcSig1},
      {kRfcSeed2, kRfcPublic2, "72", kRfcSig2},
  };
  for (const auto& v : vectors) {
    const SigningKey key = KeyFromHexSeed(v.seed);
    EXPECT_EQ(HexEncode(key.verifying_key().ToBytes()), v.public_key);
    const std::string message = *HexDecode(v.message_hex);
    const Signature sig = internal::RawEd25519::Sign(key, message);
    EXPECT_EQ(HexEncode(sig.ToBytes()), v.signature);
    EXPECT_TRUE(
        internal::RawEd25519::Verify(key.verifying_key(), message, sig));
    EXPECT_FALSE(
        internal::RawEd25519::Verify(key.verifying_key(), message + "x", sig));
  }
}

TEST(KeysTest, SigningIsDeterministic) {
  const SigningKey a = KeyFromHexSeed(kRfcSeed1);
  const SigningKey b = KeyFromHexSeed(kRfcSeed1);
  EXPECT_EQ(*a.Sign(kEventContext, "x"), *b.Sign(kEventContext, "x"));
  EXPECT_NE(*a.Sign(kEventContext, "x"), *a.Sign(kCheckpointContext, "x"));
}

// ---- Key ids and value types ----------------------------------------------

TEST(KeysTest, KeyIdIsStable) {
  // SHA-256("chemledger key id v1" || 0x00 || 0x01 || pk)[:8], computed
  // independently.
  EXPECT_EQ(KeyFromHexSeed(kRfcSeed1).key_id().ToString(), "1474ba62a1e3b3f7");
  EXPECT_EQ(KeyFromHexSeed(kRfcSeed2).key_id().ToString(), "f332fdd2d1f23bcf");
  const VerifyingKey pk =
      *VerifyingKey::FromBytes(*HexDecode(kRfcPublic1));
  EXPECT_EQ(pk.key_id(), KeyFromHexSeed(kRfcSeed1).key_id());
  EXPECT_EQ(pk.key_id().ToBytes(), *HexDecode("1474ba62a1e3b3f7"));
}

TEST(KeysTest, KeyIdParsing) {
  const KeyId id = KeyFromHexSeed(kRfcSeed1).key_id();
  absl::StatusOr<KeyId> parsed = KeyId::Parse(id.ToString());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, id);
  EXPECT_EQ(*KeyId::FromBytes(id.ToBytes()), id);
  EXPECT_THAT(std::string(KeyId::Parse("1474BA62A1E3B3F7").status().message()),
              HasSubstr("character 4 is not a lowercase hex digit"));
  EXPECT_THAT(std::string(KeyId::Parse("1474ba62a1e3b3").status().message()),
              HasSubstr("must be 16 lowercase hex digits, got 14"));
  EXPECT_FALSE(KeyId::Parse("1474ba62a1e3b3fg").ok());
  EXPECT_FALSE(KeyId::FromBytes("1234567").ok());
  std::ostringstream os;
  os << id;
  EXPECT_EQ(os.str(), "1474ba62a1e3b3f7");
}

TEST(KeysTest, KeyIdAndVerifyingKeyAreHashableAndOrdered) {
  const SigningKey a = KeyFromHexSeed(kRfcSeed1);
  const SigningKey b = KeyFromHexSeed(kRfcSeed2);
  absl::flat_hash_set<KeyId> ids = {a.key_id(), b.key_id(), a.key_id()};
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_TRUE(ids.contains(b.key_id()));
  absl::flat_hash_set<VerifyingKey> keys = {a.verifying_key(),
                                            b.verifying_key()};
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_TRUE(a.key_id() < b.key_id() || b.key_id() < a.key_id());
}

TEST(KeysTest, VerifyingKeyFromBytesChecksLengthAndPoint) {
  EXPECT_THAT(
      std::string(VerifyingKey::FromBytes(std::string(31, 'x')).status().message()),
      HasSubstr("must be 32 bytes, got 31"));
  // Identity (small order), all zero (order 4), y = p - 1 (order 2), and a
  // non-canonical encoding of y = 1 (y + p).
  const char* bad[] = {
      "0100000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  };
  for (const char* hex : bad) {
    absl::StatusOr<VerifyingKey> key = VerifyingKey::FromBytes(*HexDecode(hex));
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << hex;
    EXPECT_THAT(std::string(key.status().message()),
                HasSubstr("not a valid point"));
  }
  const VerifyingKey good = *VerifyingKey::FromBytes(*HexDecode(kRfcPublic1));
  EXPECT_EQ(HexEncode(good.ToBytes()), kRfcPublic1);
  EXPECT_EQ(*VerifyingKey::FromBase64(good.ToBase64()), good);
  EXPECT_EQ(good.ToBase64(), "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  // Unpadded base64 is not the canonical text form.
  EXPECT_FALSE(
      VerifyingKey::FromBase64("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo").ok());
}

TEST(KeysTest, SignatureAndSeedLengths) {
  EXPECT_THAT(std::string(Signature::FromBytes(std::string(63, 'x')).status().message()),
              HasSubstr("must be 64 bytes, got 63"));
  EXPECT_TRUE(Signature::FromBytes(std::string(64, 'x')).ok());
  EXPECT_THAT(std::string(SecretSeed::FromBytes(std::string(33, 'x')).status().message()),
              HasSubstr("must be 32 bytes, got 33"));
}

TEST(KeysTest, MovedFromKeyRefusesToSign) {
  SigningKey key = SigningKey::Generate();
  const VerifyingKey pk = key.verifying_key();
  SigningKey moved = std::move(key);
  EXPECT_EQ(moved.verifying_key(), pk);
  // NOLINTNEXTLINE(bugprone-use-after-move): that is the point.
  EXPECT_EQ(key.Sign(kEventContext, "m").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace chemledger::crypto
