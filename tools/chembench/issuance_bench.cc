// chembench issuance: labels issued per second through LabelService over real
// gRPC on loopback (a scratch deployment on disk, requests of 100,000 labels,
// the client reading every label), next to the limit measured in the same
// run: bare Ed25519 signing of label-sized messages on all cores.

#include "tools/chembench/issuance_bench.h"

#include <sodium.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/label_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "services/chemledgerd/deployment.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "services/label/label_service.h"
#include "services/registry/signers.h"
#include "tools/chembench/bench_enterprises.h"

namespace chemledger::chembench {
namespace {

constexpr uint32_t kBatchSize = 100000;

absl::Status Register(journal::LedgerClient* ledger, const crypto::SigningKey& admin,
                      const crypto::SigningKey& producer) {
  int id = 0;
  for (BenchSetupStep& step : BenchProducerSetup(producer.verifying_key())) {
    step.request.set_request_id(absl::StrCat("bench-", ++id));
    absl::StatusOr<v1::SignedEnvelope> e = envelope::Sign(
        api::kRegistryContext, step.request.SerializeAsString(), step.by_admin ? admin : producer);
    if (!e.ok()) return e.status();
    const v1::SignedEnvelope* one[] = {&*e};
    if (absl::Status s = registry::SubmitSigned(*ledger, one, api::kRegistryContext)[0].status();
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

double BareSigningRate(int threads, double seconds) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> total{0};
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  std::vector<std::thread> workers;
  const absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      unsigned char message[131] = {0}, sig[crypto_sign_BYTES];
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        message[0] = static_cast<unsigned char>(n++);
        crypto_sign_detached(sig, nullptr, message, sizeof message, sk);
      }
      total += n;
    });
  }
  absl::SleepFor(absl::Seconds(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  return static_cast<double>(total) / absl::ToDoubleSeconds(absl::Now() - start);
}

}  // namespace

int RunIssuanceBench(const IssuanceBenchOptions& options) {
  if (sodium_init() < 0) return 1;
  std::string scratch = options.directory + "/chembench-issuance.XXXXXX";
  if (mkdtemp(scratch.data()) == nullptr) {
    std::cerr << "chembench issuance: cannot make a directory in " << options.directory << "\n";
    return 1;
  }
  const std::string data = scratch + "/data";
  crypto::SigningKey admin = crypto::SigningKey::Generate();
  crypto::SigningKey producer = crypto::SigningKey::Generate();
  server::InitOptions init;
  init.deployment = "chembench";
  init.resolver = "CL.EXAMPLE.CN";
  init.admin_name = "bench admin";
  if (auto r = server::InitDeployment(data, init, admin); !r.ok()) {
    std::cerr << "chembench issuance: " << r.status() << "\n";
    return 1;
  }
  absl::StatusOr<std::unique_ptr<server::Deployment>> d = server::Deployment::Open(data);
  if (!d.ok()) {
    std::cerr << "chembench issuance: " << d.status() << "\n";
    return 1;
  }
  if (absl::Status s = Register((*d)->ledger_client(), admin, producer); !s.ok()) {
    std::cerr << "chembench issuance: " << s << "\n";
    return 1;
  }
  registry::ReadAuthenticator reads({(*d)->note_signer().name()});
  label::LabelServiceImpl service((*d)->issuer(), (*d)->ledger_client(), (*d)->notary(),
                                  &reads);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = v1::LabelService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const absl::CivilDay today = api::TodayInChina();
  std::vector<double> rates, limits;
  for (int round = 0; round < options.rounds; ++round) {
    limits.push_back(BareSigningRate(cores, 1.5));
    v1::IssueLabelsRequest r;
    r.set_request_id(absl::StrCat("bench-issue-", round));
    r.set_enterprise_uscc(kBenchUscc);
    r.set_product_number(kBenchProduct);
    r.set_batch("B1");
    *r.mutable_production_date() = api::ToProtoDate(today);
    r.set_package_count(kBatchSize);
    r.set_net_quantity("25");
    r.set_unit("KGM");
    v1::SignedEnvelope envelope =
        *envelope::Sign(api::kIssueLabelsContext, r.SerializeAsString(), producer);
    const absl::Time start = absl::Now();
    grpc::ClientContext context;
    read_auth::AttachStreamCredentials(&context, api::kIssueLabelsMethod,
                                       read_auth::ReadSigner{producer, "chembench"});
    auto reader = stub->IssueLabels(&context, envelope);
    v1::IssueLabelsResponse message;
    uint64_t received = 0;
    while (reader->Read(&message)) received += message.labels_size();
    grpc::Status status = reader->Finish();
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (!status.ok() || received != kBatchSize) {
      std::cerr << "chembench issuance: " << status.error_message() << " (" << received
                << " labels)\n";
      return 1;
    }
    rates.push_back(received / seconds);
  }
  server->Shutdown();
  d->reset();
  std::string rm = absl::StrCat("rm -rf '", scratch, "'");
  if (system(rm.c_str()) != 0) std::cerr << "could not remove " << scratch << "\n";

  std::sort(rates.begin(), rates.end());
  std::sort(limits.begin(), limits.end());
  const double rate = rates[rates.size() / 2], limit = limits[limits.size() / 2];
  std::cout << absl::StrFormat(
      "| operation | per second (median of %d) | limit (per second) | ratio |\n"
      "|---|---:|---:|---:|\n"
      "| labels issued over gRPC (100,000 per request, streamed, all read) | %.0f | %.0f (bare "
      "Ed25519, %d threads) | %.2f |\n",
      options.rounds, rate, limit, cores, rate / limit);
  std::cout << absl::StrFormat("\nrounds: %s labels/s; limits: %s signatures/s\n",
                               absl::StrJoin(rates, ", ", [](std::string* out, double v) {
                                 absl::StrAppend(out, absl::StrFormat("%.0f", v));
                               }),
                               absl::StrJoin(limits, ", ", [](std::string* out, double v) {
                                 absl::StrAppend(out, absl::StrFormat("%.0f", v));
                               }));
  return 0;
}

}  // namespace chemledger::chembench
