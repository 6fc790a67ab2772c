#include "web/http_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace chemledger::web {
namespace {

// Sends one request that asks the server to close the connection and reads
// until the server has closed its side (end of stream) before closing this
// side: the server closes first, so its side of the connection, not this
// one, goes to TIME_WAIT. (A client that closes as soon as it has the
// response, as httplib's does, may close first and leave the server's
// port free.)
void RequestTheServerClosesFirst(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
  const timeval patience{10, 0};  // a server that never closes fails the test, not hangs it
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience)), 0);
  const std::string request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[512];
  ssize_t got;
  while ((got = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, got);
  EXPECT_EQ(got, 0) << "the server did not close its side within 10 s";
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200")) << response;
  close(fd);
}

// A server as an earlier version ran it (httplib's default options,
// SO_REUSEPORT), serving one request whose connection it closes first: the
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
  RequestTheServerClosesFirst(port);
  absl::SleepFor(absl::Milliseconds(100));  // this side's end reaches the server
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
