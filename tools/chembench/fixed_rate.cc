#include "tools/chembench/fixed_rate.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
  // Nearest rank: the smallest value at or above 99 % of them.
  p.p99 = v[(v.size() * 99 + 99) / 100 - 1];
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

IdleAndLoadedRounds RunIdleAndLoadedRounds(int rounds, int server_pid,
                                           const std::function<std::vector<double>()>& phase,
                                           const std::function<int()>& phase_errors,
                                           const LoadedWrites& writes,
                                           std::shared_ptr<grpc::Channel> channel,
                                           const crypto::SigningKey& opener) {
  IdleAndLoadedRounds out;
  const auto cores_since = [server_pid](double cpu, absl::Time t) {
    return (ProcessCpuSeconds(server_pid) - cpu) / absl::ToDoubleSeconds(absl::Now() - t);
  };
  for (int r = 0; r < rounds; ++r) {
    IdleAndLoadedRound round;
    // After a loaded phase the server may still be compacting what it
    // wrote: the idle phase starts once it is (up to 20 s).
    for (const absl::Time until = absl::Now() + absl::Seconds(20); r > 0 && absl::Now() < until;) {
      const double before = ProcessCpuSeconds(server_pid);
      absl::SleepFor(absl::Milliseconds(500));
      if (ProcessCpuSeconds(server_pid) - before < 0.05) break;  // under 10 % of a core
    }
    double cpu = ProcessCpuSeconds(server_pid);
    absl::Time t = absl::Now();
    std::vector<double> idle = phase();
    round.idle_cores = cores_since(cpu, t);

    std::vector<v1::SignedEnvelope> events;
    events.reserve(writes.per_phase);
    for (int i = 0; i < writes.per_phase; ++i) {
      events.push_back(writes.signer->Sign(v1::STORING, writes.batch, 1 + i % writes.codes, 1));
    }
    cpu = ProcessCpuSeconds(server_pid);
    t = absl::Now();
    EventStreamAtRate writer(channel, opener, std::move(events), writes.rate);
    std::vector<double> loaded = phase();
    const EventStreamAtRate::Result written = writer.Finish();
    round.loaded_cores = cores_since(cpu, t);

    out.errors += written.errors;
    round.idle = PercentilesOf(idle);
    round.loaded = PercentilesOf(loaded);
    round.written_per_second = written.per_second;
    round.write_latency = written.latency;
    out.all_idle.insert(out.all_idle.end(), idle.begin(), idle.end());
    out.all_loaded.insert(out.all_loaded.end(), loaded.begin(), loaded.end());
    out.rounds.push_back(round);
  }
  out.errors += phase_errors();
  return out;
}

std::string IdleAndLoadedRounds::Report(const std::string& what) const {
  std::string out = absl::StrCat(
      "| round | idle p50 ms | idle p99 ms | loaded p50 ms | loaded p99 ms | loaded / idle p99 | "
      "writes achieved /s | writes p99 ms | server CPU idle / loaded (cores) |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::vector<double> idle_p99s, loaded_p99s;
  for (size_t r = 0; r < rounds.size(); ++r) {
    const IdleAndLoadedRound& x = rounds[r];
    idle_p99s.push_back(x.idle.p99);
    loaded_p99s.push_back(x.loaded.p99);
    absl::StrAppend(
        &out, absl::StrFormat("| %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.1f | "
                              "%.2f / %.2f |\n",
                              r + 1, x.idle.p50, x.idle.p99, x.loaded.p50, x.loaded.p99,
                              x.idle.p99 > 0 ? x.loaded.p99 / x.idle.p99 : 0, x.written_per_second,
                              x.write_latency.p99, x.idle_cores, x.loaded_cores));
  }
  const double idle = PercentilesOf(idle_p99s).p50, loaded = PercentilesOf(loaded_p99s).p50;
  const Percentiles a = PercentilesOf(all_idle), b = PercentilesOf(all_loaded);
  absl::StrAppend(
      &out,
      absl::StrFormat(
          "\n%s, median of the rounds' p99: idle %.2f ms, loaded %.2f ms, loaded / idle %.2f\n"
          "%s, all rounds pooled: idle p50 %.2f / p99 %.2f / max %.2f ms (%d calls), loaded p50 "
          "%.2f / p99 %.2f / max %.2f ms (%d calls), loaded / idle p99 %.2f\n",
          what, idle, loaded, idle > 0 ? loaded / idle : 0, what, a.p50, a.p99, a.max,
          static_cast<int>(a.count), b.p50, b.p99, b.max, static_cast<int>(b.count),
          a.p99 > 0 ? b.p99 / a.p99 : 0));
  return out;
}

}  // namespace chemledger::chembench
