#include "services/common/read_auth.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "chemledger/v1/ledger_service.pb.h"
#include "crypto/sha256.h"
#include "gtest/gtest.h"
#include "services/common/envelope.h"

namespace chemledger::read_auth {
namespace {

constexpr char kOrigin[] = "chemledger.example";
constexpr char kMethod[] = "/chemledger.v1.RegistryService/GetEnterprise";
const absl::Time kNow = absl::FromUnixSeconds(1795000000);

crypto::SigningKey Key(char seed) {
  return crypto::SigningKey::FromSeed(*crypto::SecretSeed::FromBytes(std::string(32, seed)));
}

// The checker's verdict on `c` for a read of `method` with `bytes` at `now`,
// where only `registered` is a known key.
absl::Status Check(ReadCredentialChecker& checker, const ReadCredentials& c,
                   absl::string_view method, absl::string_view bytes, absl::Time now,
                   const crypto::SigningKey& registered) {
  return checker.Check(
      c, method, bytes, now,
      [&](const v1::SignedEnvelope& envelope, const crypto::SignatureContext& context) {
        return envelope::Verify(envelope, context,
                                [&](const crypto::KeyId& id)
                                    -> absl::StatusOr<crypto::VerifyingKey> {
                                  if (id == registered.key_id()) {
                                    return registered.verifying_key();
                                  }
                                  return absl::UnauthenticatedError("unknown key");
                                })
            .status();
      });
}

ReadCredentialChecker::Options At(std::string origin) {
  ReadCredentialChecker::Options options;
  options.origin = std::move(origin);
  return options;
}

TEST(ReadAuthTest, CredentialsVerifyOnceForTheirRequestWithinTheWindow) {
  const crypto::SigningKey key = Key(1);
  const ReadCredentials c = SignRead(ReadRequest{kOrigin, kMethod, "request"}, key, kNow);
  EXPECT_EQ(c.key_id, key.key_id().ToString());
  EXPECT_EQ(c.time, "1795000000");
  EXPECT_EQ(c.nonce.size(), 32u);
  EXPECT_EQ(c.signature.size(), 64u);
  // Nonces are fresh: two signings of one request differ.
  EXPECT_NE(SignRead(ReadRequest{kOrigin, kMethod, "request"}, key, kNow).nonce, c.nonce);

  // Signed up to 60 s before the server's clock, or 10 s after it.
  for (absl::Duration skew : {absl::ZeroDuration(), absl::Seconds(59), -absl::Seconds(9)}) {
    ReadCredentialChecker checker(At(kOrigin));
    EXPECT_TRUE(Check(checker, c, kMethod, "request", kNow + skew, key).ok()) << skew;
    // Once only.
    absl::Status again = Check(checker, c, kMethod, "request", kNow + skew, key);
    EXPECT_EQ(again.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_NE(again.message().find("chemledger-nonce"), std::string::npos) << again;
  }
}

TEST(ReadAuthTest, RefusesOtherRequestsMethodsDeploymentsTimesAndKeys) {
  const crypto::SigningKey key = Key(1);
  const ReadCredentials c = SignRead(ReadRequest{kOrigin, kMethod, "request"}, key, kNow);
  ReadCredentialChecker checker(At(kOrigin));
  const auto refused = [&](const ReadCredentials& credentials, absl::string_view method,
                           absl::string_view bytes, absl::Time now,
                           const crypto::SigningKey& registered) {
    return Check(checker, credentials, method, bytes, now, registered).code() ==
           absl::StatusCode::kUnauthenticated;
  };
  EXPECT_TRUE(refused(c, kMethod, "request2", kNow, key));
  EXPECT_TRUE(refused(c, kMethod, "", kNow, key));
  EXPECT_TRUE(refused(c, "/chemledger.v1.RegistryService/GetActor", "request", kNow, key));
  EXPECT_TRUE(refused(c, kMethod, "request", kNow + absl::Seconds(61), key));
  EXPECT_TRUE(refused(c, kMethod, "request", kNow - absl::Seconds(11), key));
  EXPECT_TRUE(refused(c, kMethod, "request", kNow, Key(2)));
  {
    ReadCredentialChecker elsewhere(At("another.deployment"));
    EXPECT_EQ(Check(elsewhere, c, kMethod, "request", kNow, key).code(),
              absl::StatusCode::kUnauthenticated);
  }
  ReadCredentials moved = c;
  moved.time = "1795000001";  // the signature covers the time
  EXPECT_TRUE(refused(moved, kMethod, "request", kNow, key));
  ReadCredentials renonced = c;
  renonced.nonce[0] = renonced.nonce[0] == 'a' ? 'b' : 'a';  // and the nonce
  EXPECT_TRUE(refused(renonced, kMethod, "request", kNow, key));
  for (std::string bad : {"", "+1795000000", "1795000000.0", "01795000000", "x"}) {
    ReadCredentials t = c;
    t.time = bad;
    absl::Status s = Check(checker, t, kMethod, "request", kNow, key);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << bad;
    EXPECT_NE(s.message().find("chemledger-"), std::string::npos) << s;
  }
  for (std::string bad : {std::string("00"), std::string(32, 'A'), std::string(31, 'a'), std::string(33, 'a'),
                          std::string(32, 'g')}) {
    ReadCredentials t = c;
    t.nonce = bad;
    absl::Status s = Check(checker, t, kMethod, "request", kNow, key);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << bad;
    EXPECT_NE(s.message().find("chemledger-nonce"), std::string::npos) << s;
  }
  for (std::string bad : {std::string("1474BA62A1E3B3F7"), std::string("1474ba62a1e3b3f"),
                          std::string("not a key id")}) {
    ReadCredentials t = c;
    t.key_id = bad;
    absl::Status s = Check(checker, t, kMethod, "request", kNow, key);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << bad;
    EXPECT_NE(s.message().find("chemledger-key-id"), std::string::npos) << s;
  }
  {
    ReadCredentials t = c;
    t.signature.pop_back();
    absl::Status s = Check(checker, t, kMethod, "request", kNow, key);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_NE(s.message().find("chemledger-signature-bin"), std::string::npos) << s;
  }
  ReadCredentials missing = c;
  missing.signature.clear();
  absl::Status s = Check(checker, missing, kMethod, "request", kNow, key);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("chemledger-signature-bin"), std::string::npos) << s;
  // None of these refusals used up the nonce: the credentials still read once.
  EXPECT_TRUE(Check(checker, c, kMethod, "request", kNow, key).ok());
}

TEST(ReadAuthTest, NothingSignedBeforeTheServerStarted) {
  const crypto::SigningKey key = Key(1);
  ReadCredentialChecker::Options options = At(kOrigin);
  options.not_before = kNow + absl::Milliseconds(500);
  ReadCredentialChecker checker(options);
  absl::Status before = Check(
      checker, SignRead(ReadRequest{kOrigin, kMethod, ""}, key, kNow - absl::Seconds(1)), kMethod,
      "", kNow + absl::Seconds(1), key);
  EXPECT_EQ(before.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(before.message().find("before this server started"), std::string::npos) << before;
  // Signed in the second it started: accepted.
  EXPECT_TRUE(Check(checker, SignRead(ReadRequest{kOrigin, kMethod, ""}, key, kNow), kMethod, "",
                    kNow + absl::Seconds(1), key)
                  .ok());
}

// read.v1: the method and the time only, no nonce.
ReadCredentials SignV1(absl::string_view method, const crypto::SigningKey& key, absl::Time now) {
  ReadCredentials c;
  c.time = absl::StrCat(absl::ToUnixSeconds(now));
  v1::SignedEnvelope e = *envelope::Sign(kReadContextV1, absl::StrCat(method, "\n", c.time), key);
  c.key_id = e.signatures(0).key_id();
  c.signature = e.signatures(0).sig();
  return c;
}

TEST(ReadAuthTest, ReadV1OnlyWhenAcceptedAndOnlyUntilTheEndOfItsWindow) {
  const crypto::SigningKey key = Key(1);
  const ReadCredentials c = SignV1(kMethod, key, kNow);
  {
    ReadCredentialChecker checker(At(kOrigin));
    absl::Status s = Check(checker, c, kMethod, "anything", kNow, key);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_NE(s.message().find("read.v1"), std::string::npos) << s;
  }
  ReadCredentialChecker::Options options = At(kOrigin);
  options.accept_v1 = true;
  ReadCredentialChecker checker(options);
  EXPECT_TRUE(Check(checker, c, kMethod, "anything", kNow + absl::Minutes(4), key).ok());
  EXPECT_FALSE(Check(checker, c, kMethod, "anything", kNow + absl::Minutes(6), key).ok());
  EXPECT_FALSE(Check(checker, c, "/chemledger.v1.RegistryService/GetActor", "", kNow, key).ok());
  // 2027-07-01 00:00 in China: refused whatever the options say.
  const absl::Time end = absl::FromUnixSeconds(1814371200);
  EXPECT_TRUE(Check(checker, SignV1(kMethod, key, end - absl::Seconds(1)), kMethod, "",
                    end - absl::Seconds(1), key)
                  .ok());
  absl::Status s = Check(checker, SignV1(kMethod, key, end), kMethod, "", end, key);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("read.v1"), std::string::npos) << s;
}

TEST(ReadAuthTest, MemoryOfNoncesIsBoundedAndForgetsOnlyExpiredOnes) {
  const crypto::SigningKey key = Key(1);
  ReadCredentialChecker::Options options = At(kOrigin);
  options.max_remembered = 2;
  ReadCredentialChecker checker(options);
  const auto sign = [&](absl::Time at) {
    return SignRead(ReadRequest{kOrigin, kMethod, ""}, key, at);
  };
  EXPECT_TRUE(Check(checker, sign(kNow), kMethod, "", kNow, key).ok());
  EXPECT_TRUE(Check(checker, sign(kNow), kMethod, "", kNow, key).ok());
  EXPECT_EQ(Check(checker, sign(kNow), kMethod, "", kNow, key).code(),
            absl::StatusCode::kResourceExhausted);
  // Once the first two can no longer be accepted, they are forgotten.
  const absl::Time later = kNow + absl::Seconds(61);
  EXPECT_TRUE(Check(checker, sign(later), kMethod, "", later, key).ok());
}

TEST(ReadAuthTest, OneKeyCannotTakeTheWholeMemoryOfNonces) {
  const crypto::SigningKey busy = Key(1), other = Key(2);
  ReadCredentialChecker::Options options = At(kOrigin);
  options.max_remembered_per_key = 2;
  ReadCredentialChecker checker(options);
  const auto read = [&](const crypto::SigningKey& key) {
    return Check(checker, SignRead(ReadRequest{kOrigin, kMethod, ""}, key, kNow), kMethod, "",
                 kNow, key);
  };
  EXPECT_TRUE(read(busy).ok());
  EXPECT_TRUE(read(busy).ok());
  absl::Status full = read(busy);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("by this key"), std::string::npos) << full;
  EXPECT_TRUE(read(other).ok());
}

// A check that read the clock before another forgot the pairs of its time
// refuses: its pair may be forgotten, so it could be a replay.
TEST(ReadAuthTest, CredentialsWhosePairMayBeForgottenAreRefused) {
  const crypto::SigningKey key = Key(1);
  ReadCredentialChecker checker(At(kOrigin));
  const ReadCredentials early = SignRead(ReadRequest{kOrigin, kMethod, ""}, key, kNow);
  ASSERT_TRUE(Check(checker, early, kMethod, "", kNow, key).ok());
  // Another call, checked a minute and a half later, forgets `early`.
  const absl::Time later = kNow + absl::Seconds(90);
  ASSERT_TRUE(Check(checker, SignRead(ReadRequest{kOrigin, kMethod, ""}, key, later), kMethod, "",
                    later, key)
                  .ok());
  // `early` again, checked against a clock read before that.
  absl::Status replay = Check(checker, early, kMethod, "", kNow + absl::Seconds(59), key);
  EXPECT_EQ(replay.code(), absl::StatusCode::kUnauthenticated) << replay;
}

// The worked example of docs/signatures.md ("Authenticated reads").
TEST(ReadAuthTest, WorkedExampleOfTheDocs) {
  const crypto::SigningKey key =
      crypto::SigningKey::FromSeed(*crypto::SecretSeed::FromBytes(absl::HexStringToBytes(
          "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")));
  v1::GetHistoryRequest request;
  request.set_code("91350100M000100Y43.M01.B1.7");
  const std::string bytes = request.SerializeAsString();
  const ReadRequest read{"chemledger.example", "/chemledger.v1.LedgerService/GetHistory", bytes};
  const std::string text = SignedText(read, "1795000000", "000102030405060708090a0b0c0d0e0f");
  ReadCredentials c;
  c.key_id = key.key_id().ToString();
  c.time = "1795000000";
  c.nonce = "000102030405060708090a0b0c0d0e0f";
  c.signature = envelope::Sign(kReadContext, text, key)->signatures(0).sig();
  EXPECT_EQ(absl::BytesToHexString(bytes),
            "0a1b39313335303130304d3030303130305934332e4d30312e42312e37");
  EXPECT_EQ(text,
            "chemledger.example\n"
            "/chemledger.v1.LedgerService/GetHistory\n"
            "1795000000\n"
            "000102030405060708090a0b0c0d0e0f\n"
            "21d768a977cabe82c45aa5fd4db218e5407499408f1f94498c57f5e229797dca");
  EXPECT_EQ(text.size(), 167u);
  EXPECT_EQ(absl::BytesToHexString(c.signature),
            "010fe87f8c0c0d4ca4bfe5980df5537b926817b758e4e41ed28d5a273db11cbe"
            "200578650473d71ec458252c3aa7e285b260baffb2d91269be881a8139705202");
  ReadCredentialChecker checker(At("chemledger.example"));
  EXPECT_TRUE(Check(checker, c, read.method, bytes, kNow, key).ok());
}

}  // namespace
}  // namespace chemledger::read_auth
