// The health check follows the ledger: SERVING while writes are accepted,
// NOT_SERVING once a commit failed (the store's fsync fails, through the
// fault-injection env) and the ledger is read-only, SERVING again after the
// store is reopened. Checked over real gRPC on loopback with the standard
// grpc.health.v1.Health/Check call, sent as raw bytes (no generated stub).

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "chemledger/v1/registry.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/chemledgerd/deployment.h"
#include "services/chemledgerd/serving_status.h"
#include "services/common/envelope.h"
#include "services/registry/registry_testing.h"
#include "services/registry/signers.h"
#include "storage/fault_injection_env.h"
#include "tests/crash_parties.h"
#include "tests/in_process_deployment.h"
#include "tests/grpc_health.h"
#include "tests/subprocess.h"

namespace chemledger::testing {
namespace {

// Waits up to 5 s for the server to report `want`.
bool Reports(const std::shared_ptr<grpc::Channel>& channel, int want) {
  for (int i = 0; i < 100; ++i) {
    if (CheckHealth(channel) == want) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

absl::Status RegisterProducer(server::Deployment& d, int id) {
  v1::RegistryRequest r;
  *r.mutable_register_enterprise() =
      registry::testing::ExampleProducer(CrashUscc(absl::StrCat(350100 + id)));
  return SubmitRegistry(d, AdminKey(), r);
}

struct Serving {
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<server::ServingStatusReporter> reporter;
  std::shared_ptr<grpc::Channel> channel;
};

Serving Serve(server::Deployment& d) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  Serving s;
  s.server = builder.BuildAndStart();
  EXPECT_NE(s.server, nullptr);
  s.reporter = std::make_unique<server::ServingStatusReporter>(
      d.ledger_client(), s.server->GetHealthCheckService(), absl::Milliseconds(20));
  s.channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                  grpc::InsecureChannelCredentials());
  return s;
}

TEST(ServingStatusTest, NotServingWhileTheLedgerIsReadOnlyAfterAFailedWrite) {
  const std::string data = FreshTempDir("serving_status") + "/data";
  ASSERT_TRUE(InitInProcessDeployment(data, "serving.example.cn", AdminKey()).ok());
  storage::FaultInjectionEnv env;
  server::OpenOptions options;
  options.env = &env;
  {
    absl::StatusOr<std::unique_ptr<server::Deployment>> d = server::Deployment::Open(data, options);
    ASSERT_TRUE(d.ok()) << d.status();
    Serving s = Serve(**d);
    EXPECT_TRUE(Reports(s.channel, kServing));
    ASSERT_TRUE(RegisterProducer(**d, 1).ok());
    EXPECT_EQ(CheckHealth(s.channel), kServing);

    // The disk fails one fsync: that write fails, the ledger is read-only.
    env.FailNextSyncs(1);
    absl::Status failed = RegisterProducer(**d, 2);
    EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;
    EXPECT_EQ((*d)->ledger_client()->Writable().code(), absl::StatusCode::kUnavailable);
    EXPECT_TRUE(Reports(s.channel, kNotServing));
    // Later writes are refused though the disk is fine again.
    EXPECT_EQ(RegisterProducer(**d, 3).code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(CheckHealth(s.channel), kNotServing);
    s.reporter.reset();
    s.server->Shutdown();
  }
  // Reopened (as a restart does): serving, and writes go on.
  absl::StatusOr<std::unique_ptr<server::Deployment>> d = server::Deployment::Open(data, options);
  ASSERT_TRUE(d.ok()) << d.status();
  Serving s = Serve(**d);
  EXPECT_TRUE(Reports(s.channel, kServing));
  EXPECT_TRUE(RegisterProducer(**d, 4).ok());
  s.reporter.reset();
  s.server->Shutdown();
}

}  // namespace
}  // namespace chemledger::testing
