#include "services/common/bounded_slots.h"

#include <atomic>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace chemledger {
namespace {

TEST(BoundedSlotsTest, HoldsAtMostTheTotal) {
  BoundedSlots slots(2);
  BoundedSlots::Slot a = slots.Take();
  BoundedSlots::Slot b = slots.Take();
  ASSERT_TRUE(a.taken());
  ASSERT_TRUE(b.taken());
  BoundedSlots::Slot c = slots.Take();
  EXPECT_FALSE(c.taken());
  EXPECT_EQ(c.full(), BoundedSlots::kTotal);
  EXPECT_EQ(slots.held(), 2);
  {
    BoundedSlots::Slot gone = std::move(a);  // moving keeps the one slot
    EXPECT_EQ(slots.held(), 2);
  }
  EXPECT_EQ(slots.held(), 1);
  EXPECT_TRUE(slots.Take().taken());
  EXPECT_EQ(slots.held(), 1);  // a slot not kept is freed at once
}

TEST(BoundedSlotsTest, EachKeyHoldsAtMostItsLimit) {
  // Four in all, two per enterprise, one per actor.
  BoundedSlots slots(4, {2, 1});
  BoundedSlots::Slot a1 = slots.Take({"A", "alice"});
  ASSERT_TRUE(a1.taken());
  BoundedSlots::Slot again = slots.Take({"A", "alice"});
  EXPECT_FALSE(again.taken());
  EXPECT_EQ(again.full(), 1);  // alice's one
  BoundedSlots::Slot a2 = slots.Take({"A", "andrew"});
  ASSERT_TRUE(a2.taken());
  BoundedSlots::Slot a3 = slots.Take({"A", "anna"});
  EXPECT_FALSE(a3.taken());
  EXPECT_EQ(a3.full(), 0);  // enterprise A's two
  BoundedSlots::Slot b1 = slots.Take({"B", "bob"});
  BoundedSlots::Slot b2 = slots.Take({"B", "beth"});
  ASSERT_TRUE(b1.taken());
  ASSERT_TRUE(b2.taken());
  BoundedSlots::Slot c1 = slots.Take({"C", "carol"});
  EXPECT_FALSE(c1.taken());
  EXPECT_EQ(c1.full(), BoundedSlots::kTotal);
  // A refusal takes nothing: freeing one of A's lets anna in.
  a1 = slots.Take({"C", "carol"});  // refused (four held); the assignment frees alice's
  EXPECT_FALSE(a1.taken());
  EXPECT_TRUE(slots.Take({"A", "anna"}).taken());
  EXPECT_EQ(slots.held(), 3);
}

TEST(BoundedSlotsTest, NeverMoreThanTheTotalUnderContention) {
  BoundedSlots slots(3, {2});
  std::atomic<int> held{0};
  std::atomic<int> most{0};
  std::atomic<int> most_of_x{0};
  std::atomic<int> held_x{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = t % 2 == 0 ? "x" : "y";
      for (int i = 0; i < 2000; ++i) {
        BoundedSlots::Slot s = slots.Take({key});
        if (!s.taken()) continue;
        const int now = ++held;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        if (key == "x") {
          const int x = ++held_x;
          int seen_x = most_of_x.load();
          while (x > seen_x && !most_of_x.compare_exchange_weak(seen_x, x)) {
          }
          --held_x;
        }
        --held;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(most.load(), 3);
  EXPECT_LE(most_of_x.load(), 2);
  EXPECT_GT(most.load(), 0);
  EXPECT_EQ(slots.held(), 0);
}

}  // namespace
}  // namespace chemledger
