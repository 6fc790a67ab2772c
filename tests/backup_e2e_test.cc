// Online backup and restore, end to end (docs/deployment.md, "Backup and
// restore"): a backup taken through AdminService while events keep coming
// holds every event acknowledged before it was asked for; restored into a
// new data directory it is at exactly its signed checkpoint, passes
// `chemledgerd check`, serves, and the log it goes on with extends that
// checkpoint. Runs against chemledgerd, and against ledgerd in the cluster
// shape (tools/cluster/e2e.sh).

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "chemledger/v1/admin_service.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/key_files.h"
#include "gtest/gtest.h"
#include "tests/e2e_server.h"

namespace chemledger::testing {
namespace {

class BackupE2eTest : public ChemledgerdE2eTest {};

TEST_F(BackupE2eTest, ABackupTakenWhileServingRestoresChecksAndGoesOn) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = IssueM01(kAcme, *acme_operator_, "BACKUP", 40);
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();

  // Events keep coming while the backup is taken.
  std::atomic<bool> stop{false};
  std::mutex mu;
  uint64_t highest_acknowledged = 0;
  std::thread writer([&] {
    for (int n = 0; !stop.load() && n < 40; ++n) {
      const v1::Event e =
          AcmeEvent(v1::COMMISSIONING, issued.labels[n].code(), n, "backup-");
      v1::AppendResponse response;
      if (AppendEvent(*acme_operator_, e, &response).ok()) {
        std::lock_guard<std::mutex> lock(mu);
        highest_acknowledged = std::max(highest_acknowledged, response.log_index());
      }
    }
  });
  absl::SleepFor(absl::Milliseconds(150));
  uint64_t acknowledged_before = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    acknowledged_before = highest_acknowledged;
  }
  v1::BackupResponse backup;
  const grpc::Status backed_up = Read(*admin_, api::kBackupMethod, v1::BackupRequest(), &backup);
  stop = true;
  writer.join();
  ASSERT_TRUE(backed_up.ok()) << backed_up.error_message();
  ASSERT_GT(acknowledged_before, 0u);
  EXPECT_GT(backup.checkpoint().tree_size(), acknowledged_before);
  EXPECT_GT(backup.records(), 0u);
  absl::StatusOr<crypto::NoteVerifier> note_key =
      crypto::NoteVerifier::FromVerifierKey(note_verifier_key_);
  ASSERT_TRUE(note_key.ok());
  absl::StatusOr<crypto::Checkpoint> checkpoint =
      crypto::OpenCheckpoint(backup.checkpoint().signed_note(), kDeployment, *note_key);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ(checkpoint->size, backup.checkpoint().tree_size());
  EXPECT_TRUE(std::filesystem::exists(backup.directory() + "/log/CURRENT")) << backup.directory();

  // Only platform administrators take backups.
  v1::BackupResponse refused;
  EXPECT_EQ(Read(*regulator_, api::kBackupMethod, v1::BackupRequest(), &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // The same from the command line, which keeps the checkpoint here too.
  ASSERT_TRUE(crypto::SaveSigningKey(*admin_, dir_ + "/admin-cli.key", {}).ok());
  auto [code, out] = RunShell(absl::StrCat(
      "exec '", RunfilePath("tools/chemctl/chemctl"), "' admin backup ",
      ServerFlags("chemledger.v1.AdminService"), " --key '", dir_, "/admin-cli.key' --out '",
      dir_, "/cli.checkpoint'"));
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("backup: " + dir_ + "/data/backups/"), std::string::npos) << out;

  // The machine is lost after the backup: what came after it is gone, the
  // backup and the keys (backed up apart) remain.
  ASSERT_NO_FATAL_FAILURE(KillServer());
  ASSERT_EQ(RunShell("cp -a '" + dir_ + "/data/keys' '" + dir_ + "/keys-backup'").first, 0);
  ASSERT_EQ(RunShell("cp -a '" + backup.directory() + "' '" + dir_ + "/the-backup'").first, 0);
  ASSERT_EQ(RunShell("mv '" + dir_ + "/data' '" + dir_ + "/lost'").first, 0);

  // A restore into a directory that exists, or with keys of another
  // deployment, is refused.
  std::tie(code, out) = RunChemledgerd({"restore", "--backup", dir_ + "/the-backup", "--keys",
                                        dir_ + "/keys-backup", "--data", dir_ + "/lost"});
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("exists"), std::string::npos) << out;
  ASSERT_EQ(RunShell("mkdir -p '" + dir_ + "/other-keys'").first, 0);
  ASSERT_TRUE(crypto::SaveSigningKey(crypto::SigningKey::Generate(),
                                     dir_ + "/other-keys/note.key", {})
                  .ok());
  std::tie(code, out) = RunChemledgerd({"restore", "--backup", dir_ + "/the-backup", "--keys",
                                        dir_ + "/other-keys", "--data", dir_ + "/data"});
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("not the key the backup's note.vkey names"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/data"));

  std::tie(code, out) = RunChemledgerd({"restore", "--backup", dir_ + "/the-backup", "--keys",
                                        dir_ + "/keys-backup", "--data", dir_ + "/data"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find(absl::StrCat("log size ", checkpoint->size)), std::string::npos) << out;
  // Made aside and renamed whole: nothing is left beside it.
  EXPECT_EQ(RunShell("ls -d '" + dir_ + "'/data.restoring-* 2>/dev/null | wc -l").second, "0\n");
  // A scratch directory left by a check that was killed (its process gone)
  // is removed by the next check.
  const std::string left = dir_ + "/data/check-scratch-999999999";
  ASSERT_EQ(RunShell("mkdir -p '" + left + "' && touch '" + left + "/000005.ldb'").first, 0);
  std::tie(code, out) = RunChemledgerd({"check", "--data", dir_ + "/data"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_FALSE(std::filesystem::exists(left)) << out;
  EXPECT_NE(out.find("left by a check that did not finish"), std::string::npos) << out;
  EXPECT_NE(out.find(absl::StrCat("check: ", checkpoint->size, " entries")), std::string::npos)
      << out;

  // Served again: at the backup's checkpoint, and what it writes next
  // extends it (the witness's check: a consistency proof from the kept one).
  ASSERT_NO_FATAL_FAILURE(StartServer());
  absl::StatusOr<crypto::Checkpoint> now = VerifiedCheckpoint();
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->size, checkpoint->size);
  EXPECT_EQ(now->root_hash, checkpoint->root_hash);
  // (The writer commissioned the codes in order, so the first one's
  // commissioning was acknowledged before the backup, and is in it.)
  const v1::Event next = AcmeEvent(v1::STORING, issued.labels[0].code(), 99, "after-");
  const grpc::Status appended = AppendEvent(*acme_operator_, next);
  ASSERT_TRUE(appended.ok()) << appended.error_message();
  const std::string state = dir_ + "/witness";
  ASSERT_EQ(RunShell("mkdir -p '" + state + "'").first, 0);
  std::ofstream(state + "/latest.checkpoint") << backup.checkpoint().signed_note();
  ASSERT_TRUE(crypto::SaveSigningKey(*regulator_, dir_ + "/witness.key", {}).ok());
  std::tie(code, out) = Chemaudit(absl::StrCat(
      "watch ", ServerFlags("chemledger.v1.LedgerService"), " --note-key ", dir_,
      "/data/note.vkey --state ", state, " --key ", dir_, "/witness.key --once"));
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find(absl::StrCat("extends ", checkpoint->size)), std::string::npos) << out;
}

}  // namespace
}  // namespace chemledger::testing
