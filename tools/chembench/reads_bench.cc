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
#include "tools/chembench/machine_probe.h"

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
  // Before the server starts: what the machine alone gives a short task.
  const MachineProbe machine =
      ProbeMachine(absl::Microseconds(250), o.read_rate, std::min(o.seconds, 5));
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
  // The reader is another client than the writer: a connection of its own.
  const std::shared_ptr<grpc::Channel> read_channel = (*server)->NewConnection();

  BenchEventSigner events(&producer, "reads-ev-");
  const IdleAndLoadedRounds rounds = RunIdleAndLoadedRounds(
      o.rounds, (*server)->pid(),
      [&] {
        return ReadAtRate(read_channel.get(), producer, o.codes, o.read_rate, o.seconds,
                          &read_errors);
      },
      [&] { return read_errors.load(); },
      LoadedWrites{&events, "R1", o.codes, o.write_rate * o.seconds, o.write_rate},
      (*server)->channel(), producer);
  server->reset();
  if (rounds.errors > 0) return fail(absl::StrCat(rounds.errors, " reads or writes failed"));
  std::cout << absl::StrFormat(
      "fsync slowed by %d ms; reads: GetHistory of random codes at %d/s, %d s a phase; writes: "
      "STORING events on one stream at %d/s; target: loaded p99 <= 2 ms\n\n%s%s\n",
      o.sync_delay_ms, o.read_rate, o.seconds, o.write_rate, rounds.Report("reads"),
      MachineProbeLine(machine));
  return 0;
}

}  // namespace chemledger::chembench
