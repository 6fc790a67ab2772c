// Ends a stream whose client has stopped: one that sends nothing and is sent
// nothing for `timeouts.idle` while the server has no work of it in hand
// (WorkStarted: a client waiting for answers the server is still working
// out is not idle), or does not take a message the server writes within
// `timeouts.write` (a slow reader holds the server's thread and its stream
// slot). It calls `end_stream` once (a gRPC handler passes
// `[context] { context->TryCancel(); }`: the handler's Read and Write then
// fail and the handler returns), so no client can hold a slot forever.
//
// Thread-safety: Active, WriteStarted, WriteDone, WorkStarted, WorkDone and
// fired may be called from any thread; the watchdog owns one thread, which calls `end_stream` and
// is joined by the destructor.

#ifndef CHEMLEDGER_SERVICES_COMMON_STREAM_WATCHDOG_H_
#define CHEMLEDGER_SERVICES_COMMON_STREAM_WATCHDOG_H_

#include <algorithm>
#include <functional>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace chemledger {

struct StreamTimeouts {
  absl::Duration idle = absl::Seconds(120);
  absl::Duration write = absl::Seconds(30);
};

class StreamWatchdog {
 public:
  StreamWatchdog(std::function<void()> end_stream, StreamTimeouts timeouts)
      : end_stream_(std::move(end_stream)), timeouts_(timeouts), last_activity_(absl::Now()) {
    try {
      thread_ = std::thread([this] { Watch(); });
    } catch (const std::system_error&) {
      // No thread to be had: this stream goes unwatched (the gRPC server's
      // thread bound and the stream gate still bound how many there are).
    }
  }
  ~StreamWatchdog() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }
  StreamWatchdog(const StreamWatchdog&) = delete;
  StreamWatchdog& operator=(const StreamWatchdog&) = delete;

  // A message came from the client, or the server finished one.
  void Active() {
    absl::MutexLock lock(&mu_);
    last_activity_ = absl::Now();
  }
  void WriteStarted() {
    absl::MutexLock lock(&mu_);
    write_started_ = absl::Now();
    writing_ = true;
  }
  void WriteDone() {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    last_activity_ = absl::Now();
  }
  // The server works on what the client sent (checks or answers a batch):
  // until the matching WorkDone the stream is not idle, however long that
  // takes. Calls may nest and come from several threads.
  void WorkStarted() {
    absl::MutexLock lock(&mu_);
    ++working_;
  }
  void WorkDone() {
    absl::MutexLock lock(&mu_);
    --working_;
    last_activity_ = absl::Now();
  }
  // Whether the watchdog ended the stream.
  bool fired() const {
    absl::MutexLock lock(&mu_);
    return fired_;
  }

 private:
  void Watch() {
    {
      absl::MutexLock lock(&mu_);
      const absl::Duration tick = std::min(timeouts_.idle, timeouts_.write) / 8;
      for (;;) {
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), tick);
        if (stopping_) return;
        const absl::Time now = absl::Now();
        if ((writing_ && now - write_started_ > timeouts_.write) ||
            (!writing_ && working_ == 0 && now - last_activity_ > timeouts_.idle)) {
          fired_ = true;
          break;
        }
      }
    }
    end_stream_();  // without the lock: it may call back into the watchdog
  }

  const std::function<void()> end_stream_;
  const StreamTimeouts timeouts_;
  mutable absl::Mutex mu_;
  absl::Time last_activity_ ABSL_GUARDED_BY(mu_);
  absl::Time write_started_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  int working_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Writes `message` on a server stream (anything with Write(message), as
// grpc::ServerWriter) timed by `watchdog`, so that a client that stops
// taking messages ends the stream after its write timeout instead of
// holding the handler's thread, and whatever slot it holds, for good.
// False when the message was not written (the client went away, or the
// watchdog ended the stream).
template <typename Writer, typename Message>
bool WatchedWrite(StreamWatchdog& watchdog, Writer& writer, const Message& message) {
  watchdog.WriteStarted();
  const bool written = writer.Write(message);
  watchdog.WriteDone();
  return written;
}

// Timeouts for a server stream that may be quiet for as long as its client
// likes (a subscription, an export the server works out): only a write the
// client does not take within 30 s ends it.
inline constexpr StreamTimeouts kWriteOnlyTimeouts{absl::InfiniteDuration(), absl::Seconds(30)};

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_STREAM_WATCHDOG_H_
