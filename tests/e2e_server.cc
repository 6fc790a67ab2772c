#include "tests/e2e_server.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/audit_service.pb.h"
#include "crypto/key_files.h"
#include "crypto/merkle.h"
#include "grpcpp/create_channel.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "services/registry/registry_testing.h"
#include "services/waybill/waybill_testing.h"

namespace chemledger::testing {

std::string ChemledgerdE2eTest::Binary() {
  return RunfilePath("services/chemledgerd/chemledgerd");
}

void ChemledgerdE2eTest::SetUp() {
  // The HTTP client writes without MSG_NOSIGNAL: a server that answers and
  // closes before the whole request is sent (413) must not end the test.
  signal(SIGPIPE, SIG_IGN);
  // Named after the test and this process, so that runs sharing a TMPDIR
  // never meet.
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  dir_ = FreshTempDir(absl::StrCat("e2e-", info->test_suite_name(), "-", info->name(), "-",
                                   ::getpid()));
  admin_ = std::make_unique<crypto::SigningKey>(crypto::SigningKey::Generate());
  acme_admin_ = std::make_unique<crypto::SigningKey>(crypto::SigningKey::Generate());
  acme_operator_ = std::make_unique<crypto::SigningKey>(crypto::SigningKey::Generate());
  other_admin_ = std::make_unique<crypto::SigningKey>(crypto::SigningKey::Generate());
  regulator_ = std::make_unique<crypto::SigningKey>(crypto::SigningKey::Generate());
  ASSERT_NO_FATAL_FAILURE(InitDeployment());
  ASSERT_NO_FATAL_FAILURE(StartServer());
}

void ChemledgerdE2eTest::TearDown() {
  registry_.reset();
  labels_.reset();
  ledger_.reset();
  waybills_.reset();
  server_.reset();  // kills and reaps it
  for (auto it = cluster_.rbegin(); it != cluster_.rend(); ++it) it->reset();
  cluster_.clear();
  if (!HasFailure() && !dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

void ChemledgerdE2eTest::InitDeployment() {
  ASSERT_TRUE(crypto::SaveSigningKey(*admin_, dir_ + "/admin.key", {}).ok());
  Subprocess init;
  std::vector<std::string> argv = {Binary(),     "init",      "--data",         dir_ + "/data",
                                   "--deployment", kDeployment, "--resolver",   kResolver,
                                   "--admin-key",  dir_ + "/admin.key", "--admin-name", "root"};
  for (std::string& flag : InitFlags()) argv.push_back(std::move(flag));
  ASSERT_TRUE(init.Start(argv).ok());
  bool eof = false;
  std::vector<std::string> lines;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!eof && absl::Now() < deadline) {
    for (std::string& l : init.ReadLines(deadline, &eof)) lines.push_back(std::move(l));
  }
  ASSERT_TRUE(eof) << "chemledgerd init did not finish within 60 s";
  absl::StatusOr<int> status = init.Wait();
  ASSERT_TRUE(status.ok() && WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  ASSERT_FALSE(lines.empty());
  note_verifier_key_ = lines.back();  // the last line printed
}

std::pair<int, std::string> ChemledgerdE2eTest::RunToEnd(const std::vector<std::string>& argv) {
  testing::Subprocess p;
  EXPECT_TRUE(p.Start(argv).ok());
  bool eof = false;
  std::string out;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!eof && absl::Now() < deadline) {
    for (const std::string& l : p.ReadLines(deadline, &eof)) out += l + "\n";
  }
  absl::StatusOr<int> status = p.Wait();
  return {status.ok() && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1, out};
}

std::pair<int, std::string> ChemledgerdE2eTest::RunChemledgerd(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", Binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunToEnd(argv);
}

std::pair<int, std::string> ChemledgerdE2eTest::Chemaudit(const std::string& args) {
  return RunShell(absl::StrCat("exec '", RunfilePath("tools/chemaudit/chemaudit"), "' ", args,
                               " 2>&1"));
}

std::pair<int, std::string> ChemledgerdE2eTest::RunShell(const std::string& command) {
  return RunToEnd({"/bin/sh", "-c", command + " 2>&1"});
}

void ChemledgerdE2eTest::KillServer() {
  if (server_) {
    EXPECT_TRUE(server_->Kill(SIGKILL).ok());
    (void)server_->Wait();
    server_.reset();
  }
  for (std::unique_ptr<Subprocess>& p : cluster_) {
    EXPECT_TRUE(p->Kill(SIGKILL).ok());
    (void)p->Wait();
  }
  cluster_.clear();
}

void ChemledgerdE2eTest::SignalServer(int signal) {
  if (server_) {
    EXPECT_TRUE(server_->Kill(signal).ok());
  }
  for (std::unique_ptr<Subprocess>& p : cluster_) EXPECT_TRUE(p->Kill(signal).ok());
}

bool ChemledgerdE2eTest::ClusterShape() {
  const char* shape = std::getenv("CHEMLEDGER_E2E_SHAPE");
  return shape != nullptr && std::string(shape) == "cluster";
}

std::shared_ptr<grpc::Channel> ChemledgerdE2eTest::ChannelFor(absl::string_view method) {
  if (service_channels_.empty()) return channel_;
  absl::string_view service = absl::StripPrefix(method, "/");
  service = service.substr(0, service.find('/'));
  auto it = service_channels_.find(service);
  EXPECT_NE(it, service_channels_.end()) << "no service " << service << " in the cluster";
  return it == service_channels_.end() ? channel_ : it->second;
}

std::string ChemledgerdE2eTest::ServerFlags(absl::string_view service) const {
  auto it = service_ports_.find(service);
  if (it == service_ports_.end()) return absl::StrCat("--server 127.0.0.1:", port_);
  return absl::StrCat("--server 127.0.0.1:", it->second, " --tls-ca ", dir_, "/ca/ca.pem");
}

int WaitForPortFile(const std::string& path, absl::Time deadline) {
  while (absl::Now() < deadline) {
    std::ifstream in(path);
    int port = 0;
    if (in >> port && port > 0) return port;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return 0;
}

void ChemledgerdE2eTest::StartCluster(const std::vector<std::string>& flags) {
  for (auto it = cluster_.rbegin(); it != cluster_.rend(); ++it) it->reset();  // ledgerd last
  cluster_.clear();
  cluster_index_.clear();
  cluster_restart_.clear();
  service_channels_.clear();
  service_ports_.clear();
  std::vector<std::string> shared;  // flags every service takes
  std::vector<std::string> http_shared;  // flags the services with HTTP pages take
  // Flags every service takes with a file of its own: FILE.<service>.
  std::vector<std::pair<std::string, std::string>> per_service_files;
  for (size_t i = 0; i < flags.size(); ++i) {
    if ((flags[i] == "--test-clock" || flags[i] == "--metrics-listen") && i + 1 < flags.size()) {
      shared.push_back(flags[i]);
      shared.push_back(flags[++i]);
    } else if (flags[i] == "--trusted-proxy" && i + 1 < flags.size()) {
      http_shared.push_back(flags[i]);
      http_shared.push_back(flags[++i]);
    } else if ((flags[i] == "--metrics-port-file" || flags[i] == "--access-log") &&
               i + 1 < flags.size()) {
      per_service_files.emplace_back(flags[i], flags[i + 1]);
      ++i;
    } else {
      FAIL() << "the cluster shape does not take chemledgerd's " << flags[i]
             << " (skip the test in ClusterShape())";
    }
  }
  const std::string ca = dir_ + "/ca";
  if (!std::filesystem::exists(ca + "/ca.pem")) {
    auto [code, out] = RunShell(absl::StrCat("bash '", RunfilePath("tools/cluster/make-dev-ca.sh"),
                                             "' '", ca, "'"));
    ASSERT_EQ(code, 0) << out;
  }
  // Only labeld and waybilld hold label keys.
  const std::string label_keys = dir_ + "/label-keys";
  std::filesystem::create_directories(label_keys);
  std::filesystem::permissions(label_keys, std::filesystem::perms::owner_all);
  for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/data/keys")) {
    if (absl::StartsWith(entry.path().filename().string(), "label-")) {
      std::filesystem::rename(entry.path(), label_keys + "/" + entry.path().filename().string());
    }
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  const auto start = [&](const std::string& name, std::vector<std::string> argv) -> int {
    std::filesystem::remove(dir_ + "/" + name + ".port");
    std::vector<std::string> command = {RunfilePath("services/cluster/" + name),
                                        "--listen",
                                        "127.0.0.1:0",
                                        "--port-file",
                                        dir_ + "/" + name + ".port",
                                        "--tls-ca",
                                        ca + "/ca.pem",
                                        "--tls-cert",
                                        ca + "/" + name + ".pem",
                                        "--tls-key",
                                        ca + "/" + name + ".key"};
    command.insert(command.end(), argv.begin(), argv.end());
    command.insert(command.end(), shared.begin(), shared.end());
    for (const auto& [flag, file] : per_service_files) {
      command.push_back(flag);
      command.push_back(absl::StrCat(file, ".", name));
    }
    cluster_index_[name] = cluster_.size();
    cluster_restart_[name] = command;
    cluster_.push_back(std::make_unique<Subprocess>());
    EXPECT_TRUE(cluster_.back()->Start(command).ok());
    return 0;
  };
  std::filesystem::remove(dir_ + "/ledgerd.internal-port");
  start("ledgerd", {"--data", dir_ + "/data", "--internal-listen", "127.0.0.1:0",
                    "--internal-port-file", dir_ + "/ledgerd.internal-port"});
  const int internal = WaitForPortFile(dir_ + "/ledgerd.internal-port", deadline);
  ASSERT_NE(internal, 0) << "ledgerd did not start serving";
  const std::string ledger = absl::StrCat("127.0.0.1:", internal);
  for (std::string& arg : cluster_restart_["ledgerd"]) {
    if (arg == "127.0.0.1:0" && &arg != &cluster_restart_["ledgerd"][2]) arg = ledger;
  }
  std::cerr << "e2e: the cluster shape: ledgerd's internal port " << internal << std::endl;
  start("labeld", {"--ledger", ledger, "--label-keys", label_keys});
  start("waybilld", {"--ledger", ledger, "--label-keys", label_keys});
  for (const std::string name : {"verifyd", "auditd"}) {
    std::filesystem::remove(dir_ + "/" + name + ".http-port");
    std::vector<std::string> argv = {"--ledger",
                                     ledger,
                                     "--http-plaintext",
                                     "--http-listen",
                                     "127.0.0.1:0",
                                     "--http-port-file",
                                     dir_ + "/" + name + ".http-port"};
    argv.insert(argv.end(), http_shared.begin(), http_shared.end());
    start(name, std::move(argv));
  }
  grpc::SslCredentialsOptions ssl;
  std::ifstream ca_file(ca + "/ca.pem");
  ssl.pem_root_certs.assign(std::istreambuf_iterator<char>(ca_file), {});
  std::map<std::string, int> ports;
  const auto channel = [&](const std::string& name) {
    const int port = WaitForPortFile(dir_ + "/" + name + ".port", deadline);
    EXPECT_NE(port, 0) << name << " did not start serving";
    ports[name] = port;
    cluster_restart_[name][2] = absl::StrCat("127.0.0.1:", port);  // --listen's value
    grpc::ChannelArguments args;
    // A service that comes back is called again within a second.
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetSslTargetNameOverride(name);
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::SslCredentials(ssl),
                                     args);
  };
  channel_ = channel("ledgerd");
  port_ = 0;  // no one port serves everything
  service_channels_["chemledger.v1.RegistryService"] = channel_;
  service_channels_["chemledger.v1.LedgerService"] = channel_;
  service_channels_["chemledger.v1.AdminService"] = channel_;
  service_channels_["chemledger.v1.LabelService"] = channel("labeld");
  service_channels_["chemledger.v1.WaybillService"] = channel("waybilld");
  service_channels_["chemledger.v1.VerifyService"] = channel("verifyd");
  service_channels_["chemledger.v1.AuditService"] = channel("auditd");
  service_ports_ = {{"chemledger.v1.RegistryService", ports["ledgerd"]},
                    {"chemledger.v1.LedgerService", ports["ledgerd"]},
                    {"chemledger.v1.AdminService", ports["ledgerd"]},
                    {"chemledger.v1.LabelService", ports["labeld"]},
                    {"chemledger.v1.WaybillService", ports["waybilld"]},
                    {"chemledger.v1.VerifyService", ports["verifyd"]},
                    {"chemledger.v1.AuditService", ports["auditd"]}};
  http_port_ = WaitForPortFile(dir_ + "/verifyd.http-port", deadline);
  console_port_ = WaitForPortFile(dir_ + "/auditd.http-port", deadline);
  ASSERT_NE(http_port_, 0);
  ASSERT_NE(console_port_, 0);
  registry_ = v1::RegistryService::NewStub(ChannelFor("chemledger.v1.RegistryService"));
  labels_ = v1::LabelService::NewStub(ChannelFor("chemledger.v1.LabelService"));
  ledger_ = v1::LedgerService::NewStub(ChannelFor("chemledger.v1.LedgerService"));
  waybills_ = v1::WaybillService::NewStub(ChannelFor("chemledger.v1.WaybillService"));
}

void ChemledgerdE2eTest::RestartService(const std::string& name) {
  auto index = cluster_index_.find(name);
  ASSERT_NE(index, cluster_index_.end()) << "no service " << name << " in the cluster";
  std::unique_ptr<Subprocess>& process = cluster_[index->second];
  ASSERT_TRUE(process->Kill(SIGKILL).ok());
  (void)process->Wait();
  const std::string port_file = dir_ + "/" + name + ".port";
  std::filesystem::remove(port_file);
  process = std::make_unique<Subprocess>();
  ASSERT_TRUE(process->Start(cluster_restart_[name]).ok());
  ASSERT_NE(WaitForPortFile(port_file, absl::Now() + absl::Seconds(60)), 0)
      << name << " did not serve again";
}

void ChemledgerdE2eTest::StartServer(const std::vector<std::string>& flags) {
  if (RunsAsCluster()) {
    std::vector<std::string> all = flags;
    for (std::string& flag : ServeFlags()) all.push_back(std::move(flag));
    StartCluster(all);
    return;
  }
  server_.reset();  // a running one is killed first
  server_ = std::make_unique<Subprocess>();
  std::vector<std::string> command = {Binary(),   "serve",         "--data",
                                      dir_ + "/data", "--listen", "127.0.0.1:0",
                                      "--plaintext", "--http-listen", "127.0.0.1:0"};
  command.insert(command.end(), flags.begin(), flags.end());
  for (std::string& flag : ServeFlags()) command.push_back(std::move(flag));
  ASSERT_TRUE(server_->Start(command).ok());
  int port = 0;
  ASSERT_NO_FATAL_FAILURE(ReadServingPorts(*server_, &port, &http_port_));
  port_ = port;
  channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                 grpc::InsecureChannelCredentials());
  registry_ = v1::RegistryService::NewStub(channel_);
  labels_ = v1::LabelService::NewStub(channel_);
  ledger_ = v1::LedgerService::NewStub(channel_);
  waybills_ = v1::WaybillService::NewStub(channel_);
}

void ChemledgerdE2eTest::ReadServingPorts(Subprocess& server, int* grpc_port, int* http_port) {
  *grpc_port = 0;
  *http_port = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (*grpc_port == 0) {
    absl::StatusOr<std::string> line = server.ReadLine(deadline);
    ASSERT_TRUE(line.ok()) << "chemledgerd did not start serving: " << line.status();
    if (absl::StartsWith(*line, "chemledgerd: scan pages on HTTP")) {
      ASSERT_TRUE(absl::SimpleAtoi(line->substr(line->rfind(' ') + 1), http_port)) << *line;
    }
    if (absl::StartsWith(*line, "chemledgerd: serving")) {
      ASSERT_TRUE(absl::SimpleAtoi(line->substr(line->rfind(' ') + 1), grpc_port)) << *line;
    }
  }
  ASSERT_NE(*grpc_port, 0);
}

v1::Date ChemledgerdE2eTest::Today() { return api::ToProtoDate(api::TodayInChina()); }

uint64_t ChemledgerdE2eTest::RawLogSize() {
  grpc::ClientContext context;
  v1::Deployment deployment;
  EXPECT_TRUE(registry_->GetDeployment(&context, {}, &deployment).ok());
  return deployment.log_size();
}

uint64_t ChemledgerdE2eTest::LogSize() {
  // The server records refused requests in the log, after answering
  // (services/audit/refusal_recorder.h): what tests count are the other
  // entries, at one snapshot (refusals recorded later have later indexes).
  v1::ListAnomaliesRequest request;
  request.add_kinds(v1::REFUSED_REQUEST);
  request.set_page_size(1000);
  uint64_t size = 0;
  uint64_t refusals = 0;
  for (int pages = 0; pages < 1000; ++pages) {
    v1::Anomalies page;
    const grpc::Status s = Read(*admin_, api::kListAnomaliesMethod, request, &page);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) break;
    if (size == 0) size = page.log_size();
    for (const v1::Anomaly& a : page.anomalies()) refusals += a.log_index() < size;
    if (page.next_after_log_index() == 0 || page.next_after_log_index() >= size) break;
    request.set_after_log_index(page.next_after_log_index());
  }
  return size - refusals;
}

v1::SignedEnvelope ChemledgerdE2eTest::Signed(const crypto::SigningKey& key,
                                              v1::RegistryRequest r) {
  if (r.request_id().empty()) r.set_request_id(absl::StrCat("e2e-", ++next_id_));
  return *envelope::Sign(api::kRegistryContext, r.SerializeAsString(), key);
}

grpc::Status ChemledgerdE2eTest::Submit(const v1::SignedEnvelope& envelope,
                                        v1::SubmitResponse* response) {
  grpc::ClientContext context;
  return registry_->Submit(&context, envelope, response);
}

void ChemledgerdE2eTest::SubmitOk(const crypto::SigningKey& key, const v1::RegistryRequest& r) {
  v1::SubmitResponse response;
  grpc::Status status = Submit(Signed(key, r), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
}

void ChemledgerdE2eTest::Refused(const v1::SignedEnvelope& envelope, grpc::StatusCode code,
                                 const std::string& field) {
  const uint64_t before = LogSize();
  v1::SubmitResponse response;
  grpc::Status status = Submit(envelope, &response);
  EXPECT_EQ(status.error_code(), code) << field << ": " << status.error_message();
  EXPECT_NE(status.error_message().find(field), std::string::npos)
      << "message does not name " << field << ": " << status.error_message();
  EXPECT_EQ(LogSize(), before) << "refused request changed the log: " << field;
}

v1::RegistryRequest ChemledgerdE2eTest::Enterprise(const std::string& uscc) {
  v1::RegistryRequest r;
  *r.mutable_register_enterprise() = registry::testing::ExampleProducer(uscc);
  return r;
}

v1::RegistryRequest ChemledgerdE2eTest::Product(const v1::Product& p) {
  v1::RegistryRequest r;
  *r.mutable_register_product() = p;
  return r;
}

v1::RegistryRequest ChemledgerdE2eTest::Actor(const std::string& name, v1::ActorRole role,
                                              const std::string& uscc,
                                              const crypto::SigningKey& key) {
  v1::RegistryRequest r;
  *r.mutable_add_actor() =
      registry::testing::ExampleActor(name, role, uscc, key.verifying_key());
  return r;
}

void ChemledgerdE2eTest::RegisterExampleEnterprises() {
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, Enterprise(kAcme)));
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, Enterprise(kOther)));
  ASSERT_NO_FATAL_FAILURE(
      SubmitOk(*admin_, Actor("acme admin", v1::ENTERPRISE_ADMIN, kAcme, *acme_admin_)));
  ASSERT_NO_FATAL_FAILURE(SubmitOk(
      *acme_admin_, Actor("acme line", v1::ENTERPRISE_OPERATOR, kAcme, *acme_operator_)));
  ASSERT_NO_FATAL_FAILURE(
      SubmitOk(*admin_, Actor("other admin", v1::ENTERPRISE_ADMIN, kOther, *other_admin_)));
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, Actor("inspector", v1::REGULATOR, "", *regulator_)));
  ASSERT_NO_FATAL_FAILURE(
      SubmitOk(*acme_admin_, Product(registry::testing::ExampleMethanol(kAcme, "M01"))));
}

crypto::SigningKey ChemledgerdE2eTest::RegisterProducer(const std::string& uscc,
                                                        const std::string& name) {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  SubmitOk(*admin_, Enterprise(uscc));
  SubmitOk(*admin_, Actor(name, v1::ENTERPRISE_ADMIN, uscc, key));
  SubmitOk(key, Product(registry::testing::ExampleMethanol(uscc, "M01")));
  return key;
}

crypto::SigningKey ChemledgerdE2eTest::RegisterCarrier(const std::string& uscc,
                                                       const std::string& name) {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  v1::RegistryRequest r;
  *r.mutable_register_enterprise() =
      registry::testing::ExampleEnterprise(uscc, v1::CARRIER, v1::ROAD_TRANSPORT);
  SubmitOk(*admin_, r);
  SubmitOk(*admin_, Actor(name, v1::ENTERPRISE_ADMIN, uscc, key));
  return key;
}

void ChemledgerdE2eTest::AuthorizeCarrier(const crypto::SigningKey& consignor_key,
                                          const std::string& carrier) {
  const v1::WaybillRequest r =
      waybill::testing::AuthorizeCarrierRequest(absl::StrCat("authorize-", ++next_id_), carrier);
  grpc::ClientContext context;
  v1::WaybillResult result;
  const grpc::Status status = waybills_->Submit(
      &context, *envelope::Sign(api::kWaybillContext, r.SerializeAsString(), consignor_key),
      &result);
  ASSERT_TRUE(status.ok()) << status.error_message();
}

v1::SignedEnvelope ChemledgerdE2eTest::IssueRequest(const std::string& batch, uint32_t count,
                                                    const crypto::SigningKey& key) {
  v1::IssueLabelsRequest r;
  r.set_request_id(absl::StrCat("issue-", ++next_id_));
  r.set_enterprise_uscc(kAcme);
  r.set_product_number("M01");
  r.set_batch(batch);
  *r.mutable_production_date() = Today();
  r.set_package_count(count);
  r.set_net_quantity("25");
  r.set_unit("KGM");
  return *envelope::Sign(api::kIssueLabelsContext, r.SerializeAsString(), key);
}

ChemledgerdE2eTest::Issued ChemledgerdE2eTest::Issue(const v1::SignedEnvelope& envelope,
                                                     const crypto::SigningKey* reader) {
  grpc::ClientContext context;
  if (reader != nullptr) AttachStreamCredentials(&context, api::kIssueLabelsMethod, *reader);
  // As a client does: read credentials of the signer (one of the fixture's
  // keys), which the server asks for when the request was recorded before.
  for (const crypto::SigningKey* key :
       {admin_.get(), acme_admin_.get(), acme_operator_.get(), other_admin_.get()}) {
    if (reader == nullptr && key != nullptr && envelope.signatures_size() > 0 &&
        key->key_id().ToString() == envelope.signatures(0).key_id()) {
      AttachStreamCredentials(&context, api::kIssueLabelsMethod, *key);
    }
  }
  auto stream = labels_->IssueLabels(&context, envelope);
  Issued out;
  v1::IssueLabelsResponse message;
  while (stream->Read(&message)) {
    out.log_index = message.log_index();
    out.replayed = message.replayed();
    for (const v1::IssuedLabel& l : message.labels()) out.labels.push_back(l);
  }
  out.status = stream->Finish();
  return out;
}

ChemledgerdE2eTest::Issued ChemledgerdE2eTest::IssueM01(const std::string& uscc,
                                                        const crypto::SigningKey& key,
                                                        const std::string& batch,
                                                        uint32_t count) {
  v1::IssueLabelsRequest r;
  r.set_request_id(absl::StrCat("issue-", batch, "-", ++next_id_));
  r.set_enterprise_uscc(uscc);
  r.set_product_number("M01");
  r.set_batch(batch);
  *r.mutable_production_date() = Today();
  r.set_package_count(count);
  r.set_net_quantity("25");
  r.set_unit("KGM");
  return Issue(*envelope::Sign(api::kIssueLabelsContext, r.SerializeAsString(), key), &key);
}

crypto::TrustList ChemledgerdE2eTest::FetchTrustList() {
  grpc::ClientContext context;
  v1::TrustListResponse response;
  grpc::Status status = labels_->GetTrustList(&context, {}, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  // Verified against the key pinned at init, not the one the server sends.
  absl::StatusOr<crypto::NoteVerifier> root =
      crypto::NoteVerifier::FromVerifierKey(note_verifier_key_);
  EXPECT_TRUE(root.ok()) << root.status();
  if (!root.ok()) return crypto::TrustList{};
  absl::StatusOr<crypto::TrustList> list = crypto::OpenTrustList(response.signed_note(), *root);
  EXPECT_TRUE(list.ok()) << list.status();
  return list.ok() ? *list : crypto::TrustList{};
}

v1::Event ChemledgerdE2eTest::AcmeEvent(v1::BusinessStep step, const std::string& code, int n,
                                        absl::string_view id_prefix) {
  v1::Event e;
  e.set_event_id(absl::StrCat(id_prefix, n));
  e.set_step(step);
  e.add_codes(code);
  e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 100 + n);
  e.set_event_time_offset_minutes(480);
  e.mutable_location()->set_enterprise_uscc(kAcme);
  e.mutable_location()->set_site("warehouse 1");
  if (step == v1::CONSUMING) e.set_quantity_milli(1000);
  return e;
}

grpc::Status ChemledgerdE2eTest::AppendEvent(const crypto::SigningKey& key, const v1::Event& e,
                                             v1::AppendResponse* response) {
  grpc::ClientContext context;
  v1::AppendResponse ignored;
  return ledger_->Append(&context, *envelope::Sign(api::kEventContext, e.SerializeAsString(), key),
                         response != nullptr ? response : &ignored);
}

grpc::Status ChemledgerdE2eTest::Read(const crypto::SigningKey& reader, const char* method,
                                      const google::protobuf::MessageLite& request,
                                      google::protobuf::MessageLite* response,
                                      grpc::ClientContext* context) {
  grpc::ClientContext fresh;
  return read_auth::SignedRead(*ChannelFor(method), context != nullptr ? context : &fresh, method, request,
                               read_auth::ReadSigner{reader, kDeployment}, response);
}

void ChemledgerdE2eTest::AttachStreamCredentials(grpc::ClientContext* context,
                                                 const char* method,
                                                 const crypto::SigningKey& opener) {
  read_auth::AttachStreamCredentials(context, method, read_auth::ReadSigner{opener, kDeployment});
}

grpc::Status ChemledgerdE2eTest::GetHistory(const crypto::SigningKey& reader,
                                            const std::string& code, v1::History* history) {
  v1::GetHistoryRequest request;
  request.set_code(code);
  return Read(reader, api::kGetHistoryMethod, request, history);
}

grpc::Status ChemledgerdE2eTest::GetWaybill(const crypto::SigningKey& reader,
                                            const std::string& number,
                                            v1::WaybillRecord* record) {
  v1::GetWaybillRequest request;
  request.set_waybill_number(number);
  return Read(reader, api::kGetWaybillMethod, request, record);
}

std::vector<v1::WaybillResult> ChemledgerdE2eTest::StreamWaybills(
    const crypto::SigningKey& opener, const std::vector<v1::SignedEnvelope>& requests) {
  grpc::ClientContext context;
  AttachStreamCredentials(&context, api::kSubmitStreamMethod, opener);
  auto stream = waybills_->SubmitStream(&context);
  size_t written = 0;
  std::thread writer([&] {
    for (const v1::SignedEnvelope& r : requests) {
      if (!stream->Write(r)) break;
      ++written;
    }
    stream->WritesDone();
  });
  std::vector<v1::WaybillResult> results;
  v1::WaybillResult result;
  while (stream->Read(&result)) results.push_back(result);
  writer.join();
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(written, requests.size()) << "the stream broke while writing";
  return results;
}

std::vector<v1::WaybillResult> ChemledgerdE2eTest::BatchWaybills(
    const crypto::SigningKey& opener, const std::vector<v1::SignedEnvelope>& requests, int batch,
    grpc::Status* status) {
  std::vector<std::vector<v1::SignedEnvelope>> batches;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (i % batch == 0) batches.emplace_back();
    batches.back().push_back(requests[i]);
  }
  std::vector<v1::WaybillResult> results;
  for (const v1::WaybillBatchResult& answer : BatchWaybills(opener, batches, status)) {
    results.insert(results.end(), answer.results().begin(), answer.results().end());
  }
  return results;
}

std::vector<v1::WaybillBatchResult> ChemledgerdE2eTest::BatchWaybills(
    const crypto::SigningKey& opener, const std::vector<std::vector<v1::SignedEnvelope>>& batches,
    grpc::Status* status) {
  grpc::ClientContext context;
  AttachStreamCredentials(&context, api::kSubmitBatchesMethod, opener);
  auto stream = waybills_->SubmitBatches(&context);
  std::thread writer([&] {
    for (const std::vector<v1::SignedEnvelope>& batch : batches) {
      v1::WaybillBatch message;
      for (const v1::SignedEnvelope& r : batch) *message.add_requests() = r;
      if (!stream->Write(message)) break;
    }
    stream->WritesDone();
  });
  std::vector<v1::WaybillBatchResult> answers;
  v1::WaybillBatchResult answer;
  while (stream->Read(&answer)) answers.push_back(answer);
  writer.join();
  *status = stream->Finish();
  return answers;
}

absl::StatusOr<crypto::Checkpoint> ChemledgerdE2eTest::VerifiedCheckpoint() {
  grpc::ClientContext context;
  v1::Checkpoint checkpoint;
  const grpc::Status status = ledger_->GetCheckpoint(&context, {}, &checkpoint);
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  absl::StatusOr<crypto::NoteVerifier> root =
      crypto::NoteVerifier::FromVerifierKey(note_verifier_key_);
  if (!root.ok()) return root.status();
  // The origin to check against, as the deployment states it.
  grpc::ClientContext deployment_context;
  v1::Deployment deployment;
  if (!registry_->GetDeployment(&deployment_context, {}, &deployment).ok()) {
    return absl::UnavailableError("GetDeployment failed");
  }
  EXPECT_EQ(deployment.checkpoint_origin(), kDeployment);
  return crypto::OpenCheckpoint(checkpoint.signed_note(), deployment.checkpoint_origin(), *root);
}

ChemledgerdE2eTest::Acknowledged ChemledgerdE2eTest::WriteMixedLoadUntil(
    size_t each, const std::vector<std::string>& codes, bool with_issuances,
    const std::function<void()>& fault) {
  Acknowledged acked;
  std::mutex mu;
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  load.emplace_back([&] {
    for (size_t i = 0; !stop && i < codes.size(); ++i) {
      v1::Event e = AcmeEvent(v1::COMMISSIONING, codes[i], static_cast<int>(i), "DRILL");
      v1::AppendResponse response;
      if (!AppendEvent(*acme_operator_, e, &response).ok()) return;
      std::lock_guard<std::mutex> lock(mu);
      acked.events.emplace_back(e, response.log_index());
    }
  });
  load.emplace_back([&] {
    for (int i = 0; !stop; ++i) {
      crypto::SigningKey key = crypto::SigningKey::Generate();
      v1::SignedEnvelope request = Signed(*acme_admin_, Actor(absl::StrCat("drill shift ", i),
                                                              v1::ENTERPRISE_OPERATOR, kAcme, key));
      v1::SubmitResponse response;
      if (!Submit(request, &response).ok()) return;
      std::lock_guard<std::mutex> lock(mu);
      acked.changes.emplace_back(request, response.log_index());
    }
  });
  if (with_issuances) {
    load.emplace_back([&] {
      for (int i = 0; !stop; ++i) {
        v1::SignedEnvelope request = IssueRequest(absl::StrCat("DRILL", i), 2, *acme_admin_);
        Issued issued = Issue(request);
        if (!issued.status.ok()) return;
        std::lock_guard<std::mutex> lock(mu);
        acked.issuances.emplace_back(request, issued.log_index);
      }
    });
  }
  for (const absl::Time deadline = absl::Now() + absl::Seconds(60); absl::Now() < deadline;) {
    if (absl::StatusOr<crypto::Checkpoint> c = VerifiedCheckpoint(); c.ok()) {
      acked.checkpoints.push_back(*c);
    }
    absl::SleepFor(absl::Milliseconds(20));
    std::lock_guard<std::mutex> lock(mu);
    if (acked.events.size() >= each && acked.changes.size() >= each &&
        (!with_issuances || acked.issuances.size() >= each)) {
      break;
    }
  }
  fault();
  // The writes in flight when the fault came end, acknowledged or not.
  absl::SleepFor(absl::Milliseconds(500));
  stop = true;
  for (std::thread& t : load) t.join();
  return acked;
}

void ChemledgerdE2eTest::ExpectAcknowledgedOnce(const Acknowledged& acked) {
  for (const auto& [request, index] : acked.issuances) {
    Issued again = Issue(request);
    ASSERT_TRUE(again.status.ok()) << again.status.error_message();
    EXPECT_TRUE(again.replayed) << "the issuance at " << index << " was lost and taken anew";
    EXPECT_EQ(again.log_index, index);
  }
  for (const auto& [event, index] : acked.events) {
    v1::AppendResponse again;
    grpc::Status s = AppendEvent(*acme_operator_, event, &again);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(again.replayed()) << "the event at " << index << " was lost and taken anew";
    EXPECT_EQ(again.log_index(), index);
  }
  for (const auto& [request, index] : acked.changes) {
    v1::SubmitResponse again;
    grpc::Status s = Submit(request, &again);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(again.replayed()) << "the change at " << index << " was lost and taken anew";
    EXPECT_EQ(again.log_index(), index);
  }
  absl::StatusOr<crypto::Checkpoint> after = VerifiedCheckpoint();
  ASSERT_TRUE(after.ok()) << after.status();
  for (const crypto::Checkpoint& before : acked.checkpoints) ExpectConsistent(before, *after);
}

void ChemledgerdE2eTest::ExpectConsistent(const crypto::Checkpoint& older,
                                          const crypto::Checkpoint& newer) {
  ASSERT_LE(older.size, newer.size);
  grpc::ClientContext context;
  v1::GetConsistencyProofRequest request;
  request.set_first_size(older.size);
  request.set_second_size(newer.size);
  v1::ConsistencyProof proof;
  grpc::Status s = ledger_->GetConsistencyProof(&context, request, &proof);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::vector<crypto::Sha256Digest> hashes;
  for (const std::string& h : proof.hashes()) {
    absl::StatusOr<crypto::Sha256Digest> hash = crypto::Sha256Digest::FromBytes(h);
    ASSERT_TRUE(hash.ok());
    hashes.push_back(*hash);
  }
  absl::Status verified =
      crypto::VerifyConsistency(older.size, newer.size, older.root_hash, newer.root_hash, hashes);
  EXPECT_TRUE(verified.ok()) << "the log at " << newer.size << " does not extend the log at "
                             << older.size << ": " << verified;
}

void ChemledgerdE2eTest::ExpectProvable(uint64_t index, const crypto::Sha256Digest& leaf,
                                        const crypto::Checkpoint& checkpoint) {
  ASSERT_LT(index, checkpoint.size) << "the checkpoint is older than entry " << index;
  grpc::ClientContext proof_context;
  v1::GetInclusionProofRequest proof_request;
  proof_request.set_leaf_index(index);
  proof_request.set_tree_size(checkpoint.size);
  v1::InclusionProof proof;
  ASSERT_TRUE(ledger_->GetInclusionProof(&proof_context, proof_request, &proof).ok());
  std::vector<crypto::Sha256Digest> hashes;
  for (const std::string& h : proof.hashes()) {
    absl::StatusOr<crypto::Sha256Digest> digest = crypto::Sha256Digest::FromBytes(h);
    ASSERT_TRUE(digest.ok()) << digest.status();
    hashes.push_back(*digest);
  }
  EXPECT_TRUE(
      crypto::VerifyInclusion(index, checkpoint.size, leaf, hashes, checkpoint.root_hash).ok())
      << "entry " << index << " does not prove into the checkpoint";
}

void ChemledgerdE2eTest::ExpectHistoryVerifies(const std::string& code,
                                               const v1::History& history,
                                               const crypto::Checkpoint& checkpoint) {
  ASSERT_GT(history.events_size(), 0) << code;
  std::string previous;
  for (const v1::EventRecord& record : history.events()) {
    // A whole record's exact bytes hash to its leaf hash (no re-serializing).
    if (!record.redacted()) {
      EXPECT_EQ(crypto::HashLeaf(record.entry_bytes()).ToBytes(), record.event_hash()) << code;
    }
    v1::EventLinks links;
    ASSERT_TRUE(links.ParseFromString(record.entry().assignment()));
    bool linked = false;
    for (const auto& link : links.links()) {
      if (link.code() == code) {
        linked = true;
        EXPECT_EQ(link.previous_event_hash(), previous) << code;
      }
    }
    EXPECT_TRUE(linked) << code << " at " << record.log_index();
    previous = record.event_hash();

    absl::StatusOr<crypto::Sha256Digest> leaf =
        crypto::Sha256Digest::FromBytes(record.event_hash());
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    ExpectProvable(record.log_index(), *leaf, checkpoint);
  }
}

}  // namespace chemledger::testing
