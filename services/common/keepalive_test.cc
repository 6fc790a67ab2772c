#include "services/common/keepalive.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "testing/loopback_server.h"

namespace chemledger {
namespace {

// A TCP relay on loopback to `target_port` that can stop passing bytes
// without closing either connection, as a host that died or a firewall that
// dropped the flow does: neither end hears anything more.
class FreezableRelay {
 public:
  explicit FreezableRelay(int target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = Loopback(0);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(listen_fd_, 16), 0);
    socklen_t length = sizeof(address);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    accepter_ = std::thread([this] { Accept(); });
  }
  ~FreezableRelay() {
    stopping_ = true;
    accepter_.join();
    absl::MutexLock lock(&mu_);
    for (std::thread& t : pumps_) t.join();
    for (int fd : fds_) close(fd);
    close(listen_fd_);
  }

  int port() const { return port_; }
  void Freeze() { frozen_ = true; }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    return address;
  }

  void Accept() {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      const int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address = Loopback(target_port_);
      if (connect(server, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
        close(client);
        close(server);
        continue;
      }
      absl::MutexLock lock(&mu_);
      fds_.push_back(client);
      fds_.push_back(server);
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
      pumps_.emplace_back([this, client, server] { Pump(server, client); });
    }
  }

  void Pump(int from, int to) {
    char buffer[16384];
    while (!stopping_) {
      if (frozen_) {
        absl::SleepFor(absl::Milliseconds(20));
        continue;
      }
      pollfd p{from, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      const ssize_t n = read(from, buffer, sizeof(buffer));
      if (n <= 0) return;
      for (ssize_t sent = 0; sent < n;) {
        const ssize_t m = write(to, buffer + sent, static_cast<size_t>(n - sent));
        if (m <= 0) return;
        sent += m;
      }
    }
  }

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> frozen_{false};
  std::thread accepter_;
  absl::Mutex mu_;
  std::vector<std::thread> pumps_ ABSL_GUARDED_BY(mu_);
  std::vector<int> fds_ ABSL_GUARDED_BY(mu_);
};

// A stream that reads one request and then waits, quiet, until its call
// ends (as a SubscribeAnomalies stream waits for anomalies).
class QuietStream final : public v1::LedgerService::Service {
 public:
  grpc::Status AppendStream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::AppendResult, v1::SignedEnvelope>* stream) override {
    v1::SignedEnvelope request;
    if (!stream->Read(&request)) return grpc::Status::OK;
    started.Notify();
    while (!context->IsCancelled()) absl::SleepFor(absl::Milliseconds(10));
    ended.Notify();
    return grpc::Status::OK;
  }
  absl::Notification started, ended;
};

// A client that vanished without closing its connection: the server's
// pings go unanswered and it ends the client's quiet call.
TEST(KeepaliveTest, AServerEndsTheCallsOfAClientThatVanished) {
  QuietStream service;
  grpc::ServerBuilder builder;
  KeepConnectionsAlive(&builder, KeepaliveTimes{absl::Seconds(1), absl::Seconds(1)});
  testing::LoopbackServer served = testing::ServeOnLoopback({&service}, &builder);
  ASSERT_NE(served.server, nullptr);
  FreezableRelay relay(served.port);
  auto stub = v1::LedgerService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", relay.port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->AppendStream(&context);
  ASSERT_TRUE(stream->Write(v1::SignedEnvelope()));
  ASSERT_TRUE(service.started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  relay.Freeze();
  EXPECT_TRUE(service.ended.WaitForNotificationWithTimeout(absl::Seconds(15)))
      << "the server still holds the vanished client's call";
  context.TryCancel();
  served.server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
}

// A server that vanished: the client's pings go unanswered and its call
// fails UNAVAILABLE, instead of waiting on a dead connection.
TEST(KeepaliveTest, AClientFindsItsServerVanished) {
  QuietStream service;
  grpc::ServerBuilder builder;
  // This server takes pings as often as they come.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 100);
  testing::LoopbackServer served = testing::ServeOnLoopback({&service}, &builder);
  ASSERT_NE(served.server, nullptr);
  FreezableRelay relay(served.port);
  grpc::ChannelArguments args;
  KeepChannelAlive(&args, KeepaliveTimes{absl::Seconds(1), absl::Seconds(1)});
  auto stub = v1::LedgerService::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", relay.port()), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto stream = stub->AppendStream(&context);
  ASSERT_TRUE(stream->Write(v1::SignedEnvelope()));
  ASSERT_TRUE(service.started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  relay.Freeze();
  const absl::Time frozen = absl::Now();
  v1::AppendResult answer;
  EXPECT_FALSE(stream->Read(&answer));
  EXPECT_LT(absl::Now() - frozen, absl::Seconds(15));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  served.server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
}

// What our servers accept and what our clients send agree.
TEST(KeepaliveTest, OurClientsPingNoMoreOftenThanOurServersAccept) {
  EXPECT_GE(kClientKeepalive.every, kMinClientPingInterval);
  EXPECT_GT(kServerKeepalive.every, kServerKeepalive.timeout);
  EXPECT_GT(kClientKeepalive.every, kClientKeepalive.timeout);
}

}  // namespace
}  // namespace chemledger
