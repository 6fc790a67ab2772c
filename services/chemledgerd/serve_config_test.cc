#include "services/chemledgerd/serve_config.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace chemledger::server {
namespace {

std::string ConfigFile(const std::string& name, const std::string& text) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ServeConfigTest, TheFilesFieldsAreFlagsTheCommandLineOverrides) {
  const std::string path = ConfigFile("serve.textproto",
                                      "# chemledgerd\n"
                                      "data: \"/var/lib/chemledger\"\n"
                                      "listen: \"0.0.0.0:7443\"\n"
                                      "max_threads: 512\n"
                                      "staff_app: \"off\"\n");
  absl::StatusOr<std::vector<std::string>> args =
      WithServeConfig({"--config", path, "--listen", "127.0.0.1:9000", "--cache-mb=32"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(absl::StrJoin(*args, " "),
            "--data /var/lib/chemledger --staff-app off --max-threads 512 "
            "--listen 127.0.0.1:9000 --cache-mb=32");
  // Without --config, the arguments as they are.
  EXPECT_EQ(absl::StrJoin(*WithServeConfig({"--data", "d"}), " "), "--data d");
  // --config=FILE too.
  args = WithServeConfig({"--config=" + path});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->front(), "--data");
}

TEST(ServeConfigTest, AFileThatDoesNotParseIsRefusedNamingTheLine) {
  const std::string path = ConfigFile("bad.textproto", "data: \"d\"\nlisten_on: \"x\"\n");
  absl::StatusOr<std::vector<std::string>> args = WithServeConfig({"--config", path});
  ASSERT_FALSE(args.ok());
  EXPECT_EQ(args.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(args.status().message(), "line 2")) << args.status();
  EXPECT_TRUE(absl::StrContains(args.status().message(), "listen_on")) << args.status();
  EXPECT_FALSE(WithServeConfig({"--config", path + ".missing"}).ok());
  EXPECT_FALSE(WithServeConfig({"--config"}).ok());
  // The help lists every field with its flag.
  EXPECT_TRUE(absl::StrContains(ServeConfigHelp(), "max_threads: N    (--max-threads)"));
}

}  // namespace
}  // namespace chemledger::server
