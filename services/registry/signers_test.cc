#include "services/registry/signers.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/registry/registry_testing.h"
#include "storage/leveldb_log.h"
#include "tests/subprocess.h"

namespace chemledger::registry {
namespace {

constexpr crypto::SignatureContext kTestContext("application/vnd.chemledger.test.v1");
constexpr char kAcme[] = "91350100M000100Y43";

crypto::SigningKey TestKey(char seed) {
  return crypto::SigningKey::FromSeed(*crypto::SecretSeed::FromBytes(std::string(32, seed)));
}

class VerifyActorSignaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = chemledger::testing::FreshTempDir("signers");
    log_ = *storage::OpenLevelDbLog(dir_);
    catalogue_ = std::make_unique<Catalogue>(testing::ShippedCatalogue());
    ASSERT_TRUE(Registry::Bootstrap(log_.get(), "test", "CL.EXAMPLE.CN", "root", admin_).ok());
    registry_ = *Registry::Open(log_.get(), catalogue_.get());
    Submit([&](v1::RegistryRequest* r) { *r->mutable_register_enterprise() = testing::ExampleProducer(kAcme); });
    for (const crypto::SigningKey* key : {&operator_, &revoked_}) {
      Submit([&](v1::RegistryRequest* r) {
        v1::Actor* a = r->mutable_add_actor();
        a->set_name(key == &operator_ ? "operator" : "revoked");
        a->set_role(v1::ENTERPRISE_OPERATOR);
        a->set_enterprise_uscc(kAcme);
        a->set_public_key(key->verifying_key().ToBytes());
      });
    }
    Submit([&](v1::RegistryRequest* r) {
      r->mutable_revoke_key()->set_key_id(revoked_.key_id().ToString());
      r->mutable_revoke_key()->set_reason("laptop lost");
    });
  }

  template <typename Fill>
  void Submit(Fill fill) {
    v1::RegistryRequest r;
    r.set_request_id(absl::StrCat("req-", ++next_id_));
    fill(&r);
    absl::StatusOr<Receipt> receipt =
        registry_->Apply(*envelope::Sign(kRegistryContext, r.SerializeAsString(), admin_));
    ASSERT_TRUE(receipt.ok()) << receipt.status();
  }

  const crypto::SigningKey admin_ = TestKey(1), operator_ = TestKey(2), revoked_ = TestKey(3),
                           stranger_ = TestKey(4);
  std::string dir_;
  std::unique_ptr<storage::Log> log_;
  std::unique_ptr<Catalogue> catalogue_;
  std::unique_ptr<Registry> registry_;
  int next_id_ = 0;
};

// Enough envelopes for several threads, each kind of failure among them, in
// every thread's share.
TEST_F(VerifyActorSignaturesTest, EachEnvelopeGetsItsOwnVerdict) {
  std::vector<v1::SignedEnvelope> envelopes;
  std::vector<absl::StatusCode> expected;
  std::vector<std::string> said;
  for (int i = 0; i < 100; ++i) {
    const std::string payload = absl::StrCat("payload ", i);
    switch (i % 5) {
      case 0:
      case 1:
        envelopes.push_back(*envelope::Sign(kTestContext, payload, operator_));
        expected.push_back(absl::StatusCode::kOk);
        said.push_back("");
        break;
      case 2:  // the payload changed after signing
        envelopes.push_back(*envelope::Sign(kTestContext, payload, operator_));
        envelopes.back().set_payload(payload + "!");
        expected.push_back(absl::StatusCode::kUnauthenticated);
        said.push_back("signature");
        break;
      case 3:
        envelopes.push_back(*envelope::Sign(kTestContext, payload, revoked_));
        expected.push_back(absl::StatusCode::kPermissionDenied);
        said.push_back("laptop lost");
        break;
      case 4:
        envelopes.push_back(*envelope::Sign(kTestContext, payload, stranger_));
        expected.push_back(absl::StatusCode::kUnauthenticated);
        said.push_back("key_id");
        break;
    }
  }
  std::vector<const v1::SignedEnvelope*> pointers;
  for (const auto& e : envelopes) pointers.push_back(&e);
  for (size_t threads : {1, 2, 4}) {
    const auto results = VerifyActorSignatures(*registry_, pointers, kTestContext, threads);
    ASSERT_EQ(results.size(), envelopes.size());
    for (size_t i = 0; i < results.size(); ++i) {
      EXPECT_EQ(results[i].status().code(), expected[i]) << i << ": " << results[i].status();
      if (results[i].ok()) {
        EXPECT_EQ(results[i]->key_id, operator_.key_id());
      } else {
        EXPECT_NE(results[i].status().message().find(said[i]), std::string::npos)
            << i << ": " << results[i].status();
      }
    }
  }
  // Another context's envelope is refused by its payload type.
  const v1::SignedEnvelope other = *envelope::Sign(kRegistryContext, "x", operator_);
  const auto results = VerifyActorSignatures(*registry_, {&other}, kTestContext, 2);
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kInvalidArgument) << results[0].status();
}

}  // namespace
}  // namespace chemledger::registry
