#include "tools/chembench/verify_bench.h"

#include <sodium.h>

#include <atomic>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "chemledger/v1/verify_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "render/qr.h"
#include "services/common/grpc_read_auth.h"
#include "tools/chembench/bench_enterprises.h"
#include "tools/chembench/bench_figures.h"
#include "tools/chembench/bench_server.h"

namespace chemledger::chembench {
namespace {

constexpr int kUrlsPerCall = 1000;
constexpr int kImagesPerCall = 16;
constexpr int kReaders = 48;

struct PhaseResult {
  double codes_per_second = 0;
  double calls = 0;
  int errors = 0;
  RateFigures figures;
};

// `clients` threads, each calling Verify with `make(thread, call)`, the
// calls signed by the readers in turn, until `seconds` pass. A call fails
// unless every code in it is verified authentic.
PhaseResult Phase(grpc::ChannelInterface* channel, const std::vector<crypto::SigningKey>& readers,
                  int clients, int seconds, int codes_per_call,
                  const std::function<v1::VerifyRequest(int thread, int call)>& make) {
  std::atomic<int> errors{0};
  std::atomic<size_t> codes{0};
  std::vector<std::vector<double>> latencies(clients);
  const absl::Time start = absl::Now(), end = start + absl::Seconds(seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      for (int call = 0; absl::Now() < end; ++call) {
        const v1::VerifyRequest request = make(t, call);
        grpc::ClientContext context;
        v1::VerifyResponse response;
        const absl::Time sent = absl::Now();
        const grpc::Status status = read_auth::SignedRead(
            *channel, &context, api::kVerifyMethod, request,
            BenchServer::Signer(readers[(call * clients + t) % readers.size()]), &response);
        latencies[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - sent));
        bool ok = status.ok() && response.verifications_size() == codes_per_call;
        for (const v1::Verification& v : response.verifications()) {
          ok = ok && v.label().assessment() == "genuine";
        }
        if (!ok) {
          if (errors++ == 0) {
            std::cerr << "chembench verify: a call failed: " << status.error_message() << " ("
                      << response.verifications_size() << " verifications)\n";
          }
          continue;
        }
        codes += codes_per_call;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  const absl::Duration elapsed = absl::Now() - start;
  PhaseResult r;
  r.codes_per_second = codes.load() / absl::ToDoubleSeconds(elapsed);
  size_t calls = 0;
  for (const auto& l : latencies) calls += l.size();
  r.calls = static_cast<double>(calls);
  r.errors = errors.load();
  r.figures = Summarise(calls, elapsed, latencies);
  return r;
}

}  // namespace

int RunVerifyBench(const VerifyBenchOptions& o) {
  if (sodium_init() < 0) return 1;
  const auto fail = [&](const std::string& why) {
    std::cerr << "chembench verify: " << why << "\n";
    return 1;
  };
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  // The limit: bare Ed25519 verifications of a label-sized message on one
  // core, times the cores.
  const double one_core = VerifyRate(2.0, 120);
  const double limit = one_core * cores;

  absl::StatusOr<std::unique_ptr<BenchServer>> server =
      BenchServer::Start(o.chemledgerd, o.directory, "verify");
  if (!server.ok()) return fail(std::string(server.status().message()));
  crypto::SigningKey producer = crypto::SigningKey::Generate();
  std::vector<std::string> urls;
  if (absl::Status s = (*server)->SetUpProducer(producer, "V1", o.codes, &urls); !s.ok()) {
    return fail(std::string(s.message()));
  }
  // Signed calls are limited per actor (2000 codes a second): the calls
  // take turns among enough readers that the limit never binds.
  absl::StatusOr<std::vector<crypto::SigningKey>> readers =
      (*server)->StreamOpeners(kBenchUscc, kReaders);
  if (!readers.ok()) return fail(std::string(readers.status().message()));
  // Photos: one QR code each, as a phone takes of one label (PNG).
  std::vector<std::string> photos;
  for (int i = 0; i < 64 && i < static_cast<int>(urls.size()); ++i) {
    absl::StatusOr<render::QrSymbol> qr = render::EncodeQr(urls[i]);
    if (!qr.ok()) return fail(std::string(qr.status().message()));
    absl::StatusOr<std::string> png = render::QrToPng(*qr, 4, 4);
    if (!png.ok()) return fail(std::string(png.status().message()));
    photos.push_back(*std::move(png));
  }

  grpc::ChannelInterface* channel = (*server)->channel().get();
  const PhaseResult batched =
      Phase(channel, *readers, o.clients, o.seconds, kUrlsPerCall, [&](int t, int call) {
        v1::VerifyRequest r;
        const size_t first = (static_cast<size_t>(t) * 7919 + call * kUrlsPerCall) % urls.size();
        for (int i = 0; i < kUrlsPerCall; ++i) r.add_urls(urls[(first + i) % urls.size()]);
        return r;
      });
  const PhaseResult images =
      Phase(channel, *readers, o.clients, o.seconds, kImagesPerCall, [&](int t, int call) {
        v1::VerifyRequest r;
        for (int i = 0; i < kImagesPerCall; ++i) {
          r.add_images(photos[(t * 13 + call * kImagesPerCall + i) % photos.size()]);
        }
        return r;
      });
  server->reset();
  if (batched.errors > 0 || images.errors > 0) {
    return fail(absl::StrCat(batched.errors, " URL calls and ", images.errors,
                             " image calls failed"));
  }
  std::cout << absl::StrFormat(
      "VerifyService.Verify, signed calls from %d client threads (signed by %d registered "
      "actors in turn), %d labels in the log\n"
      "bare Ed25519 verify: %.0f/s on one core, limit %.0f/s on %u cores\n\n"
      "| input | per call | calls | codes verified/s | ratio to the %u-core limit | call p50 ms | "
      "call p99 ms |\n|---|---:|---:|---:|---:|---:|---:|\n"
      "| label URLs | %d | %.0f | %.0f | %.2f | %.1f | %.1f |\n"
      "| PNG photos, one code each | %d | %.0f | %.0f | %.3f | %.1f | %.1f |\n\n"
      "target: URLs batched >= 0.5 of the limit\n",
      o.clients, kReaders, o.codes, one_core, limit, cores, cores, kUrlsPerCall, batched.calls,
      batched.codes_per_second, batched.codes_per_second / limit, batched.figures.p50_ms,
      batched.figures.p99_ms, kImagesPerCall, images.calls, images.codes_per_second,
      images.codes_per_second / limit, images.figures.p50_ms, images.figures.p99_ms);
  return 0;
}

}  // namespace chemledger::chembench
