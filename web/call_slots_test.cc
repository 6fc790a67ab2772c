#include "web/call_slots.h"

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace chemledger::web {
namespace {

TEST(CallSlotsTest, AsManyWaitAsRunAndTheRestAreTurnedAwayAtOnce) {
  CallSlots slots(1, absl::Seconds(30));
  ASSERT_TRUE(slots.Acquire());  // running
  std::atomic<bool> waited{false};
  std::thread waiter([&] {
    waited = slots.Acquire();  // waits for the running one
    if (waited) slots.Release();
  });
  // Once the waiter waits, a third is turned away at once.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (slots.waiting() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(slots.waiting(), 1);
  const absl::Time asked = absl::Now();
  const bool refused = !slots.Acquire();
  EXPECT_LT(absl::Now() - asked, absl::Seconds(1)) << "turned away at once, not after waiting";
  EXPECT_TRUE(refused);
  slots.Release();
  waiter.join();
  EXPECT_TRUE(waited);
}

TEST(CallSlotsTest, AWaiterGivesUpAfterTheWait) {
  CallSlots slots(1, absl::Milliseconds(50));
  ASSERT_TRUE(slots.Acquire());
  EXPECT_FALSE(slots.Acquire());
  slots.Release();
  EXPECT_TRUE(slots.Acquire());
  slots.Release();
}

}  // namespace
}  // namespace chemledger::web
