// The scan calls' admission without the network: who a call is from, and
// what its allowance lets through.

#include "services/label/scan_admission.h"

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "crypto/keys.h"
#include "gtest/gtest.h"
#include "services/common/read_auth.h"
#include "services/registry/registry_testing.h"
#include "testing/test_ledger.h"

namespace chemledger::label {
namespace {

constexpr char kAcme[] = "91350100M000100Y43";
constexpr char kMethod[] = "/chemledger.v1.LabelService/ResolveLabel";

class ScanAdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger_ = testing::TestLedger::Create("scan_admission", admin_);
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(
        ledger_->RegisterEnterprise(admin_, registry::testing::ExampleProducer(kAcme)).ok());
    ASSERT_TRUE(ledger_->AddActor(admin_, kAcme, v1::ENTERPRISE_OPERATOR, operator_).ok());
    reads_ = std::make_unique<registry::ReadAuthenticator>(
        read_auth::ReadCredentialChecker::Options{"scan-admission.test/log"});
  }

  // A caller at `address` whose credentials `key` signs for `bytes`.
  ScanCaller Signed(const crypto::SigningKey& key, const std::string& bytes,
                    const std::string& address = "ipv4:192.0.2.7") {
    ScanCaller caller;
    caller.address = address;
    caller.credentials =
        read_auth::SignRead({"scan-admission.test/log", kMethod, bytes}, key, absl::Now());
    return caller;
  }

  const crypto::SigningKey admin_ = crypto::SigningKey::Generate();
  const crypto::SigningKey operator_ = crypto::SigningKey::Generate();
  std::unique_ptr<testing::TestLedger> ledger_;
  std::unique_ptr<registry::ReadAuthenticator> reads_;
  RateLimiter anonymous_{1, 3};
  RateLimiter signed_{1, 5};
};

TEST_F(ScanAdmissionTest, ACallWithoutCredentialsIsAnyones) {
  const ScanAdmission admission(reads_.get(), &anonymous_, &signed_);
  const ScanCaller caller{std::nullopt, "ipv4:192.0.2.7"};
  absl::StatusOr<Scanner> scanner =
      admission.Identify(*ledger_->snapshot(), caller, kMethod, "request", absl::Now());
  ASSERT_TRUE(scanner.ok()) << scanner.status();
  EXPECT_FALSE(scanner->registered());
  EXPECT_EQ(ScanAdmission::AllowanceHolder(*scanner, caller), "ipv4:192.0.2.7");
}

TEST_F(ScanAdmissionTest, CredentialsThatHoldNameTheActor) {
  const ScanAdmission admission(reads_.get(), &anonymous_, &signed_);
  const ScanCaller caller = Signed(operator_, "request");
  absl::StatusOr<Scanner> scanner =
      admission.Identify(*ledger_->snapshot(), caller, kMethod, "request", absl::Now());
  ASSERT_TRUE(scanner.ok()) << scanner.status();
  ASSERT_TRUE(scanner->registered());
  EXPECT_EQ(scanner->actor()->enterprise_uscc(), kAcme);
  EXPECT_EQ(ScanAdmission::AllowanceHolder(*scanner, caller),
            "key " + operator_.key_id().ToString());
}

TEST_F(ScanAdmissionTest, CredentialsThatFailAreRefusedNotAnsweredAsAnyone) {
  const ScanAdmission admission(reads_.get(), &anonymous_, &signed_);
  const auto identify = [&](const ScanCaller& caller) {
    return admission.Identify(*ledger_->snapshot(), caller, kMethod, "request", absl::Now());
  };
  // Signed over other bytes than the request's.
  absl::StatusOr<Scanner> other_bytes = identify(Signed(operator_, "another request"));
  EXPECT_EQ(other_bytes.status().code(), absl::StatusCode::kUnauthenticated)
      << other_bytes.status();
  // By a key the registry does not know.
  absl::StatusOr<Scanner> unknown = identify(Signed(crypto::SigningKey::Generate(), "request"));
  EXPECT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("chemledger-key-id"), std::string::npos)
      << unknown.status();
  // Only some of the entries (a signature without a key id).
  ScanCaller partial = Signed(operator_, "request");
  partial.credentials->key_id.clear();
  EXPECT_EQ(identify(partial).status().code(), absl::StatusCode::kUnauthenticated);
  // The same credentials twice: the second is a replay.
  const ScanCaller once = Signed(operator_, "request");
  ASSERT_TRUE(identify(once).ok());
  EXPECT_FALSE(identify(once).ok()) << "a replayed credential was believed";
  // A server without an authenticator says it takes none.
  const ScanAdmission without(nullptr, &anonymous_, &signed_);
  absl::StatusOr<Scanner> no_reads = without.Identify(
      *ledger_->snapshot(), Signed(operator_, "request"), kMethod, "request", absl::Now());
  EXPECT_EQ(no_reads.status().code(), absl::StatusCode::kUnauthenticated) << no_reads.status();
}

// A call whose credentials fail cost a check, as an anonymous scan does:
// its address is charged alike, so failing credentials are no way around
// the anonymous allowance.
TEST_F(ScanAdmissionTest, CredentialsThatFailAreChargedToTheAddress) {
  const ScanAdmission admission(reads_.get(), &anonymous_, &signed_);
  const ScanCaller stranger = Signed(crypto::SigningKey::Generate(), "request", "ipv4:192.0.2.9");
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(
        admission.Identify(*ledger_->snapshot(), stranger, kMethod, "request", absl::Now()).ok());
  }
  const ScanCaller same_address{std::nullopt, "ipv4:192.0.2.9"};
  EXPECT_EQ(admission.Charge(Scanner::Anyone(), same_address, 1, absl::Now()).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(ScanAdmissionTest, EachScannerIsChargedToItsOwnAllowance) {
  const ScanAdmission admission(reads_.get(), &anonymous_, &signed_);
  const absl::Time now = absl::Now();
  const ScanCaller phone{std::nullopt, "ipv4:192.0.2.7"};
  const Scanner anyone = Scanner::Anyone();
  // More than the burst can ever hold: refused as the call's fault, and
  // nothing taken.
  absl::Status too_big = admission.Charge(anyone, phone, 4, now);
  EXPECT_EQ(too_big.code(), absl::StatusCode::kInvalidArgument) << too_big;
  EXPECT_NE(too_big.message().find("sign the call"), std::string::npos) << too_big;
  EXPECT_TRUE(admission.Charge(anyone, phone, 3, now).ok());
  absl::Status over = admission.Charge(anyone, phone, 1, now);
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted) << over;
  // Another address has its own.
  EXPECT_TRUE(admission.Charge(anyone, {std::nullopt, "ipv4:198.51.100.1"}, 1, now).ok());

  // The actor scanning from the spent address is charged to its key.
  const ScanCaller signed_caller = Signed(operator_, "request");
  absl::StatusOr<Scanner> actor =
      admission.Identify(*ledger_->snapshot(), signed_caller, kMethod, "request", absl::Now());
  ASSERT_TRUE(actor.ok()) << actor.status();
  EXPECT_TRUE(admission.Charge(*actor, signed_caller, 5, now).ok());
  absl::Status actor_over = admission.Charge(*actor, signed_caller, 1, now);
  EXPECT_EQ(actor_over.code(), absl::StatusCode::kResourceExhausted) << actor_over;
  EXPECT_EQ(actor_over.message().find("sign the call"), std::string::npos) << actor_over;
  // And gains again as time passes.
  EXPECT_TRUE(admission.Charge(*actor, signed_caller, 1, now + absl::Seconds(2)).ok());
}

// What a call charged in parts costs in all is held against the burst
// alone, whatever its allowance holds now: anyone's burst is 3 here, an
// actor's 5.
TEST_F(ScanAdmissionTest, AWholeCostIsCheckedAgainstTheBurstAlone) {
  const ScanAdmission admission(reads_.get(), &anonymous_, &signed_);
  const ScanCaller phone{std::nullopt, "ipv4:192.0.2.7"};
  EXPECT_TRUE(admission.Charge(Scanner::Anyone(), phone, 3, absl::Now()).ok());  // spent
  EXPECT_TRUE(admission.CheckWithinBurst(Scanner::Anyone(), 3).ok());
  absl::Status whole = admission.CheckWithinBurst(Scanner::Anyone(), 4);
  EXPECT_EQ(whole.code(), absl::StatusCode::kInvalidArgument) << whole;
  EXPECT_NE(whole.message().find("this call costs 4 codes"), std::string::npos) << whole;
  const ScanCaller signed_caller = Signed(operator_, "request");
  absl::StatusOr<Scanner> actor =
      admission.Identify(*ledger_->snapshot(), signed_caller, kMethod, "request", absl::Now());
  ASSERT_TRUE(actor.ok()) << actor.status();
  EXPECT_TRUE(admission.CheckWithinBurst(*actor, 5).ok());
  EXPECT_EQ(admission.CheckWithinBurst(*actor, 6).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chemledger::label
