#include "services/common/rate_limiter.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "chemledger/testing/slow_echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace chemledger {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1795000000);

TEST(RateLimiterTest, ABurstThenTheRatePerClient) {
  RateLimiter limiter(/*rate=*/10, /*burst=*/20);
  EXPECT_TRUE(limiter.Take("ipv4:10.0.0.1", 20, kT0));
  EXPECT_FALSE(limiter.Take("ipv4:10.0.0.1", 1, kT0));
  // Another client has its own bucket.
  EXPECT_TRUE(limiter.Take("ipv4:10.0.0.2", 5, kT0));
  // Half a second refills 5.
  EXPECT_TRUE(limiter.Take("ipv4:10.0.0.1", 5, kT0 + absl::Milliseconds(500)));
  EXPECT_FALSE(limiter.Take("ipv4:10.0.0.1", 1, kT0 + absl::Milliseconds(500)));
  // Never more than the burst, however long idle; a cost over the burst
  // never passes.
  EXPECT_FALSE(limiter.Take("ipv4:10.0.0.1", 21, kT0 + absl::Seconds(30)));
  EXPECT_TRUE(limiter.Take("ipv4:10.0.0.1", 20, kT0 + absl::Seconds(30)));
}

TEST(RateLimiterTest, RemembersAtMostSoManyClientsAndForgetsIdleOnes) {
  RateLimiter limiter(10, 20, /*max_clients=*/2);
  EXPECT_TRUE(limiter.Take("a", 1, kT0));
  EXPECT_TRUE(limiter.Take("b", 1, kT0));
  // Beyond two, new clients share one bucket.
  EXPECT_TRUE(limiter.Take("c", 15, kT0));
  EXPECT_FALSE(limiter.Take("d", 10, kT0)) << "d shares c's bucket while the table is full";
  EXPECT_TRUE(limiter.Take("a", 19, kT0)) << "a known client keeps its own";
  // Idle for over a minute: forgotten, and room for a bucket of its own.
  EXPECT_TRUE(limiter.Take("d", 20, kT0 + absl::Minutes(2)));
  // Nothing asked, nothing taken (and nothing remembered).
  EXPECT_TRUE(limiter.Take("e", 0, kT0 + absl::Minutes(2)));
}

// One /48 holds 65,536 /64s, each a client: enough to fill the table. The
// new clients beyond it share a bucket per network, so the flood's own
// network is slowed and a phone elsewhere still scans.
TEST(RateLimiterTest, AFullTableSharesBucketsPerNetworkNotOneForAll) {
  RateLimiter limiter(1, 20, /*max_clients=*/100);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(limiter.Take(absl::StrCat("ipv6:2001:db8:1:", absl::Hex(i), "::/64"), 1, kT0));
  }
  // The flood goes on from new /64s of the same /48: one bucket for them.
  int passed = 0;
  for (int i = 100; i < 200; ++i) {
    passed += limiter.Take(absl::StrCat("ipv6:2001:db8:1:", absl::Hex(i), "::/64"), 1, kT0);
  }
  EXPECT_EQ(passed, 20) << "the flooding network's new addresses share one burst";
  // A new client of another network has a bucket of its own, full.
  EXPECT_TRUE(limiter.Take("ipv6:2001:db8:2:1::/64", 20, kT0));
  EXPECT_TRUE(limiter.Take("ipv4:203.0.113.9", 20, kT0));
  // Not an address ClientNetwork reads: the last, shared bucket.
  EXPECT_TRUE(limiter.Take("unix:/tmp/socket", 20, kT0));
  EXPECT_FALSE(limiter.Take("unix:/tmp/other", 1, kT0));
}

// With a network allowance the addresses of one network share it too: the
// /64s of one IPv6 /48 (or the addresses of an IPv4 /24) are not each a
// full allowance; another network's are untouched, and the network's
// bucket fills again at its own rate.
TEST(RateLimiterTest, TheAddressesOfOneNetworkShareItsAllowance) {
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  RateLimiter limiter(1, 10, /*max_clients=*/1000, {2, 30});
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.Take(absl::StrCat("ipv6:2001:db8:1:", i, "::/64"), 10, t0)) << i;
  }
  EXPECT_FALSE(limiter.Take("ipv6:2001:db8:1:3::/64", 1, t0)) << "the /48's 30 are spent";
  EXPECT_TRUE(limiter.Take("ipv6:2001:db8:2:0::/64", 10, t0)) << "another /48";
  // A refusal by the network takes nothing from the address.
  EXPECT_TRUE(limiter.Take("ipv6:2001:db8:1:3::/64", 4, t0 + absl::Seconds(2)));
  EXPECT_FALSE(limiter.Take("ipv6:2001:db8:1:3::/64", 1, t0 + absl::Seconds(2)));
  // IPv4 by /24.
  for (int i = 1; i <= 3; ++i) {
    EXPECT_TRUE(limiter.Take(absl::StrCat("ipv4:198.51.100.", i), 10, t0)) << i;
  }
  EXPECT_FALSE(limiter.Take("ipv4:198.51.100.4", 1, t0));
  EXPECT_TRUE(limiter.Take("ipv4:198.51.101.4", 10, t0));
  // Without an allowance per network, each address has its own.
  RateLimiter per_address(1, 10, 1000);
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(per_address.Take(absl::StrCat("ipv6:2001:db8:1:", i, "::/64"), 10, t0)) << i;
  }
}

TEST(RateLimiterTest, ClientAddressesDropThePortAndGroupIpv6By64) {
  EXPECT_EQ(ClientAddress("ipv4:10.0.0.7:51234"), "ipv4:10.0.0.7");
  EXPECT_EQ(ClientAddress("ipv6:[2001:db8:1:2:3:4:5:6]:443"), "ipv6:2001:db8:1:2::/64");
  EXPECT_EQ(ClientAddress("ipv6:[2001:db8:1:2:9:9:9:9]:1"), "ipv6:2001:db8:1:2::/64");
  // However written: "::" compressed, or mapped IPv4.
  EXPECT_EQ(ClientAddress("ipv6:[2001:db8:1:2::7]:1"), "ipv6:2001:db8:1:2::/64");
  EXPECT_EQ(ClientAddress("ipv6:[2001:db8:1:2::8]:2"), "ipv6:2001:db8:1:2::/64");
  EXPECT_EQ(ClientAddress("ipv6:[::ffff:10.0.0.7]:5"), "ipv4:10.0.0.7");
  EXPECT_EQ(ClientAddress("ipv6:[::1]:7443"), "ipv6:0:0:0:0::/64");
  EXPECT_EQ(ClientAddress("unix:/run/chemledger.sock"), "unix:/run/chemledger.sock");
  // As gRPC 1.48 and later write it: a URI, the brackets percent-encoded.
  EXPECT_EQ(ClientAddress("ipv6:%5B2001:db8:1:2:3:4:5:6%5D:443"), "ipv6:2001:db8:1:2::/64");
  EXPECT_EQ(ClientAddress("ipv6:%5b2001:db8:1:2::9%5d:80"), "ipv6:2001:db8:1:2::/64");
  EXPECT_EQ(ClientAddress("ipv6:%5B::ffff:10.0.0.7%5D:5"), "ipv4:10.0.0.7");
}

// A slow bucket is remembered until it would be full again: a client that
// waits a minute does not come back with a whole new burst.
TEST(RateLimiterTest, ASlowBucketIsNotForgottenBeforeItRefills) {
  RateLimiter limiter(/*rate=*/10.0 / 60, /*burst=*/30);
  EXPECT_TRUE(limiter.Take("ipv4:10.0.0.1", 30, kT0));
  EXPECT_FALSE(limiter.Take("ipv4:10.0.0.1", 20, kT0 + absl::Seconds(70)))
      << "about 11 tokens came back in 70 s, not 30";
  EXPECT_TRUE(limiter.Take("ipv4:10.0.0.1", 11, kT0 + absl::Seconds(70)));
  EXPECT_TRUE(limiter.Take("ipv4:10.0.0.1", 30, kT0 + absl::Minutes(10)));
}

TEST(RateLimiterTest, ClientNetworksAreCoarse) {
  EXPECT_EQ(ClientNetwork("ipv4:203.0.113.77"), "ipv4:203.0.113.0/24");
  EXPECT_EQ(ClientNetwork(ClientAddress("ipv6:%5B2001:db8:1:2::9%5D:80")), "ipv6:2001:db8:1::/48");
  EXPECT_EQ(ClientNetwork("ipv4:1.2.3"), "");
  EXPECT_EQ(ClientNetwork("ipv4:1.2.3.256"), "");
  EXPECT_EQ(ClientNetwork("unix:/run/x.sock"), "");
}

class PeerEchoService final : public testing::SlowEcho::Service {
  grpc::Status Echo(grpc::ServerContext* context, const testing::EchoRequest*,
                    testing::EchoResponse* response) override {
    response->set_peer(context->peer());
    return grpc::Status::OK;
  }
};

// The peer this gRPC library gives for a call from `host` (a loopback
// address) to a server listening there.
std::string PeerOfACallFrom(const std::string& host) {
  PeerEchoService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(host + ":0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return "";
  std::unique_ptr<testing::SlowEcho::Stub> stub = testing::SlowEcho::NewStub(
      grpc::CreateChannel(absl::StrCat(host, ":", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  testing::EchoRequest request;
  testing::EchoResponse response;
  const grpc::Status status = stub->Echo(&context, request, &response);
  server->Shutdown();
  return status.ok() ? response.peer() : "";
}

// What the services give ClientAddress is what gRPC itself writes, not what
// the tests above spell by hand.
TEST(RateLimiterTest, ThePeersGrpcWritesAreGroupedAsAddresses) {
  const std::string v4 = PeerOfACallFrom("127.0.0.1");
  ASSERT_FALSE(v4.empty());
  EXPECT_EQ(ClientAddress(v4), "ipv4:127.0.0.1") << v4;
  const std::string v6 = PeerOfACallFrom("[::1]");
  if (v6.empty()) GTEST_SKIP() << "no IPv6 loopback here";
  EXPECT_EQ(ClientAddress(v6), "ipv6:0:0:0:0::/64") << v6;
}

}  // namespace
}  // namespace chemledger
