#include "tools/chembench/audit_bench.h"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/audit_service.grpc.pb.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/label_service.grpc.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "tools/chembench/bench_enterprises.h"
#include "tools/chembench/bench_server.h"
#include "tools/chembench/stream_window.h"

namespace chemledger::chembench {
namespace {

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

// Event `k` of the fill: code k % codes, round k / codes (0: commissioning,
// then a kilogram used), dated over the past year so that each code's
// events go forward in time.
v1::SignedEnvelope FillEvent(const crypto::SigningKey& producer, int k, int codes,
                             absl::Time year_start) {
  const int serial = 1 + k % codes;
  const int round = k / codes;
  const absl::Duration quarter = absl::Hours(24 * 90);
  const absl::Time when = year_start + round * quarter + (quarter * (serial - 1)) / codes;
  v1::Event e;
  e.set_event_id(absl::StrCat("audit-fill-", k));
  e.set_step(round == 0 ? v1::COMMISSIONING : v1::CONSUMING);
  e.add_codes(BenchCode("A1", serial));
  e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(when));
  e.set_event_time_offset_minutes(480);
  e.mutable_location()->set_enterprise_uscc(kBenchUscc);
  e.mutable_location()->set_site("bench plant");
  if (round > 0) e.set_quantity_milli(1000);
  return *envelope::Sign(api::kEventContext, e.SerializeAsString(), producer);
}

}  // namespace

int RunAuditBench(const AuditBenchOptions& o) {
  if (sodium_init() < 0) return 1;
  const auto fail = [&](const std::string& why) {
    std::cerr << "chembench audit: " << why << "\n";
    return 1;
  };
  if (o.events < o.codes || o.events > 4 * o.codes) {
    return fail("--events must be 1 to 4 times --codes (each code: commissioned, used 3 times)");
  }
  absl::StatusOr<std::unique_ptr<BenchServer>> started =
      BenchServer::Start(o.chemledgerd, o.directory, "audit");
  if (!started.ok()) return fail(std::string(started.status().message()));
  BenchServer& server = **started;
  crypto::SigningKey producer = crypto::SigningKey::Generate();
  crypto::SigningKey regulator = crypto::SigningKey::Generate();
  std::vector<BenchSetupStep> setup = BenchProducerSetup(producer.verifying_key());
  {
    BenchSetupStep add{true, {}};
    v1::Actor* a = add.request.mutable_add_actor();
    a->set_name("bench regulator");
    a->set_role(v1::REGULATOR);
    a->set_department(v1::EMERGENCY_MANAGEMENT);
    a->mutable_jurisdiction()->set_national(true);
    a->set_public_key(regulator.verifying_key().ToBytes());
    setup.push_back(add);
  }
  if (absl::Status s = server.Register(setup, producer); !s.ok()) {
    return fail(absl::StrCat("registering: ", s.message()));
  }
  absl::StatusOr<std::vector<crypto::SigningKey>> openers =
      server.StreamOpeners(kBenchUscc, o.streams);
  if (!openers.ok()) return fail(std::string(openers.status().message()));

  // The fill.
  const absl::Time fill_start = absl::Now();
  const absl::Time year_start = absl::Now() - absl::Hours(24 * 365);
  if (absl::Status s = server.IssueLabels(producer, "A1", o.codes); !s.ok()) {
    return fail(std::string(s.message()));
  }
  auto ledger = v1::LedgerService::NewStub(server.channel());
  std::atomic<uint64_t> refused{0};
  std::string first_refusal;
  constexpr int kChunk = 100000;
  for (int done = 0; done < o.events;) {
    // A chunk never mixes rounds, so a code's events arrive in order.
    const int round_end = (done / o.codes + 1) * o.codes;
    const int n = std::min({kChunk, o.events - done, round_end - done});
    std::vector<v1::SignedEnvelope> chunk(n);
    {
      std::vector<std::thread> signers;
      for (int t = 0; t < 2; ++t) {
        signers.emplace_back([&, t] {
          for (int i = t; i < n; i += 2) chunk[i] = FillEvent(producer, done + i, o.codes, year_start);
        });
      }
      for (auto& th : signers) th.join();
    }
    std::vector<std::thread> pushers;
    for (int s = 0; s < o.streams; ++s) {
      pushers.emplace_back([&, s] {
        std::vector<const v1::SignedEnvelope*> mine;
        for (int i = s; i < n; i += o.streams) mine.push_back(&chunk[i]);
        grpc::ClientContext context;
        read_auth::AttachStreamCredentials(&context, api::kAppendStreamMethod,
                                           BenchServer::Signer((*openers)[s]));
        StreamOutcome outcome = PushWithWindow(
            ledger->AppendStream(&context).get(), mine, o.window,
            [&](size_t, const v1::AppendResult& r) {
              if (r.code() != 0 && refused++ == 0) first_refusal = r.message();
            });
        if (!outcome.status.ok() || outcome.answers != mine.size()) refused += mine.size();
      });
    }
    for (auto& th : pushers) th.join();
    done += n;
    std::cerr << "chembench audit: " << done << " events\n";
  }
  if (refused > 0) {
    return fail(absl::StrCat(refused.load(), " events were refused; the first: ", first_refusal));
  }
  const double fill_seconds = absl::ToDoubleSeconds(absl::Now() - fill_start);

  const auto read = [&](const char* method, const google::protobuf::Message& request,
                        google::protobuf::Message* response, const crypto::SigningKey& who) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(600));
    return read_auth::SignedRead(*server.channel(), &context, method, request,
                                 BenchServer::Signer(who), response);
  };

  uint64_t export_bytes = 0;
  // Bundles, cold: right after a restart (the store's block cache empty; the
  // kernel's page cache as it is).
  std::mt19937 rng(20261130);
  auto bundles = [&](int count, double* events_per_second) -> absl::Status {
    uint64_t events = 0;
    const absl::Time start = absl::Now();
    for (int i = 0; i < count; ++i) {
      v1::GetHistoryBundleRequest request;
      request.set_code(BenchCode("A1", 1 + rng() % o.codes));
      v1::HistoryBundle bundle;
      if (grpc::Status s = read(api::kGetHistoryBundleMethod, request, &bundle, regulator);
          !s.ok()) {
        return absl::InternalError(s.error_message());
      }
      events += bundle.events_size();
    }
    *events_per_second = events / absl::ToDoubleSeconds(absl::Now() - start);
    return absl::OkStatus();
  };
  if (absl::StatusOr<absl::Duration> r = server.Restart(); !r.ok()) {
    return fail(std::string(r.status().message()));
  }
  double cold = 0, warm = 0;
  if (absl::Status s = bundles(o.bundles, &cold); !s.ok()) return fail(std::string(s.message()));
  if (absl::Status s = bundles(o.bundles, &warm); !s.ok()) return fail(std::string(s.message()));

  // A query's export (ExportEvents): every event of the enterprise in a
  // month, with proofs sharing their nodes; cold after a restart, then warm.
  const absl::Time export_month = year_start + absl::Hours(24 * 30 * 5);
  // `by_step`: the uses (CONSUMING) of the month instead, read from the
  // list of all events, where they lie among the others.
  auto export_query = [&](bool by_step, uint64_t* exported,
                          double* events_per_second) -> absl::Status {
    v1::ExportEventsRequest request;
    if (by_step) {
      request.mutable_query()->set_step(v1::CONSUMING);
    } else {
      request.mutable_query()->set_enterprise_uscc(kBenchUscc);
    }
    request.mutable_query()->mutable_from()->set_seconds(absl::ToUnixSeconds(export_month));
    request.mutable_query()->mutable_to()->set_seconds(
        absl::ToUnixSeconds(export_month + absl::Hours(24 * 30)));
    auto audit = v1::AuditService::NewStub(server.channel());
    grpc::ClientContext context;
    read_auth::AttachStreamCredentials(&context, api::kExportEventsMethod,
                                       BenchServer::Signer(regulator));
    const absl::Time start = absl::Now();
    std::unique_ptr<grpc::ClientReader<v1::QueryBundlePart>> stream =
        audit->ExportEvents(&context, request);
    v1::QueryBundlePart part;
    uint64_t events = 0, bytes = 0;
    while (stream->Read(&part)) {
      bytes += part.ByteSizeLong();
      if (part.has_events()) events += part.events().entries_size();
    }
    if (grpc::Status s = stream->Finish(); !s.ok()) {
      return absl::InternalError(absl::StrCat("export: ", s.error_message()));
    }
    if (events == 0) return absl::InternalError("export: the month holds no events");
    *exported = events;
    *events_per_second = events / absl::ToDoubleSeconds(absl::Now() - start);
    export_bytes = bytes;
    return absl::OkStatus();
  };
  if (absl::StatusOr<absl::Duration> r = server.Restart(); !r.ok()) {
    return fail(std::string(r.status().message()));
  }
  uint64_t exported = 0, exported_uses = 0;
  double export_cold = 0, export_warm = 0, export_uses = 0;
  if (absl::Status s = export_query(false, &exported, &export_cold); !s.ok()) {
    return fail(std::string(s.message()));
  }
  if (absl::Status s = export_query(false, &exported, &export_warm); !s.ok()) {
    return fail(std::string(s.message()));
  }
  const uint64_t enterprise_bytes = export_bytes;
  if (absl::Status s = export_query(true, &exported_uses, &export_uses); !s.ok()) {
    return fail(std::string(s.message()));
  }

  // Queries: first pages.
  std::vector<double> by_enterprise, by_cas, by_step;
  for (int i = 0; i < o.queries; ++i) {
    const absl::Time month = year_start + absl::Hours(24 * 30 * (rng() % 12));
    for (int kind = 0; kind < 3; ++kind) {
      v1::EventQuery q;
      q.set_page_size(100);
      if (kind == 0) q.set_enterprise_uscc(kBenchUscc);
      if (kind == 1) q.set_cas(BenchProduct().cas());
      if (kind == 2) q.set_step(v1::COMMISSIONING);
      if (kind != 2) {
        q.mutable_from()->set_seconds(absl::ToUnixSeconds(month));
        q.mutable_to()->set_seconds(absl::ToUnixSeconds(month + absl::Hours(24 * 30)));
      }
      v1::EventPage page;
      const absl::Time start = absl::Now();
      if (grpc::Status s = read(api::kQueryEventsMethod, q, &page, regulator); !s.ok()) {
        return fail(absl::StrCat("query: ", s.error_message()));
      }
      const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
      (kind == 0 ? by_enterprise : kind == 1 ? by_cas : by_step).push_back(ms);
    }
  }
  // Reconciliation of the chemical over the year.
  std::vector<double> reconcile_s;
  uint64_t consumed = 0;
  for (int i = 0; i < 3; ++i) {
    v1::ReconcileRequest r;
    r.set_cas(BenchProduct().cas());
    r.mutable_from()->set_seconds(absl::ToUnixSeconds(year_start));
    v1::Reconciliation out;
    const absl::Time start = absl::Now();
    if (grpc::Status s = read(api::kReconcileMethod, r, &out, regulator); !s.ok()) {
      return fail(absl::StrCat("reconcile: ", s.error_message()));
    }
    reconcile_s.push_back(absl::ToDoubleSeconds(absl::Now() - start));
    consumed = out.totals_size() > 0 ? out.totals(0).figures().consumed_milli() : 0;
  }
  std::cout << absl::StrFormat(
      "filled with %d codes and %d events in %.0f s (%.0f events/s); store %.0f MB\n\n"
      "| read | p50 | p99 |\n|---|---:|---:|\n"
      "| QueryEvents, one enterprise, a month, first 100 | %.1f ms | %.1f ms |\n"
      "| QueryEvents, a CAS number, a month, first 100 | %.1f ms | %.1f ms |\n"
      "| QueryEvents, a step, first 100 | %.1f ms | %.1f ms |\n\n"
      "Reconcile, the chemical over the year: %.2f s, %.2f s, %.2f s (consumed %.3f kg)\n"
      "GetHistoryBundle, %d bundles of random codes: %.0f events/s with proofs cold (after a "
      "restart), %.0f events/s warm\n"
      "ExportEvents, one enterprise's month (%d events, %.1f MB): %.0f events/s with proofs cold "
      "(after a restart), %.0f events/s warm\n"
      "ExportEvents, a month's uses (CONSUMING, %d events among the others): %.0f events/s\n",
      o.codes, o.events, fill_seconds, o.events / fill_seconds, server.StoreBytes() / 1e6,
      Percentile(by_enterprise, 0.5), Percentile(by_enterprise, 0.99), Percentile(by_cas, 0.5),
      Percentile(by_cas, 0.99), Percentile(by_step, 0.5), Percentile(by_step, 0.99),
      reconcile_s[0], reconcile_s[1], reconcile_s[2], consumed / 1000.0, o.bundles, cold, warm,
      static_cast<int>(exported), enterprise_bytes / 1e6, export_cold, export_warm,
      static_cast<int>(exported_uses), export_uses);
  return 0;
}

}  // namespace chemledger::chembench
