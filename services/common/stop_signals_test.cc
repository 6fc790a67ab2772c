#include "services/common/stop_signals.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace chemledger {
namespace {

// Forks a child that runs `child` (which must not return) with its
// standard output into a pipe, and gives the parent its pid and the pipe's
// reading end.
template <typename Child>
pid_t Fork(Child child, int* output) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  fflush(stdout);
  std::cout.flush();
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDOUT_FILENO);
    child();
    _exit(99);
  }
  close(fds[1]);
  *output = fds[0];
  return pid;
}

// What the child wrote to its standard output, to its end.
std::string ReadAll(int fd) {
  std::string out;
  char buffer[256];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) out.append(buffer, static_cast<size_t>(n));
  close(fd);
  return out;
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
    int output = -1;
    const pid_t pid = Fork(
        [] {
          BlockStopSignalsWhileStarting("stop_signals_test");
          std::cout << "starting" << std::endl;
          absl::SleepFor(absl::Seconds(30));
          _exit(0);
        },
        &output);
    ASSERT_GT(pid, 0);
    // Once it says it is starting, the signals are blocked and watched.
    char first[9] = {};
    ASSERT_EQ(read(output, first, 9), 9);
    ASSERT_EQ(std::string(first, 9), "starting\n");
    ASSERT_EQ(kill(pid, signal), 0);
    const int status = WaitFor(pid, absl::Seconds(5));
    ASSERT_NE(status, -1) << "still starting 5 s after signal " << signal;
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == signal) << "wait status " << status;
    EXPECT_EQ(ReadAll(output),
              absl::StrCat("stop_signals_test: ", signal == SIGTERM ? "SIGTERM" : "SIGINT",
                           " while starting, stopped\n"));
  }
}

// Once it serves, a stop signal is the process's own to wait for (a
// graceful stop), also one sent just as the start ended.
TEST(StopSignalsTest, AfterTheStartTheSignalIsTheProcesssToTake) {
  int output = -1;
  const pid_t pid = Fork(
      [] {
        BlockStopSignalsWhileStarting("stop_signals_test");
        absl::SleepFor(absl::Milliseconds(100));
        EndStartup();
        EndStartup();  // again: nothing
        std::cout << "serving" << std::endl;
        const int got = WaitForStopSignal();
        _exit(got == SIGTERM ? 7 : 8);
      },
      &output);
  ASSERT_GT(pid, 0);
  char first[8] = {};
  ASSERT_EQ(read(output, first, 8), 8);
  ASSERT_EQ(std::string(first, 8), "serving\n");
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  const int status = WaitFor(pid, absl::Seconds(5));
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << "wait status " << status;
  EXPECT_EQ(ReadAll(output), "");
}

// A process that serves until told otherwise (a standby that took the
// lease) stops waiting when told, or takes a stop signal that comes first.
TEST(StopSignalsTest, AWaitUntilNotifiedEndsWithTheNotificationOrASignal) {
  for (const bool signalled : {false, true}) {
    int output = -1;
    const pid_t pid = Fork(
        [signalled] {
          BlockStopSignalsWhileStarting("stop_signals_test");
          EndStartup();
          absl::Notification until;
          std::thread notifier([&until, signalled] {
            absl::SleepFor(absl::Milliseconds(signalled ? 20000 : 200));
            until.Notify();
          });
          notifier.detach();
          std::cout << "serving" << std::endl;
          const int got = WaitForStopSignal(&until);
          _exit(got == 0 ? 6 : got == SIGINT ? 7 : 8);
        },
        &output);
    ASSERT_GT(pid, 0);
    char first[8] = {};
    ASSERT_EQ(read(output, first, 8), 8);
    if (signalled) ASSERT_EQ(kill(pid, SIGINT), 0);
    const int status = WaitFor(pid, absl::Seconds(5));
    ASSERT_NE(status, -1) << (signalled ? "signalled" : "notified");
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == (signalled ? 7 : 6))
        << "wait status " << status;
    close(output);
  }
}

TEST(StopSignalsTest, StopSignalsAreNamed) {
  EXPECT_EQ(StopSignalName(SIGINT), "SIGINT");
  EXPECT_EQ(StopSignalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(StopSignalName(SIGHUP), absl::StrCat("signal ", SIGHUP));
}

}  // namespace
}  // namespace chemledger
