#include "web/http_port.h"

#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace chemledger::web {
namespace {

// A server as an earlier version ran it (httplib's default options,
// SO_REUSEPORT), serving one request that closes its connection: the
// server's side of that connection stays in TIME_WAIT on the port after
// the server stopped. Returns the port.
int PortLeftInTimeWait() {
  httplib::Server old;
  old.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("x", "text/plain");
  });
  const int port = old.bind_to_any_port("127.0.0.1");
  EXPECT_GT(port, 0);
  std::thread serving([&] { old.listen_after_bind(); });
  while (!old.is_running()) absl::SleepFor(absl::Milliseconds(1));
  httplib::Client client("127.0.0.1", port);
  httplib::Result got = client.Get("/", httplib::Headers{{"Connection", "close"}});
  EXPECT_TRUE(got) << httplib::to_string(got.error());
  absl::SleepFor(absl::Milliseconds(200));  // the server closed its side first
  old.stop();
  serving.join();
  return port;
}

TEST(HttpPortTest, APortAnotherServerListensOnIsRefusedAtOnce) {
  httplib::Server first;
  absl::StatusOr<int> port = BindHttpPort(&first, "127.0.0.1", 0);
  ASSERT_TRUE(port.ok()) << port.status();
  std::thread serving = ServeInBackground(&first);
  ASSERT_TRUE(first.is_running());
  httplib::Server second;
  const absl::Time start = absl::Now();
  absl::StatusOr<int> refused = BindHttpPort(&second, "127.0.0.1", *port, absl::Seconds(60));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));  // not the minute it may wait otherwise
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "another server listens there"))
      << refused.status();
  first.stop();
  serving.join();
}

// What an earlier version left behind holds the port against the new
// options (the kernel refuses the bind: EADDRINUSE) though nothing listens:
// waited for, up to the wait given, then refused without blaming a server.
TEST(HttpPortTest, ClosingConnectionsOfAnEarlierVersionAreWaitedFor) {
  const int port = PortLeftInTimeWait();
  httplib::Server next;
  const absl::Time start = absl::Now();
  absl::StatusOr<int> bound = BindHttpPort(&next, "127.0.0.1", port, absl::Milliseconds(1500));
  const absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(bound.ok()) << "bound at once: the kernel let the port go";
  EXPECT_FALSE(absl::StrContains(bound.status().message(), "another server")) << bound.status();
  EXPECT_GE(took, absl::Milliseconds(1400));
}

}  // namespace
}  // namespace chemledger::web
