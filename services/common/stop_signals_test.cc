#include "services/common/stop_signals.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace chemledger {
namespace {

// Forks a child that runs `child` (which must not return), and gives the
// parent its pid.
template <typename Child>
pid_t Fork(Child child) {
  const pid_t pid = fork();
  if (pid == 0) {
    child();
    _exit(99);
  }
  return pid;
}

// The child's wait status, or -1 when it is still running after `timeout`
// (it is then killed).
int WaitFor(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    absl::SleepFor(absl::Milliseconds(10));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  return -1;
}

// A process still starting (here: sleeping, as one waits for a lease) is
// ended by SIGTERM at once, and dies of it.
TEST(StopSignalsTest, AStopWhileStartingEndsTheProcessAtOnce) {
  for (const int signal : {SIGTERM, SIGINT}) {
    const pid_t pid = Fork([] {
      BlockStopSignalsWhileStarting("stop_signals_test");
      absl::SleepFor(absl::Seconds(30));
      _exit(0);
    });
    absl::SleepFor(absl::Milliseconds(200));
    ASSERT_EQ(kill(pid, signal), 0);
    const int status = WaitFor(pid, absl::Seconds(5));
    ASSERT_NE(status, -1) << "still starting 5 s after signal " << signal;
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == signal) << "wait status " << status;
  }
}

// Once it serves, a stop signal is the process's own to wait for (a
// graceful stop), also one sent just as the start ended.
TEST(StopSignalsTest, AfterTheStartTheSignalIsTheProcesssToTake) {
  const pid_t pid = Fork([] {
    BlockStopSignalsWhileStarting("stop_signals_test");
    absl::SleepFor(absl::Milliseconds(100));
    EndStartup();
    EndStartup();  // again: nothing
    const sigset_t stop = StopSignalSet();
    int got = 0;
    sigwait(&stop, &got);
    _exit(got == SIGTERM ? 7 : 8);
  });
  absl::SleepFor(absl::Milliseconds(400));
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  const int status = WaitFor(pid, absl::Seconds(5));
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << "wait status " << status;
}

}  // namespace
}  // namespace chemledger
