#include "tests/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace chemledger::testing {

Subprocess::~Subprocess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

absl::Status Subprocess::Start(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // posix_spawn, not fork: a fork runs the fork handlers of the libraries
  // this process uses (gRPC pauses its threads around one), while other
  // threads of the test are calling through gRPC.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (spawned != 0) {
    ::close(fds[0]);
    return absl::InternalError(absl::StrCat("posix_spawn ", argv[0], ": ", std::strerror(spawned)));
  }
  pid_ = pid;
  stdout_fd_ = fds[0];
  return absl::OkStatus();
}

std::vector<std::string> Subprocess::ReadLines(absl::Time deadline, bool* eof) {
  std::vector<std::string> lines;
  if (eof) *eof = false;
  char buf[4096];
  while (stdout_fd_ >= 0) {
    const int64_t wait_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (wait_ms < 0) break;
    pollfd p{stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(wait_ms, 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::read(stdout_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (eof) *eof = true;
      break;
    }
    pending_.append(buf, n);
    size_t start = 0, nl;
    while ((nl = pending_.find('\n', start)) != std::string::npos) {
      lines.push_back(pending_.substr(start, nl - start));
      start = nl + 1;
    }
    pending_.erase(0, start);
  }
  return lines;
}

absl::StatusOr<std::string> Subprocess::ReadLine(absl::Time deadline) {
  char buf[4096];
  while (true) {
    if (size_t nl = pending_.find('\n'); nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    if (stdout_fd_ < 0) return absl::OutOfRangeError("no more output");
    const int64_t wait_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (wait_ms < 0) return absl::DeadlineExceededError("no line from the child in time");
    pollfd p{stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(wait_ms, 1000)));
    if (ready <= 0) continue;
    const ssize_t n = ::read(stdout_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::OutOfRangeError("the child closed its output");
    pending_.append(buf, n);
  }
}

absl::Status Subprocess::Kill(int signal) {
  if (pid_ <= 0) return absl::FailedPreconditionError("no child");
  if (::kill(pid_, signal) != 0) {
    return absl::InternalError(absl::StrCat("kill: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Subprocess::Wait() {
  if (pid_ <= 0) return absl::FailedPreconditionError("no child");
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
  }
  pid_ = -1;
  return status;
}

std::string RunfilePath(const std::string& workspace_relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/", workspace ? workspace : "chemledger",
                      "/", workspace_relative);
}

std::string FreshTempDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

bool MakeDevelopmentCa(const std::string& dir, const std::string& names) {
  return std::system(absl::StrCat("bash ", RunfilePath("tools/cluster/make-dev-ca.sh"), " ", dir,
                                  " ", names, " >/dev/null")
                         .c_str()) == 0;
}

bool ReplaceByRename(const std::vector<std::string>& parts, const std::string& path,
                     unsigned mode) {
  const std::string next = path + ".next";
  {
    std::ofstream out(next, std::ios::binary | std::ios::trunc);
    for (const std::string& part : parts) {
      std::ifstream in(part, std::ios::binary);
      if (!in || !(out << in.rdbuf())) return false;
    }
    if (!out.flush()) return false;
  }
  if (chmod(next.c_str(), static_cast<mode_t>(mode)) != 0) return false;
  std::error_code error;
  std::filesystem::rename(next, path, error);
  return !error;
}

}  // namespace chemledger::testing
