#include "services/common/server_threads.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "chemledger/testing/slow_echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace chemledger {
namespace {

class SlowEchoService final : public testing::SlowEcho::Service {
 public:
  grpc::Status Echo(grpc::ServerContext*, const testing::EchoRequest* request,
                    testing::EchoResponse* response) override {
    absl::SleepFor(absl::Microseconds(request->hold_micros()));
    response->set_thread_id(static_cast<int64_t>(syscall(SYS_gettid)));
    return grpc::Status::OK;
  }
};

struct Served {
  std::set<int64_t> threads;  // the distinct threads that served calls
  int refused = 0;            // calls that failed, all RESOURCE_EXHAUSTED
};

// `calls` calls made by `clients` clients at once, each call held 1 ms (as
// an Append waits for its fsync).
Served ThreadsServing(grpc::ServerBuilder& builder, int clients, int calls) {
  SlowEchoService service;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  EXPECT_NE(server, nullptr);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  std::unique_ptr<testing::SlowEcho::Stub> stub = testing::SlowEcho::NewStub(channel);
  absl::Mutex mu;
  Served served;
  std::atomic<int> refused{0};
  std::vector<std::thread> running;
  for (int c = 0; c < clients; ++c) {
    running.emplace_back([&] {
      for (int i = 0; i < calls / clients; ++i) {
        grpc::ClientContext context;
        testing::EchoRequest request;
        request.set_hold_micros(1000);
        testing::EchoResponse response;
        const grpc::Status status = stub->Echo(&context, request, &response);
        if (!status.ok()) {
          EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
              << status.error_message();
          ++refused;
          continue;
        }
        absl::MutexLock lock(&mu);
        served.threads.insert(response.thread_id());
      }
    });
  }
  for (std::thread& t : running) t.join();
  server->Shutdown();
  served.refused = refused.load();
  return served;
}

// Eight clients, 1,600 calls: the threads that finish a call serve the next
// ones, so a few more than eight threads serve them all.
TEST(BoundCallThreadsTest, ThreadsThatFinishACallServeTheNext) {
  grpc::ServerBuilder builder;
  BoundCallThreads("server_threads_test", 1024, &builder);
  const Served served = ThreadsServing(builder, 8, 1600);
  EXPECT_EQ(served.refused, 0);
  EXPECT_LE(served.threads.size(), 8u + 8u)
      << "threads were started for calls and ended after them";
}

// What the bound is for: gRPC's default ends a thread after each call when
// two others poll, and starts one for each call that leaves fewer than one.
TEST(BoundCallThreadsTest, GrpcsDefaultStartsThreadsForCalls) {
  grpc::ServerBuilder builder;
  const Served served = ThreadsServing(builder, 8, 1600);
  EXPECT_EQ(served.refused, 0);
  EXPECT_GT(served.threads.size(), 32u);
}

// Below kIdleCallThreads the bound holds too: four threads serve, and calls
// beyond them are refused at once (the reason chemledgerd's --max-threads is
// in the hundreds).
TEST(BoundCallThreadsTest, CallsBeyondMaxThreadsAreRefused) {
  grpc::ServerBuilder builder;
  BoundCallThreads("server_threads_test", 4, &builder);
  const Served served = ThreadsServing(builder, 8, 400);
  EXPECT_GT(served.refused, 0);
  EXPECT_LT(served.refused, 400);
  EXPECT_LE(served.threads.size(), 4u);
}

}  // namespace
}  // namespace chemledger
