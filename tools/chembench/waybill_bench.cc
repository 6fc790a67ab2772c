// chembench waybills: e-waybills per second that a carrier pushes over
// WaybillService.SubmitStream (or SubmitBatches, --batch) into a real
// chemledgerd running as a separate
// process (started here on a scratch data directory), with p50/p99 latency;
// next to the Ed25519 verify rate of one core, measured in the same run.
//
// Setup: the producer (the consignor), a carrier and a consignee registered;
// rounds × waybills × codes_per_waybill packages issued and commissioned.
// Each round then submits `waybills` new waybills (new numbers, codes no
// waybill has listed), signed by the carrier's actor before the clock starts.
// For each, the server verifies the signature, validates every field, checks
// the carrier's licence, the parties, each code's custody and product and
// that no other open waybill lists it, and syncs the log before it answers.
// Every answer must be a new acceptance with a log index of its own, or the
// run fails without a figure.

#include "tools/chembench/waybill_bench.h"

#include <sodium.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "api/china_time.h"
#include "api/net_quantity.h"
#include "api/wire.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "chemledger/v1/waybill_service.grpc.pb.h"
#include "crypto/keys.h"
#include "grpcpp/grpcpp.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "services/waybill/waybill_testing.h"
#include "tools/chembench/bench_enterprises.h"
#include "tools/chembench/bench_figures.h"
#include "tools/chembench/bench_server.h"
#include "tools/chembench/stream_window.h"

namespace chemledger::chembench {
namespace {

constexpr char kBatch[] = "W1";

// Submits `requests` over one SubmitStream per opener (request i on stream
// i % streams, opened by openers[i % streams]), at most `window` unanswered
// on each. Fails unless every request was accepted anew, each at a log
// index of its own.
absl::StatusOr<RateFigures> PushRound(v1::WaybillService::Stub* waybills,
                                      const std::vector<crypto::SigningKey>& openers,
                                      const std::vector<v1::SignedEnvelope>& requests, int window,
                                      int batch) {
  const int streams = static_cast<int>(openers.size());
  std::vector<std::vector<double>> latency(streams);
  std::vector<std::vector<uint64_t>> log_indices(streams);
  std::vector<std::string> failure(streams);  // the first of each stream
  const absl::Time start = absl::Now();
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < streams; ++t) {
      threads.emplace_back([&, t] {
        std::vector<const v1::SignedEnvelope*> mine;
        for (size_t i = t; i < requests.size(); i += streams) mine.push_back(&requests[i]);
        const auto take = [&](size_t k, const v1::WaybillResult& result) {
          if (result.code() == 0 && !result.replayed()) {
            log_indices[t].push_back(result.log_index());
          } else if (failure[t].empty()) {
            failure[t] = absl::StrCat("waybill ", k * streams + t + 1, " was ",
                                      result.replayed() ? "answered as a replay" : "refused",
                                      " (code ", result.code(), "): ", result.message());
          }
        };
        grpc::ClientContext context;
        StreamOutcome outcome;
        if (batch == 0) {
          read_auth::AttachStreamCredentials(&context, api::kSubmitStreamMethod,
                                             BenchServer::Signer(openers[t]));
          outcome = PushWithWindow(waybills->SubmitStream(&context).get(), mine, window, take);
        } else {
          std::vector<v1::WaybillBatch> messages;
          for (const v1::SignedEnvelope* r : mine) {
            if (messages.empty() || messages.back().requests_size() == batch) {
              messages.emplace_back();
            }
            *messages.back().add_requests() = *r;
          }
          std::vector<const v1::WaybillBatch*> sent;
          for (const v1::WaybillBatch& m : messages) sent.push_back(&m);
          read_auth::AttachStreamCredentials(&context, api::kSubmitBatchesMethod,
                                             BenchServer::Signer(openers[t]));
          size_t results = 0;
          outcome = PushWithWindow(waybills->SubmitBatches(&context).get(), sent,
                                   std::max(1, window / batch),
                                   [&](size_t m, const v1::WaybillBatchResult& answer) {
                                     results += answer.results_size();
                                     for (int i = 0; i < answer.results_size(); ++i) {
                                       take(m * batch + i, answer.results(i));
                                     }
                                   });
          // One answer per message: counted in results from here on.
          outcome.answers = results;
        }
        if (!outcome.status.ok()) {
          failure[t] = absl::StrCat("stream ", t + 1, " failed: ", outcome.status.error_message());
        } else if (outcome.answers != mine.size() && failure[t].empty()) {
          failure[t] = absl::StrCat("stream ", t + 1, " got ", outcome.answers, " results for ",
                                    mine.size(), " waybills");
        }
        latency[t] = std::move(outcome.latencies_ms);
      });
    }
    for (std::thread& th : threads) th.join();
  }
  const absl::Duration elapsed = absl::Now() - start;
  std::set<uint64_t> distinct;
  for (int t = 0; t < streams; ++t) {
    if (!failure[t].empty()) return absl::InternalError(failure[t]);
    distinct.insert(log_indices[t].begin(), log_indices[t].end());
  }
  if (distinct.size() != requests.size()) {
    return absl::InternalError(absl::StrCat(requests.size(), " waybills were accepted at only ",
                                            distinct.size(), " distinct log indices"));
  }
  return Summarise(requests.size(), elapsed, latency);
}

}  // namespace

int RunWaybillBench(const WaybillBenchOptions& o) {
  if (sodium_init() < 0) return 1;
  const auto fail = [&](absl::string_view why) {
    std::cerr << "chembench waybills: " << why << "\n";
    return 1;
  };
  absl::StatusOr<std::unique_ptr<BenchServer>> server =
      BenchServer::Start(o.chemledgerd, o.directory, "waybills");
  if (!server.ok()) return fail(server.status().message());

  // The consignor (the producer), carrier and consignee; codes issued and
  // commissioned, a fresh set for each round.
  const crypto::SigningKey producer = crypto::SigningKey::Generate();
  const crypto::SigningKey carrier = crypto::SigningKey::Generate();
  if (absl::Status s = (*server)->Register(BenchProducerSetup(producer.verifying_key()), producer);
      !s.ok()) {
    return fail(absl::StrCat("registering the producer: ", s.message()));
  }
  if (absl::Status s = (*server)->Register(BenchCarrierSetup(carrier.verifying_key()), carrier);
      !s.ok()) {
    return fail(absl::StrCat("registering the carrier: ", s.message()));
  }
  const int codes_per_round = o.waybills * o.codes_per_waybill;
  if (absl::Status s = (*server)->IssueAndCommission(producer, kBatch, o.rounds * codes_per_round);
      !s.ok()) {
    return fail(s.message());
  }
  absl::StatusOr<std::vector<crypto::SigningKey>> openers =
      (*server)->StreamOpeners(kBenchCarrierUscc, o.streams);
  if (!openers.ok()) return fail(openers.status().message());
  auto waybills = v1::WaybillService::NewStub((*server)->channel());
  {
    // The producer (the consignor) lets the carrier's waybills open at once.
    const v1::WaybillRequest r = waybill::testing::AuthorizeCarrierRequest(
        "bench-authorize-carrier", kBenchCarrierUscc, 30);
    grpc::ClientContext context;
    v1::WaybillResult result;
    const grpc::Status status = waybills->Submit(
        &context, *envelope::Sign(api::kWaybillContext, r.SerializeAsString(), producer), &result);
    if (!status.ok()) return fail(absl::StrCat("authorizing the carrier: ", status.error_message()));
  }

  const v1::Product product = BenchProduct();
  const auto presign = [&](int round) {
    std::vector<v1::SignedEnvelope> requests;
    requests.reserve(o.waybills);
    std::vector<std::string> codes(o.codes_per_waybill);
    for (int i = 0; i < o.waybills; ++i) {
      for (int c = 0; c < o.codes_per_waybill; ++c) {
        codes[c] = BenchCode(kBatch, round * codes_per_round + i * o.codes_per_waybill + c + 1);
      }
      v1::WaybillRequest r;
      r.set_request_id(absl::StrCat("bench-waybill-", round + 1, "-", i + 1));
      *r.mutable_submit() =
          BenchWaybill(product, absl::StrCat("BENCH-", round + 1, "-", i + 1), codes);
      r.set_deployment(BenchServer::kDeployment);  // as clients name it (request_binding.h)
      requests.push_back(*envelope::Sign(api::kWaybillContext, r.SerializeAsString(), carrier));
    }
    return requests;
  };

  std::vector<RateFigures> rounds;
  size_t message_bytes = 0;  // what one waybill's signature covers
  double verify_before = 0;
  for (int round = 0; round < o.rounds; ++round) {
    const std::vector<v1::SignedEnvelope> requests = presign(round);
    if (round == 0) {
      message_bytes =
          crypto::PreAuthEncode(api::kWaybillContext, requests[0].payload()).size();
      verify_before = VerifyRate(2, message_bytes);
    }
    absl::StatusOr<RateFigures> figures =
        PushRound(waybills.get(), *openers, requests, o.window, o.batch);
    if (!figures.ok()) {
      return fail(absl::StrCat("round ", round + 1, ": ", figures.status().message()));
    }
    rounds.push_back(*figures);
  }
  const double verify_after = VerifyRate(2, message_bytes);
  server->reset();

  const double verify = (verify_before + verify_after) / 2;
  std::cout << absl::StrFormat(
      "| round | waybills | codes each | durable waybills/s | p50 ms | p99 ms | vs one core's "
      "Ed25519 verify (%.0f/s, %d-byte message) |\n"
      "|---|---:|---:|---:|---:|---:|---:|\n",
      verify, message_bytes);
  for (size_t r = 0; r < rounds.size(); ++r) {
    std::cout << absl::StrFormat("| %d | %d | %d | %.0f | %.2f | %.2f | %.2f |\n", r + 1,
                                 o.waybills, o.codes_per_waybill, rounds[r].per_second,
                                 rounds[r].p50_ms, rounds[r].p99_ms, rounds[r].per_second / verify);
  }
  std::vector<RateFigures> sorted = rounds;
  std::sort(sorted.begin(), sorted.end(),
            [](const RateFigures& a, const RateFigures& b) { return a.per_second < b.per_second; });
  const RateFigures& median = sorted[sorted.size() / 2];
  std::cout << absl::StrFormat(
      "| median of %d (streams: %d, in flight on each: %d%s) | | | %.0f | %.2f | %.2f | %.2f |\n",
      o.rounds, o.streams, o.window,
      o.batch == 0 ? "" : absl::StrCat("; SubmitBatches, ", o.batch, " a message"),
      median.per_second, median.p50_ms, median.p99_ms, median.per_second / verify);
  std::cout << absl::StrFormat(
      "\nverify rate before %.0f/s, after %.0f/s; every waybill accepted\n", verify_before,
      verify_after);
  return 0;
}

}  // namespace chemledger::chembench
