// The PostgreSQL backend (postgres_store.h) on a server of the test's own
// (testing/postgres_server.h): the store suite (store_conformance.h), and
// what is PostgreSQL's own: the schema's migrations, snapshots that read
// their own commit while commits go on, a server that cannot be reached, and
// tampering that CheckIntegrity must see.

#include "storage/postgres_store.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
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
  std::thread writer([&] {
    for (int i = 1; i <= 200; ++i) {
      StateWrites next;
      next.Put("count", absl::StrCat(i));
      ASSERT_TRUE(store->Commit({absl::StrCat("e", i)}, next).ok());
    }
    done = true;
  });
  // Each snapshot's count is the one of its own commit: its size - 1.
  int reads = 0;
  while (!done) {
    std::shared_ptr<const Snapshot> s = store->GetSnapshot();
    absl::StatusOr<std::optional<std::string>> count = s->Get("count");
    ASSERT_TRUE(count.ok()) << count.status();
    ASSERT_EQ(**count, absl::StrCat(s->size() - 1));
    ++reads;
  }
  writer.join();
  EXPECT_GT(reads, 0);
  EXPECT_EQ(store->Size(), 201u);
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
}

}  // namespace
}  // namespace chemledger::storage
