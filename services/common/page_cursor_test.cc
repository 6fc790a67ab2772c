#include "services/common/page_cursor.h"

#include <string>

#include "gtest/gtest.h"

namespace chemledger {
namespace {

TEST(PageCursor, SealsAndOpensAndRefusesAnythingElse) {
  const std::string token = SealPageCursor("12/91350100M000100Y43.M01.B1.1");
  EXPECT_EQ(token.find("91350100M000100Y43"), std::string::npos) << "the position is not visible";
  EXPECT_NE(SealPageCursor("same"), SealPageCursor("same")) << "a fresh nonce each time";
  absl::StatusOr<std::string> opened = OpenPageCursor(token);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "12/91350100M000100Y43.M01.B1.1");
  std::string changed = token;
  changed[changed.size() / 2] = changed[changed.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(OpenPageCursor(changed).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenPageCursor("12/91350100M000100Y43.M01.B1.1").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenPageCursor("").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chemledger
