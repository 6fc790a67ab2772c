// Streams of writes over real gRPC on loopback (an in-process server over a
// real deployment): a stream without credentials is refused before it takes
// a slot, so unauthenticated clients cannot lock writers out; each
// enterprise has at most its share of the streams; a request on a stream
// must be signed by the stream's enterprise; an idle stream is dropped and
// frees its slot.

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/label.pb.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/chemledgerd/deployment.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "services/label/issuance.h"
#include "services/ledger/ledger_service.h"
#include "services/registry/registry_testing.h"
#include "services/registry/signers.h"
#include "tests/crash_parties.h"
#include "tests/in_process_deployment.h"
#include "tests/subprocess.h"

namespace chemledger::testing {
namespace {

using Stream = grpc::ClientReaderWriter<v1::SignedEnvelope, v1::AppendResult>;

// A STORING event of `enterprise` for a code nobody has: refused by the
// rules, which is enough to see that it reached them.
v1::SignedEnvelope Storing(const std::string& enterprise, const crypto::SigningKey& key, int i) {
  v1::Event e;
  e.set_event_id(absl::StrCat("gate-ev-", i));
  e.set_step(v1::STORING);
  e.add_codes(absl::StrCat(enterprise, ".M01.B1.", i));
  e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  e.set_event_time_offset_minutes(480);
  e.mutable_location()->set_enterprise_uscc(enterprise);
  e.mutable_location()->set_site("gate");
  return *envelope::Sign(api::kEventContext, e.SerializeAsString(), key);
}

class StreamGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string data = FreshTempDir("stream_gate") + "/data";
    ASSERT_TRUE(InitInProcessDeployment(data, "gate.example.cn", AdminKey()).ok());
    absl::StatusOr<std::unique_ptr<server::Deployment>> d = server::Deployment::Open(data);
    ASSERT_TRUE(d.ok()) << d.status();
    d_ = *std::move(d);
    for (const auto& [uscc, key] : {std::make_pair(Producer(), ProducerKey()),
                                    std::make_pair(Consignee(), CrashKey(8))}) {
      v1::RegistryRequest e;
      *e.mutable_register_enterprise() = registry::testing::ExampleProducer(uscc);
      ASSERT_TRUE(SubmitRegistry(*d_, AdminKey(), e).ok());
      v1::RegistryRequest a;
      *a.mutable_add_actor() = registry::testing::ExampleActor("operator", v1::ENTERPRISE_OPERATOR,
                                                               uscc, key.verifying_key());
      ASSERT_TRUE(SubmitRegistry(*d_, AdminKey(), a).ok());
    }
    // A second actor of the producer.
    v1::RegistryRequest second;
    *second.mutable_add_actor() = registry::testing::ExampleActor(
        "second operator", v1::ENTERPRISE_OPERATOR, Producer(), second_key_.verifying_key());
    ASSERT_TRUE(SubmitRegistry(*d_, AdminKey(), second).ok());
    ledger::AppendStreamOptions options;
    options.max_open = 3;
    options.max_per_enterprise = 2;
    options.max_per_actor = 1;
    options.timeouts.idle = absl::Milliseconds(400);
    options.timeouts.write = absl::Seconds(5);
    reads_ = std::make_unique<registry::ReadAuthenticator>(
        read_auth::ReadCredentialChecker::Options{d_->note_signer().name()});
    StartService(options);
  }
  // Serves the ledger with `options` (again, if it was served).
  void StartService(const ledger::AppendStreamOptions& options) {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    service_ = std::make_unique<ledger::LedgerServiceImpl>(
        d_->ledger(), d_->ledger_client(), &d_->note_signer(), reads_.get(), options);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::LedgerService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  struct Open {
    std::unique_ptr<grpc::ClientContext> context = std::make_unique<grpc::ClientContext>();
    std::unique_ptr<Stream> stream;
  };
  // A stream opened with `opener`'s credentials (none if null).
  Open OpenStream(const crypto::SigningKey* opener) {
    Open o;
    if (opener != nullptr) {
      read_auth::AttachStreamCredentials(
          o.context.get(), api::kAppendStreamMethod,
          read_auth::ReadSigner{*opener, d_->note_signer().name()});
    }
    o.stream = stub_->AppendStream(o.context.get());
    return o;
  }
  // Sends one event and reads its result; the stream's status if it ended.
  absl::StatusOr<v1::AppendResult> RoundTrip(Open& o, const v1::SignedEnvelope& event) {
    v1::AppendResult result;
    if (o.stream->Write(event) && o.stream->Read(&result)) return result;
    o.stream->WritesDone();
    const grpc::Status status = o.stream->Finish();
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }

  const crypto::SigningKey producer_key_ = ProducerKey();
  const crypto::SigningKey second_key_ = CrashKey(10);
  std::unique_ptr<server::Deployment> d_;
  std::unique_ptr<registry::ReadAuthenticator> reads_;
  std::unique_ptr<ledger::LedgerServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::LedgerService::Stub> stub_;
};

TEST_F(StreamGateTest, StreamsWithoutCredentialsAreRefusedBeforeTakingASlot) {
  std::vector<Open> strangers;
  for (int i = 0; i < 6; ++i) {
    strangers.push_back(OpenStream(nullptr));
    absl::StatusOr<v1::AppendResult> r =
        RoundTrip(strangers.back(), Storing(Producer(), ProducerKey(), i));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << r.status();
    EXPECT_NE(r.status().message().find("a stream opens with credentials"), std::string::npos);
  }
  // Every slot is still free for those who sign.
  Open mine = OpenStream(&producer_key_);
  absl::StatusOr<v1::AppendResult> r = RoundTrip(mine, Storing(Producer(), ProducerKey(), 10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code(), static_cast<int>(absl::StatusCode::kNotFound)) << r->message();
}

TEST_F(StreamGateTest, EachEnterpriseHasItsShareAndSignsWhatItsStreamsCarry) {
  const crypto::SigningKey other = CrashKey(8);
  Open a = OpenStream(&producer_key_);
  Open b = OpenStream(&second_key_);
  ASSERT_TRUE(RoundTrip(a, Storing(Producer(), ProducerKey(), 1)).ok());
  ASSERT_TRUE(RoundTrip(b, Storing(Producer(), ProducerKey(), 2)).ok());
  Open c = OpenStream(&producer_key_);
  absl::StatusOr<v1::AppendResult> third = RoundTrip(c, Storing(Producer(), ProducerKey(), 3));
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted) << third.status();
  // Another enterprise still gets a stream; on it, the producer's events are
  // refused one by one.
  Open theirs = OpenStream(&other);
  absl::StatusOr<v1::AppendResult> foreign =
      RoundTrip(theirs, Storing(Producer(), ProducerKey(), 4));
  ASSERT_TRUE(foreign.ok()) << foreign.status();
  EXPECT_EQ(foreign->code(), static_cast<int>(absl::StatusCode::kPermissionDenied));
  EXPECT_NE(foreign->message().find("on a stream opened by " + Consignee()), std::string::npos)
      << foreign->message();
  // A key id made up (long, and not a key id at all) is refused as a single
  // Append refuses it (INVALID_ARGUMENT), and so is a key nobody
  // registered (UNAUTHENTICATED); the producer's is refused again: only the
  // stream's own signers are remembered, not what else a stream sends.
  for (int i = 0; i < 3; ++i) {
    v1::SignedEnvelope made_up = Storing(Consignee(), other, 6 + i);
    made_up.mutable_signatures(0)->set_key_id(std::string(1024 + i, 'k'));
    absl::StatusOr<v1::AppendResult> refused = RoundTrip(theirs, made_up);
    ASSERT_TRUE(refused.ok()) << refused.status();
    EXPECT_EQ(refused->code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
    EXPECT_NE(refused->message().find("envelope.signatures[0].key_id"), std::string::npos)
        << refused->message();
  }
  const crypto::SigningKey stranger = crypto::SigningKey::Generate();
  absl::StatusOr<v1::AppendResult> unknown = RoundTrip(theirs, Storing(Consignee(), stranger, 10));
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_EQ(unknown->code(), static_cast<int>(absl::StatusCode::kUnauthenticated))
      << unknown->message();
  EXPECT_NE(unknown->message().find("is not registered"), std::string::npos) << unknown->message();
  foreign = RoundTrip(theirs, Storing(Producer(), ProducerKey(), 9));
  ASSERT_TRUE(foreign.ok()) << foreign.status();
  EXPECT_EQ(foreign->code(), static_cast<int>(absl::StatusCode::kPermissionDenied));
  absl::StatusOr<v1::AppendResult> own = RoundTrip(theirs, Storing(Consignee(), other, 5));
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_NE(own->code(), static_cast<int>(absl::StatusCode::kPermissionDenied)) << own->message();
}

TEST_F(StreamGateTest, OneActorCannotTakeAllOfItsEnterprisesStreams) {
  Open a = OpenStream(&producer_key_);
  ASSERT_TRUE(RoundTrip(a, Storing(Producer(), ProducerKey(), 1)).ok());
  Open again = OpenStream(&producer_key_);
  absl::StatusOr<v1::AppendResult> refused =
      RoundTrip(again, Storing(Producer(), ProducerKey(), 2));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_NE(refused.status().message().find("actor 'operator' has 1 streams open"),
            std::string::npos)
      << refused.status();
  // Another actor of the same enterprise still opens one, and may carry the
  // first actor's events.
  Open b = OpenStream(&second_key_);
  absl::StatusOr<v1::AppendResult> carried = RoundTrip(b, Storing(Producer(), ProducerKey(), 3));
  ASSERT_TRUE(carried.ok()) << carried.status();
  EXPECT_NE(carried->code(), static_cast<int>(absl::StatusCode::kPermissionDenied));
}

TEST_F(StreamGateTest, AnIdleStreamIsDroppedAndFreesItsSlot) {
  Open a = OpenStream(&producer_key_);
  Open b = OpenStream(&second_key_);
  ASSERT_TRUE(RoundTrip(a, Storing(Producer(), ProducerKey(), 1)).ok());
  ASSERT_TRUE(RoundTrip(b, Storing(Producer(), ProducerKey(), 2)).ok());
  // Both fall silent; the server drops them.
  absl::SleepFor(absl::Seconds(1));
  v1::AppendResult ignored;
  EXPECT_FALSE(a.stream->Read(&ignored));
  EXPECT_EQ(a.stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // Their slots are free again.
  Open c = OpenStream(&producer_key_);
  EXPECT_TRUE(RoundTrip(c, Storing(Producer(), ProducerKey(), 3)).ok());
}

// A stream's next batch is checked while the one before it commits, but the
// batches reach the rules in the order sent: the producer commissions 300
// codes and then stores each, 600 events written without waiting for any
// answer (so they arrive in several batches, the storing ones after the
// commissioning they depend on), with an event of another enterprise every
// 50, which the stream refuses in its place. Every other one is accepted, in
// the order sent.
TEST_F(StreamGateTest, AStreamsBatchesAreCommittedInTheOrderSent) {
  // Without the fixture's short idle timeout: a batch may take a while to
  // check and commit on a busy machine.
  StartService(ledger::AppendStreamOptions{});
  v1::RegistryRequest product;
  *product.mutable_register_product() = registry::testing::ExampleMethanol(Producer(), "M01");
  ASSERT_TRUE(SubmitRegistry(*d_, AdminKey(), product).ok());
  constexpr int kCodes = 300;
  v1::IssueLabelsRequest issue;
  issue.set_request_id("stream-order");
  issue.set_enterprise_uscc(Producer());
  issue.set_product_number("M01");
  issue.set_batch("ORDER");
  *issue.mutable_production_date() = api::ToProtoDate(api::TodayInChina() - 1);
  issue.set_package_count(kCodes);
  issue.set_net_quantity("25");
  issue.set_unit("KGM");
  absl::StatusOr<label::Issuance> issued = d_->issuer()->Issue(
      *envelope::Sign(api::kIssueLabelsContext, issue.SerializeAsString(), ProducerKey()));
  ASSERT_TRUE(issued.ok()) << issued.status();
  const auto event = [&](const std::string& id, v1::BusinessStep step, int k) {
    v1::Event e;
    e.set_event_id(id);
    e.set_step(step);
    e.add_codes(absl::StrCat(Producer(), ".M01.ORDER.", issued->claims.serial + k));
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(Producer());
    e.mutable_location()->set_site("warehouse 1");
    return *envelope::Sign(api::kEventContext, e.SerializeAsString(), ProducerKey());
  };
  std::vector<v1::SignedEnvelope> events;
  std::vector<bool> foreign;
  const auto add = [&](v1::SignedEnvelope e, bool other_enterprise) {
    events.push_back(std::move(e));
    foreign.push_back(other_enterprise);
  };
  for (int k = 0; k < kCodes; ++k) {
    add(event(absl::StrCat("c-", k), v1::COMMISSIONING, k), false);
    if (k % 50 == 0) add(Storing(Consignee(), CrashKey(8), k), true);
  }
  for (int k = 0; k < kCodes; ++k) add(event(absl::StrCat("s-", k), v1::STORING, k), false);

  Open o = OpenStream(&producer_key_);
  std::thread writer([&] {
    for (const v1::SignedEnvelope& e : events) {
      if (!o.stream->Write(e)) break;
    }
    o.stream->WritesDone();
  });
  std::vector<v1::AppendResult> results;
  v1::AppendResult r;
  while (o.stream->Read(&r)) results.push_back(r);
  writer.join();
  const grpc::Status status = o.stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(results.size(), events.size());
  uint64_t last_index = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    if (foreign[i]) {
      EXPECT_EQ(results[i].code(), static_cast<int>(absl::StatusCode::kPermissionDenied))
          << "event " << i << ": " << results[i].message();
      continue;
    }
    ASSERT_EQ(results[i].code(), 0) << "event " << i << ": " << results[i].message();
    EXPECT_GT(results[i].receipt().log_index(), last_index) << "event " << i;
    last_index = results[i].receipt().log_index();
  }
}

}  // namespace
}  // namespace chemledger::testing
