#include "services/common/envelope.h"

#include <string>

#include "gtest/gtest.h"

namespace chemledger::envelope {
namespace {

constexpr crypto::SignatureContext kRegistryContext(
    "application/vnd.chemledger.registry.v1+protobuf");
constexpr crypto::SignatureContext kEventContext("application/vnd.chemledger.event.v1+protobuf");

crypto::SigningKey TestKey(char seed) {
  return crypto::SigningKey::FromSeed(*crypto::SecretSeed::FromBytes(std::string(32, seed)));
}

class EnvelopeTest : public ::testing::Test {
 protected:
  EnvelopeTest() : actor_(TestKey(1)), revoked_(TestKey(2)), stranger_(TestKey(3)) {}

  KeyLookup Lookup() {
    return [this](const crypto::KeyId& id) -> absl::StatusOr<crypto::VerifyingKey> {
      if (id == actor_.key_id()) return actor_.verifying_key();
      if (id == revoked_.key_id()) {
        return absl::PermissionDeniedError(
            absl::StrCat("key ", id.ToString(), " was revoked on 2026-06-01"));
      }
      return absl::NotFoundError("unknown");
    };
  }

  crypto::SigningKey actor_, revoked_, stranger_;
};

TEST_F(EnvelopeTest, SignedByARegisteredKeyVerifies) {
  absl::StatusOr<v1::SignedEnvelope> env = Sign(kRegistryContext, "payload bytes", actor_);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->payload_type(), "application/vnd.chemledger.registry.v1+protobuf");
  absl::StatusOr<crypto::KeyId> signer = Verify(*env, kRegistryContext, Lookup());
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ(*signer, actor_.key_id());
}

TEST_F(EnvelopeTest, Refusals) {
  const v1::SignedEnvelope good = *Sign(kRegistryContext, "payload bytes", actor_);
  // Another purpose.
  EXPECT_EQ(Verify(good, kEventContext, Lookup()).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::SignedEnvelope relabelled = good;
  relabelled.set_payload_type(std::string(kEventContext.payload_type()));
  absl::Status s = Verify(relabelled, kEventContext, Lookup()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
  // Unsigned, or two signatures.
  v1::SignedEnvelope unsigned_env = good;
  unsigned_env.clear_signatures();
  s = Verify(unsigned_env, kRegistryContext, Lookup()).status();
  EXPECT_NE(s.message().find("unsigned request"), std::string::npos) << s;
  v1::SignedEnvelope twice = good;
  *twice.add_signatures() = good.signatures(0);
  EXPECT_EQ(Verify(twice, kRegistryContext, Lookup()).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The payload changed after signing.
  v1::SignedEnvelope changed = good;
  changed.set_payload("payload bytes!");
  s = Verify(changed, kRegistryContext, Lookup()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("envelope.signatures[0].sig"), std::string::npos) << s;
  // Signed by someone else but claiming the actor's key id.
  v1::SignedEnvelope impostor = *Sign(kRegistryContext, "payload bytes", stranger_);
  impostor.mutable_signatures(0)->set_key_id(actor_.key_id().ToString());
  EXPECT_EQ(Verify(impostor, kRegistryContext, Lookup()).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Unknown and revoked keys.
  s = Verify(*Sign(kRegistryContext, "p", stranger_), kRegistryContext, Lookup()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("is not registered"), std::string::npos) << s;
  s = Verify(*Sign(kRegistryContext, "p", revoked_), kRegistryContext, Lookup()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("revoked"), std::string::npos) << s;
  // Malformed key id and signature.
  v1::SignedEnvelope bad_id = good;
  bad_id.mutable_signatures(0)->set_key_id("XYZ");
  s = Verify(bad_id, kRegistryContext, Lookup()).status();
  EXPECT_NE(s.message().find("envelope.signatures[0].key_id"), std::string::npos) << s;
  v1::SignedEnvelope short_sig = good;
  short_sig.mutable_signatures(0)->set_sig("short");
  s = Verify(short_sig, kRegistryContext, Lookup()).status();
  EXPECT_NE(s.message().find("envelope.signatures[0].sig"), std::string::npos) << s;
}

}  // namespace
}  // namespace chemledger::envelope
