#include "journal/ledger_client.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "storage/leveldb_log.h"
#include "tests/subprocess.h"

namespace chemledger::journal {
namespace {

class KeptSnapshotsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::OpenLevelDbStore(
        testing::FreshTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  void Write(int n) {
    ASSERT_TRUE(store_->Commit({absl::StrCat("entry ", n)}, {}).ok());
  }

  // A replica's client: the same keeping of snapshots as the writer's,
  // over a store this test writes to itself.
  std::unique_ptr<LedgerClient> Client(SnapshotRetention retention) {
    return NewReadReplicaLedgerClient(store_.get(), retention, "the writer", nullptr);
  }

  std::unique_ptr<storage::Store> store_;
};

TEST_F(KeptSnapshotsTest, AKeptSnapshotIsReadUntilItExpiresAndThenLetGo) {
  SnapshotRetention retention;
  retention.keep = absl::Milliseconds(300);
  std::unique_ptr<LedgerClient> client = Client(retention);
  Write(1);
  std::weak_ptr<const storage::Snapshot> kept;
  {
    std::shared_ptr<const storage::Snapshot> first = client->Latest();
    ASSERT_EQ(first->size(), 1u);
    client->Keep(first);
    kept = first;
  }
  Write(2);
  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> again = client->At(1);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->size(), 1u);
  again = absl::UnknownError("dropped");
  EXPECT_FALSE(kept.expired());

  // No paged read comes again; the ordinary reads after its expiry let it go.
  absl::SleepFor(absl::Milliseconds(400));
  for (int i = 0; i < 30 && !kept.expired(); ++i) {
    client->Latest();
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(kept.expired()) << "an expired snapshot is still held";
  EXPECT_EQ(client->At(1).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(client->At(2).ok());  // the latest is always there
}

TEST_F(KeptSnapshotsTest, ASnapshotReadAgainAndAgainStillExpiresAtItsMaximumAge) {
  SnapshotRetention retention;
  retention.keep = absl::Hours(1);
  retention.max_age = absl::Milliseconds(500);
  std::unique_ptr<LedgerClient> client = Client(retention);
  Write(1);
  client->Keep(client->Latest());
  Write(2);
  const absl::Time start = absl::Now();
  absl::Status status;
  while (absl::Now() - start < absl::Seconds(5)) {
    status = client->At(1).status();
    if (!status.ok()) break;
    client->Keep(*client->At(1));  // a page token handed out again
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(450));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST_F(KeptSnapshotsTest, AtMostMaxKeptAreKeptTheLeastRecentlyUsedGoFirst) {
  SnapshotRetention retention;
  retention.max_kept = 2;
  std::unique_ptr<LedgerClient> client = Client(retention);
  for (int n = 1; n <= 3; ++n) {
    Write(n);
    client->Keep(client->Latest());
    absl::SleepFor(absl::Milliseconds(2));
  }
  Write(4);
  EXPECT_EQ(client->At(1).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(client->At(2).ok());
  EXPECT_TRUE(client->At(3).ok());
  EXPECT_EQ(client->At(5).status().code(), absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace chemledger::journal
