// A store written before stores kept state (the README's walk, written by
// chemledgerd at b79de4b: tests/testdata/pre_journal_deployment) opens with
// today's code: its state is built once from the log, every entry applied
// under the rules of its time, and `chemledgerd check` agrees with it.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "chemledger/state/state.pb.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "services/chemledgerd/deployment.h"
#include "services/ledger/code_state.h"
#include "services/registry/registry_state.h"
#include "services/waybill/waybill_state.h"
#include "storage/leveldb_log.h"
#include "tests/subprocess.h"

namespace chemledger::testing {
namespace {

constexpr char kCode[] = "91350100M000100Y43.M01.B20261123.1";

TEST(MigrationTest, AStoreWrittenBeforeStoresKeptStateOpensAndChecks) {
  const std::string data = FreshTempDir("migration") + "/data";
  std::filesystem::copy(RunfilePath("tests/testdata/pre_journal_deployment"), data,
                        std::filesystem::copy_options::recursive);
  // As an operator restoring a copy does: the data directory is private.
  std::filesystem::permissions(data, std::filesystem::perms::owner_all);
  std::filesystem::permissions(data + "/keys/note.key", std::filesystem::perms::owner_read |
                                                            std::filesystem::perms::owner_write);
  for (const auto& f : std::filesystem::directory_iterator(data + "/keys")) {
    std::filesystem::permissions(f.path(), std::filesystem::perms::owner_read |
                                               std::filesystem::perms::owner_write);
  }
  {
    absl::StatusOr<std::unique_ptr<storage::Store>> store =
        storage::OpenLevelDbStore(data + "/log");
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->StateAppliedSize(), std::nullopt);
    EXPECT_EQ((*store)->Size(), 23u);
  }
  uint64_t migrated_progress = 0;
  server::OpenOptions options;
  options.migration_progress = [&](uint64_t done, uint64_t) { migrated_progress = done; };
  {
    absl::StatusOr<std::unique_ptr<server::Deployment>> d = server::Deployment::Open(data, options);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(migrated_progress, 23u);
    EXPECT_EQ((*d)->store()->StateAppliedSize(), 23u);
    std::shared_ptr<const storage::Snapshot> s = (*d)->ledger_client()->Latest();
    absl::StatusOr<state::DeploymentRecord> deployment = registry::ReadDeployment(*s);
    ASSERT_TRUE(deployment.ok()) << deployment.status();
    EXPECT_EQ(deployment->deployment(), "chemledger.demo");
    absl::StatusOr<std::optional<v1::Product>> product =
        registry::FindProduct(*s, "91350100M000100Y43", "M01");
    ASSERT_TRUE(product.ok() && product->has_value());
    EXPECT_EQ((*product)->cas(), "67-56-1");
    absl::StatusOr<std::optional<ledger::CodeState>> code = ledger::FindCode(*s, kCode);
    ASSERT_TRUE(code.ok() && code->has_value()) << code.status();
    absl::StatusOr<std::vector<uint64_t>> history = ledger::History(*s, kCode);
    ASSERT_TRUE(history.ok());
    EXPECT_GE(history->size(), 3u);
    EXPECT_EQ((*code)->last_event_index, history->back());
    absl::StatusOr<std::vector<waybill::WaybillState>> waybill =
        waybill::WaybillsNumbered(*s, "YD110105-20261130-0001");
    ASSERT_TRUE(waybill.ok() && waybill->size() == 1u) << waybill.status();
    EXPECT_EQ(waybill->front().status, v1::CLOSED);
  }
  // Opened again: nothing to build, and the rebuild agrees with the state.
  migrated_progress = 0;
  {
    absl::StatusOr<std::unique_ptr<server::Deployment>> d = server::Deployment::Open(data, options);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(migrated_progress, 0u);
  }
  absl::StatusOr<server::CheckResult> check =
      server::CheckDeployment(data, data + "/check-scratch");
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->entries, 23u);
}

// `chemledgerd check` finds what was changed behind the server's back: a
// state row, and an entry's bytes.
TEST(MigrationTest, CheckFindsAStateRowAndAnEntryChangedBehindTheServersBack) {
  const std::string data = FreshTempDir("migration_tamper") + "/data";
  std::filesystem::copy(RunfilePath("tests/testdata/pre_journal_deployment"), data,
                        std::filesystem::copy_options::recursive);
  // As an operator restoring a copy does: the data directory is private.
  std::filesystem::permissions(data, std::filesystem::perms::owner_all);
  for (const auto& f : std::filesystem::directory_iterator(data + "/keys")) {
    std::filesystem::permissions(f.path(), std::filesystem::perms::owner_read |
                                               std::filesystem::perms::owner_write);
  }
  ASSERT_TRUE(server::Deployment::Open(data).ok());
  const auto tamper = [&](const std::string& key, const std::function<void(std::string*)>& edit) {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), data + "/log", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::string value;
    ASSERT_TRUE(db->Get(leveldb::ReadOptions(), key, &value).ok()) << key;
    edit(&value);
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), key, value).ok());
  };
  // The code's custodian, rewritten in its state record.
  const std::string code_key = std::string("sl/code/") + kCode;
  std::string original;
  tamper(code_key, [&](std::string* v) {
    original = *v;
    state::CodeRecord r;
    ASSERT_TRUE(r.ParseFromString(*v));
    r.set_custodian("91110105771583283D");
    *v = r.SerializeAsString();
  });
  absl::StatusOr<server::CheckResult> check =
      server::CheckDeployment(data, data + "/check-scratch");
  ASSERT_EQ(check.status().code(), absl::StatusCode::kDataLoss) << check.status();
  EXPECT_NE(check.status().message().find(std::string("l/code/") + kCode), std::string::npos)
      << check.status();
  tamper(code_key, [&](std::string* v) { *v = original; });
  ASSERT_TRUE(server::CheckDeployment(data, data + "/check-scratch").ok());

  // One byte of entry 5 changed.
  std::string entry_key = "e";
  for (int shift = 56; shift >= 0; shift -= 8) {
    entry_key.push_back(static_cast<char>(uint64_t{5} >> shift));
  }
  tamper(entry_key, [](std::string* v) { v->back() ^= 0x01; });
  check = server::CheckDeployment(data, data + "/check-scratch");
  ASSERT_EQ(check.status().code(), absl::StatusCode::kDataLoss) << check.status();
  EXPECT_NE(check.status().message().find("entry 5"), std::string::npos) << check.status();
}

}  // namespace
}  // namespace chemledger::testing
