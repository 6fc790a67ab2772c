#include "services/common/stream_batches.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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

using internal::CheckedHandoff;

// The checker hands batches over one at a time, in order: a second Put
// waits until the first is taken, and Take sees the end only after the last
// batch put before Close.
TEST(CheckedHandoffTest, BatchesPassOneAtATimeInOrderAndTheEndComesLast) {
  CheckedHandoff<std::vector<int>> handoff;
  std::atomic<int> put{0};
  std::thread checker([&] {
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(handoff.Put(std::vector<int>{i, i}));
      ++put;
    }
    handoff.Close();
  });
  // The first batch is put at once; the second waits for it to be taken.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (put.load() < 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(put.load(), 1);
  std::vector<int> taken;
  for (;;) {
    std::optional<std::vector<int>> batch = handoff.Take();
    if (!batch) break;
    ASSERT_EQ(batch->size(), 2u);
    taken.push_back((*batch)[0]);
  }
  checker.join();
  EXPECT_EQ(taken, (std::vector<int>{0, 1, 2}));
}

// When the handler stops (its client went away), a checker waiting to put
// is released with false, and nothing more is taken.
TEST(CheckedHandoffTest, StopReleasesAWaitingPutAndEndsTake) {
  CheckedHandoff<int> handoff;
  ASSERT_TRUE(handoff.Put(1));
  absl::Notification released;
  std::atomic<bool> second_put{true};
  std::thread checker([&] {
    second_put = handoff.Put(2);  // waits: one is waiting already
    released.Notify();
  });
  EXPECT_FALSE(released.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  handoff.Stop();
  EXPECT_TRUE(released.WaitForNotificationWithTimeout(absl::Seconds(10)));
  checker.join();
  EXPECT_FALSE(second_put.load());
  EXPECT_FALSE(handoff.Take().has_value());
  EXPECT_FALSE(handoff.Put(3));
}

// A stream answering each request with three results, through
// AnswerInBatches, on loopback gRPC.
class ThreeAnswersEach final : public v1::LedgerService::Service {
 public:
  grpc::Status AppendStream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::AppendResult, v1::SignedEnvelope>* stream) override {
    StreamBatchLimits limits;
    return AnswerInBatches<v1::SignedEnvelope, std::vector<v1::SignedEnvelope>, v1::AppendResult>(
        context, stream, limits, [](std::vector<v1::SignedEnvelope> batch) { return batch; },
        [](std::vector<v1::SignedEnvelope>& batch) {
          std::vector<v1::AppendResult> results;
          for (const v1::SignedEnvelope& request : batch) {
            for (int i = 0; i < 3; ++i) {
              results.emplace_back().set_message(absl::StrCat(request.payload(), "/", i));
            }
          }
          return results;
        });
  }
};

// A client that sends a request and then waits, neither sending more nor
// closing its side, gets every answer at once. gRPC's synchronous API does
// not complete a write carrying the buffer hint until some later frame goes
// out on the connection (grpc/grpc#12975): answers written with it waited
// until the client sent more, or until the watchdog ended the stream.
TEST(AnswerInBatchesTest, AClientThatWaitsGetsEveryAnswer) {
  ThreeAnswersEach service;
  testing::LoopbackServer served = testing::ServeOnLoopback({&service});
  ASSERT_NE(served.server, nullptr);
  std::unique_ptr<v1::LedgerService::Stub> stub = v1::LedgerService::NewStub(served.channel);
  for (const std::string payload : {"first", "second"}) {
    SCOPED_TRACE(payload);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto stream = stub->AppendStream(&context);
    v1::SignedEnvelope request;
    request.set_payload(payload);
    ASSERT_TRUE(stream->Write(request));
    for (int i = 0; i < 3; ++i) {
      v1::AppendResult answer;
      ASSERT_TRUE(stream->Read(&answer)) << "answer " << i << " did not come";
      EXPECT_EQ(answer.message(), absl::StrCat(payload, "/", i));
    }
    stream->WritesDone();
    v1::AppendResult more;
    EXPECT_FALSE(stream->Read(&more));
    grpc::Status status = stream->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  served.server->Shutdown();
}

}  // namespace
}  // namespace chemledger
