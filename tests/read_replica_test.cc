// Read replicas and standbys (docs/postgres.md): chemledgerd writes to a
// primary PostgreSQL.
//
// A ledgerd started with --read-replica reads the same deployment from a
// hot standby of it. Its answers name the log size and root they were read
// at (the headers chemledger-log-size and chemledger-log-root), which are
// the writer's tree heads; it follows the writer's commits; it refuses
// every write, naming the writer; auditd reads through it, labeld refuses
// to; its health turns NOT_SERVING when it can no longer read the standby.
//
// A ledgerd started with --lease-wait forever (a standby server) serves
// reads the same way while it waits for the writer's lease. The writer is
// killed with SIGKILL during mixed load (lifecycle events and registry
// changes from two threads); the standby takes the lease, serves as the
// writer on the same address, and every acknowledged write is there
// exactly once (sent again, it is answered as a replay at its first
// index), the log extends every checkpoint handed out before, and `check`
// passes.

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "crypto/merkle.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "testing/postgres_server.h"
#include "tests/e2e_server.h"
#include "tests/grpc_health.h"

namespace chemledger::testing {
namespace {

std::string Header(const grpc::ClientContext& context, const std::string& name) {
  auto it = context.GetServerInitialMetadata().find(name);
  return it == context.GetServerInitialMetadata().end()
             ? std::string()
             : std::string(it->second.data(), it->second.size());
}

class ReadReplicaTest : public ChemledgerdE2eTest {
 protected:
  bool RunsAsCluster() override { return false; }
  std::vector<std::string> InitFlags() override {
    // Asynchronous: the replica may be behind, as replicas are.
    absl::StatusOr<PostgresPair> pair =
        StartPostgresPair("ledger", "replica1", /*synchronous=*/false);
    EXPECT_TRUE(pair.ok()) << pair.status();
    if (!pair.ok()) return {};
    primary_ = std::move(pair->primary);
    standby_ = std::move(pair->standby);
    return {"--postgres", primary_->Connection("ledger")};
  }

  // Starts the service `name` (services/cluster/NAME) with `args`, plaintext
  // on loopback; returns its public port (0 if it did not serve in 60 s).
  int StartService(const std::string& name, std::vector<std::string> args,
                   std::unique_ptr<Subprocess>* process) {
    const std::string port_file = absl::StrCat(dir_, "/", name, ".port");
    std::filesystem::remove(port_file);
    std::vector<std::string> command = {RunfilePath("services/cluster/" + name),
                                        "--plaintext",
                                        "--listen",
                                        "127.0.0.1:0",
                                        "--port-file",
                                        port_file};
    command.insert(command.end(), args.begin(), args.end());
    *process = std::make_unique<Subprocess>();
    EXPECT_TRUE((*process)->Start(command).ok());
    return WaitForPortFile(port_file, absl::Now() + absl::Seconds(60));
  }

  // A ledgerd --read-replica on a copy of the deployment (without label
  // keys) whose store.postgres names the standby.
  void StartReplica() {
    const std::string data = CopyDeployment("replica", standby_->Connection("ledger"));
    const std::string internal_file = dir_ + "/replica.internal-port";
    replica_port_ =
        StartService("ledgerd",
                     {"--read-replica", "--data", data, "--internal-listen", "127.0.0.1:0",
                      "--internal-port-file", internal_file, "--metrics-listen", "127.0.0.1:0",
                      "--metrics-port-file", dir_ + "/replica.metrics-port"},
                     &replica_);
    ASSERT_NE(replica_port_, 0) << "the read replica did not start serving";
    replica_internal_ = WaitForPortFile(internal_file, absl::Now() + absl::Seconds(10));
    ASSERT_NE(replica_internal_, 0);
    replica_channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", replica_port_),
                                           grpc::InsecureChannelCredentials());
    replica_registry_ = v1::RegistryService::NewStub(replica_channel_);
  }

  // The value of metric `name` at the replica; nullopt when it has none.
  std::optional<double> ReplicaMetric(const std::string& name) {
    const int port =
        WaitForPortFile(dir_ + "/replica.metrics-port", absl::Now() + absl::Seconds(10));
    EXPECT_NE(port, 0);
    httplib::Client client("127.0.0.1", port);
    httplib::Result r = client.Get("/metrics");
    if (!r || r->status != 200) return std::nullopt;
    for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
      if (!absl::ConsumePrefix(&line, name + " ")) continue;
      double value = 0;
      if (absl::SimpleAtod(line, &value)) return value;
    }
    return std::nullopt;
  }

  // The replica's GetDeployment, with the tree head its answer names.
  struct Served {
    grpc::Status status;
    uint64_t log_size = 0;
    std::string size_header, root_header;
  };
  Served ReadDeploymentFromReplica() {
    grpc::ClientContext context;
    v1::Deployment deployment;
    Served served;
    served.status = replica_registry_->GetDeployment(&context, {}, &deployment);
    served.log_size = deployment.log_size();
    served.size_header = Header(context, "chemledger-log-size");
    served.root_header = Header(context, "chemledger-log-root");
    return served;
  }

  // Waits up to 20 s for the replica to serve log size `size`.
  Served ReplicaAt(uint64_t size) {
    Served served;
    for (const absl::Time deadline = absl::Now() + absl::Seconds(20); absl::Now() < deadline;) {
      served = ReadDeploymentFromReplica();
      if (served.status.ok() && served.log_size >= size) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return served;
  }

  // A copy of the deployment for another ledgerd: without label keys and
  // ephemeral records; its store.postgres names `connection`.
  std::string CopyDeployment(const std::string& name, const std::string& connection) {
    const std::string data = dir_ + "/" + name;
    EXPECT_EQ(RunShell(absl::StrCat("cp -a ", dir_, "/data ", data, " && rm -rf ", data,
                                    "/keys/label-* ", data, "/ephemeral"))
                  .first,
              0);
    std::ofstream conf(data + "/store.postgres", std::ios::trunc);
    conf << connection << "\n";
    return data;
  }

  std::unique_ptr<PostgresServer> primary_, standby_;
  std::unique_ptr<Subprocess> replica_;
  int replica_port_ = 0, replica_internal_ = 0;
  std::shared_ptr<grpc::Channel> replica_channel_;
  std::unique_ptr<v1::RegistryService::Stub> replica_registry_;
};

TEST_F(ReadReplicaTest, AReplicaOnAStandbyServesTheWritersTreeHeadsAndTakesNoWrite) {
  ASSERT_NE(standby_, nullptr);
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = IssueM01("91350100M000100Y43", *acme_admin_, "R1", 2);
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const std::string code = issued.labels[0].code();
  v1::AppendResponse appended;
  grpc::Status a =
      AppendEvent(*acme_operator_, AcmeEvent(v1::COMMISSIONING, code, 1, "R1E"), &appended);
  ASSERT_TRUE(a.ok()) << a.error_message();
  v1::History written_history;
  a = GetHistory(*regulator_, code, &written_history);
  ASSERT_TRUE(a.ok()) << a.error_message();
  ASSERT_GE(written_history.events_size(), 1);
  absl::StatusOr<crypto::Checkpoint> written = VerifiedCheckpoint();
  ASSERT_TRUE(written.ok()) << written.status();

  ASSERT_NO_FATAL_FAILURE(StartReplica());
  EXPECT_EQ(CheckHealth(replica_channel_), kServing);
  // It takes no writes: a load balancer sends none to it.
  EXPECT_EQ(CheckHealth(replica_channel_, "chemledger.writer"), kNotServing);
  // Its answers name the writer's tree head: the size and the root of a
  // checkpoint the writer signed.
  Served served = ReplicaAt(written->size);
  ASSERT_TRUE(served.status.ok()) << served.status.error_message();
  EXPECT_EQ(served.log_size, written->size);
  EXPECT_EQ(served.size_header, std::to_string(written->size));
  EXPECT_EQ(served.root_header, absl::BytesToHexString(written->root_hash.ToBytes()));

  // Histories and checkpoints read from the replica, checked as a client
  // checks the writer's: against the key pinned at init.
  std::shared_ptr<grpc::Channel> writer_channel = channel_;
  std::unique_ptr<v1::LedgerService::Stub> writer_ledger = std::move(ledger_);
  channel_ = replica_channel_;
  ledger_ = v1::LedgerService::NewStub(replica_channel_);
  {
    absl::StatusOr<crypto::Checkpoint> from_replica = VerifiedCheckpoint();
    ASSERT_TRUE(from_replica.ok()) << from_replica.status();
    EXPECT_EQ(from_replica->size, written->size);
    EXPECT_EQ(from_replica->root_hash, written->root_hash);
    v1::History history;
    grpc::Status s = GetHistory(*regulator_, code, &history);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(history.events_size(), written_history.events_size());
    ExpectHistoryVerifies(code, history, *from_replica);
  }

  // A write sent to the replica is refused and names where writes go; the
  // writer's log does not move.
  {
    grpc::ClientContext context;
    v1::SubmitResponse response;
    grpc::Status s = replica_registry_->Submit(
        &context, Signed(*admin_, Enterprise("91110000600037341L")), &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), "read replica")) << s.error_message();
  }
  channel_ = writer_channel;
  ledger_ = std::move(writer_ledger);
  EXPECT_EQ(RawLogSize(), written->size);

  // It follows the writer.
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, Enterprise("91110000600037341L")));
  served = ReplicaAt(written->size + 1);
  EXPECT_EQ(served.log_size, written->size + 1);
  // Its metrics say how far behind it is: it read the writer's head just
  // now, and its standby replays what the primary commits.
  std::optional<double> head_read_age = ReplicaMetric("chemledger_replica_head_read_age_seconds");
  ASSERT_TRUE(head_read_age.has_value());
  EXPECT_LT(*head_read_age, 2);
  std::optional<double> replay_lag = ReplicaMetric("chemledger_replica_replay_lag_seconds");
  ASSERT_TRUE(replay_lag.has_value());
  EXPECT_GE(*replay_lag, 0);
  EXPECT_LT(*replay_lag, 10);
  absl::StatusOr<crypto::Checkpoint> later = VerifiedCheckpoint();
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(served.root_header, absl::BytesToHexString(later->root_hash.ToBytes()));

  // auditd reads through it; labeld, which writes, refuses it.
  const std::string replica_ledger = absl::StrCat("127.0.0.1:", replica_internal_);
  std::unique_ptr<Subprocess> auditd;
  const int audit_port =
      StartService("auditd",
                   {"--ledger", replica_ledger, "--http-plaintext", "--http-listen", "127.0.0.1:0",
                    "--http-port-file", dir_ + "/auditd.http-port"},
                   &auditd);
  ASSERT_NE(audit_port, 0) << "auditd did not serve from the replica";
  channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", audit_port),
                                 grpc::InsecureChannelCredentials());
  EXPECT_EQ(LogSize(), later->size);
  // A personality holds no store: healthy while its ledger is, and no
  // chemledger.writer status at all (NOT_FOUND: the call fails), which a
  // load balancer for writes asks of ledgerd alone.
  EXPECT_EQ(CheckHealth(channel_), kServing);
  EXPECT_EQ(CheckHealth(channel_, "chemledger.writer"), -1);
  channel_ = writer_channel;
  {
    const std::string keys = dir_ + "/label-keys";
    ASSERT_EQ(
        RunShell(absl::StrCat("mkdir -m 700 ", keys, " && cp ", dir_, "/data/keys/label-* ", keys))
            .first,
        0);
    const auto [code, said] = RunShell(absl::StrCat(
        RunfilePath("services/cluster/labeld"), " --plaintext --listen 127.0.0.1:0 --ledger ",
        replica_ledger, " --label-keys ", keys, " 2>&1"));
    EXPECT_EQ(code, 1) << said;
    EXPECT_TRUE(absl::StrContains(said, "read replica")) << said;
  }

  // Without its standby the replica still answers from what it has, and
  // its health says it no longer follows.
  standby_->Kill();
  int health = kServing;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       absl::Now() < deadline && health == kServing;) {
    absl::SleepFor(absl::Milliseconds(250));
    health = CheckHealth(replica_channel_);
  }
  EXPECT_EQ(health, kNotServing);
  head_read_age = ReplicaMetric("chemledger_replica_head_read_age_seconds");
  ASSERT_TRUE(head_read_age.has_value());
  EXPECT_GT(*head_read_age, 4);
}

TEST_F(ReadReplicaTest, AStandbyServesReadsThenTakesOverFromAKilledWriterLosingNoWrite) {
  ASSERT_NE(standby_, nullptr);
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = IssueM01(kAcme, *acme_admin_, "S1", 400);
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();

  // The standby ledgerd, on the writer's database, with a 2 s lease. No
  // acknowledged commit is recorded yet (as on a database a writer is
  // migrating): the standby waits to serve reads, asking again each second,
  // and serves them once the writer's next commit records one.
  ASSERT_TRUE(primary_
                  ->Execute("ledger",
                            "UPDATE store_head SET acknowledged_version = NULL, "
                            "acknowledged_size = NULL, acknowledged_root = NULL")
                  .ok());
  grpc::Status later_write = grpc::Status(grpc::StatusCode::UNKNOWN, "not sent");
  const absl::Time started = absl::Now();
  std::thread write_later([this, &later_write] {
    absl::SleepFor(absl::Seconds(3));
    grpc::ClientContext context;
    v1::SubmitResponse response;
    later_write =
        registry_->Submit(&context, Signed(*admin_, Enterprise("91440100M000100Y4M")), &response);
  });
  const std::string data = CopyDeployment("standby", primary_->Connection("ledger"));
  const std::string port_file = dir_ + "/ledgerd.port";
  std::unique_ptr<Subprocess> standby;
  const int read_port = StartService("ledgerd",
                                     {"--data", data, "--lease-wait", "forever", "--lease", "2",
                                      "--internal-listen", "127.0.0.1:0"},
                                     &standby);
  write_later.join();
  ASSERT_TRUE(later_write.ok()) << later_write.error_message();
  ASSERT_NE(read_port, 0) << "the standby serves no reads while it waits";
  EXPECT_GE(absl::Now() - started, absl::Seconds(3)) << "served before any acknowledgement";
  std::filesystem::remove(port_file);
  auto standby_channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", read_port),
                                             grpc::InsecureChannelCredentials());
  replica_channel_ = standby_channel;
  replica_registry_ = v1::RegistryService::NewStub(standby_channel);
  EXPECT_EQ(CheckHealth(standby_channel), kServing);
  EXPECT_EQ(CheckHealth(standby_channel, "chemledger.writer"), kNotServing);
  const uint64_t written = RawLogSize();
  Served served = ReplicaAt(written);
  EXPECT_EQ(served.log_size, written);
  EXPECT_EQ(served.size_header, std::to_string(written));
  {
    grpc::ClientContext context;
    v1::SubmitResponse response;
    grpc::Status s = replica_registry_->Submit(
        &context, Signed(*admin_, Enterprise("91110000600037341L")), &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  }

  // Mixed load on the writer (lifecycle events, registry changes) until it
  // is killed. Issuances are chemledgerd's and labeld's, not ledgerd's: the
  // standby could not answer their replays.
  std::vector<std::string> codes;
  for (const v1::IssuedLabel& label : issued.labels) codes.push_back(label.code());
  const Acknowledged acked =
      WriteMixedLoadUntil(20, codes, /*with_issuances=*/false, [this] { KillServer(); });
  ASSERT_GE(acked.events.size(), 20u);
  ASSERT_GE(acked.changes.size(), 20u);
  ASSERT_FALSE(acked.checkpoints.empty());

  // The standby takes the lease (at once: the writer's connection is gone)
  // and serves as the writer.
  const int write_port = WaitForPortFile(port_file, absl::Now() + absl::Seconds(60));
  ASSERT_NE(write_port, 0) << "the standby did not take over";
  EXPECT_EQ(write_port, read_port) << "the writer serves where the standby served reads";
  channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", write_port),
                                 grpc::InsecureChannelCredentials());
  registry_ = v1::RegistryService::NewStub(channel_);
  ledger_ = v1::LedgerService::NewStub(channel_);
  EXPECT_EQ(CheckHealth(channel_, "chemledger.writer"), kServing);
  ASSERT_NO_FATAL_FAILURE(ExpectAcknowledgedOnce(acked));
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, Enterprise("91110000600037341L")));
  const auto [code, out] = RunChemledgerd({"check", "--data", data});
  EXPECT_EQ(code, 0) << out;
}

}  // namespace
}  // namespace chemledger::testing
