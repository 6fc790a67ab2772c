// SIGKILL while a deployment writes label issuances, events and e-waybills
// from three threads (deployment_crash_child), 30 times (8 with the store
// on PostgreSQL): after each kill the
// deployment opens (no replay: its state is committed with each entry), every
// acknowledged write is in the log exactly once, at the index its
// acknowledgement gave, `chemledgerd check`'s rebuild of the state from the
// log equals the stored state, and the next round's writes go on.

#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/label.pb.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "gtest/gtest.h"
#include "services/chemledgerd/deployment.h"
#include "services/waybill/waybill_state.h"
#include "services/common/envelope.h"
#include "services/registry/registry_testing.h"
#include "services/registry/signers.h"
#include "tests/crash_parties.h"
#include "tests/in_process_deployment.h"
#include "testing/postgres_server.h"
#include "tests/subprocess.h"

namespace chemledger::testing {
namespace {

void SetUpParties(const std::string& data, const std::string& postgres = "") {
  absl::Status init = InitInProcessDeployment(data, "crash.example.cn", AdminKey(), postgres);
  ASSERT_TRUE(init.ok()) << init;
  absl::StatusOr<std::unique_ptr<server::Deployment>> d = server::Deployment::Open(data);
  ASSERT_TRUE(d.ok()) << d.status();
  const absl::CivilDay far = api::TodayInChina() + 700;
  v1::RegistryRequest r;
  *r.mutable_register_enterprise() = registry::testing::ExampleProducer(Producer());
  ASSERT_TRUE(SubmitRegistry(**d, AdminKey(), r).ok());
  *r.mutable_register_enterprise() =
      registry::testing::ExampleEnterprise(Carrier(), v1::CARRIER, v1::ROAD_TRANSPORT, far);
  ASSERT_TRUE(SubmitRegistry(**d, AdminKey(), r).ok());
  *r.mutable_register_enterprise() =
      registry::testing::ExampleEnterprise(Consignee(), v1::USER, v1::LICENCE_TYPE_UNSPECIFIED, far);
  ASSERT_TRUE(SubmitRegistry(**d, AdminKey(), r).ok());
  for (const auto& [uscc, key] : {std::make_pair(Producer(), ProducerKey()),
                                  std::make_pair(Carrier(), CarrierKey())}) {
    v1::RegistryRequest a;
    *a.mutable_add_actor() = registry::testing::ExampleActor(
        "operator", v1::ENTERPRISE_OPERATOR, uscc, key.verifying_key());
    ASSERT_TRUE(SubmitRegistry(**d, AdminKey(), a).ok());
  }
  v1::RegistryRequest p;
  *p.mutable_register_product() = registry::testing::ExampleMethanol(Producer(), "M01");
  ASSERT_TRUE(SubmitRegistry(**d, AdminKey(), p).ok());
}

struct Ack {
  std::string kind, id;
  uint64_t index = 0;
};

// The id an entry carries (event id or request id), by kind; "" for others.
std::pair<std::string, std::string> IdOf(const v1::LogEntry& entry) {
  const std::string& type = entry.envelope().payload_type();
  if (type == api::kEventContext.payload_type()) {
    v1::Event e;
    e.ParseFromString(entry.envelope().payload());
    return {"event", e.event_id()};
  }
  if (type == api::kIssueLabelsContext.payload_type()) {
    v1::IssueLabelsRequest r;
    r.ParseFromString(entry.envelope().payload());
    return {"issue", r.request_id()};
  }
  if (type == api::kWaybillContext.payload_type()) {
    v1::WaybillRequest r;
    r.ParseFromString(entry.envelope().payload());
    return {"waybill", r.request_id()};
  }
  return {"", ""};
}

// `rounds` rounds of writing and SIGKILL on the deployment in `data`, each
// checked.
void KillAndCheckRounds(const std::string& data, int rounds) {
  const std::string child = RunfilePath("tests/deployment_crash_child");
  std::mt19937 rng(20261129);
  std::vector<Ack> acked;
  for (int round = 0; round < rounds; ++round) {
    Subprocess writer;
    ASSERT_TRUE(writer.Start({child, data, absl::StrCat(round)}).ok());
    // Let it write for a while after its first acknowledgement, then kill it.
    // The kill is timed from that acknowledgement, not from the start: opening
    // a store that grows each round takes longer on a loaded machine, and a
    // kill before the first write would test nothing.
    const auto take = [&](const std::string& line) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      ASSERT_EQ(f.size(), 4u) << line;
      ASSERT_EQ(f[0], "ack") << line;
      Ack a{f[1], f[2], 0};
      ASSERT_TRUE(absl::SimpleAtoi(f[3], &a.index)) << line;
      acked.push_back(a);
    };
    const absl::Duration write_for = absl::Milliseconds(rng() % 400);
    absl::StatusOr<std::string> first = writer.ReadLine(absl::Now() + absl::Seconds(60));
    ASSERT_TRUE(first.ok()) << "round " << round
                            << ": no write was acknowledged within 60 s of the start: "
                            << first.status();
    ASSERT_NO_FATAL_FAILURE(take(*first));
    const absl::Time kill_at = absl::Now() + write_for;
    while (absl::Now() < kill_at) {
      bool eof = false;
      for (const std::string& line : writer.ReadLines(kill_at, &eof)) {
        ASSERT_NO_FATAL_FAILURE(take(line));
      }
      ASSERT_FALSE(eof) << "round " << round << ": the writer stopped on its own";
    }
    ASSERT_TRUE(writer.Kill(SIGKILL).ok());
    absl::StatusOr<int> status = writer.Wait();
    ASSERT_TRUE(status.ok());
    ASSERT_TRUE(WIFSIGNALED(*status)) << "round " << round << ": wait status " << *status;
    // Acknowledgements written before the kill and not yet read.
    for (const std::string& line : writer.ReadLines(absl::Now() + absl::Seconds(1))) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      if (f.size() != 4) continue;  // a line cut by the kill
      Ack a{f[1], f[2], 0};
      if (!absl::SimpleAtoi(f[3], &a.index)) continue;
      acked.push_back(a);
    }

    // It opens, and every acknowledged write is there, once, where it was said to be.
    {
      absl::StatusOr<std::unique_ptr<server::Deployment>> d = server::Deployment::Open(data);
      ASSERT_TRUE(d.ok()) << "round " << round << ": " << d.status();
      std::shared_ptr<const storage::Snapshot> s = (*d)->ledger_client()->Latest();
      std::map<std::pair<std::string, std::string>, uint64_t> where;
      for (uint64_t i = 0; i < s->size(); ++i) {
        absl::StatusOr<std::string> bytes = s->Entry(i);
        ASSERT_TRUE(bytes.ok()) << bytes.status();
        v1::LogEntry entry;
        ASSERT_TRUE(entry.ParseFromString(*bytes)) << "entry " << i;
        const auto id = IdOf(entry);
        if (id.first.empty()) continue;
        ASSERT_TRUE(where.emplace(id, i).second)
            << "round " << round << ": " << id.first << " " << id.second << " is in the log twice";
      }
      for (const Ack& a : acked) {
        auto it = where.find({a.kind, a.id});
        ASSERT_NE(it, where.end()) << "round " << round << ": acknowledged " << a.kind << " "
                                   << a.id << " (index " << a.index << ") is lost";
        ASSERT_EQ(it->second, a.index) << a.kind << " " << a.id;
      }
      // Every acknowledged waybill is open (its consignor authorised the
      // carrier first), holding its package.
      for (const Ack& a : acked) {
        if (a.kind != "waybill" || !absl::StartsWith(a.id, "wb-")) continue;
        absl::StatusOr<std::optional<waybill::WaybillState>> w =
            waybill::FindWaybill(*s, Carrier(), absl::StrCat("WB-", a.id.substr(3)));
        ASSERT_TRUE(w.ok() && w->has_value()) << a.id;
        EXPECT_EQ((*w)->status, v1::OPEN) << a.id;
      }
    }
    // The state the log implies, rebuilt entry by entry, is the stored state.
    absl::StatusOr<server::CheckResult> check =
        server::CheckDeployment(data, data + "/check-scratch");
    ASSERT_TRUE(check.ok()) << "round " << round << ": " << check.status();
  }
  EXPECT_GT(acked.size(), 10u * rounds);
}

TEST(DeploymentCrashTest, EveryAcknowledgedWriteSurvivesSigkillOnceAndTheStateChecks) {
  const std::string data = FreshTempDir("deployment_crash") + "/data";
  ASSERT_NO_FATAL_FAILURE(SetUpParties(data));
  KillAndCheckRounds(data, 30);
}

// The same with the store on PostgreSQL (a server of the test's own): a
// commit PostgreSQL acknowledged is there after the writer's SIGKILL.
TEST(DeploymentCrashTest, OnPostgresEveryAcknowledgedWriteSurvivesSigkill) {
  absl::StatusOr<std::unique_ptr<PostgresServer>> postgres = PostgresServer::Start();
  ASSERT_TRUE(postgres.ok()) << postgres.status();
  ASSERT_TRUE((*postgres)->CreateDatabase("crash").ok());
  const std::string data = FreshTempDir("deployment_crash_postgres") + "/data";
  ASSERT_NO_FATAL_FAILURE(SetUpParties(data, (*postgres)->Connection("crash")));
  KillAndCheckRounds(data, 8);
}

}  // namespace
}  // namespace chemledger::testing
