#include "tools/cli/args.h"

#include "gtest/gtest.h"

namespace chemledger::cli {
namespace {

const FlagSpec kSpec{{"db", "size"}, {"hex"}};

TEST(ArgsTest, FlagsValuesAndPositionals) {
  auto args = Args::Parse({"--db", "/d", "a", "--size=7", "--hex", "--", "--b"}, kSpec);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(*args->Required("db"), "/d");
  EXPECT_EQ(*args->Uint("size"), 7u);
  EXPECT_TRUE(args->Bool("hex"));
  EXPECT_EQ(args->positional(), (std::vector<std::string>{"a", "--b"}));
  EXPECT_FALSE(args->help());
}

TEST(ArgsTest, ErrorsNameTheFlag) {
  auto args = Args::Parse({"--nope"}, kSpec);
  ASSERT_FALSE(args.ok());
  EXPECT_EQ(args.status().message(), "unknown option --nope");
  args = Args::Parse({"--db"}, kSpec);
  EXPECT_EQ(args.status().message(), "--db needs a value");
  args = Args::Parse({"--hex=1"}, kSpec);
  EXPECT_EQ(args.status().message(), "--hex takes no value");
  args = Args::Parse({"--size", "-3"}, kSpec);
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->Uint("size").status().message(),
            "--size must be an unsigned integer, got '-3'");
  EXPECT_EQ(args->Required("db").status().message(), "--db is required");
  for (const char* bad : {" 2", "2 ", "+2", "0x2", ""}) {
    auto a = Args::Parse({"--size", bad}, kSpec);
    ASSERT_TRUE(a.ok());
    EXPECT_FALSE(a->Uint("size").ok()) << "'" << bad << "' accepted";
  }
  EXPECT_EQ(*args->Uint("missing", 5), 5u);
}

TEST(ArgsTest, Help) {
  auto args = Args::Parse({"-h"}, kSpec);
  ASSERT_TRUE(args.ok());
  EXPECT_TRUE(args->help());
}

}  // namespace
}  // namespace chemledger::cli
