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
#include "tools/chembench/fixed_rate.h"

namespace chemledger::chembench {
namespace {

// GetHistory of random codes at `rate` per second for `seconds`; latencies
// in ms.
std::vector<double> ReadAtRate(grpc::ChannelInterface* channel, const crypto::SigningKey& reader,
                               int codes, int rate, int seconds, std::atomic<int>* errors) {
  constexpr int kThreads = 4;
  std::vector<std::mt19937> rngs;
  for (int t = 0; t < kThreads; ++t) rngs.emplace_back(t + 1);
  return CallAtRate(
      rate, seconds, kThreads,
      [&](int thread, int) {
        grpc::ClientContext context;
        v1::GetHistoryRequest request;
        request.set_code(BenchCode("R1", 1 + static_cast<int>(rngs[thread]() % codes)));
        v1::History history;
        return read_auth::SignedRead(*channel, &context, api::kGetHistoryMethod, request,
                                     BenchServer::Signer(reader), &history)
            .ok();
      },
      errors);
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
  if (absl::Status s = (*server)->SetUpProducer(producer, "R1", o.codes); !s.ok()) {
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
  EventStreamAtRate writer((*server)->channel(), producer, std::move(signed_events), o.write_rate);
  const std::vector<double> busy =
      ReadAtRate((*server)->channel().get(), producer, o.codes, o.read_rate, o.seconds, &read_errors);
  const EventStreamAtRate::Result written = writer.Finish();
  server->reset();
  if (read_errors > 0 || written.errors > 0) {
    return fail(absl::StrCat(read_errors.load(), " reads and ", written.errors,
                             " writes failed"));
  }
  const Percentiles a = PercentilesOf(idle), b = PercentilesOf(busy), w = written.latency;
  std::cout << absl::StrFormat(
      "fsync slowed by %d ms; reads: GetHistory of random codes at %d/s; writes: STORING events "
      "on one stream at %d/s (achieved %.0f/s)\n\n"
      "| reads | calls | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|\n"
      "| idle | %d | %.2f | %.2f | %.2f |\n| while events stream in | %d | %.2f | %.2f | %.2f |\n\n"
      "writes (from send to durable answer): p50 %.2f ms, p99 %.2f ms\n",
      o.sync_delay_ms, o.read_rate, o.write_rate, written.per_second, a.count, a.p50,
      a.p99, a.max, b.count, b.p50, b.p99, b.max, w.p50, w.p99);
  return 0;
}

}  // namespace chemledger::chembench
