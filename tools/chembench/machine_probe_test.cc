#include "tools/chembench/machine_probe.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace chemledger::chembench {
namespace {

TEST(MachineProbeTest, TimesEveryStretchAndSpinsForTheTimeAsked) {
  const absl::Time start = absl::Now();
  const MachineProbe probe = ProbeMachine(absl::Microseconds(200), 100, 1);
  EXPECT_EQ(probe.work_ms.count, 100u);
  // The loop is calibrated to the stretch: it takes time, and not seconds.
  EXPECT_GT(probe.work_ms.p50, 0.02);
  EXPECT_LT(probe.work_ms.p50, 50.0);
  EXPECT_LE(probe.work_ms.p50, probe.work_ms.p99);
  EXPECT_LE(probe.work_ms.p99, probe.work_ms.max);
  EXPECT_EQ(probe.spun, absl::Seconds(1));
  EXPECT_LE(probe.lost_in_stalls, absl::Seconds(1));
  EXPECT_GE(absl::Now() - start, absl::Seconds(2) - absl::Milliseconds(20));

  const std::string line = MachineProbeLine(probe);
  EXPECT_NE(line.find("0.20 ms of CPU work due 100 times"), std::string::npos) << line;
}

}  // namespace
}  // namespace chemledger::chembench
