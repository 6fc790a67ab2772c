// Test support: start a real child process, read its stdout through a pipe,
// signal it and reap it. Used by crash and end-to-end tests that need real
// processes (SIGKILL mid-write, servers on loopback).
//
// Not thread-safe; one Subprocess per owning thread. The destructor kills and
// reaps a child that is still running.

#ifndef CHEMLEDGER_TESTS_SUBPROCESS_H_
#define CHEMLEDGER_TESTS_SUBPROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace chemledger::testing {

class Subprocess {
 public:
  Subprocess() = default;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  // Starts argv[0] (a path) with `argv`. The child's stdout is a pipe this
  // object reads; its stderr is inherited.
  absl::Status Start(const std::vector<std::string>& argv);

  // Reads whole lines from the child's stdout until `deadline` or end of file.
  // Returns the lines read (without '\n'); a partial last line is kept for the
  // next call. Sets *eof when the child closed its stdout.
  std::vector<std::string> ReadLines(absl::Time deadline, bool* eof = nullptr);

  // The next whole line of the child's stdout (without '\n'), as soon as it
  // is there. DeadlineExceeded at `deadline`, OutOfRange at end of file.
  absl::StatusOr<std::string> ReadLine(absl::Time deadline);

  // Sends `signal` to the child.
  absl::Status Kill(int signal);

  // Waits for the child to exit; returns its raw wait status.
  absl::StatusOr<int> Wait();

  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;
};

// Path of a binary from this test's Bazel runfiles, e.g. "tests/log_crash_child".
std::string RunfilePath(const std::string& workspace_relative);

// A fresh, empty directory under TEST_TMPDIR (or /tmp) named after `name`.
std::string FreshTempDir(const std::string& name);

// Makes a development CA in `dir` with a certificate and key for each of
// `names` (space-separated), by tools/cluster/make-dev-ca.sh from this
// test's runfiles (the test's BUILD target lists it in `data`). True when
// the script succeeded.
bool MakeDevelopmentCa(const std::string& dir, const std::string& names);

// Replaces `path` as a certificate renewal tool does: the files `parts`, one
// after another, are written beside it with `mode`, then renamed over it.
// False (and nothing replaced) when a part cannot be read or the file
// written.
bool ReplaceByRename(const std::vector<std::string>& parts, const std::string& path, unsigned mode);

}  // namespace chemledger::testing

#endif  // CHEMLEDGER_TESTS_SUBPROCESS_H_
