#include "tools/chembench/reads_bench.h"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "services/common/grpc_read_auth.h"
#include "tools/chembench/bench_enterprises.h"
#include "tools/chembench/bench_server.h"

namespace chemledger::chembench {
namespace {

struct Percentiles {
  size_t count = 0;
  double p50 = 0, p99 = 0, max = 0;
};

Percentiles Of(std::vector<double> v) {
  Percentiles p;
  p.count = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  p.p50 = v[v.size() / 2];
  p.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  p.max = v.back();
  return p;
}

// GetHistory of random codes at `rate` per second for `seconds`, each call
// on its own schedule (a late call does not delay the next); latencies in ms.
std::vector<double> ReadAtRate(grpc::ChannelInterface* channel, const crypto::SigningKey& reader,
                               int codes, int rate, int seconds, std::atomic<int>* errors) {
  std::vector<double> latencies;
  absl::Mutex mu;
  const absl::Time start = absl::Now();
  const int total = rate * seconds;
  // A few threads share the schedule, so one slow call does not hold up the
  // calls due after it.
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t + 1);
      for (int i = t; i < total; i += kThreads) {
        const absl::Time due = start + absl::Seconds(1) * i / rate;
        absl::SleepFor(due - absl::Now());
        grpc::ClientContext context;
        v1::GetHistoryRequest request;
        request.set_code(BenchCode("R1", 1 + static_cast<int>(rng() % codes)));
        v1::History history;
        const absl::Time sent = absl::Now();
        grpc::Status status = read_auth::SignedRead(*channel, &context, api::kGetHistoryMethod,
                                                    request, BenchServer::Signer(reader), &history);
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - sent);
        if (!status.ok()) ++*errors;
        absl::MutexLock lock(&mu);
        latencies.push_back(ms);
      }
    });
  }
  for (auto& th : threads) th.join();
  return latencies;
}

}  // namespace

int RunReadsBench(const ReadsBenchOptions& o) {
  if (sodium_init() < 0) return 1;
  const auto fail = [&](const std::string& why) {
    std::cerr << "chembench reads: " << why << "\n";
    return 1;
  };
  absl::StatusOr<std::unique_ptr<BenchServer>> server = BenchServer::Start(
      o.chemledgerd, o.directory, "reads",
      {"--debug-sync-delay-ms", absl::StrCat(o.sync_delay_ms)});
  if (!server.ok()) return fail(std::string(server.status().message()));
  auto ledger = v1::LedgerService::NewStub((*server)->channel());
  crypto::SigningKey producer = crypto::SigningKey::Generate();
  if (absl::Status s = (*server)->Register(BenchProducerSetup(producer.verifying_key()), producer);
      !s.ok()) {
    return fail(absl::StrCat("registering the producer: ", s.message()));
  }
  if (absl::Status s = (*server)->IssueAndCommission(producer, "R1", o.codes); !s.ok()) {
    return fail(std::string(s.message()));
  }
  std::atomic<int> read_errors{0};

  // Idle: reads only.
  const std::vector<double> idle =
      ReadAtRate((*server)->channel().get(), producer, o.codes, o.read_rate, o.seconds, &read_errors);

  // Under writes: STORING events at a fixed rate on one stream, signed ahead.
  BenchEventSigner events(&producer, "reads-ev-");
  const int write_total = o.write_rate * o.seconds;
  std::vector<v1::SignedEnvelope> signed_events;
  signed_events.reserve(write_total);
  for (int i = 0; i < write_total; ++i) {
    signed_events.push_back(events.Sign(v1::STORING, "R1", 1 + i % o.codes, 1));
  }
  std::atomic<int> write_errors{0};
  std::vector<double> write_latencies(write_total, 0);
  std::vector<absl::Time> sent(write_total);
  std::atomic<int> written{0};
  const absl::Time write_start = absl::Now();
  std::thread writer([&] {
    grpc::ClientContext context;
    read_auth::AttachStreamCredentials(&context, api::kAppendStreamMethod,
                                       BenchServer::Signer(producer));
    auto stream = ledger->AppendStream(&context);
    std::thread reader([&] {
      v1::AppendResult result;
      int k = 0;
      while (stream->Read(&result)) {
        if (k < write_total) {
          write_latencies[k] = absl::ToDoubleMilliseconds(absl::Now() - sent[k]);
          if (result.code() != 0) ++write_errors;
        }
        ++k;
      }
      if (k != write_total) write_errors += write_total - k;
    });
    for (int i = 0; i < write_total; ++i) {
      const absl::Time due = write_start + absl::Seconds(1) * i / o.write_rate;
      absl::SleepFor(due - absl::Now());
      sent[i] = absl::Now();
      if (!stream->Write(signed_events[i])) break;
      ++written;
    }
    stream->WritesDone();
    reader.join();
    stream->Finish();
  });
  const std::vector<double> busy =
      ReadAtRate((*server)->channel().get(), producer, o.codes, o.read_rate, o.seconds, &read_errors);
  writer.join();
  const double write_seconds = absl::ToDoubleSeconds(absl::Now() - write_start);
  server->reset();
  if (read_errors > 0 || write_errors > 0) {
    return fail(absl::StrCat(read_errors.load(), " reads and ", write_errors.load(),
                             " writes failed"));
  }
  const Percentiles a = Of(idle), b = Of(busy), w = Of(write_latencies);
  std::cout << absl::StrFormat(
      "fsync slowed by %d ms; reads: GetHistory of random codes at %d/s; writes: STORING events "
      "on one stream at %d/s (achieved %.0f/s)\n\n"
      "| reads | calls | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|\n"
      "| idle | %d | %.2f | %.2f | %.2f |\n| while events stream in | %d | %.2f | %.2f | %.2f |\n\n"
      "writes (from send to durable answer): p50 %.2f ms, p99 %.2f ms\n",
      o.sync_delay_ms, o.read_rate, o.write_rate, written.load() / write_seconds, a.count, a.p50,
      a.p99, a.max, b.count, b.p50, b.p99, b.max, w.p50, w.p99);
  return 0;
}

}  // namespace chemledger::chembench
