#include "tools/chembench/fixed_rate.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "grpcpp/grpcpp.h"
#include "services/common/grpc_read_auth.h"
#include "tools/chembench/bench_server.h"

namespace chemledger::chembench {

double ProcessCpuSeconds(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The fields after the command (which is in parentheses and may hold
  // spaces): state is field 3, utime 14, stime 15.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
  double utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtod(fields[11], &utime) ||
      !absl::SimpleAtod(fields[12], &stime)) {
    return 0;
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

Percentiles PercentilesOf(std::vector<double> v) {
  Percentiles p;
  p.count = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  p.p50 = v[v.size() / 2];
  p.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  p.max = v.back();
  return p;
}

std::vector<double> CallAtRate(int rate, int seconds, int threads,
                               const std::function<bool(int thread, int i)>& call,
                               std::atomic<int>* errors) {
  std::vector<double> latencies;
  absl::Mutex mu;
  const absl::Time start = absl::Now();
  const int total = rate * seconds;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = t; i < total; i += threads) {
        const absl::Time due = start + absl::Seconds(1) * i / rate;
        absl::SleepFor(due - absl::Now());
        const absl::Time sent = absl::Now();
        const bool ok = call(t, i);
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - sent);
        if (!ok) ++*errors;
        absl::MutexLock lock(&mu);
        latencies.push_back(ms);
      }
    });
  }
  for (std::thread& th : pool) th.join();
  return latencies;
}

EventStreamAtRate::EventStreamAtRate(std::shared_ptr<grpc::Channel> channel,
                                     const crypto::SigningKey& opener,
                                     std::vector<v1::SignedEnvelope> events, int rate)
    : events_(std::move(events)), latencies_(events_.size(), 0) {
  start_ = absl::Now();
  const read_auth::ReadSigner signer = BenchServer::Signer(opener);
  thread_ = std::thread([this, channel = std::move(channel), signer, rate] {
    auto ledger = v1::LedgerService::NewStub(channel);
    const int total = static_cast<int>(events_.size());
    std::vector<absl::Time> sent(total);
    grpc::ClientContext context;
    read_auth::AttachStreamCredentials(&context, api::kAppendStreamMethod, signer);
    auto stream = ledger->AppendStream(&context);
    std::thread reader([&] {
      v1::AppendResult result;
      int k = 0;
      while (stream->Read(&result)) {
        if (k < total) {
          latencies_[k] = absl::ToDoubleMilliseconds(absl::Now() - sent[k]);
          if (result.code() != 0) ++errors_;
        }
        ++k;
      }
      if (k != total) errors_ += total - k;
    });
    for (int i = 0; i < total; ++i) {
      const absl::Time due = start_ + absl::Seconds(1) * i / rate;
      absl::SleepFor(due - absl::Now());
      sent[i] = absl::Now();
      if (!stream->Write(events_[i])) break;
      ++written_;
    }
    stream->WritesDone();
    reader.join();
    stream->Finish();
    end_ = absl::Now();
  });
}

EventStreamAtRate::~EventStreamAtRate() {
  if (thread_.joinable()) thread_.join();
}

EventStreamAtRate::Result EventStreamAtRate::Finish() {
  if (thread_.joinable()) thread_.join();
  Result r;
  r.per_second = written_.load() / absl::ToDoubleSeconds(end_ - start_);
  r.latency = PercentilesOf(latencies_);
  r.errors = errors_.load();
  return r;
}

}  // namespace chemledger::chembench
