#include "tools/chembench/bench_server.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <cctype>
#include <fstream>
#include <iterator>
#include <system_error>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chemledger/v1/label_service.grpc.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "crypto/key_files.h"
#include "grpcpp/grpcpp.h"
#include "services/common/envelope.h"
#include "api/wire.h"

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

// Yesterday in China Standard Time (a production date that is never in the
// future), or today on the first of a month.
v1::Date ProductionDate() {
  const absl::CivilDay d = absl::ToCivilDay(absl::Now(), absl::FixedTimeZone(8 * 3600));
  v1::Date out;
  out.set_year(static_cast<int32_t>(d.year()));
  out.set_month(d.month());
  out.set_day(d.day() > 1 ? d.day() - 1 : d.day());
  return out;
}

absl::Status Refused(absl::string_view what, const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

}  // namespace

namespace {

std::string& PostgresConnection() {
  static std::string* connection = new std::string();
  return *connection;
}

}  // namespace

void BenchServer::StoreOnPostgres(const std::string& connection) {
  PostgresConnection() = connection;
}

absl::StatusOr<std::unique_ptr<BenchServer>> BenchServer::Start(
    const std::string& chemledgerd, const std::string& directory, const std::string& name,
    std::vector<std::string> serve_flags) {
  std::string scratch = absl::StrCat(directory, "/chembench-", name, ".XXXXXX");
  if (mkdtemp(scratch.data()) == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("cannot make a directory in ", directory));
  }
  std::unique_ptr<BenchServer> server(new BenchServer(scratch, crypto::SigningKey::Generate()));
  server->chemledgerd_ = chemledgerd;
  server->serve_flags_ = std::move(serve_flags);
  absl::Status saved = crypto::SaveSigningKey(server->admin_, scratch + "/admin.key", {});
  if (!saved.ok()) return saved;
  std::vector<std::string> init = {chemledgerd,     "init",         "--data",
                                    scratch + "/data", "--deployment", kDeployment,
                                    "--resolver",      "CL.EXAMPLE.CN", "--admin-key",
                                    scratch + "/admin.key"};
  if (!PostgresConnection().empty()) {
    init.push_back("--postgres");
    init.push_back(PostgresConnection());
  }
  if (Run(init) != 0) return absl::InternalError(absl::StrCat(chemledgerd, " init failed"));
  if (absl::Status s = server->Serve(); !s.ok()) return s;
  return server;
}

absl::StatusOr<std::unique_ptr<BenchServer>> BenchServer::StartCluster(
    const std::string& chemledgerd, const std::string& cluster_bin,
    const std::string& cluster_script, const std::string& directory, const std::string& name) {
  std::string scratch = absl::StrCat(directory, "/chembench-", name, ".XXXXXX");
  if (mkdtemp(scratch.data()) == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("cannot make a directory in ", directory));
  }
  std::unique_ptr<BenchServer> server(new BenchServer(scratch, crypto::SigningKey::Generate()));
  server->chemledgerd_ = chemledgerd;
  server->cluster_script_ = cluster_script;
  absl::Status saved = crypto::SaveSigningKey(server->admin_, scratch + "/admin.key", {});
  if (!saved.ok()) return saved;
  if (Run({chemledgerd, "init", "--data", scratch + "/data", "--deployment", kDeployment,
           "--resolver", "CL.EXAMPLE.CN", "--admin-key", scratch + "/admin.key"}) != 0) {
    return absl::InternalError(absl::StrCat(chemledgerd, " init failed"));
  }
  if (Run({"/bin/bash", cluster_script, "start", cluster_bin, scratch + "/data",
           scratch + "/cluster"}) != 0) {
    return absl::InternalError(absl::StrCat(cluster_script, " start failed"));
  }
  std::ifstream env(scratch + "/cluster/cluster.env");
  std::map<std::string, std::string> where;
  for (std::string line; std::getline(env, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) where[line.substr(0, eq)] = line.substr(eq + 1);
  }
  std::ifstream ca_file(where["TLS_CA"]);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs.assign(std::istreambuf_iterator<char>(ca_file), {});
  if (ssl.pem_root_certs.empty()) return absl::InternalError("the cluster wrote no cluster.env");
  const auto channel = [&](const std::string& name) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetSslTargetNameOverride(name);
    std::string upper = name;
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    return grpc::CreateCustomChannel(where[upper], grpc::SslCredentials(ssl), args);
  };
  server->channel_ = channel("ledgerd");
  server->service_channels_ = {{"chemledger.v1.RegistryService", server->channel_},
                               {"chemledger.v1.LedgerService", server->channel_},
                               {"chemledger.v1.LabelService", channel("labeld")},
                               {"chemledger.v1.WaybillService", channel("waybilld")},
                               {"chemledger.v1.VerifyService", channel("verifyd")},
                               {"chemledger.v1.AuditService", channel("auditd")}};
  return server;
}

std::shared_ptr<grpc::Channel> BenchServer::ChannelFor(absl::string_view service) const {
  auto it = service_channels_.find(service);
  return it == service_channels_.end() ? channel_ : it->second;
}

std::vector<pid_t> BenchServer::pids() const {
  if (cluster_script_.empty()) return {pid_};
  std::vector<pid_t> pids;
  for (const char* name : {"ledgerd", "labeld", "waybilld", "verifyd", "auditd"}) {
    std::ifstream in(absl::StrCat(scratch_, "/cluster/", name, ".pid"));
    pid_t pid = 0;
    if (in >> pid) pids.push_back(pid);
  }
  return pids;
}

absl::Status BenchServer::Serve() {
  std::remove((scratch_ + "/port").c_str());
  std::remove((scratch_ + "/http-port").c_str());
  std::vector<std::string> argv = {chemledgerd_, "serve", "--data", scratch_ + "/data",
                                   "--listen", "127.0.0.1:0", "--plaintext",
                                   "--port-file", scratch_ + "/port",
                                   "--http-listen", "127.0.0.1:0", "--http-port-file",
                                   scratch_ + "/http-port"};
  argv.insert(argv.end(), serve_flags_.begin(), serve_flags_.end());
  pid_ = Spawn(argv);
  int port = 0;
  for (int i = 0; i < 20000 && port == 0; ++i) {
    std::ifstream in(scratch_ + "/port");
    if (!(in >> port)) port = 0;
    if (port == 0) absl::SleepFor(absl::Milliseconds(1));
  }
  if (port == 0) return absl::InternalError(absl::StrCat(chemledgerd_, " serve did not start"));
  // Written before the gRPC port's file.
  std::ifstream http_port_file(scratch_ + "/http-port");
  if (!(http_port_file >> http_port_)) {
    return absl::InternalError(absl::StrCat(chemledgerd_, " serve wrote no --http-port-file"));
  }
  grpc_port_ = port;
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(64 << 20);
  channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials(), channel_args);
  return absl::OkStatus();
}

std::shared_ptr<grpc::Channel> BenchServer::NewConnection() const {
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(64 << 20);
  // Channels with the same arguments share gRPC's global subchannel pool,
  // and with it one connection: a pool of its own gives this one its own.
  channel_args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", grpc_port_),
                                   grpc::InsecureChannelCredentials(), channel_args);
}

absl::StatusOr<absl::Duration> BenchServer::Restart() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  const absl::Time start = absl::Now();
  if (absl::Status s = Serve(); !s.ok()) return s;
  return absl::Now() - start;
}

uint64_t BenchServer::StoreBytes() const {
  uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(scratch_ + "/data/log", ec)) {
    bytes += f.file_size(ec);
  }
  return bytes;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> BenchServer::StartReadReplica(
    const std::string& ledgerd) {
  const std::string data = scratch_ + "/replica";
  const std::string copy = absl::StrCat("cp -a '", scratch_, "/data' '", data, "' && rm -rf '",
                                        data, "'/keys/label-* '", data, "/ephemeral'");
  if (system(copy.c_str()) != 0) return absl::InternalError("could not copy the deployment");
  const std::string port_file = scratch_ + "/replica-port";
  replica_pid_ =
      Spawn({ledgerd, "--read-replica", "--data", data, "--plaintext", "--listen", "127.0.0.1:0",
             "--port-file", port_file, "--internal-listen", "127.0.0.1:0"});
  int port = 0;
  for (int i = 0; i < 20000 && port == 0; ++i) {
    std::ifstream in(port_file);
    if (!(in >> port)) port = 0;
    if (port == 0) absl::SleepFor(absl::Milliseconds(1));
  }
  if (port == 0) return absl::InternalError(absl::StrCat(ledgerd, " --read-replica did not start"));
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials(), channel_args);
}

BenchServer::~BenchServer() {
  if (replica_pid_ > 0) {
    kill(replica_pid_, SIGTERM);
    int status;
    waitpid(replica_pid_, &status, 0);
  }
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status;
    waitpid(pid_, &status, 0);
  }
  if (!cluster_script_.empty()) {
    Run({"/bin/bash", cluster_script_, "stop", scratch_ + "/cluster"});
  }
  const std::string rm = absl::StrCat("rm -rf '", scratch_, "'");
  if (system(rm.c_str()) != 0) std::cerr << "could not remove " << scratch_ << "\n";
}

absl::StatusOr<std::vector<crypto::SigningKey>> BenchServer::StreamOpeners(
    const std::string& uscc, int count) {
  std::vector<crypto::SigningKey> keys;
  std::vector<BenchSetupStep> steps;
  for (int i = 0; i < count; ++i) {
    keys.push_back(crypto::SigningKey::Generate());
    steps.push_back(AddBenchAdmin(uscc, absl::StrCat("stream opener ", i + 1),
                                  keys.back().verifying_key()));
  }
  if (count > 0) {
    if (absl::Status s = Register(steps, keys.front()); !s.ok()) return s;
  }
  return keys;
}

absl::Status BenchServer::Register(const std::vector<BenchSetupStep>& steps,
                                   const crypto::SigningKey& actor) {
  auto registry = v1::RegistryService::NewStub(channel_);
  for (BenchSetupStep step : steps) {
    step.request.set_request_id(absl::StrCat("bench-", ++next_request_));
    absl::StatusOr<v1::SignedEnvelope> signed_request =
        envelope::Sign(api::kRegistryContext, step.request.SerializeAsString(),
                       step.by_admin ? admin_ : actor);
    if (!signed_request.ok()) return signed_request.status();
    grpc::ClientContext context;
    v1::SubmitResponse response;
    grpc::Status s = registry->Submit(&context, *signed_request, &response);
    if (!s.ok()) return Refused(step.request.ShortDebugString(), s);
  }
  return absl::OkStatus();
}

absl::Status BenchServer::IssueLabels(const crypto::SigningKey& producer,
                                      const std::string& batch, int count,
                                      std::vector<std::string>* urls) {
  auto labels = v1::LabelService::NewStub(ChannelFor("chemledger.v1.LabelService"));
  for (int issued = 0; issued < count;) {
    v1::IssueLabelsRequest r;
    r.set_request_id(absl::StrCat("bench-", ++next_request_));
    r.set_enterprise_uscc(kBenchUscc);
    r.set_product_number(kBenchProduct);
    r.set_batch(batch);
    *r.mutable_production_date() = ProductionDate();
    const int n = std::min<int>(count - issued, api::kMaxPackagesPerRequest);
    r.set_package_count(n);
    r.set_net_quantity("25");
    r.set_unit("KGM");
    absl::StatusOr<v1::SignedEnvelope> signed_request =
        envelope::Sign(api::kIssueLabelsContext, r.SerializeAsString(), producer);
    if (!signed_request.ok()) return signed_request.status();
    grpc::ClientContext context;
    read_auth::AttachStreamCredentials(&context, api::kIssueLabelsMethod, Signer(producer));
    auto reader = labels->IssueLabels(&context, *signed_request);
    v1::IssueLabelsResponse message;
    while (reader->Read(&message)) {
      if (urls == nullptr) continue;
      for (const v1::IssuedLabel& label : message.labels()) urls->push_back(label.url());
    }
    if (grpc::Status s = reader->Finish(); !s.ok()) return Refused("issuing labels", s);
    issued += n;
  }
  return absl::OkStatus();
}

absl::Status BenchServer::IssueAndCommission(const crypto::SigningKey& producer,
                                             const std::string& batch, int count,
                                             std::vector<std::string>* urls) {
  if (absl::Status s = IssueLabels(producer, batch, count, urls); !s.ok()) return s;
  auto ledger = v1::LedgerService::NewStub(ChannelFor("chemledger.v1.LedgerService"));
  BenchEventSigner events(&producer, "bench-commission-");
  for (int first = 1; first <= count; first += api::kMaxCodesPerEvent) {
    grpc::ClientContext context;
    v1::AppendResponse response;
    grpc::Status s = ledger->Append(
        &context,
        events.Sign(v1::COMMISSIONING, batch, first,
                    std::min(api::kMaxCodesPerEvent, count - first + 1)),
        &response);
    if (!s.ok()) return Refused("commissioning", s);
  }
  return absl::OkStatus();
}

absl::Status BenchServer::SetUpProducer(const crypto::SigningKey& producer,
                                        const std::string& batch, int count,
                                        std::vector<std::string>* urls) {
  if (absl::Status s = Register(BenchProducerSetup(producer.verifying_key()), producer); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("registering the producer: ", s.message()));
  }
  return IssueAndCommission(producer, batch, count, urls);
}

std::string BenchCode(const std::string& batch, int serial) {
  return absl::StrCat(kBenchUscc, ".", kBenchProduct, ".", batch, ".", serial);
}

BenchEventSigner::BenchEventSigner(const crypto::SigningKey* producer, std::string id_prefix)
    : producer_(producer),
      id_prefix_(std::move(id_prefix)),
      event_seconds_(absl::ToUnixSeconds(absl::Now()) - 60) {}

v1::Event BenchEventSigner::NewEvent(v1::BusinessStep step, const std::string& batch, int first,
                                     int count, const std::string& site) {
  v1::Event e;
  e.set_event_id(absl::StrCat(id_prefix_, ++next_id_));
  e.set_step(step);
  for (int i = 0; i < count; ++i) e.add_codes(BenchCode(batch, first + i));
  e.mutable_event_time()->set_seconds(event_seconds_);
  e.set_event_time_offset_minutes(480);
  e.mutable_location()->set_enterprise_uscc(kBenchUscc);
  e.mutable_location()->set_site(site.empty() ? "bench" : site);
  e.set_deployment(BenchServer::kDeployment);  // as clients name it (request_binding.h)
  return e;
}

v1::SignedEnvelope BenchEventSigner::Sign(v1::BusinessStep step, const std::string& batch,
                                          int first, int count, const std::string& site) {
  return *envelope::Sign(api::kEventContext,
                         NewEvent(step, batch, first, count, site).SerializeAsString(), *producer_);
}

v1::SignedEnvelope BenchEventSigner::SignObservation(const std::string& batch, int first,
                                                     const std::vector<std::string>& labels) {
  v1::Event e = NewEvent(v1::OBSERVING, batch, first, static_cast<int>(labels.size()), "");
  for (const std::string& label : labels) e.add_label_urls(label);
  return *envelope::Sign(api::kEventContext, e.SerializeAsString(), *producer_);
}

}  // namespace chemledger::chembench
