// Two chemledgerd on one store on PostgreSQL (docs/postgres.md, "One
// writer: the lease"): the writer is paused with SIGSTOP past its lease, a
// standby server (--lease-wait forever, waiting in start-up) takes over and
// serves, and when the first resumes it writes nothing more and exits with
// status 75. The log holds every acknowledged write once, and
// `chemledgerd check` passes beside the new writer.

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/postgres_server.h"
#include "tests/e2e_server.h"

namespace chemledger::testing {
namespace {

PostgresServer& Postgres() {
  static std::unique_ptr<PostgresServer> server = [] {
    absl::StatusOr<std::unique_ptr<PostgresServer>> s = PostgresServer::Start();
    if (!s.ok()) {
      fprintf(stderr, "lease_takeover_test: %s\n", s.status().ToString().c_str());
      std::abort();
    }
    return *std::move(s);
  }();
  return *server;
}

class LeaseTakeoverTest : public ChemledgerdE2eTest {
 protected:
  bool RunsAsCluster() override { return false; }
  std::vector<std::string> InitFlags() override {
    static int databases = 0;
    const std::string name = absl::StrCat("ledger", ++databases);
    EXPECT_TRUE(Postgres().CreateDatabase(name).ok());
    return {"--postgres", Postgres().Connection(name)};
  }
  std::vector<std::string> ServeFlags() override { return {"--lease", "2"}; }
};

TEST_F(LeaseTakeoverTest, APausedWriterIsTakenOverAndWritesNothingWhenItResumes) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const uint64_t before = RawLogSize();
  std::unique_ptr<Subprocess> first = std::move(server_);
  auto first_registry = std::move(registry_);

  // The standby: the same deployment (keys, store.postgres) in a directory
  // of its own, without the first's ephemeral records.
  const std::string first_dir = dir_;
  const std::string second_dir = dir_ + "-standby";
  ASSERT_EQ(RunShell(absl::StrCat("cp -a ", first_dir, " ", second_dir, " && rm -rf ",
                                  second_dir, "/data/ephemeral"))
                .first,
            0);
  dir_ = second_dir;

  ASSERT_EQ(kill(first->pid(), SIGSTOP), 0);
  const absl::Time stopped = absl::Now();
  // Serves once the first's lease (2 s) has lapsed.
  ASSERT_NO_FATAL_FAILURE(StartServer({"--lease-wait", "forever"}));
  EXPECT_GE(absl::Now() - stopped, absl::Seconds(1));
  EXPECT_EQ(RawLogSize(), before);
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, Enterprise("91110000600037341L")));
  const uint64_t taken_over = RawLogSize();
  EXPECT_EQ(taken_over, before + 1);

  // The first resumes: a write sent to it is not acknowledged, and it exits.
  ASSERT_EQ(kill(first->pid(), SIGCONT), 0);
  {
    v1::RegistryRequest r = Enterprise("91310000132200821H");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::SubmitResponse response;
    grpc::Status s = first_registry->Submit(&context, Signed(*admin_, r), &response);
    EXPECT_FALSE(s.ok()) << "the fenced writer acknowledged a write at index "
                         << response.log_index();
  }
  absl::StatusOr<int> status = first->Wait();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 75) << "wait status " << *status;
  first.reset();

  // Only the new writer's entries, and it goes on.
  EXPECT_EQ(RawLogSize(), taken_over);
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, Enterprise("91440300708461136T")));
  EXPECT_EQ(RawLogSize(), taken_over + 1);
  // The check reads the store beside the writer, without its lease.
  const auto [code, out] = RunChemledgerd({"check", "--data", second_dir + "/data"});
  EXPECT_EQ(code, 0) << out;
  std::error_code ignored;
  std::filesystem::remove_all(first_dir, ignored);
}

// A standby waiting in start-up for the writer's lease, with nothing to stop
// it but a signal, stops at once on SIGTERM, as a service manager's stop
// expects (it has served nothing); the writer goes on.
TEST_F(LeaseTakeoverTest, AStandbyWaitingForTheLeaseStopsOnSigterm) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const std::string standby_dir = dir_ + "-waiting";
  ASSERT_EQ(RunShell(absl::StrCat("cp -a ", dir_, " ", standby_dir, " && rm -rf ", standby_dir,
                                  "/data/ephemeral"))
                .first,
            0);
  Subprocess standby;
  ASSERT_TRUE(standby
                  .Start({Binary(), "serve", "--data", standby_dir + "/data", "--listen",
                          "127.0.0.1:0", "--plaintext", "--http-listen", "127.0.0.1:0", "--lease",
                          "2", "--lease-wait", "forever"})
                  .ok());
  // Well into its wait: the writer renews its lease every 0.7 s.
  bool eof = false;
  std::vector<std::string> lines = standby.ReadLines(absl::Now() + absl::Seconds(3), &eof);
  ASSERT_FALSE(eof) << "the standby ended while the writer held the lease";
  for (const std::string& line : lines) {
    ASSERT_EQ(line.find("serving"), std::string::npos) << line;
  }
  ASSERT_TRUE(standby.Kill(SIGTERM).ok());
  const absl::Time sent = absl::Now();
  lines = standby.ReadLines(sent + absl::Seconds(10), &eof);
  ASSERT_TRUE(eof) << "the standby still runs 10 s after SIGTERM";
  EXPECT_LT(absl::Now() - sent, absl::Seconds(3));
  absl::StatusOr<int> status = standby.Wait();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM) << "wait status " << *status;
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "chemledgerd: SIGTERM while starting, stopped");
  // The writer was never disturbed.
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, Enterprise("91440300708461136T")));
  std::error_code ignored;
  std::filesystem::remove_all(standby_dir, ignored);
}

// The failover drill: chemledgerd on a primary PostgreSQL with a
// synchronous standby, its connection string naming both
// (target_session_attrs=read-write). Mixed load (issuances, lifecycle
// events, registry changes) goes on while the primary is killed with
// SIGKILL; the standby is promoted and the server restarted (as its supervisor would: its writing
// connection died with the primary). Every acknowledged write is there exactly once (the same
// signed request again is answered as a replay at its first index), `check` passes, and the log is
// consistent with every checkpoint handed out before the failover.
class FailoverTest : public ChemledgerdE2eTest {
 protected:
  bool RunsAsCluster() override { return false; }
  std::vector<std::string> InitFlags() override {
    absl::StatusOr<PostgresPair> pair =
        StartPostgresPair("ledger", "standby1", /*synchronous=*/true);
    EXPECT_TRUE(pair.ok()) << pair.status();
    if (!pair.ok()) return {};
    primary_ = std::move(pair->primary);
    standby_ = std::move(pair->standby);
    return {"--postgres",
            absl::StrCat("host=127.0.0.1,127.0.0.1 port=", primary_->port(), ",", standby_->port(),
                         " user=postgres dbname=ledger target_session_attrs=read-write "
                         "connect_timeout=5")};
  }
  std::vector<std::string> ServeFlags() override {
    return {"--lease", "2", "--synchronous-standby", require_standby_ ? "required" : "optional"};
  }

  std::unique_ptr<PostgresServer> primary_, standby_;
  bool require_standby_ = true;
};

TEST_F(FailoverTest, LosingThePrimaryLosesNoAcknowledgedWrite) {
  ASSERT_NE(standby_, nullptr);
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = IssueM01(kAcme, *acme_admin_, "F1", 400);
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  std::vector<std::string> codes;
  for (const v1::IssuedLabel& label : issued.labels) codes.push_back(label.code());
  // Mixed load (issuances, lifecycle events, registry changes) until the
  // primary is killed.
  const Acknowledged acked =
      WriteMixedLoadUntil(15, codes, /*with_issuances=*/true, [this] { primary_->Kill(); });
  ASSERT_GE(acked.issuances.size(), 15u);
  ASSERT_GE(acked.events.size(), 15u);
  ASSERT_GE(acked.changes.size(), 15u);

  ASSERT_TRUE(standby_->Promote().ok());
  KillServer();
  // The promoted standby has no standby of its own: started without
  // requiring one.
  require_standby_ = false;
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_NO_FATAL_FAILURE(ExpectAcknowledgedOnce(acked));
  const auto [code, out] = RunChemledgerd({"check", "--data", dir_ + "/data"});
  EXPECT_EQ(code, 0) << out;
}

}  // namespace
}  // namespace chemledger::testing
