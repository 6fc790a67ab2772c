// Deployment::Backup in process, without the network: who may back up, and
// that backups asked for at once never spoil one another (each is whole or
// refused as busy; none removes another's directory as left over from a
// crash). tests/backup_e2e_test.cc drives AdminService.Backup and restores.

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "services/chemledgerd/deployment.h"
#include "services/registry/registry_testing.h"
#include "tests/crash_parties.h"
#include "tests/in_process_deployment.h"
#include "tests/subprocess.h"

namespace chemledger::testing {
namespace {

class BackupDeploymentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = FreshTempDir("backup_deployment") + "/data";
    ASSERT_TRUE(InitInProcessDeployment(data_, "backup.example.cn", AdminKey()).ok());
    absl::StatusOr<std::unique_ptr<server::Deployment>> d = server::Deployment::Open(data_);
    ASSERT_TRUE(d.ok()) << d.status();
    deployment_ = *std::move(d);
  }

  // The backups' directories there now, partial ones included.
  std::vector<std::string> BackupDirectories() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(data_ + "/backups", ec)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  const v1::Actor admin_ =
      registry::testing::ExampleActor("root", v1::PLATFORM_ADMIN, "", AdminKey().verifying_key());
  std::string data_;
  std::unique_ptr<server::Deployment> deployment_;
};

TEST_F(BackupDeploymentTest, OnlyAPlatformAdministratorBacksUp) {
  for (v1::ActorRole role : {v1::REGULATOR, v1::ENTERPRISE_ADMIN}) {
    const v1::Actor other = registry::testing::ExampleActor(
        "other", role, role == v1::ENTERPRISE_ADMIN ? "91110000600037341L" : "",
        CrashKey(5).verifying_key());
    absl::StatusOr<server::BackupResult> refused = deployment_->Backup(other);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  }
  EXPECT_TRUE(BackupDirectories().empty());
  absl::StatusOr<server::BackupResult> backup = deployment_->Backup(admin_);
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_TRUE(std::filesystem::exists(backup->directory + "/checkpoint"));
}

TEST_F(BackupDeploymentTest, BackupsAskedForAtOnceAreWholeOrRefusedAsBusy) {
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE(round);
    absl::StatusOr<server::BackupResult> results[2] = {absl::UnknownError("not run"),
                                                       absl::UnknownError("not run")};
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        ++ready;
        while (ready.load() < 2) {
        }
        results[i] = deployment_->Backup(admin_);
      });
    }
    for (std::thread& t : threads) t.join();
    int whole = 0;
    for (const absl::StatusOr<server::BackupResult>& r : results) {
      if (r.ok()) {
        ++whole;
        EXPECT_TRUE(std::filesystem::exists(r->directory + "/checkpoint")) << r->directory;
        EXPECT_TRUE(std::filesystem::exists(r->directory + "/log/CURRENT")) << r->directory;
      } else {
        EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
      }
    }
    EXPECT_GE(whole, 1);
  }
  for (const std::string& name : BackupDirectories()) {
    EXPECT_NE(name.rfind(".partial-", 0), 0u) << name << " left behind";
  }
}

}  // namespace
}  // namespace chemledger::testing
