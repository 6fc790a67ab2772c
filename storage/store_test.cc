#include "storage/store.h"

#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace chemledger::storage {
namespace {

std::string ValueOf(const StateWrites& w, absl::string_view key) {
  const std::optional<std::string>* v = w.Find(key);
  if (v == nullptr) return "<none>";
  return v->has_value() ? **v : "<deleted>";
}

TEST(StateWritesTest, LastWriteOfAKeyWins) {
  StateWrites w;
  w.Put("c/1", "a");
  w.Put("c/1", "b");
  w.Delete("c/2");
  EXPECT_EQ(ValueOf(w, "c/1"), "b");
  EXPECT_EQ(ValueOf(w, "c/2"), "<deleted>");
  EXPECT_EQ(ValueOf(w, "c/3"), "<none>");
  EXPECT_EQ(w.size(), 2u);
}

TEST(StateWritesTest, MergeAppliesLaterWritesOnTopAndKeepsKeyOrder) {
  StateWrites earlier;
  earlier.Put("k/b", "1");
  earlier.Put("k/d", "1");
  StateWrites later;
  later.Put("k/a", "2");
  later.Delete("k/b");
  later.Put("k/c", "2");
  earlier.Merge(std::move(later));
  EXPECT_EQ(ValueOf(earlier, "k/a"), "2");
  EXPECT_EQ(ValueOf(earlier, "k/b"), "<deleted>");
  EXPECT_EQ(ValueOf(earlier, "k/c"), "2");
  EXPECT_EQ(ValueOf(earlier, "k/d"), "1");
  std::string order;
  for (const auto& [key, value] : earlier.writes()) order += key.substr(2);
  EXPECT_EQ(order, "abcd");
  // Writes after a merge still find (and overwrite) merged keys.
  earlier.Put("k/a", "3");
  EXPECT_EQ(ValueOf(earlier, "k/a"), "3");
  EXPECT_EQ(earlier.size(), 4u);
}

TEST(StateWritesTest, MergeIntoEmptyAndMovedWritesStillFind) {
  StateWrites later;
  for (int i = 0; i < 1000; ++i) later.Put("code/" + std::to_string(i), std::to_string(i));
  StateWrites batch;
  batch.Merge(std::move(later));
  StateWrites moved = std::move(batch);
  EXPECT_EQ(ValueOf(moved, "code/0"), "0");
  EXPECT_EQ(ValueOf(moved, "code/999"), "999");
  EXPECT_EQ(ValueOf(moved, "code/1000"), "<none>");
  moved.Put("code/5", "five");
  EXPECT_EQ(ValueOf(moved, "code/5"), "five");
  EXPECT_EQ(moved.size(), 1000u);
}

}  // namespace
}  // namespace chemledger::storage
