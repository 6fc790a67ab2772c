#include "web/console.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace chemledger::web {
namespace {

TEST(ConsoleAddressesTest, AsBrowsersSendHostTrimmedAndInLowerCase) {
  absl::StatusOr<std::vector<std::string>> a =
      ParseConsoleAddresses(" Console.Example.gov.cn , console.example.gov.cn:7480,");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a,
            (std::vector<std::string>{"console.example.gov.cn", "console.example.gov.cn:7480"}));
}

TEST(ConsoleAddressesTest, ASchemeAPathOrADefaultPortIsRefusedNamingTheFlag) {
  for (const char* bad : {"https://console.example", "console.example/console",
                          "console.example:443", "console.example:80", " , "}) {
    absl::StatusOr<std::vector<std::string>> a = ParseConsoleAddresses(bad);
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(a.status().message().find("--console-address"), std::string::npos) << bad;
  }
  EXPECT_TRUE(ParseConsoleAddresses("console.example:8443").ok());
}

}  // namespace
}  // namespace chemledger::web
