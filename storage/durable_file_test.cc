#include "storage/durable_file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/subprocess.h"

namespace chemledger::storage {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writers replacing one file at once, in one process: the file is always
// one writer's contents whole, every call succeeds, and no temporary file
// is left (they wrote into one shared temporary name before).
TEST(ReplaceFileDurablyTest, WritersAtOnceEachReplaceTheFileWhole) {
  const std::string dir = testing::FreshTempDir("durable_file");
  const std::string path = dir + "/port";
  std::vector<std::thread> writers;
  std::vector<int> failures(4, 0);
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      const std::string contents = std::string(4096, static_cast<char>('a' + w));
      for (int i = 0; i < 50; ++i) {
        if (!ReplaceFileDurably(path, contents, 0644).ok()) ++failures[w];
      }
    });
  }
  for (std::thread& t : writers) t.join();
  for (int w = 0; w < 4; ++w) EXPECT_EQ(failures[w], 0) << "writer " << w;
  const std::string last = Read(path);
  ASSERT_EQ(last.size(), 4096u);
  EXPECT_EQ(last, std::string(4096, last[0]));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "port");
  }
  EXPECT_EQ(files, 1);
}

// A link someone left at a temporary name is not written through.
TEST(ReplaceFileDurablyTest, ALinkAtATemporaryNameIsNotFollowed) {
  const std::string dir = testing::FreshTempDir("durable_file_link");
  const std::string victim = dir + "/victim";
  std::ofstream(victim) << "keep me";
  const std::string path = dir + "/file";
  // Links at the first names a call of this process may try.
  for (int i = 0; i < 40; ++i) {
    std::filesystem::create_symlink(victim, absl::StrCat(path, ".tmp-", getpid(), "-", i));
  }
  ASSERT_TRUE(ReplaceFileDurably(path, "new", 0644).ok());
  EXPECT_EQ(Read(path), "new");
  EXPECT_EQ(Read(victim), "keep me");
}

}  // namespace
}  // namespace chemledger::storage
