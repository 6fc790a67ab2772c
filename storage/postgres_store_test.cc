// The PostgreSQL backend (postgres_store.h) on a server of the test's own
// (testing/postgres_server.h): the store suite (store_conformance.h), and
// what is PostgreSQL's own: the schema's migrations, snapshots that read
// their own commit while commits go on, a server that cannot be reached, and
// tampering that CheckIntegrity must see.

#include "storage/postgres_store.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "storage/store_conformance.h"
#include "testing/postgres_server.h"

namespace chemledger::storage {
namespace {

// One server for the whole binary, started at first use and stopped (its
// directory removed) when the binary exits.
testing::PostgresServer& Server() {
  static std::unique_ptr<testing::PostgresServer> server = [] {
    absl::StatusOr<std::unique_ptr<testing::PostgresServer>> s = testing::PostgresServer::Start();
    if (!s.ok()) {
      fprintf(stderr, "postgres_store_test: %s\n", s.status().ToString().c_str());
      std::abort();
    }
    return *std::move(s);
  }();
  return *server;
}

// Stores in fresh databases, by name.
class PostgresBackend final : public StoreBackend {
 public:
  std::unique_ptr<Store> Open(const std::string& name) override {
    const std::string database = absl::AsciiStrToLower(name);
    if (created_.emplace(database).second) {
      absl::Status s = Server().CreateDatabase(database);
      EXPECT_TRUE(s.ok()) << s;
      if (!s.ok()) return nullptr;
    }
    PostgresStoreOptions options;
    options.connection = Server().Connection(database);
    absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

 private:
  std::set<std::string> created_;
};

PostgresBackend postgres_backend;
INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformanceTest, ::testing::Values(&postgres_backend));

std::unique_ptr<Store> OpenIn(const std::string& database) {
  PostgresStoreOptions options;
  options.connection = Server().Connection(database);
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

TEST(PostgresStoreTest, TheSchemaIsCreatedOnceAndANewerOneIsRefused) {
  ASSERT_TRUE(Server().CreateDatabase("schema_versions").ok());
  {
    std::unique_ptr<Store> store = OpenIn("schema_versions");
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Commit({"e"}, StateWrites()).ok());
  }
  // Opened again: migrations already applied, the log as it was.
  {
    std::unique_ptr<Store> store = OpenIn("schema_versions");
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->Size(), 1u);
  }
  // A database a newer server migrated is not written by this one.
  ASSERT_TRUE(Server()
                  .Execute("schema_versions",
                           absl::StrCat("INSERT INTO chemledger_migrations (version) VALUES (",
                                        kPostgresSchemaVersion + 1, ")"))
                  .ok());
  PostgresStoreOptions options;
  options.connection = Server().Connection("schema_versions");
  absl::StatusOr<std::unique_ptr<Store>> refused = OpenPostgresStore(options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_NE(refused.status().message().find("newer than this server's"), std::string::npos);
}

TEST(PostgresStoreTest, AnUnreachableServerIsUnavailable) {
  PostgresStoreOptions options;
  options.connection = "host=127.0.0.1 port=1 user=postgres dbname=none connect_timeout=2";
  EXPECT_EQ(OpenPostgresStore(options).status().code(), absl::StatusCode::kUnavailable);
}

TEST(PostgresStoreTest, SnapshotsReadTheirOwnCommitWhileCommitsGoOn) {
  ASSERT_TRUE(Server().CreateDatabase("concurrent_reads").ok());
  std::unique_ptr<Store> store = OpenIn("concurrent_reads");
  ASSERT_NE(store, nullptr);
  StateWrites w;
  w.Put("count", "0");
  ASSERT_TRUE(store->Commit({"e0"}, w).ok());
  std::atomic<bool> done{false};
  std::atomic<int> commit_failures{0};
  std::thread writer([&] {
    for (int i = 1; i <= 200; ++i) {
      StateWrites next;
      next.Put("count", absl::StrCat(i));
      next.Put(absl::StrCat("k/", i), "written");
      if (!store->Commit({absl::StrCat("e", i)}, next).ok()) ++commit_failures;
    }
    done = true;
  });
  // Each snapshot's count is the one of its own commit: its size - 1; the
  // key its commit wrote is there, the one the next commit writes is not
  // (yet: a later snapshot must see it, whatever was remembered of its
  // absence).
  int reads = 0, wrong = 0;
  while (!done) {
    std::shared_ptr<const Snapshot> s = store->GetSnapshot();
    absl::StatusOr<std::optional<std::string>> count = s->Get("count");
    if (!count.ok() || !count->has_value() || **count != absl::StrCat(s->size() - 1)) ++wrong;
    absl::StatusOr<std::optional<std::string>> mine = s->Get(absl::StrCat("k/", s->size() - 1));
    absl::StatusOr<std::optional<std::string>> next = s->Get(absl::StrCat("k/", s->size()));
    if (s->size() > 1 && (!mine.ok() || !mine->has_value())) ++wrong;
    if (!next.ok() || next->has_value()) ++wrong;
    ++reads;
  }
  writer.join();
  std::shared_ptr<const Snapshot> last = store->GetSnapshot();
  for (int i = 1; i <= 200; ++i) {
    absl::StatusOr<std::optional<std::string>> k = last->Get(absl::StrCat("k/", i));
    if (!k.ok() || !k->has_value()) ++wrong;
  }
  EXPECT_EQ(commit_failures, 0);
  EXPECT_EQ(wrong, 0) << "of " << reads << " reads";
  EXPECT_GT(reads, 0);
  EXPECT_EQ(store->Size(), 201u);
}

TEST(PostgresStoreTest, ASecondWriterOnTheSameDatabaseIsRefused) {
  ASSERT_TRUE(Server().CreateDatabase("two_writers").ok());
  std::unique_ptr<Store> first = OpenIn("two_writers");
  ASSERT_NE(first, nullptr);
  PostgresStoreOptions options;
  options.connection = Server().Connection("two_writers");
  options.lease_wait = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<Store>> second = OpenPostgresStore(options);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  // Once the first is gone, another may write.
  first.reset();
  EXPECT_NE(OpenIn("two_writers"), nullptr);
}

// A writer paused past its lease (here: its lease made to lapse, as a
// SIGSTOP longer than it would) loses it to the next server, and when it
// writes again it writes nothing: the lease's epoch fences it.
TEST(PostgresStoreTest, AWriterWhoseLeaseLapsedIsFencedOffByTheNext) {
  ASSERT_TRUE(Server().CreateDatabase("lease_fencing").ok());
  std::atomic<int> lost{0};
  PostgresStoreOptions options;
  options.connection = Server().Connection("lease_fencing");
  options.lease = absl::Seconds(3);
  options.writer_name = "first";
  options.on_lease_lost = [&] { ++lost; };
  absl::StatusOr<std::unique_ptr<Store>> first = OpenPostgresStore(options);
  ASSERT_TRUE(first.ok()) << first.status();
  StateWrites w;
  w.Put("k", "first");
  ASSERT_TRUE((*first)->Commit({"e0"}, w).ok());

  // While the first renews its lease, a second waits and gives up.
  PostgresStoreOptions second_options;
  second_options.connection = options.connection;
  second_options.writer_name = "second";
  second_options.lease_wait = absl::Milliseconds(500);
  absl::StatusOr<std::unique_ptr<Store>> refused = OpenPostgresStore(second_options);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("'first' holds the writer's lease"),
            std::string::npos)
      << refused.status();

  ASSERT_TRUE(Server()
                  .Execute("lease_fencing",
                           "UPDATE store_head SET lease_expires = clock_timestamp() - "
                           "interval '1 second'")
                  .ok());
  absl::StatusOr<std::unique_ptr<Store>> second = OpenPostgresStore(second_options);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*second)->Size(), 1u);
  StateWrites w2;
  w2.Put("k", "second");
  ASSERT_TRUE((*second)->Commit({"e1"}, w2).ok());

  // The first resumes: its commit writes nothing, and it learns it lost.
  StateWrites w3;
  w3.Put("k", "first again");
  absl::StatusOr<uint64_t> late = (*first)->Commit({"e1 from the first"}, w3);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition) << late.status();
  EXPECT_FALSE((*first)->Commit({"e2"}, StateWrites()).ok()) << "read-only after fencing";
  for (int i = 0; i < 50 && lost == 0; ++i) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(lost, 1) << "told once that the lease was taken";
  EXPECT_EQ((*second)->Size(), 2u);
  EXPECT_EQ(*(*second)->GetSnapshot()->Entry(1), "e1");
  EXPECT_EQ(*(*second)->GetSnapshot()->Get("k"), "second");
  ASSERT_TRUE((*second)->Commit({"e2"}, StateWrites()).ok());
  absl::StatusOr<IntegrityReport> check = (*second)->CheckIntegrity(absl::nullopt);
  EXPECT_TRUE(check.ok()) << check.status();
}

// A writer whose commit failed while its connection stayed up (the
// database refused the statement: a full disk, a timeout) is read-only; it
// says so once and lets go of the lease, so that a standby takes over at
// once rather than wait for a writer that renews a lease it cannot use.
TEST(PostgresStoreTest, AWriterWhoseCommitFailedReleasesTheLease) {
  ASSERT_TRUE(Server().CreateDatabase("commit_failed").ok());
  std::atomic<int> told{0};
  absl::Mutex mu;
  std::string why;
  PostgresStoreOptions options;
  options.connection = Server().Connection("commit_failed");
  options.lease = absl::Seconds(60);
  options.writer_name = "first";
  options.on_read_only = [&](const absl::Status& s) {
    absl::MutexLock lock(&mu);
    why = std::string(s.message());
    ++told;
  };
  absl::StatusOr<std::unique_ptr<Store>> first = OpenPostgresStore(options);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->Commit({"e0"}, StateWrites()).ok());
  ASSERT_TRUE(Server()
                  .Execute("commit_failed",
                           "CREATE FUNCTION refuse_entries() RETURNS trigger LANGUAGE plpgsql AS "
                           "$$ BEGIN RAISE EXCEPTION 'no space left (test)'; END $$; "
                           "CREATE TRIGGER refuse_entries BEFORE INSERT ON entries FOR EACH ROW "
                           "EXECUTE FUNCTION refuse_entries()")
                  .ok());
  EXPECT_FALSE((*first)->Commit({"e1"}, StateWrites()).ok());
  ASSERT_TRUE(Server().Execute("commit_failed", "DROP TRIGGER refuse_entries ON entries").ok());
  EXPECT_FALSE((*first)->Commit({"e1"}, StateWrites()).ok()) << "read-only until reopened";
  for (int i = 0; i < 100 && told == 0; ++i) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(told, 1);
  {
    absl::MutexLock lock(&mu);
    EXPECT_NE(why.find("no space left (test)"), std::string::npos) << why;
  }
  // The lease is free long before its 60 s would lapse.
  PostgresStoreOptions second_options;
  second_options.connection = options.connection;
  second_options.writer_name = "second";
  second_options.lease_wait = absl::Seconds(5);
  absl::StatusOr<std::unique_ptr<Store>> second = OpenPostgresStore(second_options);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*second)->Size(), 1u);
  ASSERT_TRUE((*second)->Commit({"e1"}, StateWrites()).ok());
  EXPECT_EQ(told, 1);
}

// A writer that is gone (its connection closed, as when its process is
// killed) is taken over at once, without waiting for its lease to lapse.
TEST(PostgresStoreTest, AWriterWhoseConnectionIsGoneIsTakenOverAtOnce) {
  ASSERT_TRUE(Server().CreateDatabase("lease_gone").ok());
  PostgresStoreOptions options;
  options.connection = Server().Connection("lease_gone");
  options.lease = absl::Seconds(60);
  absl::StatusOr<std::unique_ptr<Store>> first = OpenPostgresStore(options);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->Commit({"e0"}, StateWrites()).ok());
  ASSERT_TRUE(Server()
                  .Execute("lease_gone",
                           "SELECT pg_terminate_backend(writer_pid) FROM store_head")
                  .ok());
  options.lease_wait = absl::Seconds(5);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<Store>> second = OpenPostgresStore(options);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ((*second)->Size(), 1u);
}

// Clearing the state for a rebuild (a new state format) leaves what a
// reader beside the writer (a replica of an older build, `check`) took a
// snapshot of: it still reads that state, not an empty one under its head.
TEST(PostgresStoreTest, ClearingTheStateLeavesEarlierSnapshotsTheirState) {
  ASSERT_TRUE(Server().CreateDatabase("clear_state").ok());
  std::unique_ptr<Store> writer = OpenIn("clear_state");
  ASSERT_NE(writer, nullptr);
  StateWrites w;
  w.Put("k", "v");
  w.Put("gone", "x");
  ASSERT_TRUE(writer->Commit({"e0"}, w).ok());
  StateWrites d;
  d.Delete("gone");
  ASSERT_TRUE(writer->Commit({"e1"}, d).ok());
  PostgresStoreOptions options;
  options.connection = Server().Connection("clear_state");
  options.read_only = true;
  options.lease_wait = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<Store>> reader = OpenPostgresStore(options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::shared_ptr<const Snapshot> before = (*reader)->GetSnapshot();
  std::shared_ptr<const Snapshot> writer_before = writer->GetSnapshot();

  ASSERT_TRUE(writer->ClearState().ok());
  EXPECT_EQ(*before->Get("k"), "v");
  EXPECT_EQ(*writer_before->Get("k"), "v");
  EXPECT_EQ(*before->Get("gone"), std::nullopt);
  int keys = 0;
  ASSERT_TRUE(before
                  ->Scan("", "",
                         [&](absl::string_view, absl::string_view) {
                           ++keys;
                           return true;
                         })
                  .ok());
  EXPECT_EQ(keys, 1);
  // After it: no state, and the log as it was.
  std::shared_ptr<const Snapshot> after = writer->GetSnapshot();
  EXPECT_EQ(*after->Get("k"), std::nullopt);
  keys = 0;
  ASSERT_TRUE(after
                  ->Scan("", "",
                         [&](absl::string_view, absl::string_view) {
                           ++keys;
                           return true;
                         })
                  .ok());
  EXPECT_EQ(keys, 0);
  EXPECT_EQ(writer->StateAppliedSize(), std::nullopt);
  EXPECT_EQ(writer->Size(), 2u);
  // The state written again reads as written.
  StateWrites again;
  again.Put("k", "rebuilt");
  ASSERT_TRUE(writer->ApplyState(2, again).ok());
  EXPECT_EQ(*writer->GetSnapshot()->Get("k"), "rebuilt");
  EXPECT_EQ(*before->Get("k"), "v");
}

TEST(PostgresStoreTest, AReadOnlyStoreOpensBesideTheWriterAndWritesNothing) {
  ASSERT_TRUE(Server().CreateDatabase("read_only").ok());
  std::unique_ptr<Store> writer = OpenIn("read_only");
  ASSERT_NE(writer, nullptr);
  StateWrites w;
  w.Put("k", "v");
  ASSERT_TRUE(writer->Commit({"e0"}, w).ok());
  PostgresStoreOptions options;
  options.connection = Server().Connection("read_only");
  options.read_only = true;
  options.lease_wait = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<Store>> reader = OpenPostgresStore(options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->Size(), 1u);
  EXPECT_EQ(*(*reader)->GetSnapshot()->Get("k"), "v");
  EXPECT_EQ((*reader)->Commit({"e1"}, StateWrites()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<IntegrityReport> check = (*reader)->CheckIntegrity(absl::nullopt);
  EXPECT_TRUE(check.ok()) << check.status();
  // The writer still writes.
  EXPECT_TRUE(writer->Commit({"e1"}, StateWrites()).ok());
  EXPECT_EQ(writer->Size(), 2u);
}

std::unique_ptr<Store> OpenFollowerIn(const std::string& database) {
  PostgresStoreOptions options;
  options.connection = Server().Connection(database);
  options.read_only = true;
  options.follow_head_every = absl::Milliseconds(10);
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// Waits up to 10 s for `store` to publish log size `size`.
bool ReachesSize(const Store& store, uint64_t size) {
  for (const absl::Time deadline = absl::Now() + absl::Seconds(10); absl::Now() < deadline;) {
    if (store.GetSnapshot()->size() >= size) return store.GetSnapshot()->size() == size;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

// Waits up to 10 s for `follower` to fail to follow the head: why (OK when
// it did not).
absl::Status FirstFollowFailure(const Store& follower) {
  absl::Status last;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(10); absl::Now() < deadline;) {
    last = PostgresFollowStatus(follower)->last_read;
    if (!last.ok()) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return last;
}

TEST(PostgresStoreTest, AFollowingReadOnlyStoreServesEachCommitOfTheWriterAndNoStaleValue) {
  ASSERT_TRUE(Server().CreateDatabase("following").ok());
  std::unique_ptr<Store> writer = OpenIn("following");
  ASSERT_NE(writer, nullptr);
  StateWrites first;
  first.Put("k/a", "1");
  first.Put("k/b", "1");
  ASSERT_TRUE(writer->Commit({"e0"}, first).ok());
  std::unique_ptr<Store> follower = OpenFollowerIn("following");
  ASSERT_NE(follower, nullptr);
  // Published once the writer has recorded it acknowledged (the writer is
  // quiet: its lease renewer records it).
  ASSERT_TRUE(ReachesSize(*follower, 1));
  std::shared_ptr<const Snapshot> at1 = follower->GetSnapshot();
  ASSERT_EQ(at1->size(), 1u);
  // Read (and so cached) at the follower's latest snapshot.
  EXPECT_EQ(*at1->Get("k/a"), "1");
  std::vector<std::string> keys;
  ASSERT_TRUE(at1->Scan("k/", "k0",
                        [&](absl::string_view k, absl::string_view) {
                          keys.emplace_back(k);
                          return true;
                        })
                  .ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"k/a", "k/b"}));

  StateWrites second;
  second.Put("k/a", "2");
  second.Delete("k/b");
  second.Put("k/c", "2");
  ASSERT_TRUE(writer->Commit({"e1", "e2"}, second).ok());
  ASSERT_TRUE(ReachesSize(*follower, 3));
  std::shared_ptr<const Snapshot> at3 = follower->GetSnapshot();
  EXPECT_EQ(at3->root(), writer->GetSnapshot()->root());
  EXPECT_EQ(*at3->Get("k/a"), "2");
  EXPECT_EQ(*at3->Get("k/b"), std::nullopt);
  keys.clear();
  ASSERT_TRUE(at3->Scan("k/", "k0",
                        [&](absl::string_view k, absl::string_view) {
                          keys.emplace_back(k);
                          return true;
                        })
                  .ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"k/a", "k/c"}));
  EXPECT_EQ(*at3->Entry(2), "e2");
  // The snapshot taken before still reads its own commit.
  EXPECT_EQ(*at1->Get("k/a"), "1");
  EXPECT_EQ(*at1->Get("k/b"), "1");
  EXPECT_EQ(at1->Entry(1).status().code(), absl::StatusCode::kOutOfRange);
  std::optional<FollowStatus> status = PostgresFollowStatus(*follower);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->last_read.ok()) << status->last_read;
  EXPECT_EQ(status->size, 3u);
  EXPECT_FALSE(PostgresFollowStatus(*writer).has_value());
  EXPECT_EQ(follower->Commit({"e3"}, StateWrites()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PostgresStoreTest, AFollowerRefusesADatabaseWhoseLogDoesNotExtendTheOneItServed) {
  ASSERT_TRUE(Server().CreateDatabase("forked").ok());
  std::unique_ptr<Store> writer = OpenIn("forked");
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Commit({"a0", "a1"}, StateWrites()).ok());
  std::unique_ptr<Store> follower = OpenFollowerIn("forked");
  ASSERT_NE(follower, nullptr);
  ASSERT_TRUE(ReachesSize(*follower, 2));
  const Sha256Digest served = follower->GetSnapshot()->root();
  writer.reset();
  // Another log in its place (a different database behind the same
  // address), further along than the one served.
  ASSERT_TRUE(Server()
                  .Execute("forked",
                           "DROP TABLE entries, tree_nodes, state_versions, store_head, "
                           "chemledger_migrations")
                  .ok());
  writer = OpenIn("forked");
  ASSERT_NE(writer, nullptr);
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(writer->Commit({absl::StrCat("b", i)}, StateWrites()).ok());
  absl::Status last;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(10); absl::Now() < deadline;) {
    last = PostgresFollowStatus(*follower)->last_read;
    if (last.code() == absl::StatusCode::kDataLoss) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  // Seen while the other log is shorter ("the head went back") or once it
  // is longer (not an extension): either way, for good.
  EXPECT_EQ(last.code(), absl::StatusCode::kDataLoss) << last;
  EXPECT_NE(last.message().find("followed a log of size 2"), std::string::npos) << last;
  EXPECT_EQ(follower->GetSnapshot()->size(), 2u);
  EXPECT_EQ(follower->GetSnapshot()->root(), served);
  // What the database holds now is not what the published head names: no
  // read of it is served.
  EXPECT_EQ(follower->GetSnapshot()->Entry(0).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(follower->GetSnapshot()->Get("k").status().code(), absl::StatusCode::kDataLoss);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(PostgresFollowStatus(*follower)->last_read.code(), absl::StatusCode::kDataLoss);
}

// After a failover the promoted standby may hold the last acknowledged
// commit but not its record (written without waiting for the standby): the
// record goes back while the log still extends the one served. The
// follower waits for the writer to record it again, rather than taking the
// database for another one. It also tells how long ago the writer's lease
// lapsed.
TEST(PostgresStoreTest, AFollowerWaitsOutAnAcknowledgementThatWentBack) {
  ASSERT_TRUE(Server().CreateDatabase("ack_back").ok());
  PostgresStoreOptions options;
  options.connection = Server().Connection("ack_back");
  options.lease = absl::Seconds(60);  // renewed every 20 s: not during the test's look
  absl::StatusOr<std::unique_ptr<Store>> writer = OpenPostgresStore(options);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->Commit({"e0"}, StateWrites()).ok());
  ASSERT_TRUE((*writer)->Commit({"e1"}, StateWrites()).ok());
  std::unique_ptr<Store> follower = OpenFollowerIn("ack_back");
  ASSERT_NE(follower, nullptr);
  ASSERT_TRUE(ReachesSize(*follower, 2));
  ASSERT_TRUE(Server()
                  .Execute("ack_back",
                           "UPDATE store_head SET acknowledged_version = NULL, "
                           "acknowledged_size = NULL, acknowledged_root = NULL, "
                           "lease_expires = clock_timestamp() - interval '30 seconds'")
                  .ok());
  const absl::Status last = FirstFollowFailure(*follower);
  EXPECT_EQ(last.code(), absl::StatusCode::kUnavailable) << last;
  EXPECT_NE(last.message().find("behind the one served"), std::string::npos) << last;
  EXPECT_EQ(follower->GetSnapshot()->size(), 2u);
  EXPECT_EQ(*follower->GetSnapshot()->Entry(1), "e1");  // reads still served
  // The writer's next commit records the one before it; the renewer, its own.
  ASSERT_TRUE((*writer)->Commit({"e2"}, StateWrites()).ok());
  ASSERT_TRUE(ReachesSize(*follower, 3));
  absl::SleepFor(absl::Milliseconds(50));
  std::optional<FollowStatus> status = PostgresFollowStatus(*follower);
  EXPECT_TRUE(status->last_read.ok()) << status->last_read;
  EXPECT_GE(status->lease_lapsed, absl::Seconds(29));
  EXPECT_LT(status->lease_lapsed, absl::Seconds(60));
}

TEST(PostgresStoreTest, AFollowerPublishesNoHeadWhoseStateIsNotBuiltYet) {
  ASSERT_TRUE(Server().CreateDatabase("unbuilt").ok());
  std::unique_ptr<Store> writer = OpenIn("unbuilt");
  ASSERT_NE(writer, nullptr);
  StateWrites w;
  w.Put("k", "1");
  ASSERT_TRUE(writer->Commit({"e0"}, w).ok());
  std::unique_ptr<Store> follower = OpenFollowerIn("unbuilt");
  ASSERT_NE(follower, nullptr);
  ASSERT_TRUE(ReachesSize(*follower, 1));
  // Entries without their state (as a writer rebuilding the state has).
  ASSERT_TRUE(writer->Append({"e1", "e2"}).ok());
  const absl::Status last = FirstFollowFailure(*follower);
  EXPECT_EQ(last.code(), absl::StatusCode::kUnavailable) << last;
  EXPECT_EQ(follower->GetSnapshot()->size(), 1u);
  StateWrites built;
  built.Put("k", "3");
  ASSERT_TRUE(writer->ApplyState(3, built).ok());
  ASSERT_TRUE(ReachesSize(*follower, 3));
  EXPECT_EQ(*follower->GetSnapshot()->Get("k"), "3");
}

// A database of schema 2 (before the writer recorded what it acknowledged):
// a replica of this version refuses it; the writer migrates it and, as it
// takes the lease, records the head it finds as acknowledged, so that a
// replica publishes it without waiting for a write.
TEST(PostgresStoreTest, ASchemaTwoDatabaseIsMigratedAndItsHeadAcknowledged) {
  ASSERT_TRUE(Server().CreateDatabase("schema_two").ok());
  {
    std::unique_ptr<Store> writer = OpenIn("schema_two");
    ASSERT_NE(writer, nullptr);
    StateWrites w;
    w.Put("k", "v");
    ASSERT_TRUE(writer->Commit({"e0", "e1"}, w).ok());
  }
  ASSERT_TRUE(Server()
                  .Execute("schema_two",
                           "ALTER TABLE store_head DROP COLUMN acknowledged_version, "
                           "DROP COLUMN acknowledged_size, DROP COLUMN acknowledged_root; "
                           "DELETE FROM chemledger_migrations WHERE version = 3")
                  .ok());
  PostgresStoreOptions replica_options;
  replica_options.connection = Server().Connection("schema_two");
  replica_options.read_only = true;
  replica_options.follow_head_every = absl::Milliseconds(10);
  absl::StatusOr<std::unique_ptr<Store>> refused = OpenPostgresStore(replica_options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();

  std::unique_ptr<Store> writer = OpenIn("schema_two");
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->Size(), 2u);
  EXPECT_EQ(*Server().QueryValue("schema_two", "SELECT acknowledged_size FROM store_head"), "2");
  absl::StatusOr<std::unique_ptr<Store>> replica = OpenPostgresStore(replica_options);
  ASSERT_TRUE(replica.ok()) << replica.status();
  EXPECT_EQ((*replica)->Size(), 2u);
  EXPECT_EQ((*replica)->GetSnapshot()->root(), writer->GetSnapshot()->root());
  EXPECT_EQ(*(*replica)->GetSnapshot()->Get("k"), "v");
}

// A server of this version waiting for the lease that a live writer of an
// older one holds (on a database of schema 2) migrates nothing until it
// holds the lease.
TEST(PostgresStoreTest, AServerWaitingForTheLeaseMigratesNothingUnderALiveWriter) {
  ASSERT_TRUE(Server().CreateDatabase("old_writer").ok());
  {
    std::unique_ptr<Store> writer = OpenIn("old_writer");
    ASSERT_NE(writer, nullptr);
    ASSERT_TRUE(writer->Commit({"e0"}, StateWrites()).ok());
  }
  // Schema 2, its lease held by a live backend (the checkpointer's stands
  // for the older writer's connection).
  ASSERT_TRUE(
      Server()
          .Execute("old_writer",
                   "ALTER TABLE store_head DROP COLUMN acknowledged_version, "
                   "DROP COLUMN acknowledged_size, DROP COLUMN acknowledged_root; "
                   "DELETE FROM chemledger_migrations WHERE version = 3; "
                   "UPDATE store_head SET writer = 'older', writer_epoch = writer_epoch + 1, "
                   "  lease_expires = clock_timestamp() + interval '1 hour', "
                   "  writer_pid = (SELECT pid FROM pg_stat_activity "
                   "                WHERE backend_type = 'checkpointer')")
          .ok());
  PostgresStoreOptions options;
  options.connection = Server().Connection("old_writer");
  options.lease_wait = absl::Milliseconds(500);
  absl::StatusOr<std::unique_ptr<Store>> waited = OpenPostgresStore(options);
  EXPECT_EQ(waited.status().code(), absl::StatusCode::kFailedPrecondition) << waited.status();
  EXPECT_NE(waited.status().message().find("'older' holds the writer's lease"), std::string::npos)
      << waited.status();
  EXPECT_EQ(*Server().QueryValue("old_writer", "SELECT max(version) FROM chemledger_migrations"),
            "2");
  // The older writer lets the lease go: the next server takes it and
  // migrates.
  ASSERT_TRUE(Server()
                  .Execute("old_writer",
                           "UPDATE store_head SET writer = NULL, writer_pid = NULL, "
                           "lease_expires = NULL")
                  .ok());
  absl::StatusOr<std::unique_ptr<Store>> writer = OpenPostgresStore(options);
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_EQ(*Server().QueryValue("old_writer", "SELECT max(version) FROM chemledger_migrations"),
            absl::StrCat(kPostgresSchemaVersion));
  EXPECT_EQ(*Server().QueryValue("old_writer", "SELECT acknowledged_size FROM store_head"), "1");
  EXPECT_TRUE((*writer)->Commit({"e1"}, StateWrites()).ok());
}

TEST(PostgresStoreTest, WithoutASynchronousStandbyARequiringStoreRefusesToOpen) {
  ASSERT_TRUE(Server().CreateDatabase("needs_standby").ok());
  PostgresStoreOptions options;
  options.connection = Server().Connection("needs_standby");
  options.require_synchronous_standby = true;
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("synchronous_standby_names"), std::string::npos)
      << store.status();
}

TEST(PostgresStoreTest, ReadsInsideAScanDoNotWaitForItsConnection) {
  ASSERT_TRUE(Server().CreateDatabase("nested_reads").ok());
  PostgresStoreOptions options;
  options.connection = Server().Connection("nested_reads");
  options.read_connections = 1;
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
  ASSERT_TRUE(store.ok()) << store.status();
  StateWrites w;
  for (int i = 0; i < 1200; ++i) w.Put(absl::StrCat("i/", 1000 + i), absl::StrCat(i));
  ASSERT_TRUE((*store)->Commit({"e"}, w).ok());
  std::shared_ptr<const Snapshot> s = (*store)->GetSnapshot();
  int visited = 0;
  ASSERT_TRUE(s->Scan("i/", "i0",
                      [&](absl::string_view key, absl::string_view value) {
                        absl::StatusOr<std::optional<std::string>> again = s->Get(key);
                        EXPECT_TRUE(again.ok() && *again == std::string(value)) << key;
                        ++visited;
                        return true;
                      })
                  .ok());
  EXPECT_EQ(visited, 1200);
  absl::StatusOr<IntegrityReport> report = (*store)->CheckIntegrity(TreeHead{1, s->root()});
  EXPECT_TRUE(report.ok()) << report.status();
}

TEST(PostgresStoreTest, CheckIntegrityFindsAnAlteredEntryOrNode) {
  ASSERT_TRUE(Server().CreateDatabase("tampered").ok());
  std::unique_ptr<Store> store = OpenIn("tampered");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Commit({"a", "b", "c", "d", "e"}, StateWrites()).ok());
  ASSERT_TRUE(store->CheckIntegrity().ok());
  ASSERT_TRUE(Server().Execute("tampered", "UPDATE entries SET data = 'B' WHERE idx = 1").ok());
  absl::StatusOr<IntegrityReport> report = store->CheckIntegrity();
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss) << report.status();
  ASSERT_TRUE(Server().Execute("tampered", "UPDATE entries SET data = 'b' WHERE idx = 1").ok());
  ASSERT_TRUE(store->CheckIntegrity().ok());
  ASSERT_TRUE(Server().Execute("tampered", "DELETE FROM entries WHERE idx = 3").ok());
  report = store->CheckIntegrity();
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss) << report.status();
  EXPECT_NE(report.status().message().find("entry 3 is missing"), std::string::npos)
      << report.status();
  ASSERT_TRUE(Server().Execute("tampered", "INSERT INTO entries VALUES (3, 'd')").ok());
  ASSERT_TRUE(store->CheckIntegrity().ok());
  // A row no commit wrote.
  ASSERT_TRUE(Server().Execute("tampered", "INSERT INTO entries VALUES (9, 'foreign')").ok());
  report = store->CheckIntegrity();
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss) << report.status();
  EXPECT_NE(report.status().message().find("rows no commit wrote"), std::string::npos)
      << report.status();
  ASSERT_TRUE(Server().Execute("tampered", "DELETE FROM entries WHERE idx = 9").ok());
  ASSERT_TRUE(store->CheckIntegrity().ok());
  // A stored node changed.
  ASSERT_TRUE(Server()
                  .Execute("tampered",
                           "UPDATE tree_nodes SET hash = sha256('x') WHERE level = 1 AND idx = 1")
                  .ok());
  report = store->CheckIntegrity();
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss) << report.status();
  EXPECT_NE(report.status().message().find("not the hash of its entries"), std::string::npos)
      << report.status();
}

}  // namespace
}  // namespace chemledger::storage
