// chembench events: durable signed events per second pushed over gRPC into a
// real chemledgerd running as a separate process (started here on a scratch
// data directory), unary and streaming, with p50/p99 latency; next to the
// Ed25519 verify rate of one core, measured in the same run.
//
// Events are STORING events of commissioned packages, signed before the clock
// starts (a client's own signing is not the server's cost). The server
// verifies every signature, checks the rules, links each code's chain and
// syncs the log before it answers.

#include "tools/chembench/event_bench.h"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "crypto/sha256.h"
#include "grpcpp/grpcpp.h"
#include "services/common/grpc_read_auth.h"
#include "tools/chembench/bench_enterprises.h"
#include "tools/chembench/bench_figures.h"
#include "tools/chembench/bench_server.h"
#include "tools/chembench/diy_table_bench.h"
#include "tools/chembench/stream_window.h"

namespace chemledger::chembench {
namespace {

// The Ed25519 verify rate is measured over a message of about an event's
// size.
constexpr size_t kEventBytes = 160;

struct ReadFigures {
  RateFigures rate;
  size_t count = 0;
  int errors = 0;
};

struct StoreFigures {
  RateFigures unary, unary_floor, streaming, batched, reads;
  size_t read_count = 0;
  // With a read replica (PostgreSQL and --ledgerd): reads at it alone, and
  // at it and the writer together.
  std::optional<ReadFigures> replica_reads, both_reads;
};

// GetHistory of random codes of batch B1 (1 to `codes`), signed by
// `reader`, from `clients` threads spread over `channels`, one call at a
// time each, for `seconds`.
ReadFigures ReadHistories(const std::vector<std::shared_ptr<grpc::Channel>>& channels, int clients,
                          int seconds, int codes, const crypto::SigningKey& reader) {
  std::vector<std::vector<double>> latency(clients);
  std::atomic<int> errors{0};
  std::atomic<size_t> reads{0};
  const absl::Time start = absl::Now();
  const absl::Time until = start + absl::Seconds(seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t + 1);
      grpc::Channel& channel = *channels[t % channels.size()];
      while (absl::Now() < until) {
        grpc::ClientContext context;
        v1::GetHistoryRequest request;
        request.set_code(BenchCode("B1", 1 + static_cast<int>(rng() % codes)));
        v1::History history;
        const absl::Time sent = absl::Now();
        if (!read_auth::SignedRead(channel, &context, api::kGetHistoryMethod, request,
                                   BenchServer::Signer(reader), &history)
                 .ok()) {
          ++errors;
        }
        latency[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - sent));
        ++reads;
      }
    });
  }
  for (auto& th : threads) th.join();
  return ReadFigures{Summarise(reads.load(), absl::Now() - start, latency), reads.load(),
                     errors.load()};
}

// `calls` unary calls from `clients` threads, one at a time each (thread t
// makes calls t, t + clients, ...): `call(i)` makes call i and says whether it
// succeeded; failures are counted in `errors`.
RateFigures TimeUnaryCalls(int clients, size_t calls, const std::function<bool(size_t)>& call,
                           std::atomic<int>* errors) {
  std::vector<std::vector<double>> latency(clients);
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < calls; i += clients) {
        const absl::Time sent = absl::Now();
        if (!call(i)) ++*errors;
        latency[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - sent));
      }
    });
  }
  for (auto& th : threads) th.join();
  return Summarise(calls, absl::Now() - start, latency);
}

// One chemledgerd, on the store BenchServer::StoreOnPostgres last chose:
// unary, streamed and batched events, then reads.
absl::StatusOr<StoreFigures> MeasureStore(const EventBenchOptions& o, bool replica) {
  const auto fail = [](const std::string& why) { return absl::InternalError(why); };
  absl::StatusOr<std::unique_ptr<BenchServer>> server =
      BenchServer::Start(o.chemledgerd, o.directory, "events");
  if (!server.ok()) return fail(std::string(server.status().message()));
  auto ledger = v1::LedgerService::NewStub((*server)->channel());
  // Each client (a unary caller, a stream, a reader) on a connection of its
  // own, as separate clients are.
  std::vector<std::shared_ptr<grpc::Channel>> connections;
  for (int t = 0; t < std::max(o.clients, o.streams); ++t) {
    connections.push_back((*server)->NewConnection());
  }
  std::vector<std::unique_ptr<v1::LedgerService::Stub>> ledgers;
  std::vector<std::unique_ptr<v1::RegistryService::Stub>> registries;
  for (const auto& c : connections) {
    ledgers.push_back(v1::LedgerService::NewStub(c));
    registries.push_back(v1::RegistryService::NewStub(c));
  }

  // The producer, its operator and product; codes issued and commissioned.
  crypto::SigningKey producer = crypto::SigningKey::Generate();
  const int codes = o.codes;
  std::vector<std::string> label_urls;  // of packages 1 to `codes`, in order
  if (absl::Status s = (*server)->SetUpProducer(producer, "B1", codes, &label_urls); !s.ok()) {
    return fail(std::string(s.message()));
  }
  absl::StatusOr<std::vector<crypto::SigningKey>> openers =
      (*server)->StreamOpeners(kBenchUscc, o.streams);
  if (!openers.ok()) return fail(std::string(openers.status().message()));
  // With major hazard sites: two registered sites (α 2.0) and a thresholds
  // table naming the product (this benchmark's own values, not GB 18218's),
  // and each event moves a package to the other site.
  int round = 0;
  const bool two_sites = o.major_hazard_sites || o.registered_sites;
  if (two_sites) {
    std::vector<BenchSetupStep> steps;
    for (const char* site_id : {"BENCH-A", "BENCH-B"}) {
      BenchSetupStep step{false, {}};
      v1::Site* site = step.request.mutable_register_site();
      site->set_enterprise_uscc(kBenchUscc);
      site->set_site_id(site_id);
      site->set_name(absl::StrCat("bench ", site_id));
      site->set_address("bench");
      site->set_region_code("350100");
      site->set_major_hazard_grade(v1::GRADE_4);
      site->set_exposure_correction_tenths(20);
      for (v1::ResponsiblePerson* p :
           {site->mutable_principal(), site->mutable_technical(), site->mutable_operational()}) {
        p->set_name("bench");
        p->set_phone("0591-87654321");
      }
      steps.push_back(std::move(step));
    }
    BenchSetupStep thresholds{true, {}};
    v1::ReferenceTableImport* import = thresholds.request.mutable_import_reference_table();
    import->set_table(v1::MAJOR_HAZARD_THRESHOLDS);
    import->set_version("bench");
    import->mutable_source()->set_title("chembench's own thresholds (not GB 18218's values)");
    import->mutable_source()->set_issuer("chembench");
    import->mutable_source()->mutable_issued_on()->set_year(2026);
    import->mutable_source()->mutable_issued_on()->set_month(1);
    import->mutable_source()->mutable_issued_on()->set_day(1);
    import->mutable_source()->set_document_number("BENCH");
    import->set_content(absl::StrCat("kind,key,name_zh,threshold_t,beta\ncas,",
                                     BenchProduct().cas(), ",硝酸铵,50,2\n"));
    const crypto::Sha256Digest digest = crypto::Sha256(import->content());
    import->set_content_sha256(
        std::string(reinterpret_cast<const char*>(digest.bytes().data()), digest.kSize));
    if (o.major_hazard_sites) steps.push_back(std::move(thresholds));
    if (absl::Status s = (*server)->Register(steps, producer); !s.ok()) {
      return fail(std::string(s.message()));
    }
  }
  BenchEventSigner events(&producer, "bench-ev-");
  const int labels = std::min(o.labels_per_observation, codes);
  if (o.observe_every > 0 && label_urls.size() != static_cast<size_t>(codes)) {
    return fail(absl::StrCat("the issuance gave ", label_urls.size(), " label URLs for ", codes,
                             " packages"));
  }
  const auto presign = [&](int n, bool observations) {
    std::vector<v1::SignedEnvelope> signed_events;
    signed_events.reserve(n);
    for (int i = 0; i < n; ++i) {
      if (observations && o.observe_every > 0 && (i + 1) % o.observe_every == 0) {
        // Packages `first` on, with their labels.
        const int first = 1 + (i / o.observe_every * labels) % (codes - labels + 1);
        signed_events.push_back(events.SignObservation(
            "B1", first,
            std::vector<std::string>(label_urls.begin() + (first - 1),
                                     label_urls.begin() + (first - 1 + labels))));
        continue;
      }
      // Each pass over the codes moves every package to the other site.
      const std::string site =
          !two_sites ? "" : ((round + i / codes) % 2 == 0 ? "BENCH-A" : "BENCH-B");
      signed_events.push_back(events.Sign(v1::STORING, "B1", 1 + i % codes, 1, site));
    }
    round += (n + codes - 1) / codes;
    return signed_events;
  };

  // Unary: `clients` threads, one call at a time each.
  std::vector<v1::SignedEnvelope> unary_events = presign(o.unary_events, false);
  std::atomic<int> unary_errors{0};
  const RateFigures unary = TimeUnaryCalls(
      o.clients, unary_events.size(),
      [&](size_t i) {
        grpc::ClientContext context;
        v1::AppendResponse response;
        return ledgers[i % o.clients]->Append(&context, unary_events[i], &response).ok();
      },
      &unary_errors);

  // The floor under a unary write on this machine: as many calls of
  // GetDeployment (public, no signature, no write: one snapshot and one
  // entry read) from the same clients, one at a time each. What a unary
  // Append costs above it is the server's own work.
  std::atomic<int> floor_errors{0};
  const RateFigures unary_floor = TimeUnaryCalls(
      o.clients, unary_events.size(),
      [&](size_t i) {
        grpc::ClientContext context;
        v1::Deployment deployment;
        return registries[i % o.clients]
            ->GetDeployment(&context, v1::GetDeploymentRequest(), &deployment)
            .ok();
      },
      &floor_errors);

  // Streaming: `streams` streams, at most `window` events in flight each.
  std::vector<v1::SignedEnvelope> stream_events = presign(o.stream_events, true);
  std::vector<std::vector<double>> stream_latency(o.streams);
  std::atomic<int> stream_errors{0};
  // The first refusal or broken stream, said when the run fails.
  absl::Mutex first_error_mu;
  std::string first_error;
  const auto note_error = [&](absl::string_view what) {
    absl::MutexLock lock(&first_error_mu);
    if (first_error.empty()) first_error = std::string(what);
  };
  absl::Time start = absl::Now();
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < o.streams; ++t) {
      threads.emplace_back([&, t] {
        std::vector<const v1::SignedEnvelope*> mine;
        for (size_t i = t; i < stream_events.size(); i += o.streams) {
          mine.push_back(&stream_events[i]);
        }
        grpc::ClientContext context;
        read_auth::AttachStreamCredentials(&context, api::kAppendStreamMethod,
                                           BenchServer::Signer((*openers)[t]));
        StreamOutcome outcome = PushWithWindow(
            ledgers[t]->AppendStream(&context).get(), mine, o.window,
            [&](size_t k, const v1::AppendResult& result) {
              if (result.code() == 0) return;
              ++stream_errors;
              note_error(absl::StrCat("streamed event ", mine[k]->payload().size(), " bytes: code ",
                                      result.code(), ": ", result.message()));
            });
        if (!outcome.status.ok() || outcome.answers != mine.size()) {
          ++stream_errors;
          note_error(absl::StrCat("stream ", t, " ended after ", outcome.answers, " of ",
                                  mine.size(), " answers: ", outcome.status.error_code(), " ",
                                  outcome.status.error_message()));
        }
        stream_latency[t] = std::move(outcome.latencies_ms);
      });
    }
    for (auto& th : threads) th.join();
  }
  const RateFigures streaming =
      Summarise(stream_events.size(), absl::Now() - start, stream_latency);

  // Batches: `streams` streams of EventBatch messages of `batch` events, at
  // most window / batch messages in flight each; latency per batch.
  std::vector<v1::SignedEnvelope> batch_events = presign(o.stream_events, true);
  std::vector<std::vector<double>> batch_latency(o.streams);
  std::atomic<int> batch_errors{0};
  start = absl::Now();
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < o.streams; ++t) {
      threads.emplace_back([&, t] {
        std::vector<v1::EventBatch> messages;
        for (size_t i = t; i < batch_events.size(); i += o.streams) {
          if (messages.empty() || messages.back().events_size() == o.batch) messages.emplace_back();
          *messages.back().add_events() = batch_events[i];
        }
        std::vector<const v1::EventBatch*> mine;
        for (const v1::EventBatch& m : messages) mine.push_back(&m);
        grpc::ClientContext context;
        read_auth::AttachStreamCredentials(&context, api::kAppendBatchesMethod,
                                           BenchServer::Signer((*openers)[t]));
        StreamOutcome outcome = PushWithWindow(
            ledgers[t]->AppendBatches(&context).get(), mine, std::max(1, o.window / o.batch),
            [&](size_t, const v1::EventBatchResult& result) {
              for (const v1::AppendResult& r : result.results()) {
                if (r.code() == 0) continue;
                ++batch_errors;
                note_error(absl::StrCat("batched event: code ", r.code(), ": ", r.message()));
              }
            });
        if (!outcome.status.ok() || outcome.answers != mine.size()) {
          ++batch_errors;
          note_error(absl::StrCat("batch stream ", t, " ended after ", outcome.answers, " of ",
                                  mine.size(), " answers: ", outcome.status.error_code(), " ",
                                  outcome.status.error_message()));
        }
        batch_latency[t] = std::move(outcome.latencies_ms);
      });
    }
    for (auto& th : threads) th.join();
  }
  const RateFigures batched = Summarise(batch_events.size(), absl::Now() - start, batch_latency);

  // Reads: GetHistory of random codes, `clients` threads, one call at a
  // time each, for read_seconds.
  const ReadFigures writer_reads =
      ReadHistories(connections, o.clients, o.read_seconds, codes, producer);
  StoreFigures figures{unary,           unary_floor,       streaming,
                       batched,         writer_reads.rate, writer_reads.count};
  int read_errors = writer_reads.errors + floor_errors.load();
  // At a read replica of a store on PostgreSQL: alone, then beside the
  // writer (half the clients each).
  if (replica && !o.ledgerd.empty()) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> at_replica =
        (*server)->StartReadReplica(o.ledgerd);
    if (!at_replica.ok()) return fail(std::string(at_replica.status().message()));
    const ReadFigures alone =
        ReadHistories({*at_replica}, o.clients, o.read_seconds, codes, producer);
    const ReadFigures beside = ReadHistories({(*server)->channel(), *at_replica}, o.clients,
                                             o.read_seconds, codes, producer);
    read_errors += alone.errors + beside.errors;
    figures.replica_reads = alone;
    figures.both_reads = beside;
  }
  server->reset();
  if (unary_errors > 0 || stream_errors > 0 || batch_errors > 0 || read_errors > 0) {
    return fail(absl::StrCat(unary_errors.load(), " unary, ", stream_errors.load(),
                             " streamed and ", batch_errors.load(),
                             " batched events were refused; ", read_errors, " reads failed",
                             first_error.empty() ? "" : "; first: ", first_error));
  }
  return figures;
}

}  // namespace

int RunEventBench(const EventBenchOptions& o) {
  if (sodium_init() < 0) return 1;
  const auto fail = [&](const std::string& why) {
    std::cerr << "chembench events: " << why << "\n";
    return 1;
  };
  const double verify_before = VerifyRate(2, kEventBytes);
  // Each store in turn: LevelDB, and with a database PostgreSQL too.
  std::vector<std::pair<std::string, StoreFigures>> stores;
  for (const std::string& connection : {std::string(), o.postgres}) {
    if (!connection.empty() || stores.empty()) {
      BenchServer::StoreOnPostgres(connection);
      absl::StatusOr<StoreFigures> figures = MeasureStore(o, !connection.empty());
      if (!figures.ok()) return fail(std::string(figures.status().message()));
      stores.emplace_back(connection.empty() ? "LevelDB" : "PostgreSQL", *figures);
    }
  }
  // The do-it-yourself table, with the same clients and events of the
  // same shape.
  std::optional<RateFigures> diy;
  if (!o.postgres.empty()) {
    crypto::SigningKey producer = crypto::SigningKey::Generate();
    BenchEventSigner diy_events(&producer, "diy-ev-");
    std::vector<v1::SignedEnvelope> signed_events;
    for (int i = 0; i < o.unary_events; ++i) {
      signed_events.push_back(diy_events.Sign(v1::STORING, "B1", 1 + i % o.codes, 1));
    }
    absl::StatusOr<RateFigures> figures =
        RunDiyTable(o.postgres, producer.verifying_key(), signed_events, o.clients);
    if (!figures.ok()) return fail(std::string(figures.status().message()));
    diy = *figures;
  }
  const double verify_after = VerifyRate(2, kEventBytes);
  const double verify = (verify_before + verify_after) / 2;
  std::cout << absl::StrFormat(
      "| store | mode | events | durable events/s | p50 ms | p99 ms | vs one core's Ed25519 "
      "verify (%.0f/s) |\n"
      "|---|---|---:|---:|---:|---:|---:|\n",
      verify);
  const std::string mix =
      o.observe_every == 0
          ? std::string()
          : absl::StrFormat("; 1 event in %d an observation of %d packages with their labels",
                            o.observe_every, std::min(o.labels_per_observation, o.codes));
  for (const auto& [store, f] : stores) {
    std::cout << absl::StrFormat(
        "| %s | unary, %d clients | %d | %.0f | %.2f | %.2f | %.2f |\n"
        "| %s | the floor: GetDeployment (no signature, no write), %d clients | %d | %.0f calls/s "
        "| %.2f | %.2f | %.2f |\n"
        "| %s | streaming, %d streams, %d in flight each%s | %d | %.0f | %.2f | %.2f | %.2f |\n"
        "| %s | batches of %d, %d streams, %d in flight each (latency per batch)%s | %d | %.0f | "
        "%.2f | %.2f | %.2f |\n"
        "| %s | GetHistory reads, %d clients, %d s | %d | %.0f reads/s | %.2f | %.2f | |\n",
        store, o.clients, o.unary_events, f.unary.per_second, f.unary.p50_ms, f.unary.p99_ms,
        f.unary.per_second / verify, store, o.clients, o.unary_events, f.unary_floor.per_second,
        f.unary_floor.p50_ms, f.unary_floor.p99_ms, f.unary_floor.per_second / verify, store,
        o.streams, o.window, mix, o.stream_events,
        f.streaming.per_second, f.streaming.p50_ms, f.streaming.p99_ms,
        f.streaming.per_second / verify, store, o.batch, o.streams, o.window, mix, o.stream_events,
        f.batched.per_second, f.batched.p50_ms, f.batched.p99_ms, f.batched.per_second / verify,
        store, o.clients, o.read_seconds, f.read_count, f.reads.per_second, f.reads.p50_ms,
        f.reads.p99_ms);
    if (f.replica_reads) {
      std::cout << absl::StrFormat(
          "| %s | GetHistory reads at a read replica (ledgerd --read-replica), %d clients, %d s "
          "| %d | %.0f reads/s | %.2f | %.2f | |\n"
          "| %s | GetHistory reads at the writer and the replica together, %d clients, %d s "
          "| %d | %.0f reads/s | %.2f | %.2f | |\n",
          store, o.clients, o.read_seconds, f.replica_reads->count,
          f.replica_reads->rate.per_second, f.replica_reads->rate.p50_ms,
          f.replica_reads->rate.p99_ms, store, o.clients, o.read_seconds, f.both_reads->count,
          f.both_reads->rate.per_second, f.both_reads->rate.p50_ms, f.both_reads->rate.p99_ms);
    }
  }
  if (diy) {
    std::cout << absl::StrFormat(
        "| do-it-yourself table (diy_table_bench.h) | unary, %d clients | %d | %.0f | %.2f | "
        "%.2f | %.2f |\n",
        o.clients, o.unary_events, diy->per_second, diy->p50_ms, diy->p99_ms,
        diy->per_second / verify);
  }
  std::cout << absl::StrFormat("\nverify rate before %.0f/s, after %.0f/s\n", verify_before,
                               verify_after);
  if (o.observe_every > 0) {
    // Each observation's labels are checked as well as its own signature.
    const double per_event =
        1.0 + static_cast<double>(std::min(o.labels_per_observation, o.codes)) / o.observe_every;
    for (const auto& [store, f] : stores) {
      std::cout << absl::StrFormat(
          "%s: Ed25519 checks per second (each event's, and its labels'): streaming %.0f (%.2f "
          "of one core's verify rate), batches %.0f (%.2f)\n",
          store, f.streaming.per_second * per_event, f.streaming.per_second * per_event / verify,
          f.batched.per_second * per_event, f.batched.per_second * per_event / verify);
    }
  }
  return 0;
}

}  // namespace chemledger::chembench
