#include "tools/chembench/pages_bench.h"

#include <sodium.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "httplib.h"
#include "tools/chembench/bench_enterprises.h"
#include "tools/chembench/bench_server.h"
#include "tools/chembench/fixed_rate.h"
#include "tools/chembench/machine_probe.h"

namespace chemledger::chembench {
namespace {

constexpr int kThreads = 8;      // client connections, kept alive
constexpr int kPhones = 256;     // client addresses the requests come from

// GETs random label pages at `rate` per second for `seconds`; latencies in
// ms. A request fails unless it answers 200 with the verdict 真.
// The durations in a Server-Timing header, ms, in its order (snapshot,
// resolve, render), and their sum last; empty if none.
std::vector<double> ServerMillis(const std::string& header) {
  std::vector<double> parts;
  double sum = 0;
  for (absl::string_view part : absl::StrSplit(header, ',')) {
    const size_t at = part.find("dur=");
    double ms = 0;
    if (at != absl::string_view::npos && absl::SimpleAtod(part.substr(at + 4), &ms)) {
      parts.push_back(ms);
      sum += ms;
    }
  }
  if (!parts.empty()) parts.push_back(sum);
  return parts;
}

// Per stage of the Server-Timing header (and the total last): the time of
// each request in the server.
struct ServerStages {
  std::vector<std::vector<double>> stages;
  void Add(const std::vector<double>& parts) {
    if (stages.size() < parts.size()) stages.resize(parts.size());
    for (size_t i = 0; i < parts.size(); ++i) stages[i].push_back(parts[i]);
  }
  Percentiles Total() const {
    return stages.empty() ? Percentiles() : PercentilesOf(stages.back());
  }
  // "snapshot p99 a, resolve p99 b, render p99 c" (ms).
  std::string StageP99s() const {
    static const char* const kNames[] = {"snapshot", "resolve", "render"};
    std::string out;
    for (size_t i = 0; i + 1 < stages.size() && i < 3; ++i) {
      absl::StrAppend(&out, i ? ", " : "", kNames[i], " ",
                      absl::StrFormat("%.3f", PercentilesOf(stages[i]).p99));
    }
    return out;
  }
};

std::vector<double> PagesAtRate(int port, const std::vector<std::string>& paths, int rate,
                                int seconds, std::atomic<int>* errors,
                                ServerStages* server_ms = nullptr) {
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
          const std::vector<double> parts = ServerMillis(r->get_header_value("Server-Timing"));
          absl::MutexLock lock(&mu);
          server_ms->Add(parts);
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
  // Before the server starts: what the machine alone gives a short task.
  const MachineProbe machine =
      ProbeMachine(absl::Microseconds(250), o.page_rate, std::min(o.seconds, 5));
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

  // Warm up (connections, caches).
  PagesAtRate(port, paths, o.page_rate, 1, &page_errors);
  page_errors = 0;
  const pid_t pid = (*server)->pid();

  ServerStages idle_server, busy_server;
  bool loaded_phase = false;
  BenchEventSigner events(&producer, "pages-ev-");
  const IdleAndLoadedRounds rounds = RunIdleAndLoadedRounds(
      o.rounds, pid,
      [&] {
        std::vector<double> latencies =
            PagesAtRate(port, paths, o.page_rate, o.seconds, &page_errors,
                        loaded_phase ? &busy_server : &idle_server);
        loaded_phase = !loaded_phase;
        return latencies;
      },
      [&] { return page_errors.load(); },
      LoadedWrites{&events, "P1", o.codes, o.write_rate * o.seconds, o.write_rate},
      (*server)->channel(), producer);
  server->reset();
  if (rounds.errors > 0)
    return fail(absl::StrCat(rounds.errors, " page requests or writes failed"));

  const Percentiles as = idle_server.Total(), bs = busy_server.Total();
  std::cout << absl::StrFormat(
      "scan pages: GET of random label pages (of %d commissioned labels) at %d/s over %d "
      "kept-alive connections, %d s a phase; writes: STORING events on one stream at %d/s; "
      "target: p99 <= 5 ms, loaded / idle <= 1.5\n\n%s"
      "time in the server (Server-Timing: snapshot, resolution, rendering), pooled: idle p50 %.3f "
      "/ p99 %.3f ms, loaded p50 %.3f / p99 %.3f ms\n"
      "p99 of each stage in the server, ms: idle %s; loaded %s\n%s\n",
      o.codes, o.page_rate, kThreads, o.seconds, o.write_rate, rounds.Report("pages"), as.p50,
      as.p99, bs.p50, bs.p99, idle_server.StageP99s(), busy_server.StageP99s(),
      MachineProbeLine(machine));
  return 0;
}

}  // namespace chemledger::chembench
