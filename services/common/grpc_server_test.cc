#include "services/common/grpc_server.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "chemledger/testing/slow_echo.grpc.pb.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "tests/grpc_health.h"

namespace chemledger {
namespace {

// A service with a method, as every server here has (gRPC refuses to start
// a synchronous server without one).
class EchoService final : public testing::SlowEcho::Service {};

// Options for a test server on `listen` serving `echo`.
GrpcServerOptions TestOptions(const std::string& listen, grpc::Service* echo) {
  GrpcServerOptions options;
  options.name = "test";
  options.listen = listen;
  options.credentials = grpc::InsecureServerCredentials();
  options.services = {echo};
  return options;
}

cli::Args Parse(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(argv, {{"max-threads", "grpc-reflection"}, {}});
  EXPECT_TRUE(args.ok()) << args.status();
  return args.ok() ? *std::move(args) : cli::Args();
}

TEST(GrpcServerTest, MaxThreadsIsEightToTenThousand) {
  EXPECT_EQ(*ReadMaxThreads(Parse({})), 1024);
  EXPECT_EQ(*ReadMaxThreads(Parse({"--max-threads", "8"})), 8);
  EXPECT_EQ(*ReadMaxThreads(Parse({"--max-threads", "10000"})), 10000);
  for (const char* bad : {"7", "10001", "many"}) {
    absl::StatusOr<int> read = ReadMaxThreads(Parse({"--max-threads", bad}));
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(read.status().message().find("--max-threads"), std::string::npos) << read.status();
  }
}

TEST(GrpcServerTest, StartsOnAFreePortAndNamesTheFlagWhenItCannotListen) {
  EchoService echo;
  GrpcServerOptions options = TestOptions("127.0.0.1:0", &echo);
  absl::StatusOr<StartedGrpcServer> started = StartGrpcServer(std::move(options), "--listen");
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_GT(started->port, 0);
  // The health service answers on it.
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", started->port),
                                     grpc::InsecureChannelCredentials());
  EXPECT_EQ(testing::CheckHealth(channel), testing::kServing);
  // The same port again: taken.
  EchoService echo_again;
  GrpcServerOptions again = TestOptions(absl::StrCat("127.0.0.1:", started->port), &echo_again);
  absl::StatusOr<StartedGrpcServer> refused = StartGrpcServer(std::move(again), "--internal-listen");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(refused.status().message(),
            absl::StrCat("--internal-listen: cannot listen on 127.0.0.1:", started->port));
  started->server->Shutdown();
}

TEST(GrpcServerTest, ReflectionIsOnOrOffAndOffByDefault) {
  EXPECT_FALSE(*ReadGrpcReflection(Parse({})));
  EXPECT_FALSE(*ReadGrpcReflection(Parse({"--grpc-reflection", "off"})));
  EXPECT_TRUE(*ReadGrpcReflection(Parse({"--grpc-reflection", "on"})));
  absl::StatusOr<bool> bad = ReadGrpcReflection(Parse({"--grpc-reflection", "yes"}));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("--grpc-reflection"), std::string::npos) << bad.status();
}

// What a reflection client (grpcurl) asks first, "which services?", over a
// generic stream (no generated reflection stubs: gRPC's reflection library
// registers those messages already): the answer's bytes, or the status.
struct ReflectionAnswer {
  grpc::Status status;
  std::string bytes;
};
ReflectionAnswer ListServices(int port) {
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  const auto wait = [&queue] {
    void* tag;
    bool ok = false;
    EXPECT_TRUE(queue.Next(&tag, &ok));
    return ok;
  };
  ReflectionAnswer answer;
  call->StartCall(nullptr);
  wait();
  const std::string list_services("\x3a\x00", 2);  // ServerReflectionRequest.list_services = ""
  grpc::Slice slice(list_services);
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, nullptr);
  wait();
  call->WritesDone(nullptr);
  wait();
  grpc::ByteBuffer response;
  call->Read(&response, nullptr);
  if (wait()) {
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(response.Dump(&slices).ok());
    for (const grpc::Slice& s : slices) {
      answer.bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  call->Finish(&answer.status, nullptr);
  wait();
  queue.Shutdown();
  void* tag;
  bool ok;
  while (queue.Next(&tag, &ok)) {
  }
  return answer;
}

// Off, reflection is not there at all (each open stream would hold a call
// thread, without credentials); on, it lists the services.
TEST(GrpcServerTest, ReflectionAnswersOnlyWhenAskedFor) {
  for (const bool reflection : {false, true}) {
    EchoService echo;
    GrpcServerOptions options = TestOptions("127.0.0.1:0", &echo);
    options.reflection = reflection;
    absl::StatusOr<StartedGrpcServer> started = StartGrpcServer(std::move(options), "--listen");
    ASSERT_TRUE(started.ok()) << started.status();
    const ReflectionAnswer answer = ListServices(started->port);
    if (reflection) {
      EXPECT_TRUE(answer.status.ok()) << answer.status.error_message();
      EXPECT_NE(answer.bytes.find("grpc.health.v1.Health"), std::string::npos) << answer.bytes;
    } else {
      EXPECT_EQ(answer.status.error_code(), grpc::StatusCode::UNIMPLEMENTED)
          << answer.status.error_message();
      EXPECT_TRUE(answer.bytes.empty());
    }
    started->server->Shutdown();
  }
}

// Holds each call for its hold_micros, or until the call is cancelled.
class HoldingEchoService final : public testing::SlowEcho::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* context, const testing::EchoRequest* request,
                    testing::EchoResponse*) override {
    held_.fetch_add(1);
    const absl::Time until = absl::Now() + absl::Microseconds(request->hold_micros());
    while (absl::Now() < until) {
      if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      absl::SleepFor(absl::Milliseconds(5));
    }
    return grpc::Status::OK;
  }
  int held() const { return held_.load(); }

 private:
  std::atomic<int> held_{0};
};

// One Echo call to `port` holding `hold`, on a thread of its own.
std::thread CallEcho(int port, absl::Duration hold, grpc::Status* status) {
  return std::thread([port, hold, status] {
    auto stub = testing::SlowEcho::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
    testing::EchoRequest request;
    request.set_hold_micros(static_cast<uint32_t>(absl::ToInt64Microseconds(hold)));
    testing::EchoResponse response;
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    *status = stub->Echo(&context, request, &response);
  });
}

// Whether a new Echo call to `port` (holding nothing) is answered within
// `deadline`.
bool AnswersANewCall(int port, absl::Duration deadline) {
  auto stub = testing::SlowEcho::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
  testing::EchoRequest request;
  testing::EchoResponse response;
  return stub->Echo(&context, request, &response).ok();
}

// Servers stopped together each refuse new calls at once, also while
// another still finishes a call in progress (stopped one after the other,
// the second would take calls until the first was done); the calls in
// progress on each finish within the grace; a null server is skipped.
TEST(GrpcServerTest, ServersStoppedTogetherFinishTheirCallsInProgress) {
  HoldingEchoService echo_a, echo_b;
  std::vector<StartedGrpcServer> servers;
  for (HoldingEchoService* echo : {&echo_a, &echo_b}) {
    absl::StatusOr<StartedGrpcServer> started =
        StartGrpcServer(TestOptions("127.0.0.1:0", echo), "--listen");
    ASSERT_TRUE(started.ok()) << started.status();
    servers.push_back(*std::move(started));
  }
  grpc::Status a, b;
  std::thread call_a = CallEcho(servers[0].port, absl::Seconds(3), &a);
  std::thread call_b = CallEcho(servers[1].port, absl::Milliseconds(200), &b);
  while (echo_a.held() < 1 || echo_b.held() < 1) absl::SleepFor(absl::Milliseconds(5));
  std::atomic<bool> stopped{false};
  std::thread stopping([&] {
    StopGrpcServers({servers[0].server.get(), nullptr, servers[1].server.get()});
    stopped.store(true);
  });
  // While A's call still runs, B takes no new call.
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_FALSE(AnswersANewCall(servers[1].port, absl::Seconds(1)));
  EXPECT_EQ(echo_b.held(), 1) << "B took a call after the stop began";
  EXPECT_FALSE(stopped.load()) << "the stop did not wait for A's call";
  stopping.join();
  call_a.join();
  call_b.join();
  EXPECT_TRUE(a.ok()) << a.error_message();
  EXPECT_TRUE(b.ok()) << b.error_message();
  // Stopped: a new call finds no server.
  EXPECT_FALSE(AnswersANewCall(servers[0].port, absl::Seconds(2)));
}

// A call still running when the grace ends is cancelled, and the stop
// returns.
TEST(GrpcServerTest, ACallPastTheGraceIsCancelled) {
  HoldingEchoService echo;
  absl::StatusOr<StartedGrpcServer> started =
      StartGrpcServer(TestOptions("127.0.0.1:0", &echo), "--listen");
  ASSERT_TRUE(started.ok()) << started.status();
  grpc::Status status;
  std::thread call = CallEcho(started->port, absl::Seconds(50), &status);
  while (echo.held() < 1) absl::SleepFor(absl::Milliseconds(5));
  StopGrpcServers({started->server.get()}, absl::Milliseconds(100));
  call.join();
  EXPECT_FALSE(status.ok());
}

}  // namespace
}  // namespace chemledger
