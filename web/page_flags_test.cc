#include "web/page_flags.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace chemledger::web {
namespace {

cli::Args Parse(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args =
      cli::Args::Parse(argv, {{"http-listen", "trusted-proxy", "console-address"}, {}});
  EXPECT_TRUE(args.ok()) << args.status();
  return args.ok() ? *std::move(args) : cli::Args();
}

TEST(PageFlagsTest, DefaultsAreTheServersOwn) {
  absl::StatusOr<std::optional<ScanServer::Options>> read = ReadPageFlags(Parse({}), "[::1]:7481");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->listen, "[::1]:7481");
  EXPECT_FALSE((*read)->trusted_proxies.has_value());  // any loopback peer
  EXPECT_TRUE((*read)->console_addresses.empty());     // loopback sign-ins only
}

TEST(PageFlagsTest, ReadsTheListenAddressTheProxiesAndTheConsoleAddresses) {
  absl::StatusOr<std::optional<ScanServer::Options>> read =
      ReadPageFlags(Parse({"--http-listen", "0.0.0.0:443", "--trusted-proxy", "10.0.0.7, [::1]",
                           "--console-address", "Console.Example.gov.cn"}),
                    "127.0.0.1:7480");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->listen, "0.0.0.0:443");
  EXPECT_EQ((*read)->trusted_proxies, (std::vector<std::string>{"10.0.0.7", "::1"}));
  EXPECT_EQ((*read)->console_addresses, std::vector<std::string>{"console.example.gov.cn"});

  read = ReadPageFlags(Parse({"--trusted-proxy", "none"}), "127.0.0.1:7480");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->trusted_proxies, std::vector<std::string>{});  // no proxy at all
}

TEST(PageFlagsTest, NoneMeansNoPages) {
  absl::StatusOr<std::optional<ScanServer::Options>> read =
      ReadPageFlags(Parse({"--http-listen", "none"}), "127.0.0.1:7480");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_FALSE(read->has_value());
}

TEST(PageFlagsTest, AMistakeNamesItsFlagEvenWithoutPages) {
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"--trusted-proxy", "proxy.example"},
           {"--http-listen", "none", "--trusted-proxy", "10.0.0.300"},
       }) {
    absl::StatusOr<std::optional<ScanServer::Options>> read =
        ReadPageFlags(Parse(argv), "127.0.0.1:7480");
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument) << argv.back();
    EXPECT_NE(read.status().message().find("--trusted-proxy: '"), std::string::npos)
        << read.status();
  }
  absl::StatusOr<std::optional<ScanServer::Options>> read =
      ReadPageFlags(Parse({"--console-address", "https://console.example"}), "127.0.0.1:7480");
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(read.status().message().find("--console-address"), std::string::npos)
      << read.status();
}

}  // namespace
}  // namespace chemledger::web
