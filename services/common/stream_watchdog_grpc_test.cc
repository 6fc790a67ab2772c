// The stream watchdog (stream_watchdog.h) on real gRPC streams over
// loopback: apart from stream_watchdog_test, which needs no gRPC and runs
// under ThreadSanitizer (tools/tsan.sh).

#include <atomic>
#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/common/stream_watchdog.h"
#include "testing/loopback_server.h"

namespace chemledger {
namespace {

// A stream that writes until its client stops taking messages, each write
// timed by a watchdog (WatchedWrite) with a write timeout of 2 s.
class WritesUntilRefused final : public v1::LedgerService::Service {
 public:
  grpc::Status AppendStream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::AppendResult, v1::SignedEnvelope>* stream) override {
    StreamWatchdog watchdog([context] { context->TryCancel(); },
                            StreamTimeouts{absl::InfiniteDuration(), absl::Seconds(2)});
    v1::AppendResult big;
    big.set_message(std::string(64 << 10, 'x'));
    while (WatchedWrite(watchdog, *stream, big)) ++written;
    fired = watchdog.fired();
    ended.Notify();
    return grpc::Status::OK;
  }
  std::atomic<int> written{0};
  std::atomic<bool> fired{false};
  absl::Notification ended;
};

// A client that stops reading does not hold the server's handler for good:
// once gRPC's buffers are full, the write it does not take ends the stream
// after the write timeout.
TEST(WatchedWriteTest, AClientThatStopsReadingEndsTheStream) {
  WritesUntilRefused service;
  testing::LoopbackServer served = testing::ServeOnLoopback({&service});
  ASSERT_NE(served.server, nullptr);
  std::unique_ptr<v1::LedgerService::Stub> stub = v1::LedgerService::NewStub(served.channel);
  grpc::ClientContext context;
  auto stream = stub->AppendStream(&context);
  v1::AppendResult first;
  ASSERT_TRUE(stream->Read(&first));  // then it reads no more
  EXPECT_TRUE(service.ended.WaitForNotificationWithTimeout(absl::Seconds(30)))
      << "the handler still writes after " << service.written.load() << " messages";
  EXPECT_TRUE(service.fired.load());
  EXPECT_GT(service.written.load(), 1);
  context.TryCancel();
  stream->Finish();
  served.server->Shutdown();
}

}  // namespace
}  // namespace chemledger
