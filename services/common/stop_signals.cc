#include "services/common/stop_signals.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <iostream>
#include <thread>

#include "absl/base/const_init.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace chemledger {
namespace {

absl::Mutex watcher_mu(absl::kConstInit);
std::thread* watcher ABSL_GUARDED_BY(watcher_mu) = nullptr;
std::atomic<bool> started{false};

// Dies of `signal`, as a process that never blocked it would.
[[noreturn]] void DieOf(int signal) {
  struct sigaction default_action = {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  sigaction(signal, &default_action, nullptr);
  sigset_t just_this;
  sigemptyset(&just_this);
  sigaddset(&just_this, signal);
  pthread_sigmask(SIG_UNBLOCK, &just_this, nullptr);
  raise(signal);
  _exit(128 + signal);  // not reached: the default action of both ends the process
}

void WatchWhileStarting(const std::string& name) {
  const sigset_t stop_signals = StopSignalSet();
  const timespec tick = {0, 50 * 1000 * 1000};
  while (!started.load()) {
    const int got = sigtimedwait(&stop_signals, nullptr, &tick);
    if (got <= 0) continue;
    if (started.load()) {
      // Taken as the start ended: left for the process's own wait.
      kill(getpid(), got);
      return;
    }
    std::cout << name << ": " << StopSignalName(got) << " while starting, stopped" << std::endl;
    DieOf(got);
  }
}

}  // namespace

sigset_t StopSignalSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

void BlockStopSignalsWhileStarting(const std::string& name) {
  const sigset_t stop_signals = StopSignalSet();
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  absl::MutexLock lock(&watcher_mu);
  if (watcher != nullptr) return;
  watcher = new std::thread(WatchWhileStarting, name);
}

void EndStartup() {
  absl::MutexLock lock(&watcher_mu);
  if (watcher == nullptr || started.load()) return;
  started.store(true);
  watcher->join();
  delete watcher;
  watcher = nullptr;
}

int WaitForStopSignal(const absl::Notification* until) {
  const sigset_t stop_signals = StopSignalSet();
  if (until == nullptr) {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    return signal_number;
  }
  const timespec tick = {0, 100 * 1000 * 1000};
  while (!until->HasBeenNotified()) {
    const int got = sigtimedwait(&stop_signals, nullptr, &tick);
    if (got > 0) return got;
  }
  return 0;
}

std::string StopSignalName(int signal_number) {
  switch (signal_number) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return absl::StrCat("signal ", signal_number);
  }
}

}  // namespace chemledger
