#include "services/registry/registry.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "services/common/envelope.h"
#include "storage/leveldb_log.h"
#include "services/registry/registry_testing.h"
#include "tests/subprocess.h"

namespace chemledger::registry {
namespace {

crypto::SigningKey TestKey(char seed) {
  return crypto::SigningKey::FromSeed(*crypto::SecretSeed::FromBytes(std::string(32, seed)));
}

v1::Enterprise Producer(const std::string& uscc) { return testing::ExampleProducer(uscc); }

v1::Product Methanol(const std::string& uscc, const std::string& number) {
  return testing::ExampleMethanol(uscc, number);
}

constexpr char kAcme[] = "91350100M000100Y43";
constexpr char kOther[] = "91110105771583283D";

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest() : admin_(TestKey(1)), acme_admin_(TestKey(2)), other_admin_(TestKey(3)),
                   regulator_(TestKey(4)), stranger_(TestKey(5)) {}

  void SetUp() override {
    dir_ = chemledger::testing::FreshTempDir("registry");
    log_ = *storage::OpenLevelDbLog(dir_);
    catalogue_ = std::make_unique<Catalogue>(testing::ShippedCatalogue());
    ASSERT_TRUE(Registry::Bootstrap(log_.get(), "test", "CL.EXAMPLE.CN", "root admin", admin_).ok());
    registry_ = *Registry::Open(log_.get(), catalogue_.get());
    Ok(admin_, Enterprise(kAcme));
    Ok(admin_, Enterprise(kOther));
    Ok(admin_, AddActor("acme admin", v1::ENTERPRISE_ADMIN, kAcme, acme_admin_));
    Ok(admin_, AddActor("other admin", v1::ENTERPRISE_ADMIN, kOther, other_admin_));
    Ok(admin_, AddActor("inspector", v1::REGULATOR, "", regulator_));
  }

  v1::RegistryRequest Request() {
    v1::RegistryRequest r;
    r.set_request_id(absl::StrCat("req-", ++next_id_));
    return r;
  }
  v1::RegistryRequest Enterprise(const std::string& uscc) {
    v1::RegistryRequest r = Request();
    *r.mutable_register_enterprise() = Producer(uscc);
    return r;
  }
  v1::RegistryRequest Product(const v1::Product& p) {
    v1::RegistryRequest r = Request();
    *r.mutable_register_product() = p;
    return r;
  }
  v1::RegistryRequest AddActor(const std::string& name, v1::ActorRole role,
                               const std::string& uscc, const crypto::SigningKey& key) {
    v1::RegistryRequest r = Request();
    v1::Actor* a = r.mutable_add_actor();
    a->set_name(name);
    a->set_role(role);
    a->set_enterprise_uscc(uscc);
    a->set_public_key(key.verifying_key().ToBytes());
    return r;
  }
  v1::SignedEnvelope Signed(const crypto::SigningKey& key, const v1::RegistryRequest& r) {
    return *envelope::Sign(kRegistryContext, r.SerializeAsString(), key);
  }
  absl::StatusOr<Receipt> Apply(const crypto::SigningKey& key, const v1::RegistryRequest& r) {
    return registry_->Apply(Signed(key, r));
  }
  void Ok(const crypto::SigningKey& key, const v1::RegistryRequest& r) {
    absl::StatusOr<Receipt> receipt = Apply(key, r);
    ASSERT_TRUE(receipt.ok()) << receipt.status();
  }
  // The request is refused with `code` and a message containing `fragment`,
  // and the log does not grow.
  void Refused(const v1::SignedEnvelope& env, absl::StatusCode code, const std::string& fragment) {
    const uint64_t before = log_->Size();
    absl::StatusOr<Receipt> receipt = registry_->Apply(env);
    ASSERT_FALSE(receipt.ok()) << "accepted; expected: " << fragment;
    EXPECT_EQ(receipt.status().code(), code) << receipt.status();
    EXPECT_NE(receipt.status().message().find(fragment), std::string::npos) << receipt.status();
    EXPECT_EQ(log_->Size(), before) << "a refused request wrote to the log";
  }

  crypto::SigningKey admin_, acme_admin_, other_admin_, regulator_, stranger_;
  std::string dir_;
  std::unique_ptr<storage::Log> log_;
  std::unique_ptr<Catalogue> catalogue_;
  std::unique_ptr<Registry> registry_;
  int next_id_ = 0;
};

TEST_F(RegistryTest, EnterpriseAdminRegistersProductsAndStateSurvivesReopen) {
  Ok(acme_admin_, Product(Methanol(kAcme, "ME01")));
  ASSERT_TRUE(registry_->FindProduct(kAcme, "ME01").has_value());
  const uint64_t size = log_->Size();
  registry_.reset();
  absl::StatusOr<std::unique_ptr<Registry>> reopened = Registry::Open(log_.get(), catalogue_.get());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_TRUE((*reopened)->FindProduct(kAcme, "ME01").has_value());
  EXPECT_TRUE((*reopened)->FindEnterprise(kOther).has_value());
  EXPECT_TRUE((*reopened)->ActiveActor(acme_admin_.key_id()).has_value());
  EXPECT_EQ(log_->Size(), size);
}

TEST_F(RegistryTest, RetriesAreIdempotent) {
  const v1::RegistryRequest r = Product(Methanol(kAcme, "ME02"));
  absl::StatusOr<Receipt> first = Apply(acme_admin_, r);
  ASSERT_TRUE(first.ok());
  const uint64_t size = log_->Size();
  absl::StatusOr<Receipt> again = Apply(acme_admin_, r);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->log_index, first->log_index);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(log_->Size(), size);
  v1::RegistryRequest changed = r;
  changed.mutable_register_product()->set_product_number("ME03");
  Refused(Signed(acme_admin_, changed), absl::StatusCode::kAlreadyExists, "already used");
}

// The registry refusals the labels issue lists, each leaving the log as it was.
TEST_F(RegistryTest, Refusals) {
  v1::RegistryRequest bad_uscc = Enterprise(kAcme);
  bad_uscc.mutable_register_enterprise()->set_uscc("91350100M000100Y44");
  Refused(Signed(admin_, bad_uscc), absl::StatusCode::kInvalidArgument,
          "enterprise.uscc: '91350100M000100Y44' has check character");
  v1::Product bad_cas = Methanol(kAcme, "X1");
  bad_cas.set_cas("67-56-2");
  Refused(Signed(acme_admin_, Product(bad_cas)), absl::StatusCode::kInvalidArgument,
          "product.cas");
  v1::Product mismatch = Methanol(kAcme, "X2");
  mismatch.set_un_number("1090");
  Refused(Signed(acme_admin_, Product(mismatch)), absl::StatusCode::kInvalidArgument,
          "product.un_number: 1090 does not match CAS 67-56-1");

  Ok(acme_admin_, Product(Methanol(kAcme, "ME01")));
  Refused(Signed(acme_admin_, Product(Methanol(kAcme, "ME01"))),
          absl::StatusCode::kAlreadyExists, "product.product_number: ME01 is already registered");
  Refused(Signed(admin_, Product(Methanol("91440300708461136T", "ME01"))),
          absl::StatusCode::kNotFound, "enterprise 91440300708461136T is not registered");
  // Another enterprise's admin.
  Refused(Signed(other_admin_, Product(Methanol(kAcme, "ME09"))),
          absl::StatusCode::kPermissionDenied, "may not register products of enterprise");
  // Unknown key; unsigned request.
  Refused(Signed(stranger_, Product(Methanol(kAcme, "ME09"))),
          absl::StatusCode::kUnauthenticated, "is not registered");
  v1::SignedEnvelope unsigned_env = Signed(acme_admin_, Product(Methanol(kAcme, "ME09")));
  unsigned_env.clear_signatures();
  Refused(unsigned_env, absl::StatusCode::kInvalidArgument, "unsigned request");
  // Signed by one actor, claiming another's key.
  v1::SignedEnvelope forged = Signed(stranger_, Product(Methanol(kAcme, "ME09")));
  forged.mutable_signatures(0)->set_key_id(acme_admin_.key_id().ToString());
  Refused(forged, absl::StatusCode::kUnauthenticated, "does not verify");
}

TEST_F(RegistryTest, RevokedKeysAndBlacklistedEnterprisesWriteNothing) {
  v1::RegistryRequest revoke = Request();
  revoke.mutable_revoke_key()->set_key_id(acme_admin_.key_id().ToString());
  revoke.mutable_revoke_key()->set_reason("laptop lost");
  Ok(admin_, revoke);
  Refused(Signed(acme_admin_, Product(Methanol(kAcme, "ME05"))),
          absl::StatusCode::kPermissionDenied, "was revoked: laptop lost");

  v1::RegistryRequest blacklist = Request();
  blacklist.mutable_blacklist()->set_enterprise_uscc(kOther);
  blacklist.mutable_blacklist()->set_blacklisted(true);
  blacklist.mutable_blacklist()->set_reason("unlicensed storage");
  // Only platform admins and regulators may blacklist.
  Refused(Signed(other_admin_, blacklist), absl::StatusCode::kPermissionDenied,
          "may not change the blacklist");
  Ok(regulator_, blacklist);
  EXPECT_TRUE(registry_->IsBlacklisted(kOther));
  Refused(Signed(other_admin_, Product(Methanol(kOther, "ME06"))),
          absl::StatusCode::kPermissionDenied, "is blacklisted");
  Refused(Signed(admin_, Product(Methanol(kOther, "ME06"))), absl::StatusCode::kPermissionDenied,
          "is blacklisted");
  // And all of it replays the same way.
  registry_.reset();
  std::unique_ptr<Registry> reopened = *Registry::Open(log_.get(), catalogue_.get());
  EXPECT_TRUE(reopened->IsBlacklisted(kOther));
  EXPECT_FALSE(reopened->ActiveActor(acme_admin_.key_id()).has_value());
}

TEST_F(RegistryTest, BootstrapOnlyOnceAndOnlyWithGenesis) {
  EXPECT_EQ(Registry::Bootstrap(log_.get(), "again", "CL.EXAMPLE.CN", "x", stranger_).code(),
            absl::StatusCode::kFailedPrecondition);
  const std::string other_dir = chemledger::testing::FreshTempDir("registry_empty");
  std::unique_ptr<storage::Log> empty = *storage::OpenLevelDbLog(other_dir);
  EXPECT_EQ(Registry::Open(empty.get(), catalogue_.get()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(empty->Append({std::string("not a genesis entry")}).ok());
  EXPECT_FALSE(Registry::Open(empty.get(), catalogue_.get()).ok());
}

}  // namespace
}  // namespace chemledger::registry
