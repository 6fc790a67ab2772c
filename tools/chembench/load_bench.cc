#include "tools/chembench/load_bench.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/label_service.grpc.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/verify_service.pb.h"
#include "chemledger/v1/waybill_service.grpc.pb.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "services/waybill/waybill_testing.h"
#include "tools/chembench/bench_enterprises.h"
#include "tools/chembench/bench_server.h"
#include "tools/chembench/fixed_rate.h"

namespace chemledger::chembench {
namespace {

// The mix, out of 20 operations.
enum Op { kIssue, kEvent, kWaybill, kScan, kHistory, kAudit, kOps };
constexpr const char* kOpNames[kOps] = {"issue 10 labels", "event", "waybill",
                                        "scan (signed Verify)", "GetHistory", "audit QueryEvents"};
Op OpOf(uint64_t n) {
  const int slot = static_cast<int>(n % 20);
  if (slot == 0) return kIssue;
  if (slot <= 8) return kEvent;
  if (slot == 9) return kWaybill;
  if (slot <= 15) return kScan;
  if (slot <= 17) return kHistory;
  return kAudit;
}

constexpr char kBatch[] = "LOAD1";
// Codes commissioned before the run: events and scans go to these; each
// waybill takes a code of its own from the end of the range.
constexpr int kCodes = 20000;

struct Tally {
  std::mutex mu;
  std::vector<double> latencies_ms[kOps];
  std::atomic<uint64_t> done[kOps] = {};
  std::atomic<uint64_t> errors[kOps] = {};
  // Calls the server turned away as busy ("send the request again
  // shortly") and that were sent again, as a client does.
  std::atomic<uint64_t> busy[kOps] = {};
};

double Quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * v.size()));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i];
}

}  // namespace

int RunLoadBench(const LoadBenchOptions& o) {
  const bool cluster = !o.cluster_bin.empty();
  const auto fail = [&](const std::string& why) {
    std::cerr << "chembench load: " << why << "\n";
    return 1;
  };
  absl::StatusOr<std::unique_ptr<BenchServer>> started =
      cluster ? BenchServer::StartCluster(o.chemledgerd, o.cluster_bin, o.cluster_script,
                                          o.directory, "load")
              : BenchServer::Start(o.chemledgerd, o.directory, "load");
  if (!started.ok()) return fail(std::string(started.status().message()));
  BenchServer& server = **started;
  const crypto::SigningKey producer = crypto::SigningKey::Generate();
  const crypto::SigningKey carrier = crypto::SigningKey::Generate();
  std::vector<std::string> urls;
  std::cerr << "chembench load: setting up " << kCodes << " commissioned codes on "
            << (cluster ? "the cluster" : "chemledgerd") << "\n";
  if (absl::Status s = server.SetUpProducer(producer, kBatch, kCodes, &urls); !s.ok()) {
    return fail(std::string(s.message()));
  }
  if (absl::Status s = server.Register(BenchCarrierSetup(carrier.verifying_key()), carrier);
      !s.ok()) {
    return fail(absl::StrCat("registering the carrier: ", s.message()));
  }
  const crypto::SigningKey regulator = crypto::SigningKey::Generate();
  {
    BenchSetupStep add{true, {}};
    v1::Actor* a = add.request.mutable_add_actor();
    a->set_name("load regulator");
    a->set_role(v1::REGULATOR);
    a->set_department(v1::EMERGENCY_MANAGEMENT);
    a->mutable_jurisdiction()->set_national(true);
    a->set_public_key(regulator.verifying_key().ToBytes());
    if (absl::Status s = server.Register({add}, regulator); !s.ok()) {
      return fail(absl::StrCat("registering the regulator: ", s.message()));
    }
  }
  auto waybills = v1::WaybillService::NewStub(server.ChannelFor("chemledger.v1.WaybillService"));
  {
    const v1::WaybillRequest r =
        waybill::testing::AuthorizeCarrierRequest("load-authorize", kBenchCarrierUscc, 30);
    grpc::ClientContext context;
    v1::WaybillResult result;
    const grpc::Status s = waybills->Submit(
        &context, *envelope::Sign(api::kWaybillContext, r.SerializeAsString(), producer), &result);
    if (!s.ok() || result.code() != 0) return fail("authorizing the carrier");
  }
  auto labels = v1::LabelService::NewStub(server.ChannelFor("chemledger.v1.LabelService"));
  auto ledger = v1::LedgerService::NewStub(server.ChannelFor("chemledger.v1.LedgerService"));
  const std::shared_ptr<grpc::Channel> verify = server.ChannelFor("chemledger.v1.VerifyService");
  const std::shared_ptr<grpc::Channel> audit = server.ChannelFor("chemledger.v1.AuditService");

  const v1::Product product = BenchProduct();
  Tally tally;
  std::atomic<uint64_t> next{0};
  std::atomic<int> next_waybill_code{kCodes};
  std::atomic<bool> stop{false};
  const absl::Time start = absl::Now(), end = start + absl::Seconds(o.seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < o.clients; ++t) {
    threads.emplace_back([&, t] {
      BenchEventSigner events(&producer, absl::StrCat("load-", t, "-"));
      int issued = 0;
      while (!stop.load()) {
        const uint64_t n = next.fetch_add(1);
        if (o.rate > 0) {
          const absl::Time due = start + absl::Seconds(static_cast<double>(n) / o.rate);
          if (due >= end) break;
          absl::SleepFor(due - absl::Now());
        } else if (absl::Now() >= end) {
          break;
        }
        const Op op = OpOf(n);
        const int code = 1 + static_cast<int>(n * 7919 % (kCodes / 2));
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
        grpc::Status status;
        const absl::Time sent = absl::Now();
        switch (op) {
          case kIssue: {
            v1::IssueLabelsRequest r;
            r.set_request_id(absl::StrCat("load-issue-", t, "-", ++issued));
            r.set_enterprise_uscc(kBenchUscc);
            r.set_product_number(kBenchProduct);
            r.set_batch(absl::StrCat("L", t, "X", issued));
            *r.mutable_production_date() = api::ToProtoDate(api::TodayInChina() - 1);
            r.set_package_count(10);
            r.set_net_quantity("25");
            r.set_unit("KGM");
            const v1::SignedEnvelope request =
                *envelope::Sign(api::kIssueLabelsContext, r.SerializeAsString(), producer);
            // Each labeld (and chemledgerd) streams a few issuances at a
            // time and turns more away as busy: sent again shortly, as a
            // client does; the latency counts from the first try.
            for (int attempt = 0;; ++attempt) {
              grpc::ClientContext issuing;
              issuing.set_deadline(context.deadline());
              read_auth::AttachStreamCredentials(&issuing, api::kIssueLabelsMethod,
                                                 BenchServer::Signer(producer));
              auto reader = labels->IssueLabels(&issuing, request);
              v1::IssueLabelsResponse message;
              while (reader->Read(&message)) {
              }
              status = reader->Finish();
              if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED || attempt == 100 ||
                  absl::Now() >= end) {
                break;
              }
              tally.busy[op]++;
              absl::SleepFor(absl::Milliseconds(5));
            }
            break;
          }
          case kEvent: {
            v1::AppendResponse response;
            status = ledger->Append(&context, events.Sign(v1::STORING, kBatch, code, 1), &response);
            break;
          }
          case kWaybill: {
            const int c = next_waybill_code.fetch_sub(1);
            v1::WaybillRequest r;
            r.set_request_id(absl::StrCat("load-wb-", c));
            *r.mutable_submit() =
                BenchWaybill(product, absl::StrCat("WB-LOAD-", c), {BenchCode(kBatch, c)});
            v1::WaybillResult result;
            status = waybills->Submit(
                &context, *envelope::Sign(api::kWaybillContext, r.SerializeAsString(), carrier),
                &result);
            if (status.ok() && result.code() != 0) {
              status = grpc::Status(static_cast<grpc::StatusCode>(result.code()), result.message());
            }
            break;
          }
          case kScan: {
            v1::VerifyRequest r;
            r.add_urls(urls[code - 1]);
            v1::VerifyResponse response;
            status = read_auth::SignedRead(*verify, &context, api::kVerifyMethod, r,
                                           BenchServer::Signer(regulator), &response);
            break;
          }
          case kHistory: {
            v1::GetHistoryRequest r;
            r.set_code(BenchCode(kBatch, code));
            v1::History response;
            status = read_auth::SignedRead(*server.ChannelFor("chemledger.v1.LedgerService"),
                                           &context, api::kGetHistoryMethod, r,
                                           BenchServer::Signer(regulator), &response);
            break;
          }
          case kAudit: {
            v1::EventQuery q;
            q.set_page_size(20);
            q.set_enterprise_uscc(kBenchUscc);
            v1::EventPage page;
            status = read_auth::SignedRead(*audit, &context, api::kQueryEventsMethod, q,
                                           BenchServer::Signer(regulator), &page);
            break;
          }
          case kOps:
            break;
        }
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - sent);
        if (!status.ok()) {
          if (tally.errors[op]++ == 0) {
            std::cerr << "chembench load: " << kOpNames[op] << " failed: " << status.error_message()
                      << "\n";
          }
          continue;
        }
        tally.done[op]++;
        std::lock_guard<std::mutex> lock(tally.mu);
        tally.latencies_ms[op].push_back(ms);
      }
    });
  }
  std::thread progress([&] {
    uint64_t last = 0;
    for (int s = 1; absl::Now() < end; ++s) {
      absl::SleepFor(absl::Seconds(1));
      uint64_t all = 0, errors = 0;
      for (int op = 0; op < kOps; ++op) {
        all += tally.done[op].load();
        errors += tally.errors[op].load();
      }
      std::cerr << absl::StrFormat("chembench load: %3d s  %6d ops/s  %8d done  %d errors\n", s,
                                   all - last, all, errors);
      last = all;
    }
  });
  for (std::thread& th : threads) th.join();
  stop = true;
  progress.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  double cpu = 0;
  for (pid_t pid : server.pids()) cpu += ProcessCpuSeconds(pid);

  std::printf("chembench load: %s, %d clients, %s, %.0f s; the mix: per 20 operations 1 "
              "issuance of 10 labels, 8 events, 1 waybill, 6 signed scans, 2 GetHistory, 2 "
              "QueryEvents\n\n",
              cluster ? "the cluster (ledgerd, labeld, waybilld, verifyd, auditd; mutual TLS)"
                      : "chemledgerd (all in one)",
              o.clients, o.rate > 0 ? absl::StrCat(o.rate, " operations/s").c_str() : "flat out",
              elapsed);
  std::printf(
      "| operation | done | per second | p50 ms | p99 ms | p999 ms | errors | busy, sent again "
      "|\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  uint64_t all = 0;
  for (int op = 0; op < kOps; ++op) {
    std::vector<double>& l = tally.latencies_ms[op];
    all += l.size();
    std::printf("| %s | %zu | %.0f | %.1f | %.1f | %.1f | %llu | %llu |\n", kOpNames[op], l.size(),
                l.size() / elapsed, Quantile(l, 0.50), Quantile(l, 0.99), Quantile(l, 0.999),
                static_cast<unsigned long long>(tally.errors[op].load()),
                static_cast<unsigned long long>(tally.busy[op].load()));
  }
  std::printf("| all | %llu | %.0f | | | | | |\n\nserver CPU: %.1f s in %.0f s (%.2f cores)\n",
              static_cast<unsigned long long>(all), all / elapsed, cpu, elapsed, cpu / elapsed);
  return 0;
}

}  // namespace chemledger::chembench
