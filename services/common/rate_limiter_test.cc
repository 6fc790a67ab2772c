#include "services/common/rate_limiter.h"

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
}

}  // namespace
}  // namespace chemledger
