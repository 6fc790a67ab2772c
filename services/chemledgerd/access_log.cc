#include "services/chemledgerd/access_log.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ostream>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/random.h"
#include "grpcpp/server_context.h"
#include "services/common/grpc_status.h"
#include "services/common/read_auth.h"
#include "services/common/text_length.h"

namespace chemledger::server {
namespace {

// The methods whose request is a SignedEnvelope (typed, not raw: the
// interceptor sees the parsed message).
bool TakesSignedEnvelope(absl::string_view method) {
  static const std::set<std::string, std::less<>>* methods = new std::set<std::string, std::less<>>{
      "/chemledger.v1.RegistryService/Submit",  "/chemledger.v1.LabelService/IssueLabels",
      "/chemledger.v1.LedgerService/Append",    "/chemledger.v1.LedgerService/AppendStream",
      "/chemledger.v1.WaybillService/Submit",   "/chemledger.v1.WaybillService/SubmitStream"};
  return methods->count(method) > 0;
}


// A caller's request id worth keeping: 1 to 64 printable characters.
bool UsableRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

class AccessLogInterceptor : public grpc::experimental::Interceptor {
 public:
  AccessLogInterceptor(grpc::experimental::ServerRpcInfo* info, AccessLog* log)
      : info_(info),
        log_(log),
        method_(info->method() != nullptr ? info->method() : "unknown"),
        start_(absl::Now()) {}

  ~AccessLogInterceptor() override {
    log_->Write({{"kind", AccessLog::String("grpc")},
                 {"method", AccessLog::String(method_)},
                 {"code", AccessLog::String(GrpcCodeName(static_cast<grpc::StatusCode>(code_)))},
                 {"ms", AccessLog::Number(absl::ToDoubleMilliseconds(absl::Now() - start_))},
                 {"peer", AccessLog::String(peer_)},
                 {"request_id", AccessLog::String(request_id_)},
                 {"key_id", AccessLog::String(key_id_)},
                 {"payload_type", AccessLog::String(payload_type_)}});
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      const std::multimap<grpc::string_ref, grpc::string_ref>* md =
          methods->GetRecvInitialMetadata();
      if (md != nullptr) {
        auto id = md->find("x-request-id");
        if (id != md->end()) {
          const std::string given(id->second.data(), id->second.size());
          if (UsableRequestId(given)) request_id_ = given;
        }
        auto key = md->find(read_auth::kKeyIdHeader);
        if (key != md->end() && key->second.size() <= 32) {
          key_id_.assign(key->second.data(), key->second.size());
        }
      }
      if (request_id_.empty()) request_id_ = absl::BytesToHexString(crypto::RandomBytes(8));
      if (info_->server_context() != nullptr) peer_ = info_->server_context()->peer();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      std::multimap<std::string, std::string>* md = methods->GetSendInitialMetadata();
      if (md != nullptr) md->emplace("x-request-id", request_id_);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        payload_type_.empty() && TakesSignedEnvelope(method_)) {
      const auto* envelope = static_cast<const v1::SignedEnvelope*>(methods->GetRecvMessage());
      if (envelope != nullptr) {
        payload_type_ = envelope->payload_type().substr(0, 128);
        if (envelope->signatures_size() > 0) {
          key_id_ = envelope->signatures(0).key_id().substr(0, 32);
        }
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = static_cast<int>(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* const info_;
  AccessLog* const log_;
  const std::string method_;
  const absl::Time start_;
  int code_ = 1;  // CANCELLED: no status sent
  std::string peer_, request_id_, key_id_, payload_type_;
};

class AccessLogInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit AccessLogInterceptorFactory(AccessLog* log) : log_(log) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new AccessLogInterceptor(info, log_);
  }

 private:
  AccessLog* const log_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
AccessLog::InterceptorFactory() {
  return std::make_unique<AccessLogInterceptorFactory>(this);
}

// JSON text: quotes, backslashes and control characters escaped; bytes that
// are not well-formed UTF-8 (a path or a key id from a client may be
// anything) become U+FFFD, so every line stays valid JSON.
AccessLog::Value AccessLog::String(absl::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s.substr(i));
      if (n == 0) {
        out += "\\ufffd";
      } else {
        out.append(s.data() + i, n);
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return Value{std::move(out)};
}

AccessLog::Value AccessLog::Number(double d) { return Value{absl::StrFormat("%.3f", d)}; }

AccessLog::Value AccessLog::Integer(int64_t i) { return Value{absl::StrCat(i)}; }

struct AccessLog::State {
  // A log of Open writes to a file descriptor of its own (the file, or a
  // duplicate of standard error) with write(2): no C++ stream or stdio
  // lock is shared with the rest of the process, so a writer stalled in a
  // write holds up nothing else, and a process that left it behind exits.
  // Only such a writer, which holds its descriptor, may be left behind by
  // a destructor that stops waiting for it.
  int fd = -1;
  std::ostream* out = nullptr;  // otherwise (tests); used by the writer thread only
  size_t max_queued_bytes;
  absl::Mutex mu;
  std::deque<std::string> queue ABSL_GUARDED_BY(mu);
  size_t queued_bytes ABSL_GUARDED_BY(mu) = 0;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  bool done ABSL_GUARDED_BY(mu) = false;  // the writer has written all and ended
  uint64_t written ABSL_GUARDED_BY(mu) = 0;
  uint64_t failed ABSL_GUARDED_BY(mu) = 0;
  uint64_t dropped ABSL_GUARDED_BY(mu) = 0;
  bool starts_cut = false;  // set before the writer starts: the file ends inside a line

  ~State() {
    if (fd >= 0) ::close(fd);
  }
};

namespace {

// Writes `lines` in one go where it can; returns how many were written whole
// (a descriptor that fails, a full disk, takes no more of the batch; the
// next batch tries again). `cut` says whether the last write ended inside
// a line: the next begins on a line of its own, so that only the cut line
// is not JSON.
size_t WriteLines(int fd, const std::deque<std::string>& lines, bool* cut) {
  std::string batch = *cut ? "\n" : "";
  const size_t prefix = batch.size();
  for (const std::string& line : lines) batch += line;
  size_t done = 0;
  while (done < batch.size()) {
    const ssize_t n = ::write(fd, batch.data() + done, batch.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  if (done < prefix) return 0;  // not even the newline went: still cut
  *cut = false;
  size_t whole = 0, end = prefix;
  for (const std::string& line : lines) {
    end += line.size();
    if (end > done) {
      *cut = done > end - line.size();  // part of this line went
      break;
    }
    ++whole;
  }
  return whole;
}

size_t WriteLines(std::ostream& out, const std::deque<std::string>& lines) {
  for (const std::string& line : lines) out << line;
  out << std::flush;
  const bool taken = out.good();
  out.clear();
  return taken ? lines.size() : 0;
}

}  // namespace

// The writer thread: takes what is queued a batch at a time and writes it
// without the lock, so that a slow stream holds up no call.
void AccessLog::WriteQueued(const std::shared_ptr<State>& state) {
  // A pipe whose reader went away (a log collector that died) fails the
  // write with EPIPE rather than ending the process with SIGPIPE (the
  // servers ignore SIGPIPE anyway; the log does not count on it).
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
  std::deque<std::string> lines;
  bool cut = state->starts_cut;  // the last write ended inside a line
  while (true) {
    {
      absl::MutexLock lock(&state->mu);
      state->mu.Await(absl::Condition(
          +[](State* s)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) { return !s->queue.empty() || s->stopping; },
          state.get()));
      if (state->queue.empty()) {  // stopping, and everything written
        state->done = true;
        return;
      }
      lines.swap(state->queue);
    }
    size_t bytes = 0;
    for (const std::string& line : lines) bytes += line.size();
    const size_t taken =
        state->fd >= 0 ? WriteLines(state->fd, lines, &cut) : WriteLines(*state->out, lines);
    absl::MutexLock lock(&state->mu);
    state->queued_bytes -= bytes;
    state->written += taken;
    state->failed += lines.size() - taken;
    lines.clear();
  }
}

absl::StatusOr<std::unique_ptr<AccessLog>> AccessLog::Open(const std::string& where) {
  auto state = std::make_shared<State>();
  state->max_queued_bytes = kMaxQueuedBytes;
  if (where == "-") {
    state->fd = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
    if (state->fd < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--access-log -: standard error: ", std::strerror(errno)));
    }
  } else {
    state->fd = ::open(where.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (state->fd < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--access-log: cannot append to ", where, ": ", std::strerror(errno)));
    }
    // A file a crash left with a line cut short: this process's first line
    // starts on a line of its own.
    const int read_fd = ::open(where.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    char last = '\n';
    if (read_fd >= 0 && ::fstat(read_fd, &st) == 0 && st.st_size > 0 &&
        ::pread(read_fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
      state->starts_cut = true;
    }
    if (read_fd >= 0) ::close(read_fd);
  }
  return std::unique_ptr<AccessLog>(new AccessLog(std::move(state)));
}

AccessLog::AccessLog(std::ostream* out, size_t max_queued_bytes)
    : AccessLog([&] {
        auto state = std::make_shared<State>();
        state->out = out;
        state->max_queued_bytes = max_queued_bytes;
        return state;
      }()) {}

AccessLog::AccessLog(std::shared_ptr<State> state)
    : state_(std::move(state)), writer_([state = state_] { WriteQueued(state); }) {}

AccessLog::~AccessLog() {
  bool done = true;
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = true;
    if (state_->fd >= 0) {  // a log of Open
      done = state_->mu.AwaitWithTimeout(
          absl::Condition(
              +[](State* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) { return s->done; }, state_.get()),
          kDrainTimeout);
    }
  }
  if (done) {
    writer_.join();
  } else {
    writer_.detach();  // it holds the state, and the stream, until it ends
  }
}

void AccessLog::Write(const std::vector<std::pair<std::string, Value>>& fields) {
  std::string line = absl::StrCat(
      "{\"time\":\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      "\"");
  for (const auto& [name, value] : fields) {
    absl::StrAppend(&line, ",", String(name).json, ":", value.json);
  }
  line += "}\n";
  absl::MutexLock lock(&state_->mu);
  if (state_->queued_bytes + line.size() > state_->max_queued_bytes) {
    ++state_->dropped;
    return;
  }
  state_->queued_bytes += line.size();
  state_->queue.push_back(std::move(line));
}

std::vector<std::pair<std::string, uint64_t>> AccessLog::LinesByOutcome() const {
  absl::MutexLock lock(&state_->mu);
  return {{"written", state_->written}, {"failed", state_->failed}, {"dropped", state_->dropped}};
}

}  // namespace chemledger::server
