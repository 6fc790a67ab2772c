#include "tools/chembench/scale_bench.h"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/label_service.grpc.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "tools/chembench/bench_enterprises.h"
#include "tools/chembench/bench_server.h"
#include "tools/chembench/stream_window.h"

namespace chemledger::chembench {
namespace {

// A line of /proc/<pid>/status in kB ("VmRSS", "VmHWM"); 0 if absent.
uint64_t StatusKb(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, field + ":")) {
      std::string v(absl::StripAsciiWhitespace(line.substr(field.size() + 1)));
      v = std::string(absl::StripSuffix(v, " kB"));
      uint64_t kb = 0;
      if (absl::SimpleAtoi(v, &kb)) return kb;
    }
  }
  return 0;
}

absl::Duration Median(std::vector<absl::Duration> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

uint64_t LogSize(const std::shared_ptr<grpc::Channel>& channel) {
  auto registry = v1::RegistryService::NewStub(channel);
  grpc::ClientContext context;
  v1::Deployment d;
  registry->GetDeployment(&context, {}, &d);
  return d.log_size();
}

}  // namespace

int RunScaleBench(const ScaleBenchOptions& o) {
  if (sodium_init() < 0) return 1;
  const auto fail = [&](const std::string& why) {
    std::cerr << "chembench scale: " << why << "\n";
    return 1;
  };
  absl::StatusOr<std::unique_ptr<BenchServer>> started =
      BenchServer::Start(o.chemledgerd, o.directory, "scale");
  if (!started.ok()) return fail(std::string(started.status().message()));
  BenchServer& server = **started;

  // Start-up of a fresh deployment.
  std::vector<absl::Duration> small_opens;
  for (int i = 0; i < o.restarts; ++i) {
    absl::StatusOr<absl::Duration> took = server.Restart();
    if (!took.ok()) return fail(std::string(took.status().message()));
    small_opens.push_back(*took);
  }
  const uint64_t small_size = LogSize(server.channel());
  const uint64_t small_rss = StatusKb(server.pid(), "VmRSS");

  crypto::SigningKey producer = crypto::SigningKey::Generate();
  if (absl::Status s = server.Register(BenchProducerSetup(producer.verifying_key()), producer);
      !s.ok()) {
    return fail(absl::StrCat("registering the producer: ", s.message()));
  }
  absl::StatusOr<std::vector<crypto::SigningKey>> openers =
      server.StreamOpeners(kBenchUscc, o.streams);
  if (!openers.ok()) return fail(std::string(openers.status().message()));
  // Codes: issued in requests of 100,000 (the labels read and dropped).
  const absl::Time fill_start = absl::Now();
  if (absl::Status s = server.IssueLabels(producer, "S1", o.codes); !s.ok()) {
    return fail(std::string(s.message()));
  }
  // Events: each code commissioned by an event of its own, then STORING
  // events over the codes again until `events` in all; signed and pushed in
  // chunks, over `streams` streams.
  auto ledger = v1::LedgerService::NewStub(server.channel());
  BenchEventSigner signer(&producer, "scale-ev-");
  std::atomic<uint64_t> refused{0};
  constexpr int kChunk = 100000;
  for (int done = 0; done < o.events;) {
    const int n = std::min(kChunk, o.events - done);
    std::vector<v1::SignedEnvelope> chunk(n);
    {
      // Signing on two threads; each chunk keeps the events' order.
      std::vector<std::thread> signers;
      std::vector<BenchEventSigner> per_thread;
      for (int t = 0; t < 2; ++t) {
        per_thread.emplace_back(&producer, absl::StrCat("scale-ev-", done, "-", t, "-"));
      }
      for (int t = 0; t < 2; ++t) {
        signers.emplace_back([&, t] {
          for (int i = t; i < n; i += 2) {
            const int k = done + i;
            const bool commission = k < o.codes;
            chunk[i] = per_thread[t].Sign(commission ? v1::COMMISSIONING : v1::STORING, "S1",
                                          1 + (commission ? k : (k - o.codes) % o.codes), 1);
          }
        });
      }
      for (auto& th : signers) th.join();
    }
    // Commissioning events of one chunk go on one stream each in order; a
    // STORING event never precedes its code's commissioning (earlier chunk).
    std::vector<std::thread> pushers;
    for (int s = 0; s < o.streams; ++s) {
      pushers.emplace_back([&, s] {
        std::vector<const v1::SignedEnvelope*> mine;
        for (int i = s; i < n; i += o.streams) mine.push_back(&chunk[i]);
        grpc::ClientContext context;
        read_auth::AttachStreamCredentials(&context, api::kAppendStreamMethod,
                                           BenchServer::Signer((*openers)[s]));
        StreamOutcome outcome = PushWithWindow(
            ledger->AppendStream(&context).get(), mine, o.window,
            [&](size_t, const v1::AppendResult& r) {
              if (r.code() != 0) ++refused;
            });
        if (!outcome.status.ok() || outcome.answers != mine.size()) refused += mine.size();
      });
    }
    for (auto& th : pushers) th.join();
    done += n;
    std::cerr << "chembench scale: " << done << " events\n";
  }
  if (refused > 0) return fail(absl::StrCat(refused.load(), " events were refused"));
  const double fill_seconds = absl::ToDoubleSeconds(absl::Now() - fill_start);
  const uint64_t big_size = LogSize(server.channel());
  const uint64_t rss_filled = StatusKb(server.pid(), "VmRSS");
  const uint64_t hwm_filled = StatusKb(server.pid(), "VmHWM");

  std::vector<absl::Duration> big_opens;
  uint64_t rss_restarted = 0;
  for (int i = 0; i < o.restarts; ++i) {
    absl::StatusOr<absl::Duration> took = server.Restart();
    if (!took.ok()) return fail(std::string(took.status().message()));
    big_opens.push_back(*took);
    rss_restarted = StatusKb(server.pid(), "VmRSS");
  }
  // It answers: a history read after the restart (on the new connection).
  {
    grpc::ClientContext context;
    v1::GetHistoryRequest request;
    request.set_code(BenchCode("S1", o.codes / 2));
    v1::History history;
    if (grpc::Status s = read_auth::SignedRead(*server.channel(), &context, api::kGetHistoryMethod,
                                               request, BenchServer::Signer(producer), &history);
        !s.ok()) {
      return fail(absl::StrCat("history after the restart: ", s.error_message()));
    }
  }
  const uint64_t rss_after_read = StatusKb(server.pid(), "VmRSS");
  const uint64_t store_bytes = server.StoreBytes();
  std::cout << absl::StrFormat(
      "| log size | start until serving (median of %d) | resident memory |\n"
      "|---:|---:|---|\n"
      "| %d | %.0f ms | %.1f MB |\n"
      "| %d | %.0f ms | %.1f MB after filling (peak %.1f MB); %.1f MB after the restart, "
      "%.1f MB after a history read |\n\n"
      "filled with %d codes and %d events in %.0f s (%.0f events/s, signing included); "
      "store on disk %.0f MB\n",
      o.restarts, small_size, absl::ToDoubleMilliseconds(Median(small_opens)),
      small_rss / 1024.0, big_size, absl::ToDoubleMilliseconds(Median(big_opens)),
      rss_filled / 1024.0, hwm_filled / 1024.0, rss_restarted / 1024.0, rss_after_read / 1024.0,
      o.codes, o.events, fill_seconds, o.events / fill_seconds, store_bytes / 1e6);
  return 0;
}

}  // namespace chemledger::chembench
