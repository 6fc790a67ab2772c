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

#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "chemledger/v1/label_service.grpc.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "services/common/envelope.h"
#include "services/label/issuance.h"
#include "services/ledger/ledger.h"
#include "services/registry/registry.h"
#include "tools/chembench/bench_producer.h"

namespace chemledger::chembench {
namespace {


pid_t Spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

int Run(const std::vector<std::string>& argv) {
  pid_t pid = Spawn(argv);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

v1::Date Today() {
  const absl::CivilDay d = absl::ToCivilDay(absl::Now(), absl::FixedTimeZone(8 * 3600));
  v1::Date out;
  out.set_year(static_cast<int32_t>(d.year()));
  out.set_month(d.month());
  out.set_day(d.day() > 1 ? d.day() - 1 : d.day());
  return out;
}

double VerifyRate(double seconds) {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  unsigned char message[160] = {1}, sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, message, sizeof message, sk);
  uint64_t n = 0;
  const absl::Time start = absl::Now(), end = start + absl::Seconds(seconds);
  while (absl::Now() < end) {
    for (int i = 0; i < 100; ++i) n += crypto_sign_verify_detached(sig, message, sizeof message, pk) == 0;
  }
  return n / absl::ToDoubleSeconds(absl::Now() - start);
}

struct Figures {
  double per_second = 0;
  double p50_ms = 0, p99_ms = 0;
};

Figures Summarise(size_t events, absl::Duration elapsed, std::vector<double> latencies_ms) {
  std::sort(latencies_ms.begin(), latencies_ms.end());
  Figures f;
  f.per_second = events / absl::ToDoubleSeconds(elapsed);
  if (!latencies_ms.empty()) {
    f.p50_ms = latencies_ms[latencies_ms.size() / 2];
    f.p99_ms = latencies_ms[std::min(latencies_ms.size() - 1, latencies_ms.size() * 99 / 100)];
  }
  return f;
}

}  // namespace

int RunEventBench(const EventBenchOptions& o) {
  if (sodium_init() < 0) return 1;
  std::string scratch = o.directory + "/chembench-events.XXXXXX";
  if (mkdtemp(scratch.data()) == nullptr) {
    std::cerr << "chembench events: cannot make a directory in " << o.directory << "\n";
    return 1;
  }
  const auto fail = [&](const std::string& why) {
    std::cerr << "chembench events: " << why << "\n";
    return 1;
  };
  crypto::SigningKey admin = crypto::SigningKey::Generate();
  crypto::SigningKey producer = crypto::SigningKey::Generate();
  if (!crypto::SaveSigningKey(admin, scratch + "/admin.key", {}).ok()) return fail("admin key");
  if (Run({o.chemledgerd, "init", "--data", scratch + "/data", "--deployment", "chembench",
           "--resolver", "CL.EXAMPLE.CN", "--admin-key", scratch + "/admin.key"}) != 0) {
    return fail("chemledgerd init failed");
  }
  const pid_t server = Spawn({o.chemledgerd, "serve", "--data", scratch + "/data", "--listen",
                              "127.0.0.1:0", "--port-file", scratch + "/port"});
  int port = 0;
  for (int i = 0; i < 200 && port == 0; ++i) {
    std::ifstream in(scratch + "/port");
    if (!(in >> port)) port = 0;
    if (port == 0) absl::SleepFor(absl::Milliseconds(50));
  }
  const auto stop_server = [&] {
    kill(server, SIGTERM);
    int status;
    waitpid(server, &status, 0);
    std::string rm = absl::StrCat("rm -rf '", scratch, "'");
    if (system(rm.c_str()) != 0) std::cerr << "could not remove " << scratch << "\n";
  };
  if (port == 0) {
    stop_server();
    return fail("chemledgerd did not start");
  }
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                           grpc::InsecureChannelCredentials(), channel_args);
  auto registry = v1::RegistryService::NewStub(channel);
  auto labels = v1::LabelService::NewStub(channel);
  auto ledger = v1::LedgerService::NewStub(channel);

  // The producer, its operator and product; codes issued and commissioned.
  int next_id = 0;
  const auto submit = [&](const crypto::SigningKey& key, v1::RegistryRequest r) {
    r.set_request_id(absl::StrCat("bench-", ++next_id));
    grpc::ClientContext context;
    v1::SubmitResponse response;
    return registry->Submit(
        &context, *envelope::Sign(registry::kRegistryContext, r.SerializeAsString(), key), &response);
  };
  for (const BenchSetupStep& step : BenchProducerSetup(producer.verifying_key())) {
    if (!submit(step.by_admin ? admin : producer, step.request).ok()) {
      return stop_server(), fail("registering the producer: " + step.request.ShortDebugString());
    }
  }
  const int codes = o.codes;
  {
    v1::IssueLabelsRequest r;
    r.set_request_id("bench-issue");
    r.set_enterprise_uscc(kBenchUscc);
    r.set_product_number(kBenchProduct);
    r.set_batch("B1");
    *r.mutable_production_date() = Today();
    r.set_package_count(codes);
    r.set_net_quantity("25");
    r.set_unit("KGM");
    grpc::ClientContext context;
    auto reader = labels->IssueLabels(
        &context, *envelope::Sign(label::kIssueLabelsContext, r.SerializeAsString(), producer));
    v1::IssueLabelsResponse message;
    while (reader->Read(&message)) {
    }
    if (!reader->Finish().ok()) return stop_server(), fail("issue labels");
  }
  const int64_t event_seconds = absl::ToUnixSeconds(absl::Now()) - 60;
  const auto code = [](int serial) { return absl::StrCat(kBenchUscc, ".", kBenchProduct, ".B1.", serial); };
  const auto event = [&](v1::BusinessStep step, int first, int count) {
    v1::Event e;
    e.set_event_id(absl::StrCat("bench-ev-", ++next_id));
    e.set_step(step);
    for (int i = 0; i < count; ++i) e.add_codes(code(first + i));
    e.mutable_event_time()->set_seconds(event_seconds);
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(kBenchUscc);
    e.mutable_location()->set_site("bench");
    return *envelope::Sign(ledger::kEventContext, e.SerializeAsString(), producer);
  };
  for (int first = 1; first <= codes; first += 1000) {
    grpc::ClientContext context;
    v1::AppendResponse response;
    grpc::Status s = ledger->Append(&context, event(v1::COMMISSIONING, first, std::min(1000, codes - first + 1)),
                                    &response);
    if (!s.ok()) return stop_server(), fail("commission: " + s.error_message());
  }

  const auto presign = [&](int n) {
    std::vector<v1::SignedEnvelope> events;
    events.reserve(n);
    for (int i = 0; i < n; ++i) events.push_back(event(v1::STORING, 1 + i % codes, 1));
    return events;
  };

  // Unary: `clients` threads, one call at a time each.
  const double verify_before = VerifyRate(2);
  std::vector<v1::SignedEnvelope> unary_events = presign(o.unary_events);
  std::vector<std::vector<double>> unary_latency(o.clients);
  std::atomic<int> unary_errors{0};
  absl::Time start = absl::Now();
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < o.clients; ++t) {
      threads.emplace_back([&, t] {
        for (size_t i = t; i < unary_events.size(); i += o.clients) {
          grpc::ClientContext context;
          v1::AppendResponse response;
          const absl::Time sent = absl::Now();
          if (!ledger->Append(&context, unary_events[i], &response).ok()) ++unary_errors;
          unary_latency[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - sent));
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  std::vector<double> all;
  for (auto& v : unary_latency) all.insert(all.end(), v.begin(), v.end());
  const Figures unary = Summarise(unary_events.size(), absl::Now() - start, all);

  // Streaming: `streams` streams, each sending all its events ahead.
  std::vector<v1::SignedEnvelope> stream_events = presign(o.stream_events);
  std::vector<std::vector<double>> stream_latency(o.streams);
  std::atomic<int> stream_errors{0};
  start = absl::Now();
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < o.streams; ++t) {
      threads.emplace_back([&, t] {
        grpc::ClientContext context;
        auto stream = ledger->AppendStream(&context);
        std::vector<size_t> mine;
        for (size_t i = t; i < stream_events.size(); i += o.streams) mine.push_back(i);
        std::vector<absl::Time> sent(mine.size());
        // At most `window` events in flight, so latency is the server's, not
        // a queue the client built.
        absl::Mutex mu;
        absl::CondVar answered;
        size_t received = 0;  // guarded by mu
        std::thread writer([&] {
          for (size_t k = 0; k < mine.size(); ++k) {
            {
              absl::MutexLock lock(&mu);
              while (k - received >= static_cast<size_t>(o.window)) answered.Wait(&mu);
            }
            sent[k] = absl::Now();
            if (!stream->Write(stream_events[mine[k]])) break;
          }
          stream->WritesDone();
        });
        v1::AppendResult result;
        size_t k = 0;
        while (stream->Read(&result)) {
          if (result.code() != 0) ++stream_errors;
          if (k < mine.size()) {
            stream_latency[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - sent[k]));
          }
          ++k;
          absl::MutexLock lock(&mu);
          received = k;
          answered.Signal();
        }
        writer.join();
        if (!stream->Finish().ok() || k != mine.size()) ++stream_errors;
      });
    }
    for (auto& th : threads) th.join();
  }
  all.clear();
  for (auto& v : stream_latency) all.insert(all.end(), v.begin(), v.end());
  const Figures streaming = Summarise(stream_events.size(), absl::Now() - start, all);

  // Batches: `streams` streams of EventBatch messages of `batch` events, at
  // most window / batch messages in flight each; latency per batch.
  std::vector<v1::SignedEnvelope> batch_events = presign(o.stream_events);
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
        grpc::ClientContext context;
        auto stream = ledger->AppendBatches(&context);
        std::vector<absl::Time> sent(messages.size());
        absl::Mutex mu;
        absl::CondVar answered;
        size_t received = 0;  // guarded by mu
        const size_t window = std::max(1, o.window / o.batch);
        std::thread writer([&] {
          for (size_t k = 0; k < messages.size(); ++k) {
            {
              absl::MutexLock lock(&mu);
              while (k - received >= window) answered.Wait(&mu);
            }
            sent[k] = absl::Now();
            if (!stream->Write(messages[k])) break;
          }
          stream->WritesDone();
        });
        v1::EventBatchResult result;
        size_t k = 0;
        while (stream->Read(&result)) {
          for (const v1::AppendResult& r : result.results()) {
            if (r.code() != 0) ++batch_errors;
          }
          if (k < messages.size()) {
            batch_latency[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - sent[k]));
          }
          ++k;
          absl::MutexLock lock(&mu);
          received = k;
          answered.Signal();
        }
        writer.join();
        if (!stream->Finish().ok() || k != messages.size()) ++batch_errors;
      });
    }
    for (auto& th : threads) th.join();
  }
  all.clear();
  for (auto& v : batch_latency) all.insert(all.end(), v.begin(), v.end());
  const Figures batched = Summarise(batch_events.size(), absl::Now() - start, all);
  const double verify_after = VerifyRate(2);
  stop_server();
  if (unary_errors > 0 || stream_errors > 0 || batch_errors > 0) {
    return fail(absl::StrCat(unary_errors.load(), " unary, ", stream_errors.load(),
                             " streamed and ", batch_errors.load(),
                             " batched events were refused"));
  }
  const double verify = (verify_before + verify_after) / 2;
  std::cout << absl::StrFormat(
      "| mode | events | durable events/s | p50 ms | p99 ms | vs one core's Ed25519 verify (%.0f/s) |\n"
      "|---|---:|---:|---:|---:|---:|\n"
      "| unary, %d clients | %d | %.0f | %.2f | %.2f | %.2f |\n"
      "| streaming, %d streams, %d in flight each | %d | %.0f | %.2f | %.2f | %.2f |\n"
      "| batches of %d, %d streams, %d in flight each (latency per batch) | %d | %.0f | %.2f | "
      "%.2f | %.2f |\n",
      verify, o.clients, o.unary_events, unary.per_second, unary.p50_ms, unary.p99_ms,
      unary.per_second / verify, o.streams, o.window, o.stream_events, streaming.per_second,
      streaming.p50_ms, streaming.p99_ms, streaming.per_second / verify, o.batch, o.streams,
      o.window, o.stream_events, batched.per_second, batched.p50_ms, batched.p99_ms,
      batched.per_second / verify);
  std::cout << absl::StrFormat("\nverify rate before %.0f/s, after %.0f/s\n", verify_before,
                               verify_after);
  return 0;
}

}  // namespace chemledger::chembench
