#include "web/console_sessions.h"

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "crypto/keys.h"
#include "gtest/gtest.h"
#include "services/common/ephemeral_records.h"
#include "services/registry/registry_testing.h"
#include "testing/test_ledger.h"

namespace chemledger::web {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;

constexpr char kAcme[] = "91350100M000100Y43";
constexpr char kHost[] = "console.example:7480";

class ConsoleSessionsTest : public ::testing::Test {
 protected:
  ConsoleSessionsTest()
      : admin_(TestKey(1)), regulator_(TestKey(2)), operator_(TestKey(3)), stranger_(TestKey(4)) {}

  void SetUp() override {
    t_ = TestLedger::Create("console_sessions", admin_);
    ASSERT_TRUE(t_->RegisterEnterprise(admin_, registry::testing::ExampleProducer(kAcme)).ok());
    ASSERT_TRUE(t_->AddActor(admin_, "", v1::REGULATOR, regulator_, "inspector").ok());
    ASSERT_TRUE(t_->AddActor(admin_, kAcme, v1::ENTERPRISE_OPERATOR, operator_, "operator").ok());
    origin_ = "test";
    sessions_ = std::make_unique<ConsoleSessions>(origin_);
  }

  // A login for a fresh challenge, signed by `signer` naming `named`.
  v1::ConsoleLoginRequest LoginOf(const crypto::SigningKey& signer,
                                  const crypto::SigningKey& named) {
    absl::StatusOr<v1::ConsoleChallenge> c = sessions_->Challenge(now_);
    EXPECT_TRUE(c.ok());
    return LoginFor(*c, signer, named);
  }
  // A login answering challenge `c`.
  v1::ConsoleLoginRequest LoginFor(const v1::ConsoleChallenge& c, const crypto::SigningKey& signer,
                                   const crypto::SigningKey& named) {
    v1::ConsoleLogin login;
    login.set_origin(c.origin());
    login.set_challenge(c.challenge());
    login.set_key_id(named.key_id().ToString());
    login.set_console("https://console.example:7480");
    v1::ConsoleLoginRequest r;
    r.set_login(login.SerializeAsString());
    r.set_signature(signer.Sign(api::kConsoleLoginContext, r.login())->ToBytes());
    return r;
  }

  std::string TicketOf(absl::string_view enter_path) {
    std::string ticket(enter_path);
    return ticket.substr(ticket.find("ticket=") + 7);
  }

  crypto::SigningKey admin_, regulator_, operator_, stranger_;
  std::unique_ptr<TestLedger> t_;
  std::string origin_;
  std::unique_ptr<ConsoleSessions> sessions_;
  absl::Time now_ = absl::Now();
};

TEST_F(ConsoleSessionsTest, ARegulatorSignsInOnceAndReadsAsItself) {
  const v1::ConsoleLoginRequest login = LoginOf(regulator_, regulator_);
  absl::StatusOr<v1::ConsoleTicket> ticket = sessions_->Login(*t_->snapshot(), login, kHost, now_);
  ASSERT_TRUE(ticket.ok()) << ticket.status();
  // The challenge is used up.
  absl::StatusOr<v1::ConsoleTicket> again = sessions_->Login(*t_->snapshot(), login, kHost, now_);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(again.status().message(), "login.challenge"));

  absl::StatusOr<ConsoleSessions::Opened> opened =
      sessions_->Enter(TicketOf(ticket->enter_path()), now_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->expires, now_ + ConsoleSessions::kSessionLifetime);
  // A ticket opens once.
  EXPECT_EQ(sessions_->Enter(TicketOf(ticket->enter_path()), now_).status().code(),
            absl::StatusCode::kUnauthenticated);

  absl::StatusOr<ConsoleSessions::Reader> reader =
      sessions_->ReaderOf(*t_->snapshot(), opened->token, now_ + absl::Minutes(1));
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(reader->actor.name(), "inspector");
  EXPECT_EQ(reader->key_id, regulator_.key_id().ToString());
  // Not another token, and not after it expires (then it is gone).
  EXPECT_FALSE(sessions_->ReaderOf(*t_->snapshot(), opened->token + "x", now_).ok());
  EXPECT_EQ(sessions_->ReaderOf(*t_->snapshot(), opened->token,
                                now_ + ConsoleSessions::kSessionLifetime)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(sessions_->ReaderOf(*t_->snapshot(), opened->token, now_).ok());
}

// Nothing is kept for a challenge given, so nobody fills anything by asking
// for challenges: after 20,000 (more than any store's bound), the first
// still signs in. Each instance sharing the records takes the others'
// challenges; a challenge altered, of another deployment, or past its
// lifetime is unknown; one that a failed login named is still good.
TEST_F(ConsoleSessionsTest, AskingForChallengesFillsNothingAndTheyHoldOnlyAsGiven) {
  absl::StatusOr<v1::ConsoleChallenge> first = sessions_->Challenge(now_);
  ASSERT_TRUE(first.ok()) << first.status();
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(sessions_->Challenge(now_).ok());

  const auto refused_as_unknown = [&](const v1::ConsoleChallenge& c, absl::Time at) {
    absl::StatusOr<v1::ConsoleTicket> t =
        sessions_->Login(*t_->snapshot(), LoginFor(c, regulator_, regulator_), kHost, at);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kUnauthenticated) << t.status();
    EXPECT_TRUE(absl::StrContains(t.status().message(), "login.challenge")) << t.status();
  };
  v1::ConsoleChallenge altered = *first;
  altered.mutable_challenge()->back() ^= 1;
  refused_as_unknown(altered, now_);
  v1::ConsoleChallenge random = *first;
  random.set_challenge(std::string(32, 'x'));
  refused_as_unknown(random, now_);
  refused_as_unknown(*first, now_ + ConsoleSessions::kChallengeLifetime);
  // Another deployment's challenge, though its records are these.
  auto records = std::shared_ptr<EphemeralRecords>(NewLocalEphemeralRecords());
  ConsoleSessions here(origin_, records), elsewhere("elsewhere", records);
  absl::StatusOr<v1::ConsoleChallenge> theirs = elsewhere.Challenge(now_);
  ASSERT_TRUE(theirs.ok());
  theirs->set_origin(origin_);
  absl::StatusOr<v1::ConsoleTicket> t =
      here.Login(*t_->snapshot(), LoginFor(*theirs, regulator_, regulator_), kHost, now_);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnauthenticated) << t.status();

  // A failed login does not use the challenge up; the first that succeeds
  // does.
  t = sessions_->Login(*t_->snapshot(), LoginFor(*first, stranger_, regulator_), kHost, now_);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnauthenticated);
  t = sessions_->Login(*t_->snapshot(), LoginFor(*first, regulator_, regulator_), kHost, now_);
  EXPECT_TRUE(t.ok()) << t.status();
  refused_as_unknown(*first, now_);

  // A second instance over the same records (a cluster's auditd instances)
  // takes the first's challenges, and sees them used.
  ConsoleSessions other_instance(origin_, records);
  absl::StatusOr<v1::ConsoleChallenge> given = here.Challenge(now_);
  ASSERT_TRUE(given.ok());
  const v1::ConsoleLoginRequest login = LoginFor(*given, regulator_, regulator_);
  t = other_instance.Login(*t_->snapshot(), login, kHost, now_);
  EXPECT_TRUE(t.ok()) << t.status();
  t = here.Login(*t_->snapshot(), login, kHost, now_);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnauthenticated) << "used at the other instance";
}

// Records judged by a clock `ahead` of the caller's (in a cluster the
// store, ledgerd, judges records by its own clock, an instance's
// challenges by the instance's), whose deletes fail when asked to.
class TestRecords : public EphemeralRecords {
 public:
  explicit TestRecords(absl::Duration ahead)
      : records_(NewLocalEphemeralRecords()), ahead_(ahead) {}
  absl::Status Put(absl::string_view kind, absl::string_view key, absl::string_view value,
                   absl::string_view owner, absl::Time expires, const Limits& limits,
                   absl::Time now) override {
    return records_->Put(kind, key, value, owner, expires, limits, now + ahead_);
  }
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view kind, absl::string_view key,
                                                 bool take, absl::Time now) override {
    return records_->Get(kind, key, take, now + ahead_);
  }
  absl::Status Delete(absl::string_view kind, absl::string_view key) override {
    if (deletes_fail) return absl::UnavailableError("ledgerd is restarting");
    return records_->Delete(kind, key);
  }
  bool deletes_fail = false;

 private:
  std::unique_ptr<EphemeralRecords> records_;
  const absl::Duration ahead_;
};

// A sign-out whose record could not be deleted says so: the session is
// still good, and a sign-out that worked ends it.
TEST_F(ConsoleSessionsTest, ASignOutThatCouldNotDeleteTheSessionSaysSo) {
  auto records = std::make_shared<TestRecords>(absl::ZeroDuration());
  ConsoleSessions instance(origin_, records);
  absl::StatusOr<v1::ConsoleChallenge> c = instance.Challenge(now_);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<v1::ConsoleTicket> ticket =
      instance.Login(*t_->snapshot(), LoginFor(*c, regulator_, regulator_), kHost, now_);
  ASSERT_TRUE(ticket.ok()) << ticket.status();
  absl::StatusOr<ConsoleSessions::Opened> opened =
      instance.Enter(TicketOf(ticket->enter_path()), now_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  records->deletes_fail = true;
  EXPECT_EQ(instance.End(opened->token).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(instance.ReaderOf(*t_->snapshot(), opened->token, now_).ok());
  records->deletes_fail = false;
  EXPECT_TRUE(instance.End(opened->token).ok());
  EXPECT_FALSE(instance.ReaderOf(*t_->snapshot(), opened->token, now_).ok());
  EXPECT_TRUE(instance.End("").ok());  // no cookie: nothing to end
}

// A used challenge stays used to its end by the instance's clock though the
// store's runs a minute ahead (the most allowed): its mark outlives the
// challenge by a margin, so the store does not drop it while an instance
// still takes the challenge.
TEST_F(ConsoleSessionsTest, AUsedChallengeStaysUsedWhenTheStoresClockRunsAhead) {
  ConsoleSessions instance(origin_, std::make_shared<TestRecords>(absl::Minutes(1)));
  absl::StatusOr<v1::ConsoleChallenge> c = instance.Challenge(now_);
  ASSERT_TRUE(c.ok()) << c.status();
  const v1::ConsoleLoginRequest login = LoginFor(*c, regulator_, regulator_);
  absl::StatusOr<v1::ConsoleTicket> t = instance.Login(*t_->snapshot(), login, kHost, now_);
  ASSERT_TRUE(t.ok()) << t.status();
  const absl::Time near_its_end = now_ + ConsoleSessions::kChallengeLifetime - absl::Seconds(5);
  t = instance.Login(*t_->snapshot(), login, kHost, near_its_end);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnauthenticated)
      << "the challenge was taken twice: " << t.status();
}

// A damaged key record (not 32 bytes) does not block sign-in until it
// expires: the next challenge makes the day's key again.
TEST_F(ConsoleSessionsTest, ADamagedChallengeKeyIsMadeAgain) {
  auto records = std::shared_ptr<EphemeralRecords>(NewLocalEphemeralRecords());
  ConsoleSessions sessions(origin_, records);
  const int64_t day = absl::ToUnixSeconds(now_ + ConsoleSessions::kChallengeLifetime) / 86400;
  ASSERT_TRUE(records
                  ->Put("console-challenge-key", absl::StrCat(day), "short", "",
                        now_ + absl::Hours(48), EphemeralRecords::Limits(), now_)
                  .ok());
  absl::StatusOr<v1::ConsoleChallenge> c = sessions.Challenge(now_);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<v1::ConsoleTicket> t =
      sessions.Login(*t_->snapshot(), LoginFor(*c, regulator_, regulator_), kHost, now_);
  EXPECT_TRUE(t.ok()) << t.status();
}

TEST_F(ConsoleSessionsTest, OnlyAnActiveRegulatorsOwnSignatureOpensASession) {
  // An enterprise's operator.
  absl::StatusOr<v1::ConsoleTicket> t =
      sessions_->Login(*t_->snapshot(), LoginOf(operator_, operator_), kHost, now_);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kPermissionDenied);
  // A key nobody registered.
  t = sessions_->Login(*t_->snapshot(), LoginOf(stranger_, stranger_), kHost, now_);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StartsWith(t.status().message(), "login.key_id, signature: ")) << t.status();
  // Someone else's signature over a login naming the regulator.
  t = sessions_->Login(*t_->snapshot(), LoginOf(stranger_, regulator_), kHost, now_);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StartsWith(t.status().message(), "login.key_id, signature: ")) << t.status();
  // A login signed for another console's address (one that relays to this).
  {
    v1::ConsoleLoginRequest relayed = LoginOf(regulator_, regulator_);
    v1::ConsoleLogin login;
    ASSERT_TRUE(login.ParseFromString(relayed.login()));
    login.set_console("https://phishing.example");
    relayed.set_login(login.SerializeAsString());
    relayed.set_signature(regulator_.Sign(api::kConsoleLoginContext, relayed.login())->ToBytes());
    t = sessions_->Login(*t_->snapshot(), relayed, kHost, now_);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(t.status().message(), "login.console: ")) << t.status();
  }
  // A signature for another purpose.
  v1::ConsoleLoginRequest other_context = LoginOf(regulator_, regulator_);
  other_context.set_signature(
      regulator_.Sign(api::kEventContext, other_context.login())->ToBytes());
  EXPECT_EQ(sessions_->Login(*t_->snapshot(), other_context, kHost, now_).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Another deployment's login.
  v1::ConsoleLoginRequest elsewhere = LoginOf(regulator_, regulator_);
  v1::ConsoleLogin login;
  ASSERT_TRUE(login.ParseFromString(elsewhere.login()));
  login.set_origin("another.log");
  elsewhere.set_login(login.SerializeAsString());
  elsewhere.set_signature(regulator_.Sign(api::kConsoleLoginContext, elsewhere.login())->ToBytes());
  t = sessions_->Login(*t_->snapshot(), elsewhere, kHost, now_);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(t.status().message(), "login.origin: ")) << t.status();
  // Garbage.
  v1::ConsoleLoginRequest garbage;
  garbage.set_login("\xff\xff");
  EXPECT_EQ(sessions_->Login(*t_->snapshot(), garbage, kHost, now_).status().code(),
            absl::StatusCode::kInvalidArgument);
  // An expired challenge.
  v1::ConsoleLoginRequest late = LoginOf(regulator_, regulator_);
  EXPECT_EQ(sessions_
                ->Login(*t_->snapshot(), late, kHost, now_ + ConsoleSessions::kChallengeLifetime)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
}

// One key, from however many addresses, signs in at most kMaxSignInsPerKey
// times while the marks of its used challenges live: the next is refused
// naming the key, and the other regulators still sign in.
TEST_F(ConsoleSessionsTest, OneKeyCannotUseUpTheSignInsOfEveryone) {
  for (size_t i = 0; i < ConsoleSessions::kMaxSignInsPerKey; ++i) {
    absl::StatusOr<v1::ConsoleTicket> ticket =
        sessions_->Login(*t_->snapshot(), LoginOf(regulator_, regulator_), kHost, now_);
    ASSERT_TRUE(ticket.ok()) << i << ": " << ticket.status();
  }
  const v1::ConsoleLoginRequest one_more = LoginOf(regulator_, regulator_);
  absl::StatusOr<v1::ConsoleTicket> refused =
      sessions_->Login(*t_->snapshot(), one_more, kHost, now_);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_TRUE(absl::StartsWith(refused.status().message(), "login.key_id: 20 sign-ins by this key"))
      << refused.status();
  EXPECT_TRUE(sessions_->Login(*t_->snapshot(), LoginOf(admin_, admin_), kHost, now_).ok());
  // Once the marks expire, the key signs in again.
  now_ += absl::Minutes(6);
  EXPECT_TRUE(sessions_->Login(*t_->snapshot(), LoginOf(regulator_, regulator_), kHost, now_).ok());
}

TEST_F(ConsoleSessionsTest, ARevokedKeyEndsItsSessionsAndOldSessionsMakeRoom) {
  std::vector<std::string> tokens;
  for (int i = 0; i < ConsoleSessions::kMaxSessionsPerKey + 1; ++i) {
    absl::StatusOr<v1::ConsoleTicket> ticket =
        sessions_->Login(*t_->snapshot(), LoginOf(regulator_, regulator_), kHost, now_);
    ASSERT_TRUE(ticket.ok()) << ticket.status();
    absl::StatusOr<ConsoleSessions::Opened> opened =
        sessions_->Enter(TicketOf(ticket->enter_path()), now_ + absl::Seconds(i));
    ASSERT_TRUE(opened.ok()) << opened.status();
    tokens.push_back(opened->token);
  }
  // The oldest made room for the newest.
  EXPECT_FALSE(sessions_->ReaderOf(*t_->snapshot(), tokens[0], now_ + absl::Minutes(1)).ok());
  for (size_t i = 1; i < tokens.size(); ++i) {
    EXPECT_TRUE(sessions_->ReaderOf(*t_->snapshot(), tokens[i], now_ + absl::Minutes(1)).ok());
  }
  ASSERT_TRUE(sessions_->End(tokens[1]).ok());
  EXPECT_FALSE(sessions_->ReaderOf(*t_->snapshot(), tokens[1], now_ + absl::Minutes(1)).ok());

  v1::RegistryRequest revoke;
  revoke.mutable_revoke_key()->set_key_id(regulator_.key_id().ToString());
  revoke.mutable_revoke_key()->set_reason("left the department");
  ASSERT_TRUE(t_->Registry(admin_, revoke).ok());
  absl::StatusOr<ConsoleSessions::Reader> reader =
      sessions_->ReaderOf(*t_->snapshot(), tokens[2], now_ + absl::Minutes(1));
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StartsWith(reader.status().message(), "session ended: ")) << reader.status();
  EXPECT_FALSE(sessions_->ReaderOf(*t_->snapshot(), tokens[2], now_ + absl::Minutes(1)).ok());
}

}  // namespace
}  // namespace chemledger::web
