// Reads never wait for a write: with a commit stalled inside its fsync (the
// fault-injecting Env holds every sync), GetHistory and ResolveLabel over real
// gRPC answer at once, from the last committed snapshot, while the write
// that is syncing has not been acknowledged.

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/label.pb.h"
#include "chemledger/v1/label_service.grpc.pb.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/chemledgerd/deployment.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "services/common/rate_limiter.h"
#include "services/label/label_service.h"
#include "services/ledger/ledger_service.h"
#include "services/registry/registry_testing.h"
#include "services/registry/signers.h"
#include "storage/fault_injection_env.h"
#include "tests/crash_parties.h"
#include "tests/in_process_deployment.h"
#include "tests/subprocess.h"

namespace chemledger::testing {
namespace {

v1::SignedEnvelope Event(const std::string& id, v1::BusinessStep step, const std::string& code) {
  v1::Event e;
  e.set_event_id(id);
  e.set_step(step);
  e.add_codes(code);
  e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  e.set_event_time_offset_minutes(480);
  e.mutable_location()->set_enterprise_uscc(Producer());
  e.mutable_location()->set_site("warehouse 1");
  return *envelope::Sign(api::kEventContext, e.SerializeAsString(), ProducerKey());
}

TEST(ReadsDuringCommitTest, HistoryAndLabelScansAnswerWhileACommitIsStalled) {
  const std::string data = FreshTempDir("reads_during_commit") + "/data";
  ASSERT_TRUE(InitInProcessDeployment(data, "reads.example.cn", AdminKey()).ok());
  storage::FaultInjectionEnv env;
  server::OpenOptions options;
  options.env = &env;
  absl::StatusOr<std::unique_ptr<server::Deployment>> opened = server::Deployment::Open(data, options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  server::Deployment& d = **opened;
  v1::RegistryRequest r;
  *r.mutable_register_enterprise() = registry::testing::ExampleProducer(Producer());
  ASSERT_TRUE(SubmitRegistry(d, AdminKey(), r).ok());
  v1::RegistryRequest a;
  *a.mutable_add_actor() = registry::testing::ExampleActor(
      "operator", v1::ENTERPRISE_OPERATOR, Producer(), ProducerKey().verifying_key());
  ASSERT_TRUE(SubmitRegistry(d, AdminKey(), a).ok());
  const crypto::SigningKey regulator = CrashKey(9);
  v1::RegistryRequest reg;
  *reg.mutable_add_actor() =
      registry::testing::ExampleActor("inspector", v1::REGULATOR, "", regulator.verifying_key());
  ASSERT_TRUE(SubmitRegistry(d, AdminKey(), reg).ok());
  v1::RegistryRequest p;
  *p.mutable_register_product() = registry::testing::ExampleMethanol(Producer(), "M01");
  ASSERT_TRUE(SubmitRegistry(d, AdminKey(), p).ok());

  v1::IssueLabelsRequest issue;
  issue.set_request_id("issue-1");
  issue.set_enterprise_uscc(Producer());
  issue.set_product_number("M01");
  issue.set_batch("B1");
  *issue.mutable_production_date() = api::ToProtoDate(api::TodayInChina());
  issue.set_package_count(2);
  issue.set_net_quantity("25");
  issue.set_unit("KGM");
  absl::StatusOr<label::Issuance> issued = d.issuer()->Issue(
      *envelope::Sign(api::kIssueLabelsContext, issue.SerializeAsString(), ProducerKey()));
  ASSERT_TRUE(issued.ok()) << issued.status();
  absl::StatusOr<std::vector<label::IssuedLabel>> labels = d.issuer()->SignLabels(*issued, 0, 2);
  ASSERT_TRUE(labels.ok());
  const std::string code = (*labels)[0].code;
  ASSERT_TRUE(d.ledger()->Append(Event("commission", v1::COMMISSIONING, code)).ok());

  registry::ReadAuthenticator reads({d.note_signer().name()});
  ledger::LedgerServiceImpl ledger_service(d.ledger(), d.ledger_client(), &d.note_signer(),
                                           &reads);
  label::LabelServiceImpl label_service(d.issuer(), d.ledger_client(), d.notary(), &reads);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&ledger_service);
  builder.RegisterService(&label_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto ledger_stub = v1::LedgerService::NewStub(channel);
  auto label_stub = v1::LabelService::NewStub(channel);
  const uint64_t committed = d.ledger_client()->Latest()->size();

  // The disk stalls: the next commit waits inside its fsync.
  env.HoldSyncs();
  std::atomic<bool> stored{false};
  std::thread writer([&] {
    absl::StatusOr<ledger::EventReceipt> r = d.ledger()->Append(Event("store", v1::STORING, code));
    EXPECT_TRUE(r.ok()) << r.status();
    stored = true;
  });
  ASSERT_TRUE(env.WaitForHeldSync(absl::Seconds(10)));

  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext history_context;
    history_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::GetHistoryRequest request;
    request.set_code(code);
    v1::History history;
    grpc::Status status =
        read_auth::SignedRead(*channel, &history_context, api::kGetHistoryMethod, request,
                              read_auth::ReadSigner{regulator, d.note_signer().name()}, &history);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(history.events_size(), 1);  // the stalled event is not there yet
    EXPECT_EQ(history.log_size(), committed);

    grpc::ClientContext resolve_context;
    resolve_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::ResolveLabelRequest resolve;
    resolve.set_url((*labels)[1].url);
    v1::ResolveLabelResponse resolved;
    status = label_stub->ResolveLabel(&resolve_context, resolve, &resolved);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(resolved.verdict(), "authentic");
    EXPECT_EQ(resolved.issuance_log_index(), issued->log_index);
  }
  EXPECT_FALSE(stored.load()) << "the write was acknowledged before its fsync";
  env.ReleaseSyncs();
  writer.join();
  EXPECT_TRUE(stored.load());
  server->Shutdown();

  // Signed label resolutions are limited per actor too (here to a burst of
  // 3 that never refills): the fourth is RESOURCE_EXHAUSTED, while an
  // anonymous call still counts against its address only.
  RateLimiter few(/*rate=*/1e-9, /*burst=*/3);
  label::LabelServiceImpl limited(d.issuer(), d.ledger_client(), d.notary(), &reads,
                                  /*public_scans=*/nullptr, /*anonymous_scans=*/nullptr, &few);
  grpc::ServerBuilder limited_builder;
  limited_builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  limited_builder.RegisterService(&limited);
  std::unique_ptr<grpc::Server> limited_server = limited_builder.BuildAndStart();
  ASSERT_NE(limited_server, nullptr);
  auto limited_channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  for (int i = 0; i < 4; ++i) {
    grpc::ClientContext signed_context;
    v1::ResolveLabelRequest resolve;
    resolve.set_url((*labels)[1].url);
    v1::ResolveLabelResponse resolved;
    grpc::Status status =
        read_auth::SignedRead(*limited_channel, &signed_context, api::kResolveLabelMethod, resolve,
                              read_auth::ReadSigner{regulator, d.note_signer().name()}, &resolved);
    if (i < 3) {
      ASSERT_TRUE(status.ok()) << i << ": " << status.error_message();
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
      EXPECT_NE(status.error_message().find("this actor's scans are limited"), std::string::npos)
          << status.error_message();
    }
  }
  grpc::ClientContext anonymous_context;
  v1::ResolveLabelRequest resolve;
  resolve.set_url((*labels)[1].url);
  v1::ResolveLabelResponse resolved;
  EXPECT_TRUE(v1::LabelService::NewStub(limited_channel)
                  ->ResolveLabel(&anonymous_context, resolve, &resolved)
                  .ok());
  limited_server->Shutdown();
}

}  // namespace
}  // namespace chemledger::testing
