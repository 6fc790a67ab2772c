// The PostgreSQL store (postgres_store.h) on a primary with a synchronous
// standby (testing/postgres_server.h), both the test's own: an acknowledged
// commit is on the standby before it is acknowledged, so that losing the
// primary (SIGKILL) and promoting the standby loses none of them.

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "storage/postgres_store.h"
#include "testing/postgres_server.h"

namespace chemledger::storage {
namespace {

struct Pair {
  std::unique_ptr<testing::PostgresServer> primary, standby;
};

Pair StartPair(const std::string& database) {
  Pair pair;
  absl::StatusOr<std::unique_ptr<testing::PostgresServer>> primary =
      testing::PostgresServer::Start();
  EXPECT_TRUE(primary.ok()) << primary.status();
  if (!primary.ok()) return pair;
  pair.primary = *std::move(primary);
  EXPECT_TRUE(pair.primary->CreateDatabase(database).ok());
  absl::StatusOr<std::unique_ptr<testing::PostgresServer>> standby =
      pair.primary->StartStandby("standby1", /*synchronous=*/true);
  EXPECT_TRUE(standby.ok()) << standby.status();
  if (standby.ok()) pair.standby = *std::move(standby);
  return pair;
}

// A writer's on the pair's primary, which refuses to acknowledge a commit
// before the synchronous standby has it.
PostgresStoreOptions WriterOptions(const Pair& pair) {
  PostgresStoreOptions options;
  options.connection = pair.primary->Connection("ledger");
  options.require_synchronous_standby = true;
  return options;
}

// Stops the synchronous standby, commits `entry` (which then waits for the
// standby) and cancels that wait, as an operator's pg_cancel_backend does:
// what the commit returned.
absl::StatusOr<uint64_t> CommitWithItsStandbyWaitCancelled(Pair& pair, Store& store,
                                                           const std::string& entry) {
  EXPECT_TRUE(pair.standby->Stop().ok());
  absl::Notification done;
  absl::StatusOr<uint64_t> result = absl::UnknownError("not yet");
  std::thread committer([&] {
    result = store.Commit({entry}, StateWrites());
    done.Notify();
  });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Seconds(1)))
      << "acknowledged without the standby";
  EXPECT_TRUE(
      pair.primary->Execute("ledger", "SELECT pg_cancel_backend(writer_pid) FROM store_head").ok());
  committer.join();
  return result;
}

TEST(PostgresReplicationTest, EveryAcknowledgedCommitSurvivesLosingThePrimary) {
  Pair pair = StartPair("ledger");
  ASSERT_NE(pair.standby, nullptr);
  PostgresStoreOptions options = WriterOptions(pair);
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
  ASSERT_TRUE(store.ok()) << store.status();
  // Writers commit until the primary is killed under them; what was
  // acknowledged is counted.
  std::atomic<int> acknowledged{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      StateWrites w;
      w.Put(absl::StrCat("k/", i), absl::StrCat("v", i));
      if (!(*store)->Commit({absl::StrCat("e", i)}, w).ok()) return;
      acknowledged = i + 1;
    }
  });
  while (acknowledged < 200) absl::SleepFor(absl::Milliseconds(5));
  pair.primary->Kill();
  stop = true;
  writer.join();
  const int acked = acknowledged;
  ASSERT_GE(acked, 200);
  store->reset();  // read-only after its failed commit; its renewer goes too

  ASSERT_TRUE(pair.standby->Promote().ok());
  options.connection = pair.standby->Connection("ledger");
  options.require_synchronous_standby = false;  // the new primary has none yet
  absl::StatusOr<std::unique_ptr<Store>> promoted = OpenPostgresStore(options);
  ASSERT_TRUE(promoted.ok()) << promoted.status();
  // Every acknowledged commit, and at most the one in flight when the
  // primary died.
  const uint64_t size = (*promoted)->Size();
  EXPECT_GE(size, static_cast<uint64_t>(acked));
  EXPECT_LE(size, static_cast<uint64_t>(acked) + 1);
  std::shared_ptr<const Snapshot> s = (*promoted)->GetSnapshot();
  for (uint64_t i = 0; i < size; ++i) {
    ASSERT_EQ(*s->Entry(i), absl::StrCat("e", i));
    ASSERT_EQ(*s->Get(absl::StrCat("k/", i)), absl::StrCat("v", i));
  }
  absl::StatusOr<IntegrityReport> check = (*promoted)->CheckIntegrity(absl::nullopt);
  EXPECT_TRUE(check.ok()) << check.status();
  // And it goes on from there.
  EXPECT_EQ(*(*promoted)->Commit({"after"}, StateWrites()), size);
}

TEST(PostgresReplicationTest, ACommitIsNotAcknowledgedBeforeTheStandbyHasIt) {
  Pair pair = StartPair("ledger");
  ASSERT_NE(pair.standby, nullptr);
  PostgresStoreOptions options;
  options.connection = pair.primary->Connection("ledger");
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Commit({"e0"}, StateWrites()).ok());
  ASSERT_TRUE(pair.standby->Stop().ok());
  absl::Notification done;
  absl::StatusOr<uint64_t> result = absl::UnknownError("not yet");
  std::thread committer([&] {
    result = (*store)->Commit({"e1"}, StateWrites());
    done.Notify();
  });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Seconds(2)))
      << "acknowledged without the standby: " << result.status();
  ASSERT_TRUE(pair.standby->Restart().ok());
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(60)));
  committer.join();
  EXPECT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*store)->Size(), 2u);
}

// The wait for the synchronous standby cancelled (as an operator's
// pg_cancel_backend does): PostgreSQL has the commit locally, answers it
// and only warns that the standby may not have it. That commit is not
// acknowledged; the store is read-only, says so, and lets go of the lease.
TEST(PostgresReplicationTest, ACommitWhoseStandbyWaitWasCancelledIsNotAcknowledged) {
  Pair pair = StartPair("ledger");
  ASSERT_NE(pair.standby, nullptr);
  std::atomic<int> read_only{0};
  PostgresStoreOptions options = WriterOptions(pair);
  options.on_read_only = [&](const absl::Status&) { ++read_only; };
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Commit({"e0"}, StateWrites()).ok());
  absl::StatusOr<uint64_t> result = CommitWithItsStandbyWaitCancelled(pair, **store, "e1");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  EXPECT_NE(result.status().message().find("outcome is unknown"), std::string::npos)
      << result.status();
  EXPECT_FALSE((*store)->Commit({"e2"}, StateWrites()).ok()) << "read-only";
  for (int i = 0; i < 100 && read_only == 0; ++i) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(read_only, 1);
}

// A read replica (a following read-only store) on `server`.
std::unique_ptr<Store> OpenReplicaOn(const testing::PostgresServer& server) {
  PostgresStoreOptions options;
  options.connection = server.Connection("ledger");
  options.read_only = true;
  options.follow_head_every = absl::Milliseconds(10);
  absl::StatusOr<std::unique_ptr<Store>> replica = OpenPostgresStore(options);
  EXPECT_TRUE(replica.ok()) << replica.status();
  return replica.ok() ? *std::move(replica) : nullptr;
}

// Waits up to 20 s for `store` to publish log size `size`.
bool ReachesSize(const Store& store, uint64_t size) {
  for (const absl::Time deadline = absl::Now() + absl::Seconds(20); absl::Now() < deadline;) {
    if (store.GetSnapshot()->size() >= size) return store.GetSnapshot()->size() == size;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

// Waits up to 20 s for the head row on `server` to say log size `size`.
bool HeadRowReaches(testing::PostgresServer& server, uint64_t size) {
  for (const absl::Time deadline = absl::Now() + absl::Seconds(20); absl::Now() < deadline;) {
    absl::StatusOr<std::string> at = server.QueryValue("ledger", "SELECT size FROM store_head");
    if (at.ok() && *at == absl::StrCat(size)) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

// An asynchronous standby replays a commit before the synchronous one has
// it, while the writer still waits for the latter. A read replica on the
// asynchronous standby does not publish that commit (were the primary lost
// now and the synchronous standby promoted, it would never have existed),
// and publishes it once the writer has acknowledged it. It tells how far
// the standby's replay is behind.
TEST(PostgresReplicationTest, AReplicaOnAnAsynchronousStandbyPublishesOnlyAcknowledgedCommits) {
  Pair pair = StartPair("ledger");
  ASSERT_NE(pair.standby, nullptr);
  absl::StatusOr<std::unique_ptr<testing::PostgresServer>> asynchronous =
      pair.primary->StartStandby("standby2", /*synchronous=*/false);
  ASSERT_TRUE(asynchronous.ok()) << asynchronous.status();
  PostgresStoreOptions options = WriterOptions(pair);
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
  ASSERT_TRUE(store.ok()) << store.status();
  StateWrites w;
  w.Put("k", "0");
  ASSERT_TRUE((*store)->Commit({"e0"}, w).ok());
  std::unique_ptr<Store> replica = OpenReplicaOn(**asynchronous);
  ASSERT_NE(replica, nullptr);
  ASSERT_TRUE(ReachesSize(*replica, 1));

  ASSERT_TRUE(pair.standby->Stop().ok());
  absl::Notification done;
  absl::StatusOr<uint64_t> result = absl::UnknownError("not yet");
  std::thread committer([&] {
    StateWrites next;
    next.Put("k", "1");
    result = (*store)->Commit({"e1"}, next);
    done.Notify();
  });
  // The asynchronous standby has the commit the writer still waits on.
  ASSERT_TRUE(HeadRowReaches(**asynchronous, 2));
  absl::SleepFor(absl::Milliseconds(300));  // thirty turns of the replica's
  EXPECT_FALSE(done.HasBeenNotified()) << result.status();
  EXPECT_EQ(replica->GetSnapshot()->size(), 1u);
  EXPECT_EQ(*replica->GetSnapshot()->Get("k"), "0");

  ASSERT_TRUE(pair.standby->Restart().ok());
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(60)));
  committer.join();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(ReachesSize(*replica, 2));
  EXPECT_EQ(replica->GetSnapshot()->root(), (*store)->GetSnapshot()->root());
  EXPECT_EQ(*replica->GetSnapshot()->Get("k"), "1");

  // How far the standby's replay is behind: small while it keeps up (the
  // writer renews its lease, a commit, every third of it), growing while
  // its replay is paused, and no lag at all for a replica on the primary.
  const auto replay_lag = [&replica] {
    std::optional<FollowStatus> follow = PostgresFollowStatus(*replica);
    EXPECT_TRUE(follow.has_value());
    EXPECT_TRUE(follow && follow->at_standby);
    return follow && follow->replay_lag ? *follow->replay_lag : absl::InfiniteDuration();
  };
  EXPECT_LT(replay_lag(), absl::Seconds(10));
  ASSERT_TRUE((*asynchronous)->Execute("postgres", "SELECT pg_wal_replay_pause()").ok());
  absl::SleepFor(absl::Seconds(6));  // nearly two lease renewals not replayed
  const absl::Duration paused = replay_lag();
  EXPECT_GE(paused, absl::Seconds(5));
  EXPECT_LT(paused, absl::Seconds(60));
  ASSERT_TRUE((*asynchronous)->Execute("postgres", "SELECT pg_wal_replay_resume()").ok());
  absl::Duration resumed = paused;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(20);
       absl::Now() < deadline && resumed >= absl::Seconds(5);
       absl::SleepFor(absl::Milliseconds(100))) {
    resumed = replay_lag();
  }
  EXPECT_LT(resumed, absl::Seconds(5));
  // On the primary: once the replica has read the head there (not only
  // opened at it), it says it reads no standby.
  const absl::Time opened = absl::Now();
  std::unique_ptr<Store> on_primary = OpenReplicaOn(*pair.primary);
  ASSERT_NE(on_primary, nullptr);
  std::optional<FollowStatus> at_primary = PostgresFollowStatus(*on_primary);
  for (const absl::Time deadline = absl::Now() + absl::Seconds(20);
       absl::Now() < deadline && !(at_primary && at_primary->last_success > opened);
       absl::SleepFor(absl::Milliseconds(10))) {
    at_primary = PostgresFollowStatus(*on_primary);
  }
  ASSERT_TRUE(at_primary.has_value());
  ASSERT_GT(at_primary->last_success, opened);
  EXPECT_FALSE(at_primary->at_standby);
  EXPECT_FALSE(at_primary->replay_lag.has_value());
}

// On the primary, a commit whose wait for the synchronous standby was
// cancelled shows, unacknowledged: a replica there does not publish it. A
// writer that takes the lease after it (the standby back) acknowledges the
// head it finds, and the replica then publishes it.
TEST(PostgresReplicationTest, AReplicaDoesNotPublishACommitWhoseStandbyWaitWasCancelled) {
  Pair pair = StartPair("ledger");
  ASSERT_NE(pair.standby, nullptr);
  PostgresStoreOptions options = WriterOptions(pair);
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Commit({"e0"}, StateWrites()).ok());
  std::unique_ptr<Store> replica = OpenReplicaOn(*pair.primary);
  ASSERT_NE(replica, nullptr);
  ASSERT_TRUE(ReachesSize(*replica, 1));

  absl::StatusOr<uint64_t> result = CommitWithItsStandbyWaitCancelled(pair, **store, "e1");
  ASSERT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  ASSERT_TRUE(HeadRowReaches(*pair.primary, 2));  // committed there, unacknowledged
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(replica->GetSnapshot()->size(), 1u);
  store->reset();

  ASSERT_TRUE(pair.standby->Restart().ok());
  absl::StatusOr<std::unique_ptr<Store>> next = OpenPostgresStore(options);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ((*next)->Size(), 2u);
  ASSERT_TRUE(ReachesSize(*replica, 2));
}

}  // namespace
}  // namespace chemledger::storage
