#include "tools/chembench/pages_bench.h"

#include <sodium.h>

#include <sys/types.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_format.h"
#include "httplib.h"
#include "tools/chembench/bench_enterprises.h"
#include "tools/chembench/bench_server.h"
#include "tools/chembench/fixed_rate.h"

namespace chemledger::chembench {
namespace {

constexpr int kThreads = 8;      // client connections, kept alive
constexpr int kPhones = 256;     // client addresses the requests come from

// GETs random label pages at `rate` per second for `seconds`; latencies in
// ms. A request fails unless it answers 200 with the verdict 真.
// The sum of the durations in a Server-Timing header, ms (-1 if none).
double ServerMillis(const std::string& header) {
  double sum = 0;
  bool any = false;
  for (absl::string_view part : absl::StrSplit(header, ',')) {
    const size_t at = part.find("dur=");
    double ms = 0;
    if (at != absl::string_view::npos && absl::SimpleAtod(part.substr(at + 4), &ms)) {
      sum += ms;
      any = true;
    }
  }
  return any ? sum : -1;
}

std::vector<double> PagesAtRate(int port, const std::vector<std::string>& paths, int rate,
                                int seconds, std::atomic<int>* errors,
                                std::vector<double>* server_ms = nullptr) {
  absl::Mutex mu;
  std::vector<std::unique_ptr<httplib::Client>> clients;
  std::vector<std::mt19937> rngs;
  for (int t = 0; t < kThreads; ++t) {
    clients.push_back(std::make_unique<httplib::Client>("127.0.0.1", port));
    clients.back()->set_keep_alive(true);
    clients.back()->set_tcp_nodelay(true);
    rngs.emplace_back(t + 1);
  }
  return CallAtRate(
      rate, seconds, kThreads,
      [&](int thread, int i) {
        const std::string& path = paths[rngs[thread]() % paths.size()];
        httplib::Headers phone = {
            {"X-Forwarded-For", absl::StrCat("10.9.", i % kPhones, ".", 1 + thread)}};
        httplib::Result r = clients[thread]->Get(path.c_str(), phone);
        const bool ok = r && r->status == 200 &&
                        r->body.find("<div class=\"word\">真</div>") != std::string::npos;
        if (ok && server_ms != nullptr) {
          const double ms = ServerMillis(r->get_header_value("Server-Timing"));
          absl::MutexLock lock(&mu);
          if (ms >= 0) server_ms->push_back(ms);
        }
        return ok;
      },
      errors);
}

}  // namespace

int RunPagesBench(const PagesBenchOptions& o) {
  if (sodium_init() < 0) return 1;
  const auto fail = [&](const std::string& why) {
    std::cerr << "chembench pages: " << why << "\n";
    return 1;
  };
  absl::StatusOr<std::unique_ptr<BenchServer>> server =
      BenchServer::Start(o.chemledgerd, o.directory, "pages");
  if (!server.ok()) return fail(std::string(server.status().message()));
  crypto::SigningKey producer = crypto::SigningKey::Generate();
  std::vector<std::string> urls;
  if (absl::Status s = (*server)->SetUpProducer(producer, "P1", o.codes, &urls); !s.ok()) {
    return fail(std::string(s.message()));
  }
  // The path a phone opens: the URL after HTTPS://<resolver>.
  std::vector<std::string> paths;
  for (const std::string& url : urls) paths.push_back(url.substr(url.find('/', 8)));
  const int port = (*server)->http_port();
  std::atomic<int> page_errors{0};

  // Warm up (connections, caches), then idle: pages only.
  PagesAtRate(port, paths, o.page_rate, 1, &page_errors);
  page_errors = 0;
  const pid_t pid = (*server)->pid();
  double cpu = ProcessCpuSeconds(pid);
  absl::Time t = absl::Now();
  std::vector<double> idle_server, busy_server;
  const std::vector<double> idle =
      PagesAtRate(port, paths, o.page_rate, o.seconds, &page_errors, &idle_server);
  const double idle_cores = (ProcessCpuSeconds(pid) - cpu) / absl::ToDoubleSeconds(absl::Now() - t);

  // While STORING events stream in at a fixed rate on one stream.
  BenchEventSigner events(&producer, "pages-ev-");
  std::vector<v1::SignedEnvelope> signed_events;
  const int write_total = o.write_rate * o.seconds;
  signed_events.reserve(write_total);
  for (int i = 0; i < write_total; ++i) {
    signed_events.push_back(events.Sign(v1::STORING, "P1", 1 + i % o.codes, 1));
  }
  cpu = ProcessCpuSeconds(pid);
  t = absl::Now();
  EventStreamAtRate writer((*server)->channel(), producer, std::move(signed_events), o.write_rate);
  const std::vector<double> busy =
      PagesAtRate(port, paths, o.page_rate, o.seconds, &page_errors, &busy_server);
  const EventStreamAtRate::Result written = writer.Finish();
  const double busy_cores = (ProcessCpuSeconds(pid) - cpu) / absl::ToDoubleSeconds(absl::Now() - t);
  server->reset();
  if (page_errors > 0 || written.errors > 0) {
    return fail(absl::StrCat(page_errors.load(), " page requests and ", written.errors,
                             " writes failed"));
  }
  const Percentiles a = PercentilesOf(idle), b = PercentilesOf(busy);
  const Percentiles as = PercentilesOf(idle_server), bs = PercentilesOf(busy_server);
  std::cout << absl::StrFormat(
      "scan pages: GET of random label pages (of %d commissioned labels) at %d/s over %d "
      "kept-alive connections; writes: STORING events on one stream at %d/s (achieved %.0f/s)\n\n"
      "| pages | requests | p50 ms | p99 ms | max ms | chemledgerd CPU (cores) |\n"
      "|---|---:|---:|---:|---:|---:|\n"
      "| idle | %d | %.2f | %.2f | %.2f | %.2f |\n"
      "| while events stream in | %d | %.2f | %.2f | %.2f | %.2f |\n\n"
      "p99 under load / idle: %.2f (target: p99 <= 5 ms, ratio <= 1.5)\n"
      "writes (from send to durable answer): p50 %.2f ms, p99 %.2f ms\n"
      "time in the server (Server-Timing: snapshot, resolution, rendering): idle p50 %.3f / p99 "
      "%.3f ms, under load p50 %.3f / p99 %.3f ms\n",
      o.codes, o.page_rate, kThreads, o.write_rate, written.per_second, a.count, a.p50, a.p99,
      a.max, idle_cores, b.count, b.p50, b.p99, b.max, busy_cores, a.p99 > 0 ? b.p99 / a.p99 : 0,
      written.latency.p50, written.latency.p99, as.p50, as.p99, bs.p50, bs.p99);
  return 0;
}

}  // namespace chemledger::chembench
