#include "services/chemledgerd/metrics.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/status.h"
#include "httplib.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "services/common/grpc_status.h"
#include "services/common/listen_address.h"
#include "web/http_port.h"

namespace chemledger::server {
namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries* b =
      new prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                  0.05,   0.1,   0.2,   0.5,   1,    2,
                                                  5,      10,    30};
  return *b;
}

// A gRPC call, measured from its arrival to its status.
class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(grpc::experimental::ServerRpcInfo* info, ServerMetrics* metrics)
      : method_(info->method() != nullptr ? info->method() : "unknown"),
        metrics_(metrics),
        start_(absl::Now()) {}
  ~MetricsInterceptor() override { metrics_->RecordGrpc(method_, code_, absl::Now() - start_); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = static_cast<int>(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  ServerMetrics* const metrics_;
  const absl::Time start_;
  int code_ = static_cast<int>(grpc::StatusCode::CANCELLED);  // no status sent
};

class MetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(ServerMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(info, metrics_);
  }

 private:
  ServerMetrics* const metrics_;
};


}  // namespace

struct ServerMetrics::Impl {
  journal::LedgerClient* ledger;
  std::string store_dir;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& grpc_requests =
      prometheus::BuildCounter()
          .Name("chemledger_grpc_requests_total")
          .Help("gRPC calls answered, by full method name and status code")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& grpc_seconds =
      prometheus::BuildHistogram()
          .Name("chemledger_grpc_request_seconds")
          .Help("gRPC calls' time from arrival to status, by method and status code")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& http_requests =
      prometheus::BuildCounter()
          .Name("chemledger_http_requests_total")
          .Help("HTTP requests answered (scan pages, staff app, console), by route and status")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& http_seconds =
      prometheus::BuildHistogram()
          .Name("chemledger_http_request_seconds")
          .Help("HTTP requests' time in the server, by route")
          .Register(*registry);
  prometheus::Counter& batches = prometheus::BuildCounter()
                                     .Name("chemledger_journal_batches_total")
                                     .Help("Batches the store committed")
                                     .Register(*registry)
                                     .Add({});
  prometheus::Histogram& batch_requests =
      prometheus::BuildHistogram()
          .Name("chemledger_journal_batch_requests")
          .Help("Requests answered per committed batch")
          .Register(*registry)
          .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256, 512,
                                                           1024, 2048, 4096});
  prometheus::Histogram& commit_seconds =
      prometheus::BuildHistogram()
          .Name("chemledger_journal_commit_seconds")
          .Help("A batch's commit to the store, its sync included")
          .Register(*registry)
          .Add({}, LatencyBuckets());
  prometheus::Gauge& log_entries = prometheus::BuildGauge()
                                       .Name("chemledger_log_entries")
                                       .Help("Entries in the log")
                                       .Register(*registry)
                                       .Add({});
  prometheus::Gauge& store_bytes = prometheus::BuildGauge()
                                       .Name("chemledger_store_bytes")
                                       .Help("Bytes of the store's files on disk")
                                       .Register(*registry)
                                       .Add({});
  prometheus::Family<prometheus::Counter>& cache_lookups =
      prometheus::BuildCounter()
          .Name("chemledger_cache_lookups_total")
          .Help("Lookups of a cache, by cache and result (hit or miss)")
          .Register(*registry);
  struct WatchedCache {
    std::function<std::pair<uint64_t, uint64_t>()> counts;
    prometheus::Counter* hits;
    prometheus::Counter* misses;
    uint64_t hits_seen = 0;
    uint64_t misses_seen = 0;
  };
  prometheus::Family<prometheus::Gauge>& slots_in_use =
      prometheus::BuildGauge()
          .Name("chemledger_slots_in_use")
          .Help("Bounded resources in use (issuance slots, submission streams), by slot")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& slots =
      prometheus::BuildGauge()
          .Name("chemledger_slots")
          .Help("The bound of each resource of chemledger_slots_in_use")
          .Register(*registry);
  std::vector<std::pair<prometheus::Gauge*, std::function<double()>>> watched_gauges
      ABSL_GUARDED_BY(caches_mu);
  struct WatchedOutcomes {
    prometheus::Family<prometheus::Counter>* family;
    ServerMetrics::OutcomeCounts counts;
    // Per outcome: its counter and the count it was last brought to.
    std::map<std::string, std::pair<prometheus::Counter*, uint64_t>> seen;
  };
  // What the Watch functions registered (caches_mu), and what each was
  // brought to so far (the entries' counts, only under scrape_mu). A scrape
  // copies the lists and calls the modules' functions holding scrape_mu
  // alone, which nothing else takes: no module's lock is ever taken under
  // caches_mu, so none is ordered after the metrics' registrations.
  std::vector<std::shared_ptr<WatchedOutcomes>> outcomes ABSL_GUARDED_BY(caches_mu);
  absl::Mutex caches_mu;
  std::vector<std::shared_ptr<WatchedCache>> caches ABSL_GUARDED_BY(caches_mu);
  absl::Mutex scrape_mu;
  std::unique_ptr<httplib::Server> http;
  std::thread thread;
};

ServerMetrics::ServerMetrics(std::string store_dir) : impl_(new Impl) {
  impl_->ledger = nullptr;
  impl_->store_dir = std::move(store_dir);
}

void ServerMetrics::WatchLog(journal::LedgerClient* ledger) { impl_->ledger = ledger; }

ServerMetrics::~ServerMetrics() { StopServing(); }

void ServerMetrics::StopServing() {
  if (impl_->http) impl_->http->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ServerMetrics::InterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(this);
}

void ServerMetrics::RecordGrpc(absl::string_view method, int code, absl::Duration latency) {
  const std::string m(method);
  const std::string c(GrpcCodeName(static_cast<grpc::StatusCode>(code)));
  impl_->grpc_requests.Add({{"method", m}, {"code", c}}).Increment();
  impl_->grpc_seconds.Add({{"method", m}, {"code", c}}, LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(latency));
}

void ServerMetrics::RecordHttp(absl::string_view route, int status, absl::Duration latency) {
  const std::string r(route);
  impl_->http_requests.Add({{"route", r}, {"status", absl::StrCat(status)}}).Increment();
  impl_->http_seconds.Add({{"route", r}}, LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(latency));
}

void ServerMetrics::RecordCommit(const journal::CommittedBatch& batch) {
  impl_->batches.Increment();
  impl_->batch_requests.Observe(static_cast<double>(batch.requests));
  impl_->commit_seconds.Observe(absl::ToDoubleSeconds(batch.commit_time));
}

void ServerMetrics::WatchSlots(std::string slot, std::function<int()> in_use, int capacity) {
  absl::MutexLock lock(&impl_->caches_mu);
  impl_->slots.Add({{"slot", slot}}).Set(capacity);
  impl_->watched_gauges.emplace_back(&impl_->slots_in_use.Add({{"slot", slot}}), std::move(in_use));
}

void ServerMetrics::WatchOutcomes(const std::string& family, const std::string& help,
                                  OutcomeCounts counts) {
  absl::MutexLock lock(&impl_->caches_mu);
  impl_->outcomes.push_back(std::make_shared<Impl::WatchedOutcomes>(Impl::WatchedOutcomes{
      &prometheus::BuildCounter().Name(family).Help(help).Register(*impl_->registry),
      std::move(counts),
      {}}));
}

void ServerMetrics::WatchRefusalRecords(OutcomeCounts counts) {
  WatchOutcomes("chemledger_refusal_records_total",
                "Refused requests by what became of their record (recorded in the log, "
                "repeated, replays, rate_limited, too_large, dropped, unverified, failed)",
                std::move(counts));
}

void ServerMetrics::WatchMajorHazardAlerts(OutcomeCounts counts, std::function<int()> waiting) {
  WatchOutcomes("chemledger_major_hazard_alerts_total",
                "Major hazard alert entries recorded, and submissions of them that failed "
                "(each is tried again)",
                std::move(counts));
  prometheus::Gauge& gauge =
      prometheus::BuildGauge()
          .Name("chemledger_major_hazard_alerts_waiting")
          .Help("Major hazard alerts whose entry could not be written, waiting to be tried again")
          .Register(*impl_->registry)
          .Add({});
  absl::MutexLock lock(&impl_->caches_mu);
  impl_->watched_gauges.emplace_back(&gauge, std::move(waiting));
}

void ServerMetrics::WatchPublicScanRecords(OutcomeCounts counts) {
  WatchOutcomes("chemledger_public_scan_records_total",
                "What became of anonymous scans of lost, used-up, disposed-of or voided "
                "packages (recorded in the log, or why not)",
                std::move(counts));
}

void ServerMetrics::WatchAccessLog(OutcomeCounts counts) {
  WatchOutcomes("chemledger_access_log_lines_total",
                "Access log lines the log's file or standard error took (written), refused "
                "(failed: a full disk, a closed pipe), and dropped because its writer fell too "
                "far behind (dropped)",
                std::move(counts));
}

void ServerMetrics::WatchReplica(std::function<ReplicaLag()> lag) {
  prometheus::Gauge& head_read_age =
      prometheus::BuildGauge()
          .Name("chemledger_replica_head_read_age_seconds")
          .Help("A read replica: seconds since it last read the writer's head in its database")
          .Register(*impl_->registry)
          .Add({});
  prometheus::Gauge& replay_lag =
      prometheus::BuildGauge()
          .Name("chemledger_replica_replay_lag_seconds")
          .Help(
              "A read replica on a PostgreSQL standby: seconds since the primary committed the "
              "newest transaction the standby has replayed (0 on the primary, +Inf before the "
              "standby replays one); the writer commits a lease renewal every third of its "
              "lease, so a standby that keeps up stays under that")
          .Register(*impl_->registry)
          .Add({});
  // One read of `lag` per scrape serves both gauges: the first reads it,
  // the second (set just after, under the same lock) uses that read.
  struct Read {
    std::function<ReplicaLag()> lag;
    ReplicaLag last;
  };
  auto read = std::make_shared<Read>(Read{std::move(lag), {}});
  absl::MutexLock lock(&impl_->caches_mu);
  impl_->watched_gauges.emplace_back(&head_read_age, [read] {
    read->last = read->lag();
    return absl::ToDoubleSeconds(read->last.since_head_read);
  });
  impl_->watched_gauges.emplace_back(&replay_lag, [read] {
    if (!read->last.at_standby) return 0.0;
    return read->last.replay_lag ? absl::ToDoubleSeconds(*read->last.replay_lag)
                                 : std::numeric_limits<double>::infinity();
  });
}

void ServerMetrics::WatchCache(std::string cache,
                              std::function<std::pair<uint64_t, uint64_t>()> counts) {
  absl::MutexLock lock(&impl_->caches_mu);
  auto watched = std::make_shared<Impl::WatchedCache>();
  watched->counts = std::move(counts);
  watched->hits = &impl_->cache_lookups.Add({{"cache", cache}, {"result", "hit"}});
  watched->misses = &impl_->cache_lookups.Add({{"cache", cache}, {"result", "miss"}});
  impl_->caches.push_back(std::move(watched));
}

std::string ServerMetrics::Scrape() const {
  if (impl_->ledger != nullptr) {
    impl_->log_entries.Set(static_cast<double>(impl_->ledger->Latest()->size()));
  }
  {
    absl::MutexLock scraping(&impl_->scrape_mu);
    std::vector<std::pair<prometheus::Gauge*, std::function<double()>>> gauges;
    std::vector<std::shared_ptr<Impl::WatchedCache>> caches;
    std::vector<std::shared_ptr<Impl::WatchedOutcomes>> outcomes;
    {
      absl::MutexLock lock(&impl_->caches_mu);
      gauges = impl_->watched_gauges;
      caches = impl_->caches;
      outcomes = impl_->outcomes;
    }
    for (auto& [gauge, in_use] : gauges) gauge->Set(in_use());
    for (const std::shared_ptr<Impl::WatchedCache>& watched : caches) {
      Impl::WatchedCache& c = *watched;
      const auto [hits, misses] = c.counts();
      if (hits > c.hits_seen) c.hits->Increment(static_cast<double>(hits - c.hits_seen));
      if (misses > c.misses_seen) c.misses->Increment(static_cast<double>(misses - c.misses_seen));
      c.hits_seen = std::max(c.hits_seen, hits);
      c.misses_seen = std::max(c.misses_seen, misses);
    }
    for (const std::shared_ptr<Impl::WatchedOutcomes>& watched : outcomes) {
      Impl::WatchedOutcomes& w = *watched;
      for (const auto& [outcome, count] : w.counts()) {
        auto it = w.seen.find(outcome);
        if (it == w.seen.end()) {
          it = w.seen.emplace(outcome, std::make_pair(&w.family->Add({{"outcome", outcome}}), 0))
                   .first;
        }
        auto& [counter, seen] = it->second;
        if (count > seen) counter->Increment(static_cast<double>(count - seen));
        seen = std::max(seen, count);
      }
    }
  }
  if (impl_->store_dir.empty()) {
    return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
  }
  uint64_t bytes = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(impl_->store_dir, error)) {
    std::error_code size_error;
    if (entry.is_regular_file(size_error)) {
      const uintmax_t n = entry.file_size(size_error);
      if (!size_error) bytes += n;
    }
  }
  impl_->store_bytes.Set(static_cast<double>(bytes));
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

absl::Status ServerMetrics::CheckListenAddress(absl::string_view listen) {
  if (IsLoopback(listen)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--metrics-listen: ", listen, " is not a loopback address; the metrics are plain HTTP: "
      "serve them on loopback and scrape them from this machine (a local agent, or a TLS "
      "proxy)"));
}

absl::StatusOr<int> ServerMetrics::Serve(const std::string& listen) {
  absl::StatusOr<std::pair<std::string, int>> address = SplitListenAddress(listen);
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen: ", address.status().message()));
  }
  const auto& [host, port] = *address;
  impl_->http = std::make_unique<httplib::Server>();
  impl_->http->new_task_queue = [] { return new httplib::ThreadPool(2); };
  impl_->http->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(Scrape(), "text/plain; version=0.0.4; charset=utf-8");
  });
  absl::StatusOr<int> bound = web::BindHttpPort(impl_->http.get(), host, port);
  if (!bound.ok()) {
    return absl::UnavailableError(absl::StrCat("--metrics-listen: ", bound.status().message()));
  }
  impl_->thread = web::ServeInBackground(impl_->http.get());
  return *bound;
}

}  // namespace chemledger::server
