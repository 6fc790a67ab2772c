#include "render/qr_photos.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "render/qr.h"

extern char** environ;

namespace chemledger::render {
namespace {

// How this process reads photos: as yet not at all (a server that started
// no workers must not read anyone's photos on its own threads), in workers
// (ServeQrPhotoWorkerIfAsked), or in the calling thread
// (ReadQrPhotosInCallingThread).
enum class PhotoReading { kNone, kWorkers, kCallingThread };
std::atomic<PhotoReading> photo_reading{PhotoReading::kNone};

// Between a server and its worker, over a socket pair, one call after
// another, each a u64 length and then (little-endian) the call's CPU
// seconds (u32), the photos (u32 count, then each photo's u64 length and
// bytes); and back a u64 length and, for each photo, 1, a u32 count of
// codes and each code's u32 length and bytes, or 0 and a u32 length and the
// message of why it was not read.
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
// `body` after its u64 length: one message of the protocol.
std::string Framed(absl::string_view body) {
  std::string framed;
  framed.reserve(8 + body.size());
  PutInt(&framed, body.size(), 8);
  framed.append(body.data(), body.size());
  return framed;
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

// Reads exactly `n` bytes from `fd` (blocking); false at end of file or on
// an error.
bool ReadExactly(int fd, char* out, size_t n) {
  while (n > 0) {
    const ssize_t got = read(fd, out, n);
    if (got > 0) {
      out += got;
      n -= static_cast<size_t>(got);
    } else if (got == 0 || errno != EINTR) {
      return false;
    }
  }
  return true;
}

// Decodes one call's request (u32 CPU seconds, u32 count, each photo's u64
// length and bytes) into its answer; false when it is malformed.
bool Answer(absl::string_view in, std::string* out) {
  uint64_t cpu_seconds = 0, count = 0;
  if (!GetInt(&in, 4, &cpu_seconds) || !GetInt(&in, 4, &count)) return false;
  // The server kills the worker when the call's time is up; this bound
  // holds should it not: this call's CPU on top of what the worker used.
  rusage used{};
  getrusage(RUSAGE_SELF, &used);
  rlimit cpu{};
  getrlimit(RLIMIT_CPU, &cpu);  // the hard limit stays as the server had it
  cpu.rlim_cur = std::min<rlim_t>(
      cpu.rlim_max, static_cast<rlim_t>(used.ru_utime.tv_sec + used.ru_stime.tv_sec + 1 +
                                        static_cast<int64_t>(cpu_seconds)));
  setrlimit(RLIMIT_CPU, &cpu);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t length = 0;
    absl::string_view photo;
    if (!GetInt(&in, 8, &length) || !GetBytes(&in, length, &photo)) return false;
    const absl::StatusOr<std::vector<std::string>> codes = ReadQrCodes(photo);
    if (codes.ok()) {
      out->push_back(1);
      PutInt(out, codes->size(), 4);
      for (const std::string& code : *codes) {
        PutInt(out, code.size(), 4);
        out->append(code);
      }
    } else {
      out->push_back(0);
      PutInt(out, codes.status().message().size(), 4);
      out->append(codes.status().message().data(), codes.status().message().size());
    }
  }
  return true;
}

#if defined(__x86_64__)
constexpr uint32_t kSeccompArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kSeccompArch = AUDIT_ARCH_AARCH64;
#else
constexpr uint32_t kSeccompArch = 0;  // no filter known: none installed
#endif

// The system calls reading a photo needs once the worker is running:
// reading and writing its socket, memory, time, its own limits, leaving.
// Nothing opens a file, a socket or a process, or signals another.
// clang-format off
constexpr long kWorkerSyscalls[] = {
    // The socket (standard input and output) and standard error.
    __NR_read, __NR_write, __NR_close,
    // Leaving.
    __NR_exit, __NR_exit_group,
    // Memory (the allocator's, the decoders').
    __NR_brk, __NR_mmap, __NR_munmap, __NR_mremap, __NR_mprotect, __NR_madvise, __NR_futex,
    // Signals of its own, time, its own use and limits (prlimit64 below).
    __NR_rt_sigreturn, __NR_rt_sigprocmask, __NR_getrusage, __NR_getrlimit, __NR_setrlimit,
    __NR_clock_gettime, __NR_clock_getres, __NR_gettimeofday, __NR_nanosleep,
    __NR_clock_nanosleep, __NR_getpid, __NR_gettid, __NR_sched_yield, __NR_restart_syscall,
    __NR_getrandom, __NR_sched_getaffinity,
};
// clang-format on

// Confines a worker before it reads anything anyone sent: a photo made to
// exploit a flaw in a decoder (ZXing, libpng, libjpeg-turbo) then runs in a
// process that can open no file (the server's keys are the same user's),
// connect nowhere, start nothing and signal no one: a seccomp filter lets
// only kWorkerSyscalls through (prlimit64 for itself alone) and answers
// every other call EPERM, with no new privileges to gain, and its address
// space bounded. False, having said on standard error which step failed,
// when it could not be confined.
bool ConfineWorker() {
  if (!QrPhotoWorkersConfined()) return true;
  const auto failed = [](const char* step) {
    const int error = errno;
    char line[200];
    const int n =
        snprintf(line, sizeof line, "chemledger photo worker: could not confine itself: %s: %s\n",
                 step, strerror(error));
    if (n > 0) (void)!write(STDERR_FILENO, line, std::min<size_t>(n, sizeof line - 1));
    return false;
  };
  const rlimit address_space{rlim_t{2} << 30, rlim_t{2} << 30};  // 2 GiB
  if (setrlimit(RLIMIT_AS, &address_space) != 0) return failed("setrlimit(RLIMIT_AS)");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return failed("prctl(PR_SET_NO_NEW_PRIVS)");
  constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;
  constexpr uint32_t kRefuse = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
  std::vector<sock_filter> filter = {
      // Another architecture's calls (their numbers mean other calls): end.
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kSeccompArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
  };
#if defined(__x86_64__)
  // The x32 calls (numbers from 0x40000000): refused.
  filter.push_back(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1));
  filter.push_back(BPF_STMT(BPF_RET | BPF_K, kRefuse));
#endif
  // prlimit64 (which glibc's getrlimit and setrlimit call) for pid 0, this
  // process, only: both halves of its first argument zero.
  const sock_filter prlimit[] = {
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prlimit64, 0, 6),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0]) + 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, kRefuse),
      BPF_STMT(BPF_RET | BPF_K, kAllow),
  };
  filter.insert(filter.end(), std::begin(prlimit), std::end(prlimit));
  for (long call : kWorkerSyscalls) {
    filter.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(call), 0, 1));
    filter.push_back(BPF_STMT(BPF_RET | BPF_K, kAllow));
  }
  filter.push_back(BPF_STMT(BPF_RET | BPF_K, kRefuse));
  const sock_fprog program{static_cast<unsigned short>(filter.size()), filter.data()};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) != 0) {
    return failed("prctl(PR_SET_SECCOMP)");
  }
  return true;
}

// The worker: one call after another, each a u64 length and the request,
// answered by a u64 length and the answer, until the server closes the
// socket (or goes).
[[noreturn]] void ServeWorker() {
  const rlimit no_core{0, 0};  // a worker stopped by its CPU limit leaves no core file
  setrlimit(RLIMIT_CORE, &no_core);
  if (!ConfineWorker()) _exit(3);
  for (;;) {
    char header[8];
    if (!ReadExactly(STDIN_FILENO, header, sizeof header)) _exit(0);
    absl::string_view h(header, sizeof header);
    uint64_t length = 0;
    GetInt(&h, 8, &length);
    if (length > (64u << 20)) _exit(2);
    std::string request(length, '\0');
    if (!ReadExactly(STDIN_FILENO, request.data(), length)) _exit(2);
    std::string answer;
    if (!Answer(request, &answer)) _exit(2);
    const std::string framed = Framed(answer);
    for (absl::string_view left = framed; !left.empty();) {
      const ssize_t n = write(STDOUT_FILENO, left.data(), left.size());
      if (n > 0) {
        left.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && errno != EINTR) {
        _exit(2);
      }
    }
  }
}

absl::Status TooLong(absl::Duration time_allowed) {
  return absl::DeadlineExceededError(absl::StrCat(
      "photos: not read within ", absl::FormatDuration(time_allowed), " (",
      absl::FormatDuration(kQrPhotoTimePerPhoto),
      " a photo): send fewer photos, or sharper ones of the codes alone"));
}

// A worker process and the server's end of its socket (non-blocking).
struct Worker {
  pid_t pid = 0;
  int fd = -1;
};

// Ends `worker`: kills it (if it still runs) and reaps it.
void End(Worker& worker) {
  if (worker.fd >= 0) close(worker.fd);
  kill(worker.pid, SIGKILL);
  int status = 0;
  while (waitpid(worker.pid, &status, 0) < 0 && errno == EINTR) {
  }
  worker.fd = -1;
}

absl::StatusOr<Worker> Spawn() {
  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) {
    return absl::InternalError(absl::StrCat("photos: no socket for a worker: ", strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sockets[1], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, sockets[1], STDOUT_FILENO);
  // Nothing else of the server's goes with it: a descriptor opened without
  // close-on-exec (a client's connection, a listening port) that a kept
  // worker held would stay open after the server closed it.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
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
  char* argv[] = {executable.data(), argument.data(), nullptr};
  // Nor the server's environment (a confined worker needs none).
  char* no_environment[] = {nullptr};
  Worker worker;
  const int spawned = posix_spawn(&worker.pid, executable.c_str(), &actions, &attributes, argv,
                                  QrPhotoWorkersConfined() ? no_environment : environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(sockets[1]);
  if (spawned != 0) {
    close(sockets[0]);
    return absl::InternalError(
        absl::StrCat("photos: a worker could not be started: ", strerror(spawned)));
  }
  worker.fd = sockets[0];
  fcntl(worker.fd, F_SETFL, fcntl(worker.fd, F_GETFL) | O_NONBLOCK);
  return worker;
}

// Sends `request` to `worker` and reads its answer, by `deadline`.
// DeadlineExceeded (as TooLong) or Internal; the worker is then of no more
// use.
absl::StatusOr<std::string> Exchange(const Worker& worker, const std::string& request,
                                     absl::Time deadline, absl::Duration time_allowed) {
  size_t written = 0;
  std::string answer;
  uint64_t answer_length = 0;
  bool length_known = false;
  char buffer[65536];
  for (;;) {
    if (length_known && answer.size() == answer_length) return answer;
    const int64_t wait_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (wait_ms <= 0) return TooLong(time_allowed);
    const bool writing = written < request.size();
    pollfd p{worker.fd, static_cast<short>(writing ? POLLOUT : POLLIN), 0};
    const int ready = poll(&p, 1, static_cast<int>(std::min<int64_t>(wait_ms, 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return absl::InternalError(absl::StrCat("photos: ", strerror(errno)));
    if (ready == 0) return TooLong(time_allowed);
    if (writing) {
      const ssize_t n =
          send(worker.fd, request.data() + written, request.size() - written, MSG_NOSIGNAL);
      if (n > 0) {
        written += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return absl::InternalError("photos: the worker broke off");
      }
      continue;
    }
    const ssize_t n = recv(worker.fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      answer.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {  // it ended, or the socket broke
      return absl::InternalError("photos: the worker broke off");
    }
    if (!length_known && answer.size() >= 8) {
      absl::string_view head = answer;
      GetInt(&head, 8, &answer_length);
      answer.erase(0, 8);
      length_known = true;
    }
  }
}

absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> Decode(
    absl::string_view answer, size_t photos) {
  const auto cut_short = [] {
    return absl::InternalError("photos: the worker's answer is cut short");
  };
  std::vector<absl::StatusOr<std::vector<std::string>>> read;
  absl::string_view in = answer;
  for (size_t i = 0; i < photos; ++i) {
    if (in.empty()) return cut_short();
    const bool ok = in[0] == 1;
    in.remove_prefix(1);
    uint64_t n = 0;
    if (!GetInt(&in, 4, &n)) return cut_short();
    if (!ok) {
      absl::string_view message;
      if (!GetBytes(&in, n, &message)) return cut_short();
      read.push_back(absl::InvalidArgumentError(message));
      continue;
    }
    std::vector<std::string> codes;
    for (uint64_t c = 0; c < n; ++c) {
      uint64_t length = 0;
      absl::string_view code;
      if (!GetInt(&in, 4, &length) || !GetBytes(&in, length, &code)) return cut_short();
      codes.emplace_back(code);
    }
    read.push_back(std::move(codes));
  }
  return read;
}

// The workers: at most kMaxQrPhotoWorkers processes, busy or kept idle for
// the next call.
struct Workers {
  absl::Mutex mu;
  int busy ABSL_GUARDED_BY(mu) = 0;
  int busy_for_anyone ABSL_GUARDED_BY(mu) = 0;  // of `busy`, anyone's calls
  std::vector<Worker> idle ABSL_GUARDED_BY(mu);
  // The callers, and anyone's networks, whose photos are being read (or
  // wait for a worker).
  absl::flat_hash_set<std::string> callers ABSL_GUARDED_BY(mu);
  absl::flat_hash_set<std::string> networks ABSL_GUARDED_BY(mu);
};

// A caller's place among the callers being read: taken whole or not at all,
// given back when it goes.
class CallerPlace {
 public:
  // Takes `caller`'s name and (anyone's) network; when either is being
  // read already, takes nothing and says which ("caller NAME", "network
  // NETWORK").
  std::optional<std::string> Take(Workers& workers, const QrPhotoCaller& caller)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(workers.mu) {
    if (!caller.name.empty() && workers.callers.contains(caller.name)) {
      return absl::StrCat("caller ", caller.name);
    }
    const bool by_network = !caller.registered && !caller.network.empty();
    if (by_network && workers.networks.contains(caller.network)) {
      return absl::StrCat("network ", caller.network);
    }
    if (!caller.name.empty()) name_ = *workers.callers.insert(caller.name).first;
    if (by_network) network_ = *workers.networks.insert(caller.network).first;
    return std::nullopt;
  }
  void GiveBack(Workers& workers) ABSL_EXCLUSIVE_LOCKS_REQUIRED(workers.mu) {
    if (name_) workers.callers.erase(*name_);
    if (network_) workers.networks.erase(*network_);
    name_.reset();
    network_.reset();
  }

 private:
  std::optional<std::string> name_, network_;
};
Workers& TheWorkers() {
  static Workers* const workers = new Workers;
  return *workers;
}

}  // namespace

bool QrPhotoWorkersConfined() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
  return false;
#else
  return kSeccompArch != 0;
#endif
#else
  return kSeccompArch != 0;
#endif
}

void ServeQrPhotoWorkerIfAsked(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], kQrPhotoWorkerArgument) == 0) ServeWorker();
  photo_reading = PhotoReading::kWorkers;
}

void ReadQrPhotosInCallingThread() { photo_reading = PhotoReading::kCallingThread; }

absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> ReadQrPhotos(
    const std::vector<absl::string_view>& photos, const QrPhotoCaller& caller,
    absl::Duration time_allowed) {
  if (photos.empty()) return ReadHere(photos);
  switch (photo_reading.load()) {
    case PhotoReading::kNone:
      return absl::InternalError(
          "photos: this process reads none (it called neither ServeQrPhotoWorkerIfAsked nor "
          "ReadQrPhotosInCallingThread)");
    case PhotoReading::kCallingThread:
      return ReadHere(photos);
    case PhotoReading::kWorkers:
      break;
  }
  if (time_allowed <= absl::ZeroDuration()) {
    time_allowed = kQrPhotoTimePerCall + kQrPhotoTimePerPhoto * static_cast<int64_t>(photos.size());
  }
  std::string body;
  PutInt(&body, static_cast<uint64_t>(std::ceil(absl::ToDoubleSeconds(time_allowed))), 4);
  PutInt(&body, photos.size(), 4);
  for (absl::string_view photo : photos) {
    PutInt(&body, photo.size(), 8);
    body.append(photo.data(), photo.size());
  }
  const std::string request = Framed(body);

  // A caller has one call's photos read at a time; a registered actor's
  // call waits for a worker at most as long as its photos may take, and
  // then has that long. Anyone's call does not wait: it would hold one of
  // its service's threads while it waited, and enough of them, from enough
  // networks, would keep registered actors' calls (whose worker is kept)
  // from a thread to run on.
  Workers& workers = TheWorkers();
  std::optional<Worker> kept;  // an idle worker, reused
  CallerPlace place;
  const bool anyone = !caller.registered;
  {
    absl::MutexLock lock(&workers.mu);
    if (const std::optional<std::string> busy = place.Take(workers, caller); busy) {
      return absl::ResourceExhaustedError(absl::StrCat("photos: ", kQrPhotoCallerBusy, " (", *busy,
                                                       "); send the next when it is done"));
    }
    const auto free = [&workers, anyone]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(workers.mu) {
      return workers.busy < kMaxQrPhotoWorkers &&
             (!anyone || workers.busy_for_anyone < kMaxQrPhotoWorkers - kQrPhotoWorkersForActors);
    };
    if (anyone ? !free() : !workers.mu.AwaitWithTimeout(absl::Condition(&free), time_allowed)) {
      place.GiveBack(workers);
      return absl::ResourceExhaustedError(
          anyone ? absl::StrCat("photos: the server is reading other photos; anyone's calls have ",
                                kMaxQrPhotoWorkers - kQrPhotoWorkersForActors, " of its ",
                                kMaxQrPhotoWorkers,
                                " photo readers: try again shortly, or sign the call as a "
                                "registered actor")
                 : "photos: the server is reading other photos; try again shortly");
    }
    ++workers.busy;
    if (anyone) ++workers.busy_for_anyone;
    if (!workers.idle.empty()) {  // the longest idle first: a dead one is found and reaped
      kept = workers.idle.front();
      workers.idle.erase(workers.idle.begin());
    }
  }
  struct Leave {
    Workers& workers;
    CallerPlace& place;
    bool anyone;
    std::optional<Worker> worker;  // kept for the next call when set
    ~Leave() {
      absl::MutexLock lock(&workers.mu);
      --workers.busy;
      if (anyone) --workers.busy_for_anyone;
      place.GiveBack(workers);
      if (worker) workers.idle.push_back(*worker);
    }
  } leave{workers, place, anyone, std::nullopt};
  const absl::Time deadline = absl::Now() + time_allowed;
  // A kept worker may have gone meanwhile (killed from outside): then once
  // more with a new one.
  for (;;) {
    const bool reused = kept.has_value();
    Worker worker;
    if (reused) {
      worker = *kept;
      kept.reset();
    } else {
      absl::StatusOr<Worker> spawned = Spawn();
      if (!spawned.ok()) return spawned.status();
      worker = *spawned;
    }
    absl::StatusOr<std::string> answer = Exchange(worker, request, deadline, time_allowed);
    if (!answer.ok()) {
      End(worker);
      if (absl::IsInternal(answer.status()) && reused) continue;
      return answer.status();
    }
    absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> read =
        Decode(*answer, photos.size());
    if (!read.ok()) {
      End(worker);
      return read.status();
    }
    leave.worker = worker;
    return read;
  }
}

}  // namespace chemledger::render
