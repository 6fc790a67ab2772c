// The fault-injection suite (docs/cluster.md, "Faults"): the cluster's
// processes (ledgerd, labeld, waybilld, verifyd, auditd) on loopback over
// mutual TLS, mixed load from several clients (label issuances, events,
// waybills, signed scans at verifyd, stock queries at auditd, registry
// reads), and SIGKILL of a random process at random moments, each
// started again at once. Clients send each write again, the same signed
// bytes, until it is acknowledged. Afterwards (the last kill taking every
// process at once): `chemledgerd check` passes, every acknowledged write is
// in the log exactly once at the index its receipt named, and the log
// verifies against every checkpoint handed out while it ran.
//
// CHEMLEDGER_FAULT_CYCLES sets the number of kills (default 8: the short
// version the README's test command runs); tools/cluster/faults.sh runs the
// long one.

#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/verify_service.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/sha256.h"
#include "gtest/gtest.h"
#include "services/common/envelope.h"
#include "services/common/grpc_status.h"
#include "services/registry/registry_testing.h"
#include "services/waybill/waybill_testing.h"
#include "storage/leveldb_log.h"
#include "tests/e2e_server.h"

namespace chemledger::testing {
namespace {

int Cycles() {
  const char* text = std::getenv("CHEMLEDGER_FAULT_CYCLES");
  int n = 0;
  if (text != nullptr && absl::SimpleAtoi(text, &n) && n > 0) return n;
  return 8;
}

// Whether a call that failed this way may have been lost to a crash, and is
// sent again; any other failure is the rules' answer, and a test failure.
bool Retryable(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return true;
    default:
      return false;
  }
}

class ClusterFaultTest : public ChemledgerdE2eTest {
 protected:
  bool RunsAsCluster() override { return true; }

  // Every call waits for its service (wait-for-ready) up to 20 s. A client
  // whose calls fail at once while the channel reconnects leaves the
  // connection's progress to gRPC's backup poller (every 5 s), and with
  // ledgerd killed every two seconds or so its new connections would never
  // finish their TLS handshake: the way to call a service that restarts is
  // to wait for it, with a deadline.
  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    context->set_wait_for_ready(true);
    return context;
  }

  // A write acknowledged: the index its receipt named, and its payload.
  struct Acknowledged {
    uint64_t index = 0;
    std::string payload;
    std::string what;
  };

  // Sends `call` until it succeeds (the number of attempts it took), or is
  // refused by a rule or two minutes pass (0, a failure).
  static int UntilOk(const std::string& what, const std::function<grpc::Status()>& call) {
    const absl::Time give_up = absl::Now() + absl::Minutes(2);
    for (int attempt = 1;; ++attempt) {
      const grpc::Status s = call();
      if (s.ok()) return attempt;
      if (!Retryable(s.error_code()) || absl::Now() > give_up) {
        ADD_FAILURE() << what << " (attempt " << attempt << "): " << GrpcCodeName(s.error_code())
                      << ": " << s.error_message();
        return 0;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  // Sends the write `call` until it is acknowledged (true), and records the
  // acknowledgement; false as UntilOk's 0.
  bool UntilAcknowledged(const std::string& what,
                         const std::function<grpc::Status(uint64_t* index)>& call,
                         const std::string& payload) {
    uint64_t index = 0;
    const int attempts = UntilOk(what, [&] {
      index = 0;
      return call(&index);
    });
    if (attempts == 0) return false;
    std::lock_guard<std::mutex> lock(mu_);
    acknowledged_.push_back({index, payload, what});
    retries_ += attempts - 1;
    return true;
  }

  // One client's mixed load until `stop`: issue two labels, commission
  // them, ship the first on a waybill; read the deployment between.
  void Client(int client, const crypto::SigningKey& carrier_key, const std::string& carrier,
              const std::atomic<bool>& stop) {
    for (int i = 0; !stop.load() && !HasFailure(); ++i) {
      const std::string batch = absl::StrCat("F", client, "X", i);
      v1::IssueLabelsRequest issue;
      issue.set_request_id(absl::StrCat("fault-issue-", batch));
      issue.set_enterprise_uscc(kAcme);
      issue.set_product_number("M01");
      issue.set_batch(batch);
      *issue.mutable_production_date() = Today();
      issue.set_package_count(2);
      issue.set_net_quantity("25");
      issue.set_unit("KGM");
      const v1::SignedEnvelope issue_envelope =
          *envelope::Sign(api::kIssueLabelsContext, issue.SerializeAsString(), *acme_operator_);
      std::vector<std::string> codes;
      std::vector<std::string> urls;
      if (!UntilAcknowledged(
              "issuance " + batch,
              [&](uint64_t* index) {
                auto context = Context();
                AttachStreamCredentials(context.get(), api::kIssueLabelsMethod, *acme_operator_);
                auto reader = labels_->IssueLabels(context.get(), issue_envelope);
                v1::IssueLabelsResponse message;
                std::vector<std::string> got;
                std::vector<std::string> got_urls;
                while (reader->Read(&message)) {
                  *index = message.log_index();
                  for (const v1::IssuedLabel& l : message.labels()) {
                    got.push_back(l.code());
                    got_urls.push_back(l.url());
                  }
                }
                grpc::Status s = reader->Finish();
                if (s.ok() && got.size() != 2) {
                  s = grpc::Status(grpc::StatusCode::INTERNAL, "not every label came back");
                }
                if (s.ok()) {
                  codes = got;
                  urls = got_urls;
                }
                return s;
              },
              issue_envelope.payload())) {
        return;
      }
      v1::Event e = AcmeEvent(v1::COMMISSIONING, codes[0], i, absl::StrCat("fault-", client, "-"));
      // Now (AcmeEvent's time grows with `i`, which here grows without end).
      e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 1);
      e.add_codes(codes[1]);
      const v1::SignedEnvelope event_envelope =
          *envelope::Sign(api::kEventContext, e.SerializeAsString(), *acme_operator_);
      if (!UntilAcknowledged(
              "event " + e.event_id(),
              [&](uint64_t* index) {
                v1::AppendResponse response;
                const grpc::Status s = ledger_->Append(Context().get(), event_envelope, &response);
                *index = response.log_index();
                return s;
              },
              event_envelope.payload())) {
        return;
      }
      v1::WaybillRequest waybill;
      waybill.set_request_id("fault-wb-" + batch);
      *waybill.mutable_submit() = waybill::testing::ExampleWaybill(
          "WB-" + batch, carrier, kAcme, kOther, {codes[0]}, 25000, "KGM");
      const v1::SignedEnvelope waybill_envelope =
          *envelope::Sign(api::kWaybillContext, waybill.SerializeAsString(), carrier_key);
      if (!UntilAcknowledged(
              "waybill WB-" + batch,
              [&](uint64_t* index) {
                v1::WaybillResult result;
                grpc::Status s = waybills_->Submit(Context().get(), waybill_envelope, &result);
                if (s.ok() && result.code() != 0) {
                  s = grpc::Status(static_cast<grpc::StatusCode>(result.code()), result.message());
                }
                *index = result.log_index();
                return s;
              },
              waybill_envelope.payload())) {
        return;
      }
      // Reads of the personalities killed with the rest: a scan of the
      // first label (verifyd), signed, and the producer's stock (auditd).
      if (!UntilAnswered("scan " + urls[0], [&] {
            v1::VerifyRequest scan;
            scan.add_urls(urls[0]);
            v1::VerifyResponse verified;
            grpc::Status s = Read(*acme_operator_, api::kVerifyMethod, scan, &verified,
                                  Context().get());
            if (s.ok() && (verified.verifications_size() != 1 ||
                           !verified.verifications(0).has_label())) {
              s = grpc::Status(grpc::StatusCode::INTERNAL, "no verification of the label");
            }
            return s;
          })) {
        return;
      }
      if (!UntilAnswered("stock of " + std::string(kAcme), [&] {
            v1::StockQuery query;
            query.set_enterprise_uscc(kAcme);
            v1::StockReport report;
            return Read(*acme_operator_, api::kQueryStockMethod, query, &report,
                        Context().get());
          })) {
        return;
      }
      v1::Deployment deployment;
      (void)registry_->GetDeployment(Context().get(), {}, &deployment);
    }
  }

  // Sends the read `call` (signing it afresh each time) until it is
  // answered, and counts it.
  bool UntilAnswered(const std::string& what, const std::function<grpc::Status()>& call) {
    if (UntilOk(what, call) == 0) return false;
    std::lock_guard<std::mutex> lock(mu_);
    ++reads_;
    return true;
  }

  std::mutex mu_;
  std::vector<Acknowledged> acknowledged_;
  int retries_ = 0;
  int reads_ = 0;
};

TEST_F(ClusterFaultTest, EveryAcknowledgedWriteSurvivesKillsOfEveryProcess) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const std::string carrier = registry::testing::ExampleUscc("110105");
  const crypto::SigningKey carrier_key = RegisterCarrier(carrier, "fault dispatcher");
  ASSERT_NO_FATAL_FAILURE(AuthorizeCarrier(*acme_admin_, carrier));
  absl::StatusOr<crypto::NoteVerifier> note_key =
      crypto::NoteVerifier::FromVerifierKey(note_verifier_key_);
  ASSERT_TRUE(note_key.ok());

  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  constexpr int kClients = 4;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] { Client(c, carrier_key, carrier, stop); });
  }
  // Checkpoints handed out while it runs, each verified as it comes.
  std::vector<crypto::Checkpoint> checkpoints;
  std::thread watcher([&] {
    while (!stop.load()) {
      v1::Checkpoint checkpoint;
      if (ledger_->GetCheckpoint(Context().get(), {}, &checkpoint).ok()) {
        absl::StatusOr<crypto::Checkpoint> opened =
            crypto::OpenCheckpoint(checkpoint.signed_note(), kDeployment, *note_key);
        EXPECT_TRUE(opened.ok()) << opened.status();
        if (opened.ok()) {
          std::lock_guard<std::mutex> lock(mu_);
          checkpoints.push_back(*opened);
        }
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  });
  const std::vector<std::string> services = {"ledgerd", "labeld", "waybilld", "verifyd", "auditd"};
  std::mt19937 random(std::random_device{}());
  std::map<std::string, int> kills;
  const int cycles = Cycles();
  for (int cycle = 0; cycle < cycles && !HasFailure(); ++cycle) {
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(200, 900)(random)));
    // ledgerd, the store's owner, one time in two; a personality otherwise.
    const std::string victim =
        random() % 2 == 0 ? "ledgerd" : services[1 + random() % (services.size() - 1)];
    ASSERT_NO_FATAL_FAILURE(RestartService(victim));
    ++kills[victim];
  }
  absl::SleepFor(absl::Milliseconds(500));
  stop = true;
  for (std::thread& t : clients) t.join();
  watcher.join();
  // The last kill: every process at once.
  ASSERT_NO_FATAL_FAILURE(KillServer());

  auto [code, out] = RunChemledgerd({"check", "--data", dir_ + "/data"});
  ASSERT_EQ(code, 0) << out;

  storage::LevelDbLogOptions options;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenLevelDbStore(dir_ + "/data/log", options);
  ASSERT_TRUE(store.ok()) << store.status();
  std::shared_ptr<const storage::Snapshot> log = (*store)->GetSnapshot();
  // Every payload in the log, and how often.
  std::map<std::string, int> seen;
  for (uint64_t i = 0; i < log->size(); ++i) {
    v1::LogEntry entry;
    ASSERT_TRUE(entry.ParseFromString(*log->Entry(i)));
    ++seen[crypto::Sha256(entry.envelope().payload()).ToBytes()];
  }
  ASSERT_FALSE(acknowledged_.empty());
  for (const Acknowledged& a : acknowledged_) {
    ASSERT_LT(a.index, log->size()) << a.what;
    v1::LogEntry entry;
    ASSERT_TRUE(entry.ParseFromString(*log->Entry(a.index)));
    EXPECT_EQ(entry.envelope().payload(), a.payload) << a.what << " is not at index " << a.index;
    EXPECT_EQ(seen[crypto::Sha256(a.payload).ToBytes()], 1) << a.what << " is not in the log once";
  }
  for (const crypto::Checkpoint& c : checkpoints) {
    ASSERT_LE(c.size, log->size());
    EXPECT_EQ(*log->Root(c.size), c.root_hash) << "the log does not verify against the "
                                                << "checkpoint of size " << c.size;
  }
  std::cout << "fault cycles: " << cycles << " (";
  for (const auto& [name, n] : kills) std::cout << name << " " << n << " ";
  std::cout << "), writes acknowledged and checked: " << acknowledged_.size()
            << ", sent again after a fault: " << retries_
            << ", reads answered (scans, stock): " << reads_
            << ", checkpoints checked: " << checkpoints.size() << ", log size " << log->size()
            << std::endl;
}

}  // namespace
}  // namespace chemledger::testing
