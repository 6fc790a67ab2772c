#include "services/common/read_auth.h"

#include <string>

#include "gtest/gtest.h"
#include "services/common/envelope.h"

namespace chemledger::read_auth {
namespace {

constexpr char kMethod[] = "/chemledger.v1.RegistryService/GetEnterprise";

crypto::SigningKey Key(char seed) {
  return crypto::SigningKey::FromSeed(*crypto::SecretSeed::FromBytes(std::string(32, seed)));
}

absl::Status Check(const ReadCredentials& c, absl::string_view method, absl::Time now,
                   const crypto::SigningKey& registered) {
  absl::StatusOr<v1::SignedEnvelope> envelope = ReadEnvelope(c, method, now);
  if (!envelope.ok()) return envelope.status();
  return envelope::Verify(*envelope, kReadContext,
                          [&](const crypto::KeyId& id) -> absl::StatusOr<crypto::VerifyingKey> {
                            if (id == registered.key_id()) return registered.verifying_key();
                            return absl::NotFoundError("unknown");
                          })
      .status();
}

TEST(ReadAuthTest, SignedCredentialsVerifyForTheirMethodAndTime) {
  const crypto::SigningKey key = Key(1);
  const absl::Time now = absl::FromUnixSeconds(1795000000);
  const ReadCredentials c = SignRead(kMethod, key, now);
  EXPECT_EQ(c.key_id, key.key_id().ToString());
  EXPECT_EQ(c.time, "1795000000");
  EXPECT_EQ(c.signature.size(), 64u);
  EXPECT_TRUE(Check(c, kMethod, now, key).ok());
  EXPECT_TRUE(Check(c, kMethod, now + absl::Minutes(4), key).ok());
  EXPECT_TRUE(Check(c, kMethod, now - absl::Minutes(4), key).ok());
}

TEST(ReadAuthTest, RefusesOtherMethodsStaleTimesForgeriesAndGaps) {
  const crypto::SigningKey key = Key(1);
  const absl::Time now = absl::FromUnixSeconds(1795000000);
  ReadCredentials c = SignRead(kMethod, key, now);
  EXPECT_EQ(Check(c, "/chemledger.v1.RegistryService/GetActor", now, key).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Check(c, kMethod, now + absl::Minutes(6), key).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Check(c, kMethod, now - absl::Minutes(6), key).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Check(c, kMethod, now, Key(2)).code(), absl::StatusCode::kUnauthenticated);
  ReadCredentials moved = c;
  moved.time = "1795000001";  // the signature covers the time
  EXPECT_EQ(Check(moved, kMethod, now, key).code(), absl::StatusCode::kUnauthenticated);
  for (std::string bad : {"", "+1795000000", "1795000000.0", "01795000000", "x"}) {
    ReadCredentials t = c;
    t.time = bad;
    absl::Status s = Check(t, kMethod, now, key);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << bad;
    EXPECT_NE(s.message().find("chemledger-"), std::string::npos) << s;
  }
  ReadCredentials missing = c;
  missing.signature.clear();
  absl::Status s = Check(missing, kMethod, now, key);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("chemledger-signature-bin"), std::string::npos) << s;
}

}  // namespace
}  // namespace chemledger::read_auth
