// Test support for the end-to-end tests (tests/*_e2e_test.cc): a gtest
// fixture that gives EVERY test its own real chemledgerd. SetUp() makes a
// fresh temporary directory, runs `chemledgerd init` there with a fresh root
// admin key, starts `chemledgerd serve` on loopback (an ephemeral port) and
// connects gRPC stubs for the four services; TearDown() kills the server and
// removes the directory (kept when the test failed, for a look at it).
//
// Two shapes: by default the all-in-one chemledgerd; with the environment
// variable CHEMLEDGER_E2E_SHAPE=cluster (tools/cluster/e2e.sh), the services
// as processes of their own (ledgerd, labeld, waybilld, verifyd, auditd) on
// loopback over TLS with a development CA, the label keys moved from the
// data directory to theirs; the stubs then reach each service at its own
// port (ChannelFor), and tests that need what only chemledgerd has (the
// staff app, most of its flags) skip themselves in that shape. Of the serve
// flags the cluster takes --test-clock and --metrics-listen for every
// service, and --metrics-port-file FILE and --access-log FILE as
// FILE.<service> for each.
//
// Nothing is shared between tests: the keys, the request-id counter and the
// server all belong to the fixture instance, so no test's outcome depends on
// which ran before it. A test that needs the example enterprises registers
// them itself with RegisterExampleEnterprises().
//
// Not thread-safe, except where a helper says so: the stubs (registry_,
// labels_, ledger_, waybills_) may be used from many threads at once, as gRPC
// stubs may; StartServer() replaces them and must not race with their use.

#ifndef CHEMLEDGER_TESTS_E2E_SERVER_H_
#define CHEMLEDGER_TESTS_E2E_SERVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chemledger/v1/label_service.grpc.pb.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "chemledger/v1/waybill_service.grpc.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/keys.h"
#include "crypto/trust_list.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/subprocess.h"

namespace chemledger::testing {

// The port a server wrote to the port file `path`, once it is there; 0 if
// it is not by `deadline`.
int WaitForPortFile(const std::string& path, absl::Time deadline);

class ChemledgerdE2eTest : public ::testing::Test {
 protected:
  // The example enterprises of RegisterExampleEnterprises(): Acme produces
  // methanol (product M01); Other is a second producer.
  static constexpr char kAcme[] = "91350100M000100Y43";
  static constexpr char kOther[] = "91110105771583283D";

  // The deployment's name and label resolver, as given to `chemledgerd init`.
  static constexpr char kDeployment[] = "chemledger.test";
  static constexpr char kResolver[] = "CL.EXAMPLE.CN";

  // Inits a deployment in a fresh directory and starts serving it.
  void SetUp() override;
  // Flags added to `chemledgerd init` (dir_ is set when it is called).
  virtual std::vector<std::string> InitFlags() { return {}; }
  // Flags added to every `chemledgerd serve` StartServer runs.
  virtual std::vector<std::string> ServeFlags() { return {}; }
  // Kills the server; removes the directory unless the test failed.
  void TearDown() override;

  // The chemledgerd binary in this test's runfiles.
  static std::string Binary();
  // Runs `argv` to its end (at most 60 s): its exit code (-1 if it did not
  // exit) and what it wrote to stdout.
  static std::pair<int, std::string> RunToEnd(const std::vector<std::string>& argv);
  // Runs chemledgerd with `args` to its end: as RunToEnd, stderr included.
  static std::pair<int, std::string> RunChemledgerd(const std::vector<std::string>& args);
  // Runs `command` with /bin/sh to its end: as RunToEnd, stderr included.
  static std::pair<int, std::string> RunShell(const std::string& command);
  // Runs tools/chemaudit/chemaudit (in the test's data) with `args` (shell
  // words) to its end: as RunShell.
  static std::pair<int, std::string> Chemaudit(const std::string& args);

  // Starts `chemledgerd serve` on the deployment and connects the stubs to
  // it. A server already running is killed first (SIGKILL, by the
  // Subprocess destructor), so this is also "restart". Fails fatally when
  // the server does not say it is serving within 60 s. `flags` are added to
  // `chemledgerd serve`.
  void StartServer(const std::vector<std::string>& flags = {});
  // Reads `server`'s (chemledgerd serve) output until it says it serves:
  // its gRPC port, and its pages' port (0 when it serves none). Fails
  // fatally when it does not within 60 s.
  static void ReadServingPorts(Subprocess& server, int* grpc_port, int* http_port);

  // Whether the services run apart (see above).
  static bool ClusterShape();
  // Whether this fixture starts the cluster: ClusterShape() unless a test
  // that needs the cluster says so.
  virtual bool RunsAsCluster() { return ClusterShape(); }
  // The cluster shape: kills service `name` ("ledgerd", "labeld", ...) with
  // SIGKILL and starts it again on the same ports; fails fatally when it
  // does not serve again within 60 s.
  void RestartService(const std::string& name);
  // The channel to the service of `method` ("/chemledger.v1.AuditService/..."
  // or "chemledger.v1.AuditService").
  std::shared_ptr<grpc::Channel> ChannelFor(absl::string_view method);
  // The flags that point a command-line tool (chemaudit, chemctl) at the
  // service `service` ("chemledger.v1.AuditService"): --server, and in the
  // cluster shape --tls-ca.
  std::string ServerFlags(absl::string_view service) const;
  // The HTTP port of the regulator console: chemledgerd's, or auditd's.
  int ConsolePort() const { return console_port_ != 0 ? console_port_ : http_port_; }

  // Kills the server (all-in-one) or every process of the cluster with
  // SIGKILL, ledgerd first, and reaps them; StartServer starts them again.
  void KillServer();
  // Sends `signal` to the server (all-in-one) or to every process of the
  // cluster, and reaps none.
  void SignalServer(int signal);

  // Today in China (UTC+8).
  static v1::Date Today();

  // The log's size without the refused requests the server recorded in it
  // (AuditService.ListAnomalies, read as the platform administrator).
  uint64_t LogSize();
  // The log's size with everything in it, from GetDeployment.
  uint64_t RawLogSize();

  // `r` signed by `key` for the registry, with a fresh request id unless it
  // has one.
  v1::SignedEnvelope Signed(const crypto::SigningKey& key, v1::RegistryRequest r);
  grpc::Status Submit(const v1::SignedEnvelope& envelope, v1::SubmitResponse* response);
  // Submits `r` signed by `key`; fails fatally (in this helper; wrap it in
  // ASSERT_NO_FATAL_FAILURE to stop the test) unless it is accepted.
  void SubmitOk(const crypto::SigningKey& key, const v1::RegistryRequest& r);
  // Refused with `code`, a message naming `field`, and the log unchanged.
  void Refused(const v1::SignedEnvelope& envelope, grpc::StatusCode code,
               const std::string& field);

  // Registry requests (no server involved).
  static v1::RegistryRequest Enterprise(const std::string& uscc);
  static v1::RegistryRequest Product(const v1::Product& p);
  static v1::RegistryRequest Actor(const std::string& name, v1::ActorRole role,
                                   const std::string& uscc, const crypto::SigningKey& key);

  // Registers Acme (with its admin acme_admin_, its operator acme_operator_
  // and its product M01), Other (with its admin other_admin_) and the
  // regulator regulator_ ("inspector").
  void RegisterExampleEnterprises();

  // Registers a producer at `uscc` (with the methanol product M01) and an
  // admin of it named `name`; returns the admin's key.
  crypto::SigningKey RegisterProducer(const std::string& uscc, const std::string& name);

  // Registers a road carrier at `uscc`, holding a 道路运输经营许可证, and its
  // dispatcher `name`; returns the dispatcher's key.
  crypto::SigningKey RegisterCarrier(const std::string& uscc, const std::string& name);
  // An actor of a consignor (`consignor_key`) authorises `carrier` to submit
  // its waybills for a year: they open without consent to each.
  void AuthorizeCarrier(const crypto::SigningKey& consignor_key, const std::string& carrier);

  // An issuance of `count` labels of Acme's M01 (25 KGM each) in `batch`,
  // signed by `key`, with a fresh request id.
  v1::SignedEnvelope IssueRequest(const std::string& batch, uint32_t count,
                                  const crypto::SigningKey& key);

  struct Issued {
    grpc::Status status;
    std::vector<v1::IssuedLabel> labels;
    uint64_t log_index = 0;
    bool replayed = false;
  };
  // Sends an issuance and reads its whole answer stream, with read
  // credentials of `reader` (by default its signer, when that is one of the
  // fixture's keys).
  Issued Issue(const v1::SignedEnvelope& envelope, const crypto::SigningKey* reader = nullptr);

  // Issues `count` labels of `uscc`'s product M01, 25 KGM each, in `batch`.
  Issued IssueM01(const std::string& uscc, const crypto::SigningKey& key,
                  const std::string& batch, uint32_t count);

  // The trust list, verified with the key pinned at init (not one the server
  // sends).
  crypto::TrustList FetchTrustList();

  // Appends `e` signed by `key`. Thread-safe.
  // Event "<id_prefix><n>" of Acme at its "warehouse 1", `step` on `code`,
  // dated n seconds after 100 s ago (a kilogram when it consumes).
  static v1::Event AcmeEvent(v1::BusinessStep step, const std::string& code, int n,
                             absl::string_view id_prefix);
  grpc::Status AppendEvent(const crypto::SigningKey& key, const v1::Event& e,
                           v1::AppendResponse* response = nullptr);
  // Calls the read `method` with `request` as `reader` (read.v2 credentials
  // for this deployment, bound to the request's bytes). `context` may be
  // given for a deadline or to read the answer's metadata. Thread-safe.
  grpc::Status Read(const crypto::SigningKey& reader, const char* method,
                    const google::protobuf::MessageLite& request,
                    google::protobuf::MessageLite* response,
                    grpc::ClientContext* context = nullptr);
  // Credentials for opening a stream of `method` as `opener`.
  static void AttachStreamCredentials(grpc::ClientContext* context, const char* method,
                                      const crypto::SigningKey& opener);
  // Reads `code`'s history as `reader`. Thread-safe.
  grpc::Status GetHistory(const crypto::SigningKey& reader, const std::string& code,
                          v1::History* history);
  // Reads waybill `number` as `reader`. Thread-safe.
  grpc::Status GetWaybill(const crypto::SigningKey& reader, const std::string& number,
                          v1::WaybillRecord* record);

  // Sends `requests` on one SubmitStream without waiting for any answer (a
  // thread writes them all while this one reads; writing all before reading
  // could fill both directions' flow-control windows), and returns the
  // results.
  // Sends `requests` on one SubmitStream opened with `opener`'s credentials
  // (an actor of the enterprise whose requests they are).
  std::vector<v1::WaybillResult> StreamWaybills(const crypto::SigningKey& opener,
                                                const std::vector<v1::SignedEnvelope>& requests);
  // The same on one SubmitBatches, in WaybillBatch messages of `batch`
  // requests; the results of every batch in order, and the call's status.
  std::vector<v1::WaybillResult> BatchWaybills(const crypto::SigningKey& opener,
                                               const std::vector<v1::SignedEnvelope>& requests,
                                               int batch, grpc::Status* status);
  // The same with the batches given, one message each; the answers as sent.
  std::vector<v1::WaybillBatchResult> BatchWaybills(
      const crypto::SigningKey& opener, const std::vector<std::vector<v1::SignedEnvelope>>& batches,
      grpc::Status* status);

  // The log's current checkpoint, verified with the key pinned at init (not
  // one the server sends).
  absl::StatusOr<crypto::Checkpoint> VerifiedCheckpoint();

  // Checks `code`'s history client-side: each event's hash is the leaf hash
  // of its entry, links to the previous event of `code` (the first to none),
  // and proves by the server's inclusion proof into `checkpoint`.
  void ExpectHistoryVerifies(const std::string& code, const v1::History& history,
                             const crypto::Checkpoint& checkpoint);
  // What a failover drill's load had acknowledged when the fault came.
  struct Acknowledged {
    std::vector<std::pair<v1::SignedEnvelope, uint64_t>> issuances;  // with their log index
    std::vector<std::pair<v1::Event, uint64_t>> events;
    std::vector<std::pair<v1::SignedEnvelope, uint64_t>> changes;  // registry changes
    std::vector<crypto::Checkpoint> checkpoints;  // verified, handed out before the fault
  };
  // Mixed load for failover drills (after RegisterExampleEnterprises):
  // lifecycle events (COMMISSIONING `codes`, one each, as Acme's operator),
  // registry changes (operators added to Acme) and, `with_issuances`, label
  // issuances, each from a thread of its own, while this thread keeps the
  // verified checkpoints it is handed. Once each kind has `each`
  // acknowledged (or after 60 s), calls `fault`; each thread stops at its
  // first failed write (or when `codes` run out).
  Acknowledged WriteMixedLoadUntil(size_t each, const std::vector<std::string>& codes,
                                   bool with_issuances, const std::function<void()>& fault);
  // After a failover: every acknowledged write, sent again, is answered as a
  // replay at its first index (it is there exactly once), and the log now
  // extends every checkpoint handed out before.
  void ExpectAcknowledgedOnce(const Acknowledged& acked);
  // Checks, by the server's consistency proof, that the log of `newer` is
  // the log of `older` with entries appended.
  void ExpectConsistent(const crypto::Checkpoint& older, const crypto::Checkpoint& newer);
  // Checks that the entry at `index` whose leaf hash is `leaf` proves, by the
  // server's inclusion proof, into `checkpoint`.
  void ExpectProvable(uint64_t index, const crypto::Sha256Digest& leaf,
                      const crypto::Checkpoint& checkpoint);

  // This test's directory (the deployment is in dir_ + "/data").
  std::string dir_;
  // The root's note verifier key, as `chemledgerd init` printed it.
  std::string note_verifier_key_;
  // The deployment's root admin (made at init).
  std::unique_ptr<crypto::SigningKey> admin_;
  // Registered by RegisterExampleEnterprises() only.
  std::unique_ptr<crypto::SigningKey> acme_admin_, acme_operator_, other_admin_, regulator_;
  std::unique_ptr<Subprocess> server_;
  // The cluster shape's processes, ledgerd first, and how each is started
  // again (on the ports it took first).
  std::vector<std::unique_ptr<Subprocess>> cluster_;
  std::map<std::string, size_t> cluster_index_;
  std::map<std::string, std::vector<std::string>> cluster_restart_;
  // The all-in-one server's channel (in the cluster shape, ledgerd's).
  std::shared_ptr<grpc::Channel> channel_;
  // The cluster shape's channels by service name ("chemledger.v1.LabelService").
  std::map<std::string, std::shared_ptr<grpc::Channel>, std::less<>> service_channels_;
  std::map<std::string, int, std::less<>> service_ports_;
  int console_port_ = 0;
  // The gRPC port, and the port of the scan pages (HTTP); both on loopback.
  int port_ = 0;
  int http_port_ = 0;
  std::unique_ptr<v1::RegistryService::Stub> registry_;
  std::unique_ptr<v1::LabelService::Stub> labels_;
  std::unique_ptr<v1::LedgerService::Stub> ledger_;
  std::unique_ptr<v1::WaybillService::Stub> waybills_;

 private:
  // Runs `chemledgerd init` in dir_.
  void InitDeployment();
  // StartServer in the cluster shape.
  void StartCluster(const std::vector<std::string>& flags);

  int next_id_ = 0;
};

}  // namespace chemledger::testing

#endif  // CHEMLEDGER_TESTS_E2E_SERVER_H_
