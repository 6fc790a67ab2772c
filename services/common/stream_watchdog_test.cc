#include "services/common/stream_watchdog.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "testing/loopback_server.h"

namespace chemledger {
namespace {

// Waits up to `limit` for `ended` to become true.
bool EndsWithin(const std::atomic<int>& ended, absl::Duration limit) {
  const absl::Time until = absl::Now() + limit;
  while (ended.load() == 0 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(5));
  return ended.load() != 0;
}

TEST(StreamWatchdogTest, AnIdleStreamIsEndedOnce) {
  std::atomic<int> ended{0};
  StreamWatchdog watchdog([&] { ended.fetch_add(1); },
                          StreamTimeouts{absl::Milliseconds(100), absl::Seconds(60)});
  ASSERT_TRUE(EndsWithin(ended, absl::Seconds(30)));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(ended.load(), 1);
  EXPECT_TRUE(watchdog.fired());
}

TEST(StreamWatchdogTest, AStreamKeptActiveIsNotEnded) {
  std::atomic<int> ended{0};
  {
    StreamWatchdog watchdog([&] { ended.fetch_add(1); },
                            StreamTimeouts{absl::Seconds(5), absl::Seconds(60)});
    const absl::Time until = absl::Now() + absl::Milliseconds(700);
    while (absl::Now() < until) {
      watchdog.Active();
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_FALSE(watchdog.fired());
  }  // the destructor stops and joins the watchdog's thread
  EXPECT_EQ(ended.load(), 0);
}

// A client waiting for answers the server is still working out is not
// idle, however long the work takes; once it is done the idle time counts
// from then.
TEST(StreamWatchdogTest, AStreamTheServerWorksOnIsNotIdle) {
  std::atomic<int> ended{0};
  StreamWatchdog watchdog([&] { ended.fetch_add(1); },
                          StreamTimeouts{absl::Seconds(1), absl::Seconds(60)});
  watchdog.WorkStarted();
  watchdog.WorkStarted();  // the checker and the handler both at work
  absl::SleepFor(absl::Seconds(3));
  watchdog.WorkDone();
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(ended.load(), 0);
  EXPECT_FALSE(watchdog.fired());
  watchdog.WorkDone();
  ASSERT_TRUE(EndsWithin(ended, absl::Seconds(30)));
  EXPECT_TRUE(watchdog.fired());
}

TEST(StreamWatchdogTest, AWriteTheClientDoesNotTakeEndsTheStream) {
  std::atomic<int> ended{0};
  StreamWatchdog watchdog([&] { ended.fetch_add(1); },
                          StreamTimeouts{absl::Hours(1), absl::Milliseconds(100)});
  watchdog.WriteStarted();  // and never done
  ASSERT_TRUE(EndsWithin(ended, absl::Seconds(30)));
  EXPECT_TRUE(watchdog.fired());
}

TEST(StreamWatchdogTest, WritesThatFinishKeepTheStreamAlive) {
  std::atomic<int> ended{0};
  StreamWatchdog watchdog([&] { ended.fetch_add(1); },
                          StreamTimeouts{absl::Seconds(5), absl::Seconds(5)});
  for (int i = 0; i < 50; ++i) {
    watchdog.WriteStarted();
    absl::SleepFor(absl::Milliseconds(5));
    watchdog.WriteDone();
  }
  EXPECT_FALSE(watchdog.fired());
  EXPECT_EQ(ended.load(), 0);
}

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
