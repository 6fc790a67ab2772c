// The ephemeral store on a real LevelDB in a temporary directory: what it
// remembers survives a clean close and a process killed without one (a
// child process that _exits without closing anything), and is treated as
// lost only when the machine booted since an unclean close.

#include "services/common/ephemeral_store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "storage/fault_injection_env.h"

namespace chemledger {
namespace {

constexpr char kKey[] = "0123456789abcdef";
constexpr char kNonceA[] = "00000000000000000000000000000001";
constexpr char kNonceB[] = "00000000000000000000000000000002";

class EphemeralStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/ephemeral-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    SetBootId("boot-1");
  }

  void SetBootId(const std::string& id) { std::ofstream(dir_ + "/boot_id") << id << "\n"; }

  std::unique_ptr<EphemeralStore> Open(absl::Time now, leveldb::Env* env = nullptr) {
    EphemeralStoreOptions options;
    options.boot_id_file = dir_ + "/boot_id";
    options.env = env;
    absl::StatusOr<std::unique_ptr<EphemeralStore>> store =
        EphemeralStore::Open(dir_ + "/ephemeral", options, now);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // In a child process: opens the store, runs `use`, and ends the process
  // without closing anything, as kill -9 would.
  template <typename Use>
  void InAKilledProcess(absl::Time now, Use use) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      std::unique_ptr<EphemeralStore> store = Open(now);
      const bool ok = store != nullptr && use(*store);
      _exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
  }

  std::string dir_;
  const absl::Time t0_ = absl::FromUnixSeconds(1'800'000'000);
  const int64_t expires_ = 1'800'000'000 + 120;
};

TEST_F(EphemeralStoreTest, ANewStoreRefusesCredentialsSignedBeforeItOpened) {
  std::unique_ptr<EphemeralStore> store = Open(t0_);
  EXPECT_EQ(store->nonces_not_before(), t0_);
  EXPECT_EQ(store->nonces()
                ->Remember(kKey, kNonceA, t0_ - absl::Seconds(1), expires_, t0_)
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(store->nonces()->Remember(kKey, kNonceA, t0_, expires_, t0_).ok());
}

TEST_F(EphemeralStoreTest, AUsedNonceIsRefusedAfterACleanRestart) {
  {
    std::unique_ptr<EphemeralStore> store = Open(t0_);
    ASSERT_TRUE(store->nonces()->Remember(kKey, kNonceA, t0_, expires_, t0_).ok());
  }
  SetBootId("boot-2");  // even after a reboot: it was closed cleanly
  const absl::Time later = t0_ + absl::Seconds(30);
  std::unique_ptr<EphemeralStore> store = Open(later);
  // Nothing lost: only the store's own beginning (it was new at t0_) still
  // bounds what it takes, for a credential's window.
  EXPECT_EQ(store->nonces_not_before(), t0_);
  EXPECT_EQ(store->nonces_loaded(), 1u);
  const absl::Status again = store->nonces()->Remember(kKey, kNonceA, t0_, expires_, later);
  EXPECT_EQ(again.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(again.message().find("used already"), std::string::npos) << again;
  // Signed before the restart, not used: accepted.
  EXPECT_TRUE(store->nonces()->Remember(kKey, kNonceB, t0_, expires_, later).ok());
}

TEST_F(EphemeralStoreTest, AUsedNonceIsRefusedAfterTheProcessWasKilled) {
  InAKilledProcess(t0_, [&](EphemeralStore& store) {
    return store.nonces()->Remember(kKey, kNonceA, t0_, expires_, t0_).ok();
  });
  const absl::Time later = t0_ + absl::Seconds(5);
  std::unique_ptr<EphemeralStore> store = Open(later);  // same boot
  EXPECT_EQ(store->nonces_not_before(), t0_);  // the new store's beginning, as above
  EXPECT_EQ(store->nonces()->Remember(kKey, kNonceA, t0_, expires_, later).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(EphemeralStoreTest, AfterAnUncleanCloseAndARebootWhatCameBeforeIsRefused) {
  InAKilledProcess(t0_, [&](EphemeralStore& store) {
    return store.nonces()->Remember(kKey, kNonceA, t0_, expires_, t0_).ok();
  });
  SetBootId("boot-2");  // the machine lost power: unsynced writes may be gone
  const absl::Time later = t0_ + absl::Seconds(5);
  std::unique_ptr<EphemeralStore> store = Open(later);
  EXPECT_EQ(store->nonces_not_before(), later);
  EXPECT_EQ(store->nonces()->Remember(kKey, kNonceB, t0_, expires_, later).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(store->nonces()->Remember(kKey, kNonceB, later, expires_, later).ok());
}

// The machine loses power: LevelDB keeps only what was fsynced. A mark that
// must stay (only_if_absent: a used sign-in challenge) was synced and is
// still there; a nonce (written without an fsync) is gone, and so every
// credential signed before the store opened again is refused.
TEST_F(EphemeralStoreTest, AMarkThatMustStaySurvivesAPowerCut) {
  storage::FaultInjectionEnv env;
  EphemeralRecords::Limits once;
  once.only_if_absent = true;
  const absl::Time expires = t0_ + absl::Minutes(5);
  {
    std::unique_ptr<EphemeralStore> store = Open(t0_, &env);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->records()->Put("used", "challenge-1", "", "alice", expires, once, t0_).ok());
    ASSERT_TRUE(store->nonces()->Remember(kKey, kNonceA, t0_, expires_, t0_).ok());
    env.CutPower();
  }  // the close cannot write either: it is not clean
  env.DropUnsyncedData();
  SetBootId("boot-2");
  const absl::Time later = t0_ + absl::Seconds(5);
  std::unique_ptr<EphemeralStore> store = Open(later, &env);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(
      store->records()->Put("used", "challenge-1", "", "mallory", expires, once, later).code(),
      absl::StatusCode::kAlreadyExists)
      << "the used mark was lost with the power";
  EXPECT_EQ(store->nonces_loaded(), 0u) << "the nonce, written without an fsync, is gone";
  EXPECT_EQ(store->nonces_not_before(), later);
  EXPECT_EQ(store->nonces()->Remember(kKey, kNonceA, t0_, expires_, later).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(EphemeralStoreTest, TheRefusalAfterALossOutlivesTheNextRestart) {
  InAKilledProcess(t0_, [&](EphemeralStore& store) {
    return store.nonces()->Remember(kKey, kNonceA, t0_, expires_, t0_).ok();
  });
  SetBootId("boot-2");
  const absl::Time reopened = t0_ + absl::Seconds(5);
  { EXPECT_EQ(Open(reopened)->nonces_not_before(), reopened); }  // closed cleanly
  // A clean restart soon after still refuses what was signed before the
  // loss's reopening (its nonces may be gone)...
  std::unique_ptr<EphemeralStore> store = Open(t0_ + absl::Seconds(20));
  EXPECT_EQ(store->nonces_not_before(), reopened);
  EXPECT_EQ(store->nonces()->Remember(kKey, kNonceA, t0_, expires_, t0_ + absl::Seconds(20)).code(),
            absl::StatusCode::kUnauthenticated);
  store.reset();
  // ...until nothing signed before it could be accepted anyway.
  store = Open(t0_ + absl::Minutes(5));
  EXPECT_EQ(store->nonces_not_before(), absl::InfinitePast());
}

TEST_F(EphemeralStoreTest, ExpiredNoncesAreNotLoaded) {
  {
    std::unique_ptr<EphemeralStore> store = Open(t0_);
    ASSERT_TRUE(store->nonces()->Remember(kKey, kNonceA, t0_, 1'800'000'000 + 1, t0_).ok());
    ASSERT_TRUE(store->nonces()->Remember(kKey, kNonceB, t0_, expires_, t0_).ok());
  }
  std::unique_ptr<EphemeralStore> store = Open(t0_ + absl::Seconds(60));
  EXPECT_EQ(store->nonces_loaded(), 1u);
}

TEST_F(EphemeralStoreTest, RecordsSurviveARestartAndATakeIsForGood) {
  const EphemeralRecords::Limits limits{100, 0};
  InAKilledProcess(t0_, [&](EphemeralStore& store) {
    return store.records()
               ->Put("session", "s1", "alice", "alice", t0_ + absl::Minutes(30), limits, t0_)
               .ok() &&
           store.records()
               ->Put("ticket", "t1", "once", "alice", t0_ + absl::Minutes(1), limits, t0_)
               .ok() &&
           store.records()->Get("ticket", "t1", /*take=*/true, t0_).ok();
  });
  std::unique_ptr<EphemeralStore> store = Open(t0_ + absl::Seconds(10));
  EphemeralRecords& records = *store->records();
  absl::StatusOr<std::optional<std::string>> session =
      records.Get("session", "s1", false, t0_ + absl::Seconds(10));
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->value_or("(none)"), "alice");
  absl::StatusOr<std::optional<std::string>> ticket =
      records.Get("ticket", "t1", true, t0_ + absl::Seconds(10));
  ASSERT_TRUE(ticket.ok());
  EXPECT_FALSE(ticket->has_value());
  // Expired: gone.
  session = records.Get("session", "s1", false, t0_ + absl::Minutes(31));
  ASSERT_TRUE(session.ok());
  EXPECT_FALSE(session->has_value());
}

// Deleting a record syncs (an ended session must stay ended), but deleting
// a key that holds nothing writes nothing: a sign-out without a session,
// which anyone can send, must not cost the disk a sync.
TEST_F(EphemeralStoreTest, DeletingNothingDoesNotSync) {
  storage::FaultInjectionEnv env;
  std::unique_ptr<EphemeralStore> store = Open(t0_, &env);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->records()
                  ->Put("session", "s1", "alice", "alice", t0_ + absl::Minutes(30), {100, 0}, t0_)
                  .ok());
  env.HoldSyncs();
  absl::Status absent = absl::UnknownError("not run");
  std::thread deleting_nothing([&] { absent = store->records()->Delete("session", "none"); });
  const bool synced_for_nothing = env.WaitForHeldSync(absl::Milliseconds(500));
  env.ReleaseSyncs();
  deleting_nothing.join();
  EXPECT_FALSE(synced_for_nothing) << "deleting an absent key waited for a sync";
  EXPECT_TRUE(absent.ok()) << absent;

  env.HoldSyncs();
  absl::Status present = absl::UnknownError("not run");
  std::thread deleting([&] { present = store->records()->Delete("session", "s1"); });
  EXPECT_TRUE(env.WaitForHeldSync(absl::Seconds(10))) << "a deleted session was not synced";
  env.ReleaseSyncs();
  deleting.join();
  EXPECT_TRUE(present.ok()) << present;
  absl::StatusOr<std::optional<std::string>> gone =
      store->records()->Get("session", "s1", false, t0_);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

TEST_F(EphemeralStoreTest, RecordBoundsHoldAndTheOwnersOldestGoesForGood) {
  const EphemeralRecords::Limits limits{3, 2};
  const absl::Time expires = t0_ + absl::Minutes(30);
  {
    std::unique_ptr<EphemeralStore> store = Open(t0_);
    EphemeralRecords& records = *store->records();
    ASSERT_TRUE(records.Put("session", "a1", "1", "alice", expires, limits, t0_).ok());
    ASSERT_TRUE(records.Put("session", "a2", "2", "alice", expires, limits, t0_).ok());
    ASSERT_TRUE(records.Put("session", "a3", "3", "alice", expires, limits, t0_).ok());  // a1 goes
    ASSERT_TRUE(records.Put("session", "b1", "4", "bob", expires, limits, t0_).ok());
    EXPECT_EQ(records.Put("session", "c1", "5", "carol", expires, limits, t0_).code(),
              absl::StatusCode::kResourceExhausted);
    // Replacing a held key is no new record.
    EXPECT_TRUE(records.Put("session", "b1", "6", "bob", expires, limits, t0_).ok());
    EXPECT_EQ(records.Put("bad/kind", "x", "", "", expires, limits, t0_).code(),
              absl::StatusCode::kInvalidArgument);
  }
  std::unique_ptr<EphemeralStore> store = Open(t0_ + absl::Seconds(1));
  EphemeralRecords& records = *store->records();
  const absl::Time now = t0_ + absl::Seconds(1);
  EXPECT_FALSE(records.Get("session", "a1", false, now)->has_value());
  EXPECT_EQ(records.Get("session", "a2", false, now)->value_or(""), "2");
  EXPECT_EQ(records.Get("session", "a3", false, now)->value_or(""), "3");
  EXPECT_EQ(records.Get("session", "b1", false, now)->value_or(""), "6");
  ASSERT_TRUE(records.Delete("session", "b1").ok());
  EXPECT_TRUE(records.Put("session", "c1", "5", "carol", expires, limits, now).ok());
}

// With only_if_absent, of two putters of one key one succeeds (the stored
// records and the in-memory ones alike); an expired record is no longer
// there.
TEST_F(EphemeralStoreTest, OnlyIfAbsentKeepsTheFirst) {
  EphemeralRecords::Limits once;
  once.only_if_absent = true;
  std::unique_ptr<EphemeralStore> store = Open(t0_);
  std::unique_ptr<EphemeralRecords> local = NewLocalEphemeralRecords();
  for (EphemeralRecords* records : {store->records().get(), local.get()}) {
    const absl::Time expires = t0_ + absl::Minutes(2);
    ASSERT_TRUE(records->Put("used", "c1", "first", "alice", expires, once, t0_).ok());
    EXPECT_EQ(records->Put("used", "c1", "second", "bob", expires, once, t0_).code(),
              absl::StatusCode::kAlreadyExists);
    EXPECT_EQ(records->Get("used", "c1", false, t0_)->value_or(""), "first");
    EXPECT_TRUE(
        records->Put("used", "c1", "later", "bob", expires + absl::Minutes(2), once, expires).ok());
    EXPECT_EQ(records->Get("used", "c1", false, expires)->value_or(""), "later");
  }
}

// refuse_beyond_per_owner refuses an owner's next record and drops none of
// its records (the stored records and the in-memory ones alike); others'
// records and the owner's after some expire are kept.
TEST_F(EphemeralStoreTest, AnOwnerBeyondItsBoundIsRefusedAndKeepsWhatItHas) {
  EphemeralRecords::Limits marks;
  marks.only_if_absent = true;
  marks.refuse_beyond_per_owner = 2;
  std::unique_ptr<EphemeralStore> store = Open(t0_);
  std::unique_ptr<EphemeralRecords> local = NewLocalEphemeralRecords();
  for (EphemeralRecords* records : {store->records().get(), local.get()}) {
    const absl::Time soon = t0_ + absl::Minutes(1);
    const absl::Time later = t0_ + absl::Minutes(5);
    ASSERT_TRUE(records->Put("used", "m1", "", "alice", soon, marks, t0_).ok());
    ASSERT_TRUE(records->Put("used", "m2", "", "alice", later, marks, t0_).ok());
    const absl::Status third = records->Put("used", "m3", "", "alice", later, marks, t0_);
    EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted) << third;
    EXPECT_EQ(third, OwnerHoldsTooManyRecords("used", 2));
    EXPECT_TRUE(records->Get("used", "m1", false, t0_)->has_value()) << "a mark was dropped";
    EXPECT_TRUE(records->Get("used", "m2", false, t0_)->has_value());
    EXPECT_FALSE(records->Get("used", "m3", false, t0_)->has_value());
    EXPECT_TRUE(records->Put("used", "m4", "", "bob", later, marks, t0_).ok());
    // Once m1 expires, alice has room for one more.
    EXPECT_TRUE(records->Put("used", "m3", "", "alice", later, marks, soon).ok());
  }
}

}  // namespace
}  // namespace chemledger
