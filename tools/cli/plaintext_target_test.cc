#include "tools/cli/plaintext_target.h"

#include "gtest/gtest.h"

namespace chemledger::cli {
namespace {

TEST(PlaintextTargetTest, LoopbackAddressesAreConnectedToByAddress) {
  EXPECT_EQ(*PlaintextTarget("--server", "127.0.0.1:7443"), "ipv4:127.0.0.1:7443");
  EXPECT_EQ(*PlaintextTarget("--server", "127.1.2.3:1"), "ipv4:127.1.2.3:1");
  EXPECT_EQ(*PlaintextTarget("--server", "[::1]:7443"), "ipv6:[::1]:7443");
  EXPECT_EQ(*PlaintextTarget("--server", "unix:/run/chemledger.sock"), "unix:/run/chemledger.sock");
  // localhost, as /etc/hosts resolves it (to loopback only).
  absl::StatusOr<std::string> local = PlaintextTarget("--server", "localhost:7443");
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_TRUE(*local == "ipv4:127.0.0.1:7443" || *local == "ipv6:[::1]:7443") << *local;
}

TEST(PlaintextTargetTest, NamesThatOnlyLookLikeLoopbackAndOtherHostsAreRefused) {
  for (const char* server : {"127.attacker.example:7443", "127.0.0.1.nip.invalid:7443",
                             "10.0.0.1:7443", "192.168.1.10:7443", "[2001:db8::1]:7443",
                             "0.0.0.0:7443", "localhost", "127.0.0.1:0", "127.0.0.1:99999",
                             "127.0.0.1:http", ":7443", "[::1]"}) {
    absl::StatusOr<std::string> target = PlaintextTarget("--server", server);
    EXPECT_EQ(target.status().code(), absl::StatusCode::kInvalidArgument) << server;
    EXPECT_NE(target.status().message().find("--server"), std::string::npos) << server;
  }
}

}  // namespace
}  // namespace chemledger::cli
