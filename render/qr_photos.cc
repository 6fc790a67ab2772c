#include "render/qr_photos.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "render/qr.h"

extern char** environ;

namespace chemledger::render {
namespace {

std::atomic<bool> workers_enabled{false};
std::atomic<int> workers_running{0};

// Between a server and its worker, over a socket pair: the photos (u32
// count, then each photo's u64 length and bytes, little-endian), and back,
// for each photo, 1, a u32 count of codes and each code's u32 length and
// bytes, or 0 and a u32 length and the message of why it was not read.
void PutInt(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
bool GetInt(absl::string_view* in, int bytes, uint64_t* v) {
  if (in->size() < static_cast<size_t>(bytes)) return false;
  *v = 0;
  for (int i = 0; i < bytes; ++i) *v |= static_cast<uint64_t>(static_cast<uint8_t>((*in)[i])) << (8 * i);
  in->remove_prefix(bytes);
  return true;
}
bool GetBytes(absl::string_view* in, uint64_t n, absl::string_view* out) {
  if (in->size() < n) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

std::vector<absl::StatusOr<std::vector<std::string>>> ReadHere(
    const std::vector<absl::string_view>& photos) {
  std::vector<absl::StatusOr<std::vector<std::string>>> read;
  read.reserve(photos.size());
  for (absl::string_view photo : photos) read.push_back(ReadQrCodes(photo));
  return read;
}

[[noreturn]] void ServeWorker(int argc, char** argv) {
  // The server kills the worker when the call's time is up; this bound
  // holds should the server be gone.
  const long cpu_seconds = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 0;
  if (cpu_seconds > 0) {
    const rlimit cpu{static_cast<rlim_t>(cpu_seconds), static_cast<rlim_t>(cpu_seconds + 1)};
    setrlimit(RLIMIT_CPU, &cpu);
  }
  std::string input;
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(STDIN_FILENO, buffer, sizeof buffer);
    if (n > 0) {
      input.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      _exit(2);
    }
  }
  absl::string_view in = input;
  uint64_t count = 0;
  if (!GetInt(&in, 4, &count)) _exit(2);
  std::string out;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t length = 0;
    absl::string_view photo;
    if (!GetInt(&in, 8, &length) || !GetBytes(&in, length, &photo)) _exit(2);
    const absl::StatusOr<std::vector<std::string>> codes = ReadQrCodes(photo);
    if (codes.ok()) {
      out.push_back(1);
      PutInt(&out, codes->size(), 4);
      for (const std::string& code : *codes) {
        PutInt(&out, code.size(), 4);
        out.append(code);
      }
    } else {
      out.push_back(0);
      PutInt(&out, codes.status().message().size(), 4);
      out.append(codes.status().message().data(), codes.status().message().size());
    }
  }
  for (absl::string_view left = out; !left.empty();) {
    const ssize_t n = write(STDOUT_FILENO, left.data(), left.size());
    if (n > 0) {
      left.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && errno != EINTR) {
      _exit(2);
    }
  }
  _exit(0);
}

absl::Status TooLong(absl::Duration time_allowed) {
  return absl::DeadlineExceededError(absl::StrCat(
      "photos: not read within ", absl::FormatDuration(time_allowed), " (",
      absl::FormatDuration(kQrPhotoTimePerPhoto),
      " a photo): send fewer photos, or sharper ones of the codes alone"));
}

// Reads `photos` in a worker process, killed at `time_allowed`.
absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> ReadInWorker(
    const std::vector<absl::string_view>& photos, absl::Duration time_allowed) {
  const absl::Time deadline = absl::Now() + time_allowed;
  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) {
    return absl::InternalError(absl::StrCat("photos: no socket for a worker: ", strerror(errno)));
  }
  struct Close {
    int fd;
    ~Close() { close(fd); }
  } ours{sockets[0]};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sockets[1], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, sockets[1], STDOUT_FILENO);
  // The worker starts with no signal blocked and every signal as by
  // default, whatever the server's thread set up.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string executable = "/proc/self/exe";
  std::string argument = kQrPhotoWorkerArgument;
  std::string cpu_seconds =
      absl::StrCat(static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(time_allowed))) + 1);
  char* argv[] = {executable.data(), argument.data(), cpu_seconds.data(), nullptr};
  pid_t pid = 0;
  const int spawned =
      posix_spawn(&pid, executable.c_str(), &actions, &attributes, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(sockets[1]);
  if (spawned != 0) {
    return absl::InternalError(
        absl::StrCat("photos: a worker could not be started: ", strerror(spawned)));
  }
  // However this returns, the worker is gone after it (killed if need be)
  // and reaped.
  struct Reap {
    pid_t pid;
    bool exited = false;
    int status = 0;
    ~Reap() {
      if (!exited) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
      }
    }
  } worker{pid};
  fcntl(ours.fd, F_SETFL, fcntl(ours.fd, F_GETFL) | O_NONBLOCK);

  std::string request;
  PutInt(&request, photos.size(), 4);
  for (absl::string_view photo : photos) {
    PutInt(&request, photo.size(), 8);
    request.append(photo.data(), photo.size());
  }
  size_t written = 0;
  std::string answer;
  char buffer[65536];
  for (bool ended = false; !ended;) {
    const int64_t wait_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (wait_ms <= 0) return TooLong(time_allowed);
    const bool writing = written < request.size();
    pollfd p{ours.fd, static_cast<short>(writing ? POLLOUT : POLLIN), 0};
    const int ready = poll(&p, 1, static_cast<int>(std::min<int64_t>(wait_ms, 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return absl::InternalError(absl::StrCat("photos: ", strerror(errno)));
    if (ready == 0) return TooLong(time_allowed);
    if (writing) {
      const ssize_t n =
          send(ours.fd, request.data() + written, request.size() - written, MSG_NOSIGNAL);
      if (n > 0) {
        written += static_cast<size_t>(n);
        if (written == request.size()) shutdown(ours.fd, SHUT_WR);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return absl::InternalError("photos: the worker broke off");
      }
      continue;
    }
    const ssize_t n = recv(ours.fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      answer.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      ended = true;
    } else if (errno != EAGAIN && errno != EINTR) {
      return absl::InternalError("photos: the worker broke off");
    }
  }
  while (waitpid(pid, &worker.status, 0) < 0 && errno == EINTR) {
  }
  worker.exited = true;
  if (WIFSIGNALED(worker.status) && WTERMSIG(worker.status) == SIGXCPU) {
    return TooLong(time_allowed);
  }
  if (!WIFEXITED(worker.status) || WEXITSTATUS(worker.status) != 0) {
    return absl::InternalError(absl::StrFormat(
        "photos: the worker ended (%s %d)", WIFSIGNALED(worker.status) ? "signal" : "status",
        WIFSIGNALED(worker.status) ? WTERMSIG(worker.status) : WEXITSTATUS(worker.status)));
  }
  std::vector<absl::StatusOr<std::vector<std::string>>> read;
  absl::string_view in = answer;
  for (size_t i = 0; i < photos.size(); ++i) {
    const bool ok = !in.empty() && in[0] == 1;
    if (in.empty()) return absl::InternalError("photos: the worker's answer is cut short");
    in.remove_prefix(1);
    uint64_t n = 0;
    if (!GetInt(&in, 4, &n)) return absl::InternalError("photos: the worker's answer is cut short");
    if (!ok) {
      absl::string_view message;
      if (!GetBytes(&in, n, &message)) {
        return absl::InternalError("photos: the worker's answer is cut short");
      }
      read.push_back(absl::InvalidArgumentError(message));
      continue;
    }
    std::vector<std::string> codes;
    for (uint64_t c = 0; c < n; ++c) {
      uint64_t length = 0;
      absl::string_view code;
      if (!GetInt(&in, 4, &length) || !GetBytes(&in, length, &code)) {
        return absl::InternalError("photos: the worker's answer is cut short");
      }
      codes.emplace_back(code);
    }
    read.push_back(std::move(codes));
  }
  return read;
}

}  // namespace

void ServeQrPhotoWorkerIfAsked(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], kQrPhotoWorkerArgument) == 0) ServeWorker(argc, argv);
  workers_enabled = true;
}

absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> ReadQrPhotos(
    const std::vector<absl::string_view>& photos, absl::Duration time_allowed) {
  if (!workers_enabled) return ReadHere(photos);
  if (workers_running.fetch_add(1) >= kMaxQrPhotoWorkers) {
    workers_running.fetch_sub(1);
    return absl::ResourceExhaustedError(
        "photos: the server is reading other photos; try again shortly");
  }
  struct Leave {
    ~Leave() { workers_running.fetch_sub(1); }
  } leave;
  if (time_allowed <= absl::ZeroDuration()) {
    time_allowed = kQrPhotoTimePerCall + kQrPhotoTimePerPhoto * static_cast<int64_t>(photos.size());
  }
  return ReadInWorker(photos, time_allowed);
}

}  // namespace chemledger::render
