// The regulators' audit against a real chemledgerd, with the real chemaudit:
// a checkpoint kept, the log grown, a code's history fetched as a bundle
// (AuditService) and verified offline against the pinned note key and the
// kept checkpoint; a changed byte, another log's key and a non-regulator
// are refused.

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "chemledger/v1/audit_service.grpc.pb.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/ledger_service.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/key_files.h"
#include "crypto/sha256.h"
#include "gtest/gtest.h"
#include "journal/state_machine.h"
#include "tests/e2e_server.h"
#include "tests/subprocess.h"

namespace chemledger::testing {
namespace {

class AuditE2eTest : public ChemledgerdE2eTest {
 protected:
  // AuditService's address (and CA), or `service`'s.
  std::string Server(absl::string_view service = "chemledger.v1.AuditService") {
    return ServerFlags(service);
  }

  // Event "audit-<n>" of Acme (AcmeEvent).
  static v1::Event EventOf(v1::BusinessStep step, const std::string& code, int n) {
    return AcmeEvent(step, code, n, "audit-");
  }

  void Append(v1::BusinessStep step, const std::string& code, int n) {
    const v1::Event e = EventOf(step, code, n);
    const grpc::Status s = AppendEvent(*acme_operator_, e);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
};

TEST_F(AuditE2eTest, AHistoryBundleVerifiesOfflineAgainstAKeptCheckpoint) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("AUDIT", 2, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const std::string code = issued.labels[0].code();
  ASSERT_NO_FATAL_FAILURE(Append(v1::COMMISSIONING, code, 1));
  ASSERT_NO_FATAL_FAILURE(Append(v1::STORING, code, 2));
  const std::string vkey = dir_ + "/data/note.vkey";
  const std::string kept = dir_ + "/kept.checkpoint";

  // Kept by the regulator now; the log grows after it.
  auto [status, out] = Chemaudit(absl::StrCat("checkpoint ", Server("chemledger.v1.LedgerService"), " --note-key ", vkey,
                                              " --out ", kept));
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("kept checkpoint of chemledger.test"), std::string::npos) << out;
  ASSERT_NO_FATAL_FAILURE(Append(v1::CONSUMING, code, 3));
  ASSERT_NO_FATAL_FAILURE(Append(v1::COMMISSIONING, issued.labels[1].code(), 4));

  ASSERT_TRUE(crypto::SaveSigningKey(*regulator_, dir_ + "/regulator.key", {}).ok());
  ASSERT_TRUE(crypto::SaveSigningKey(*acme_operator_, dir_ + "/acme.key", {}).ok());
  const std::string bundle = dir_ + "/history.bundle";
  std::tie(status, out) = Chemaudit(absl::StrCat("history ", code, " ", Server(), " --key ", dir_,
                                                 "/regulator.key --kept ", kept, " --out ", bundle));
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("3 events"), std::string::npos) << out;

  // Offline: nothing but the bundle, the pinned key and the kept checkpoint.
  std::tie(status, out) =
      Chemaudit(absl::StrCat("verify ", bundle, " --note-key ", vkey, " --kept ", kept));
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("verified: " + code + ", 3 events by 1 signers"), std::string::npos) << out;
  EXPECT_NE(out.find("extends the kept checkpoint"), std::string::npos) << out;
  // Without the kept checkpoint the bundle's consistency proof proves
  // nothing: refused, saying so.
  std::tie(status, out) = Chemaudit(absl::StrCat("verify ", bundle, " --note-key ", vkey));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("give that checkpoint"), std::string::npos) << out;

  // The same history as an EPCIS 2.0 document (verified first;
  // services/audit/epcis_test checks such documents against GS1's schema).
  std::tie(status, out) = Chemaudit(absl::StrCat("epcis ", bundle, " --note-key ", vkey,
                                                 " --kept ", kept, " --out ", dir_, "/h.jsonld"));
  ASSERT_EQ(status, 0) << out;
  {
    std::ifstream epcis(dir_ + "/h.jsonld");
    std::stringstream text;
    text << epcis.rdbuf();
    EXPECT_NE(text.str().find("\"EPCISDocument\""), std::string::npos) << text.str();
    EXPECT_NE(text.str().find("\"bizStep\": \"dispensing\""), std::string::npos);
  }

  // A changed byte anywhere fails (services/audit/history_bundle_test tries
  // every byte; here a few, through the tool).
  std::ifstream in(bundle, std::ios::binary);
  std::stringstream whole;
  whole << in.rdbuf();
  const std::string bytes = whole.str();
  for (size_t at : {size_t{10}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 5}) {
    std::string changed = bytes;
    changed[at] = static_cast<char>(changed[at] ^ 0x20);
    std::ofstream(dir_ + "/changed.bundle", std::ios::binary) << changed;
    std::tie(status, out) = Chemaudit(
        absl::StrCat("verify ", dir_, "/changed.bundle --note-key ", vkey, " --kept ", kept));
    EXPECT_EQ(status, 1) << "byte " << at << ": " << out;
  }
  // Another log's key.
  std::tie(status, out) = Chemaudit(absl::StrCat(
      "verify ", bundle, " --note-key chemledger.test+00000000+",
      "AWJ9LM2+/Q9s7Q6jAckHMgXrz6/z58uFdfsDU40gFao4 --kept ", kept));
  EXPECT_NE(status, 0) << out;

  // Not a regulator: refused.
  std::tie(status, out) = Chemaudit(absl::StrCat("history ", code, " ", Server(), " --key ", dir_,
                                                 "/acme.key --out ", dir_, "/no.bundle"));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("regulators and platform administrators"), std::string::npos) << out;
}


// 流向登记与统计 through the real tool: the regulator's table and CSV, and an
// enterprise's own books; another enterprise's books are refused.
TEST_F(AuditE2eTest, ReconciliationAddsUpForRegulatorAndEnterprise) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("RECON", 3, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  for (int i = 0; i < 3; ++i) {
    ASSERT_NO_FATAL_FAILURE(Append(v1::COMMISSIONING, issued.labels[i].code(), 1 + i));
  }
  ASSERT_NO_FATAL_FAILURE(Append(v1::CONSUMING, issued.labels[0].code(), 10));
  ASSERT_TRUE(crypto::SaveSigningKey(*regulator_, dir_ + "/regulator.key", {}).ok());
  ASSERT_TRUE(crypto::SaveSigningKey(*acme_operator_, dir_ + "/acme.key", {}).ok());

  auto [status, out] = Chemaudit(
      absl::StrCat("reconcile ", Server(), " --key ", dir_, "/regulator.key --csv"));
  ASSERT_EQ(status, 0) << out;
  // Acme's row: 75 kg produced, 1 kg used, 74 kg in stock.
  const size_t row = out.find(absl::StrCat("\r\n", kAcme, ","));
  ASSERT_NE(row, std::string::npos) << out;
  const std::string line = out.substr(row + 2, out.find("\r\n", row + 2) - row - 2);
  EXPECT_NE(line.find(",KGM,0.000,75.000,0.000,0.000,0.000,0.000,1.000,"), std::string::npos)
      << line;
  EXPECT_NE(line.find(",74.000,"), std::string::npos) << line;
  EXPECT_NE(out.find("\r\nTOTAL,"), std::string::npos) << out;

  std::tie(status, out) = Chemaudit(
      absl::StrCat("reconcile ", Server(), " --key ", dir_, "/regulator.key --enterprise ", kAcme,
                   " --from 2020-01-01"));
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("BALANCE"), std::string::npos) << out;
  EXPECT_NE(out.find(" ok"), std::string::npos) << out;
  EXPECT_NE(out.find("checked against every package's state now"), std::string::npos) << out;

  // Stock on hand: 74 kg at Acme's warehouse.
  std::tie(status, out) =
      Chemaudit(absl::StrCat("stock ", Server(), " --key ", dir_, "/regulator.key --csv"));
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find(absl::StrCat(kAcme, ",warehouse 1,", kAcme, ",M01,67-56-1,KGM,3,74.000,0,0")),
            std::string::npos)
      << out;

  // The enterprise's own books, as JSON.
  std::tie(status, out) =
      Chemaudit(absl::StrCat("reconcile ", Server(), " --key ", dir_, "/acme.key --json"));
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("\"produced_milli\": \"75000\""), std::string::npos) << out;
  // Someone else's: refused, naming the field.
  std::tie(status, out) = Chemaudit(absl::StrCat("reconcile ", Server(), " --key ", dir_,
                                                 "/acme.key --region 11"));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("region_prefix, park_id: an enterprise reads its own books only"),
            std::string::npos)
      << out;
  // A malformed request changes nothing and says what is wrong.
  std::tie(status, out) = Chemaudit(absl::StrCat("reconcile ", Server(), " --key ", dir_,
                                                 "/regulator.key --cas 67-56-1 --flag 剧毒"));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("name the goods by one of them at most"), std::string::npos) << out;
}

// A query's events exported with proofs through the real tool, verified
// offline, turned into EPCIS; a changed byte fails.
TEST_F(AuditE2eTest, AnExportedQueryVerifiesOffline) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("EXPORT", 3, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  int n = 0;
  for (const v1::IssuedLabel& l : issued.labels) {
    ASSERT_NO_FATAL_FAILURE(Append(v1::COMMISSIONING, l.code(), ++n));
    ASSERT_NO_FATAL_FAILURE(Append(v1::STORING, l.code(), ++n));
  }
  const std::string vkey = dir_ + "/data/note.vkey";
  const std::string kept = dir_ + "/kept.checkpoint";
  auto [status, out] = Chemaudit(absl::StrCat("checkpoint ", Server("chemledger.v1.LedgerService"), " --note-key ", vkey,
                                              " --out ", kept));
  ASSERT_EQ(status, 0) << out;
  ASSERT_NO_FATAL_FAILURE(Append(v1::CONSUMING, issued.labels[0].code(), ++n));
  ASSERT_TRUE(crypto::SaveSigningKey(*regulator_, dir_ + "/regulator.key", {}).ok());
  const std::string bundle = dir_ + "/query.bundle";
  std::tie(status, out) = Chemaudit(absl::StrCat("export ", Server(), " --key ", dir_,
                                                 "/regulator.key --enterprise ", kAcme,
                                                 " --kept ", kept, " --reconcile --out ", bundle));
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("exported 7 events with proofs"), std::string::npos) << out;
  std::tie(status, out) =
      Chemaudit(absl::StrCat("verify ", bundle, " --note-key ", vkey, " --kept ", kept));
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("verified: a query's 7 events by 1 signers"), std::string::npos) << out;
  // Who exported it, and so what the query was narrowed to.
  EXPECT_NE(out.find("exported by inspector (REGULATOR): the query's events within what it "
                     "oversees (EMERGENCY_MANAGEMENT, national)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("reconciliation re-added: 1 rows, 1 totals; every balance and total adds up; "
                     "every balance is zero"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("extends the kept checkpoint"), std::string::npos) << out;
  std::tie(status, out) = Chemaudit(absl::StrCat("epcis ", bundle, " --note-key ", vkey,
                                                 " --kept ", kept, " --out ", dir_, "/q.jsonld"));
  ASSERT_EQ(status, 0) << out;
  {
    std::ifstream epcis(dir_ + "/q.jsonld");
    std::stringstream text;
    text << epcis.rdbuf();
    EXPECT_NE(text.str().find("\"EPCISDocument\""), std::string::npos) << text.str();
    EXPECT_NE(text.str().find("\"bizStep\": \"commissioning\""), std::string::npos);
  }
  // A changed byte anywhere fails (services/audit/query_bundle_test tries
  // every byte; here a few, through the tool).
  std::ifstream in(bundle, std::ios::binary);
  std::stringstream whole;
  whole << in.rdbuf();
  const std::string bytes = whole.str();
  for (size_t at : {size_t{1}, size_t{40}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 3}) {
    std::string changed = bytes;
    changed[at] = static_cast<char>(changed[at] ^ 0x04);
    std::ofstream(dir_ + "/changed.bundle", std::ios::binary) << changed;
    std::tie(status, out) = Chemaudit(absl::StrCat("verify ", dir_, "/changed.bundle --note-key ",
                                                   vkey, " --kept ", kept));
    EXPECT_EQ(status, 1) << "byte " << at << ": " << out;
  }
  // Not a regulator: refused.
  ASSERT_TRUE(crypto::SaveSigningKey(*acme_operator_, dir_ + "/acme.key", {}).ok());
  std::tie(status, out) = Chemaudit(absl::StrCat("export ", Server(), " --key ", dir_,
                                                 "/acme.key --out ", dir_, "/no.bundle"));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("ExportEvents is for regulators"), std::string::npos) << out;
}

// Events by query through the real tool, a page at a time.
TEST_F(AuditE2eTest, QueriesFindEventsPageByPage) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("QUERY", 3, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  for (int i = 0; i < 3; ++i) {
    ASSERT_NO_FATAL_FAILURE(Append(v1::COMMISSIONING, issued.labels[i].code(), 1 + i));
  }
  ASSERT_NO_FATAL_FAILURE(Append(v1::CONSUMING, issued.labels[2].code(), 10));
  ASSERT_TRUE(crypto::SaveSigningKey(*regulator_, dir_ + "/regulator.key", {}).ok());
  const std::string as_regulator = absl::StrCat(Server(), " --key ", dir_, "/regulator.key");

  auto lines = [](const std::string& text) {
    return std::count(text.begin(), text.end(), '\n');
  };
  auto [status, out] = Chemaudit(absl::StrCat("query ", as_regulator, " --csv --out ", dir_,
                                              "/events.csv --page-size 1"));
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("4 events, read at log size"), std::string::npos) << out;
  std::ifstream csv(dir_ + "/events.csv");
  std::stringstream text;
  text << csv.rdbuf();
  EXPECT_EQ(lines(text.str()), 5) << text.str();  // a header and four events
  EXPECT_NE(text.str().find(",CONSUMING," + std::string(kAcme) + ",warehouse 1,audit-10,"),
            std::string::npos)
      << text.str();

  std::tie(status, out) = Chemaudit(absl::StrCat("query ", as_regulator, " --step consuming"));
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("CONSUMING"), std::string::npos) << out;
  EXPECT_EQ(out.find("COMMISSIONING"), std::string::npos) << out;
  EXPECT_NE(out.find("1 events"), std::string::npos) << out;

  std::tie(status, out) = Chemaudit(absl::StrCat("query ", as_regulator, " --json --cas 67-56-1"));
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '{') > 4, true) << out;
  EXPECT_NE(out.find("\"log_index\""), std::string::npos) << out;

  std::tie(status, out) =
      Chemaudit(absl::StrCat("query ", as_regulator, " --waybill ", kAcme, "/nope/x"));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("--waybill: CARRIER/NUMBER"), std::string::npos) << out;
}

// A refused attempt is recorded in the log after the answer, and listed.
TEST_F(AuditE2eTest, AnomaliesListARefusedAttempt) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("ANOM", 1, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const std::string code = issued.labels[0].code();
  ASSERT_NO_FATAL_FAILURE(Append(v1::COMMISSIONING, code, 1));
  v1::Event use = EventOf(v1::CONSUMING, code, 20);
  use.set_quantity_milli(26000);  // 25 kg in the drum
  const grpc::Status refused = AppendEvent(*acme_operator_, use);
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(crypto::SaveSigningKey(*regulator_, dir_ + "/regulator.key", {}).ok());
  std::string out;
  int status = 0;
  for (int tries = 0; tries < 50; ++tries) {  // recorded after the answer
    std::tie(status, out) = Chemaudit(
        absl::StrCat("anomalies ", Server(), " --key ", dir_, "/regulator.key"));
    if (out.find("OVER_CONSUMPTION") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("REFUSED_REQUEST"), std::string::npos) << out;
  EXPECT_NE(out.find("OVER_CONSUMPTION"), std::string::npos) << out;
  EXPECT_NE(out.find("26000 is more than the 25000"), std::string::npos) << out;
  std::tie(status, out) = Chemaudit(absl::StrCat("anomalies ", Server(), " --key ", dir_,
                                                 "/regulator.key --kind CLONE_SIGNAL"));
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(out.find("OVER_CONSUMPTION"), std::string::npos) << out;
  // --follow: subscribed, it prints what is written after it (here the
  // process is stopped by `timeout` after two seconds).
  std::tie(status, out) = RunShell(absl::StrCat(
      "timeout 2 '", RunfilePath("tools/chemaudit/chemaudit"), "' anomalies ", Server(), " --key ",
      dir_, "/regulator.key --follow 2>&1"));
  EXPECT_EQ(status, 124) << out;  // stopped by timeout, not failed
  EXPECT_NE(out.find("LOG#"), std::string::npos) << out;
  std::tie(status, out) = Chemaudit(absl::StrCat("anomalies ", Server(), " --key ", dir_,
                                                 "/regulator.key --kind NOTHING"));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("--kind: REFUSED_REQUEST, CLONE_SIGNAL"), std::string::npos) << out;
  // --prove: each anomaly's entry, proved in a checkpoint the pinned note
  // key signed (LedgerService is ledgerd in a cluster).
  const std::string vkey = dir_ + "/data/note.vkey";
  std::string ledger = Server("chemledger.v1.LedgerService");
  ledger = absl::StrCat("--ledger-server", ledger.substr(std::string("--server").size()));
  std::tie(status, out) = Chemaudit(
      absl::StrCat("anomalies ", Server(), " --key ", dir_,
                   "/regulator.key --kind REFUSED_REQUEST --prove --note-key ", vkey, " ", ledger));
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("OVER_CONSUMPTION"), std::string::npos) << out;
  // The refusal's entry, and the entry that registered its signer's key.
  EXPECT_NE(out.find("proved 2 entries in the log of"), std::string::npos) << out;
  EXPECT_NE(out.find("the signatures of 1 refused requests verify with the keys the log "
                     "registered"),
            std::string::npos)
      << out;
  // --kept: proved in a log that extends a checkpoint the regulator kept.
  const std::string kept = dir_ + "/anomalies.checkpoint";
  std::tie(status, out) = Chemaudit(absl::StrCat(
      "checkpoint ", Server("chemledger.v1.LedgerService"), " --note-key ", vkey, " --out ", kept));
  ASSERT_EQ(status, 0) << out;
  std::tie(status, out) = Chemaudit(absl::StrCat(
      "anomalies ", Server(), " --key ", dir_, "/regulator.key --kind REFUSED_REQUEST --prove ",
      "--note-key ", vkey, " --kept ", kept, " ", ledger));
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("extending the kept one of size"), std::string::npos) << out;
  // A checkpoint of another log under the same key (a fork its operator
  // signed, shown to someone else): the log now does not extend it.
  {
    std::ifstream kept_in(kept);
    std::string line, size_line;
    std::getline(kept_in, line);
    std::getline(kept_in, size_line);
    absl::StatusOr<crypto::SigningKey> note_key =
        crypto::LoadSigningKey(dir_ + "/data/keys/note.key", absl::nullopt);
    ASSERT_TRUE(note_key.ok()) << note_key.status();
    absl::StatusOr<crypto::NoteSigner> signer =
        crypto::NoteSigner::Create(kDeployment, *std::move(note_key));
    ASSERT_TRUE(signer.ok()) << signer.status();
    crypto::Checkpoint forked;
    forked.origin = kDeployment;
    ASSERT_TRUE(absl::SimpleAtoi(size_line, &forked.size)) << size_line;
    forked.root_hash = crypto::Sha256("another log");
    absl::StatusOr<std::string> note = signer->SignCheckpoint(forked);
    ASSERT_TRUE(note.ok()) << note.status();
    std::ofstream(dir_ + "/forked.checkpoint") << *note;
  }
  std::tie(status, out) = Chemaudit(absl::StrCat(
      "anomalies ", Server(), " --key ", dir_, "/regulator.key --kind REFUSED_REQUEST --prove ",
      "--note-key ", vkey, " --kept ", dir_, "/forked.checkpoint ", ledger));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("--kept: the log forked"), std::string::npos) << out;
  // Against another note key, nothing is proved.
  const std::string other_vkey = dir_ + "/other.vkey";
  absl::StatusOr<crypto::NoteSigner> other =
      crypto::NoteSigner::Create("other.example/log", crypto::SigningKey::Generate());
  ASSERT_TRUE(other.ok());
  std::ofstream(other_vkey) << other->verifier().VerifierKeyString() << "\n";
  std::tie(status, out) = Chemaudit(absl::StrCat(
      "anomalies ", Server(), " --key ", dir_,
      "/regulator.key --kind REFUSED_REQUEST --prove --note-key ", other_vkey, " ", ledger));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("does not verify with the pinned key"), std::string::npos) << out;
}

// Nobody has to poll: a subscription delivers an anomaly as it is written.
TEST_F(AuditE2eTest, ASubscriptionDeliversAnomaliesAsTheyAreWritten) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("SUB", 1, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const std::string code = issued.labels[0].code();
  ASSERT_NO_FATAL_FAILURE(Append(v1::COMMISSIONING, code, 1));
  auto audit = v1::AuditService::NewStub(ChannelFor("chemledger.v1.AuditService"));

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  AttachStreamCredentials(&context, api::kSubscribeAnomaliesMethod, *regulator_);
  std::unique_ptr<grpc::ClientReader<v1::Anomaly>> stream =
      audit->SubscribeAnomalies(&context, v1::ListAnomaliesRequest());
  absl::SleepFor(absl::Milliseconds(500));  // subscribed before the attempt

  v1::Event use = EventOf(v1::CONSUMING, code, 20);
  use.set_quantity_milli(30000);
  ASSERT_EQ(AppendEvent(*acme_operator_, use).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  v1::Anomaly anomaly;
  ASSERT_TRUE(stream->Read(&anomaly)) << stream->Finish().error_message();
  EXPECT_EQ(anomaly.kind(), v1::REFUSED_REQUEST);
  EXPECT_EQ(anomaly.refusal_kind(), v1::OVER_CONSUMPTION);
  EXPECT_EQ(anomaly.enterprise_uscc(), kAcme);
  context.TryCancel();
  (void)stream->Finish();
  // The server lets go of the slot when its loop next looks (every 200 ms).
  absl::SleepFor(absl::Seconds(1));

  // Four at once per actor; the fifth is refused.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::Anomaly>>> open;
  for (int i = 0; i < 5; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    AttachStreamCredentials(contexts.back().get(), api::kSubscribeAnomaliesMethod, *regulator_);
    open.push_back(audit->SubscribeAnomalies(contexts.back().get(), v1::ListAnomaliesRequest()));
    absl::SleepFor(absl::Milliseconds(200));
  }
  v1::Anomaly none;
  EXPECT_FALSE(open[4]->Read(&none));
  const grpc::Status fifth = open[4]->Finish();
  EXPECT_EQ(fifth.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << fifth.error_message();
  for (int i = 0; i < 4; ++i) {
    contexts[i]->TryCancel();
    (void)open[i]->Finish();
  }
  // Without credentials: refused.
  grpc::ClientContext bare;
  bare.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto refused = audit->SubscribeAnomalies(&bare, v1::ListAnomaliesRequest());
  EXPECT_FALSE(refused->Read(&none));
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A kind that is not one is refused at once, as ListAnomalies refuses it
  // (it held a slot and never sent anything).
  grpc::ClientContext unspecified;
  unspecified.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  AttachStreamCredentials(&unspecified, api::kSubscribeAnomaliesMethod, *regulator_);
  v1::ListAnomaliesRequest no_kind;
  no_kind.add_kinds(v1::ANOMALY_KIND_UNSPECIFIED);
  auto bad = audit->SubscribeAnomalies(&unspecified, no_kind);
  EXPECT_FALSE(bad->Read(&none));
  const grpc::Status bad_kind = bad->Finish();
  EXPECT_EQ(bad_kind.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad_kind.error_message();
  EXPECT_NE(bad_kind.error_message().find("kinds:"), std::string::npos) << bad_kind.error_message();
  // A filter this server does not know (a newer client's) is refused, not
  // ignored: the feed would be wider than asked.
  grpc::ClientContext newer;
  newer.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  AttachStreamCredentials(&newer, api::kSubscribeAnomaliesMethod, *regulator_);
  v1::ListAnomaliesRequest newer_filter;
  newer_filter.GetReflection()->MutableUnknownFields(&newer_filter)->AddLengthDelimited(60, "x");
  auto unknown = audit->SubscribeAnomalies(&newer, newer_filter);
  EXPECT_FALSE(unknown->Read(&none));
  const grpc::Status refused_filter = unknown->Finish();
  EXPECT_EQ(refused_filter.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << refused_filter.error_message();
  EXPECT_NE(refused_filter.error_message().find(
                "request: field number 60 (sent as length-delimited bytes) is not a field of "
                "chemledger.v1.ListAnomaliesRequest"),
            std::string::npos)
      << refused_filter.error_message();
  // The same for an export.
  grpc::ClientContext export_context;
  export_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  AttachStreamCredentials(&export_context, api::kExportEventsMethod, *regulator_);
  v1::ExportEventsRequest newer_export;
  newer_export.mutable_query()
      ->GetReflection()
      ->MutableUnknownFields(newer_export.mutable_query())
      ->AddVarint(70, 1);
  auto exported = audit->ExportEvents(&export_context, newer_export);
  v1::QueryBundlePart part;
  EXPECT_FALSE(exported->Read(&part));
  const grpc::Status refused_export = exported->Finish();
  EXPECT_EQ(refused_export.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << refused_export.error_message();
  EXPECT_NE(
      refused_export.error_message().find("request.query: field number 70 (sent as a varint)"),
      std::string::npos)
      << refused_export.error_message();
}

// A regulator reads, and holds goods, within its jurisdiction only: 福建
// (region 35) oversees Acme (region 350100), 北京 (region 11) does not; a
// national regulator oversees both.
TEST_F(AuditE2eTest, RegulatorsReadAndActWithinTheirJurisdiction) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const crypto::SigningKey fujian = crypto::SigningKey::Generate();
  const crypto::SigningKey beijing = crypto::SigningKey::Generate();
  for (const auto& [name, key, region] :
       {std::make_tuple("福建省应急管理厅", &fujian, "35"),
        std::make_tuple("北京市应急管理局", &beijing, "11")}) {
    v1::RegistryRequest r = Actor(name, v1::REGULATOR, "", *key);
    r.mutable_add_actor()->mutable_jurisdiction()->set_national(false);
    r.mutable_add_actor()->mutable_jurisdiction()->set_region_prefix(region);
    ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, r));
  }
  Issued issued = Issue(IssueRequest("JURIS", 2, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const std::string code = issued.labels[0].code();
  ASSERT_NO_FATAL_FAILURE(Append(v1::COMMISSIONING, code, 1));

  // A code's history and its audit bundle.
  v1::History history;
  EXPECT_TRUE(GetHistory(fujian, code, &history).ok());
  EXPECT_TRUE(GetHistory(*regulator_, code, &history).ok()) << "national";
  EXPECT_EQ(GetHistory(beijing, code, &history).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::GetHistoryBundleRequest bundle_request;
  bundle_request.set_code(code);
  v1::HistoryBundle bundle;
  EXPECT_TRUE(Read(fujian, api::kGetHistoryBundleMethod, bundle_request, &bundle).ok());
  grpc::Status refused = Read(beijing, api::kGetHistoryBundleMethod, bundle_request, &bundle);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("region 11"), std::string::npos) << refused.error_message();
  // What is at a site.
  v1::ListStockRequest stock;
  stock.set_enterprise_uscc(kAcme);
  stock.set_site("warehouse 1");
  v1::Stock listed;
  EXPECT_TRUE(Read(fujian, api::kListStockMethod, stock, &listed).ok());
  refused = Read(beijing, api::kListStockMethod, stock, &listed);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("outside your jurisdiction (region 11)"), std::string::npos)
      << refused.error_message();

  // A hold: by the regulator of the region, not by another.
  const auto hold = [&](const crypto::SigningKey& key, int n) {
    v1::Event e;
    e.set_event_id(absl::StrCat("juris-hold-", n));
    e.set_step(v1::HOLDING);
    e.add_codes(code);
    e.set_reason("安全检查");
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 10 + n);
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(kAcme);
    e.mutable_location()->set_site("warehouse 1");
    return AppendEvent(key, e);
  };
  refused = hold(beijing, 1);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("outside the jurisdiction"), std::string::npos)
      << refused.error_message();
  EXPECT_TRUE(hold(fujian, 2).ok());
}

// Each department reads what it supervises (registry/oversight.h): 交通运输
// waybills and vehicles, not packages or sites; 公安 controlled goods only
// (methanol is not); 市场监管 packages, not sites; and 交通运输 holds nothing.
TEST_F(AuditE2eTest, DepartmentsReadWhatTheySupervise) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  std::map<v1::Department, crypto::SigningKey> regulators;
  for (v1::Department d : {v1::TRANSPORT, v1::PUBLIC_SECURITY, v1::MARKET_REGULATION}) {
    regulators.emplace(d, crypto::SigningKey::Generate());
    v1::RegistryRequest r = Actor(v1::Department_Name(d), v1::REGULATOR, "", regulators.at(d));
    r.mutable_add_actor()->set_department(d);
    ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, r));
  }
  Issued issued = Issue(IssueRequest("DEPT", 1, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const std::string code = issued.labels[0].code();
  ASSERT_NO_FATAL_FAILURE(Append(v1::COMMISSIONING, code, 1));
  v1::History history;
  v1::ListStockRequest stock;
  stock.set_enterprise_uscc(kAcme);
  stock.set_site("warehouse 1");
  v1::Stock listed;
  const auto& transport = regulators.at(v1::TRANSPORT);
  const auto& police = regulators.at(v1::PUBLIC_SECURITY);
  const auto& market = regulators.at(v1::MARKET_REGULATION);
  EXPECT_EQ(GetHistory(transport, code, &history).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GetHistory(police, code, &history).error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << "methanol is not a controlled good";
  EXPECT_TRUE(GetHistory(market, code, &history).ok());
  grpc::Status refused = Read(transport, api::kListStockMethod, stock, &listed);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("交通运输"), std::string::npos) << refused.error_message();
  EXPECT_EQ(Read(market, api::kListStockMethod, stock, &listed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Read(*regulator_, api::kListStockMethod, stock, &listed).ok()) << "应急管理";
  v1::Event hold;
  hold.set_event_id("dept-hold");
  hold.set_step(v1::HOLDING);
  hold.add_codes(code);
  hold.set_reason("检查");
  hold.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 5);
  hold.set_event_time_offset_minutes(480);
  hold.mutable_location()->set_enterprise_uscc(kAcme);
  hold.mutable_location()->set_site("warehouse 1");
  refused = AppendEvent(transport, hold);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("does not hold or recall goods"), std::string::npos)
      << refused.error_message();
}

// The witness: it keeps each checkpoint that extends the one before
// (co-signed with its key), and raises the alarm when the server it watches
// serves a log that forked: here a copy of the deployment's data that took
// another event at the same size.
TEST_F(AuditE2eTest, TheWitnessCatchesAForkedLog) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("WITNESS", 2, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const std::string vkey = dir_ + "/data/note.vkey";
  const std::string state = dir_ + "/witness";
  ASSERT_EQ(RunShell("mkdir -p '" + state + "'").first, 0);
  ASSERT_TRUE(crypto::SaveSigningKey(*regulator_, dir_ + "/witness.key", {}).ok());
  const auto watch = [&] {
    return Chemaudit(absl::StrCat("watch ", Server("chemledger.v1.LedgerService"), " --note-key ", vkey, " --state ", state,
                                  " --key ", dir_, "/witness.key --once"));
  };
  auto [status, out] = watch();
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("first checkpoint kept"), std::string::npos) << out;
  ASSERT_NO_FATAL_FAILURE(Append(v1::COMMISSIONING, issued.labels[0].code(), 1));

  // The same data copied (as a rebuilt or restored store would be), then
  // the two go different ways at the same size.
  ASSERT_NO_FATAL_FAILURE(KillServer());
  ASSERT_EQ(RunShell("cp -a '" + dir_ + "/data' '" + dir_ + "/fork'").first, 0);
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_NO_FATAL_FAILURE(Append(v1::STORING, issued.labels[0].code(), 2));
  std::tie(status, out) = watch();
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("extends"), std::string::npos) << out;
  EXPECT_NE(out.find("co-signed (1 witnesses at this size)"), std::string::npos) << out;
  std::ifstream kept(state + "/latest.checkpoint");
  std::stringstream note;
  note << kept.rdbuf();
  const std::string witness_name = "witness/" + regulator_->key_id().ToString();
  EXPECT_NE(note.str().find("\u2014 " + witness_name + " "), std::string::npos) << note.str();

  // A client that requires k of n witnesses: the server serves the newest
  // checkpoint they co-signed, with their lines.
  const size_t at = out.find("witness key (for chemaudit checkpoint --witnesses): ");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string witness_vkey = out.substr(at + 52, out.find('\n', at) - at - 52);
  const crypto::SigningKey stranger = crypto::SigningKey::Generate();
  const std::string stranger_vkey =
      crypto::NoteVerifier::Create("witness/" + stranger.key_id().ToString(),
                                   stranger.verifying_key())->VerifierKeyString();
  std::ofstream(dir_ + "/witnesses") << witness_vkey << "\n" << stranger_vkey << "\n";
  std::tie(status, out) = Chemaudit(absl::StrCat("checkpoint ", Server("chemledger.v1.LedgerService"), " --note-key ", vkey,
                                                 " --out ", dir_, "/cosigned --witnesses ", dir_,
                                                 "/witnesses --require 1"));
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("co-signed by 1 of 2 witnesses"), std::string::npos) << out;
  std::tie(status, out) = Chemaudit(absl::StrCat("checkpoint ", Server("chemledger.v1.LedgerService"), " --note-key ", vkey,
                                                 " --out ", dir_, "/cosigned --witnesses ", dir_,
                                                 "/witnesses --require 2"));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("no checkpoint kept is co-signed by 2 of the witnesses asked for"),
            std::string::npos)
      << out;
  // One witness listed twice does not count twice.
  std::ofstream(dir_ + "/twice") << witness_vkey << "\n" << witness_vkey << "\n";
  std::tie(status, out) = Chemaudit(
      absl::StrCat("checkpoint ", Server("chemledger.v1.LedgerService"), " --note-key ", vkey,
                   " --out ", dir_, "/twice.checkpoint --witnesses ", dir_, "/twice --require 2"));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("is listed twice"), std::string::npos) << out;

  // An acknowledged co-signature survives the server's kill -9.
  ASSERT_NO_FATAL_FAILURE(KillServer());
  ASSERT_NO_FATAL_FAILURE(StartServer());
  std::tie(status, out) = Chemaudit(absl::StrCat("checkpoint ", Server("chemledger.v1.LedgerService"), " --note-key ", vkey,
                                                 " --out ", dir_, "/cosigned --witnesses ", dir_,
                                                 "/witnesses --require 1"));
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("co-signed by 1 of 2 witnesses"), std::string::npos) << out;

  // A regulator's kept checkpoint (chemaudit checkpoint), before the fork.
  const std::string plain = dir_ + "/plain.checkpoint";
  std::tie(status, out) =
      Chemaudit(absl::StrCat("checkpoint ", Server("chemledger.v1.LedgerService"), " --note-key ",
                             vkey, " --out ", plain));
  ASSERT_EQ(status, 0) << out;
  std::stringstream before_fork;
  before_fork << std::ifstream(plain).rdbuf();

  ASSERT_NO_FATAL_FAILURE(KillServer());
  ASSERT_EQ(RunShell("mv '" + dir_ + "/data' '" + dir_ + "/data-a' && mv '" + dir_ + "/fork' '" +
                     dir_ + "/data'").first, 0);
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_NO_FATAL_FAILURE(Append(v1::COMMISSIONING, issued.labels[1].code(), 3));
  // The kept checkpoint is not replaced by the forked log's: the command
  // fails and the file stays, the evidence.
  std::tie(status, out) =
      Chemaudit(absl::StrCat("checkpoint ", Server("chemledger.v1.LedgerService"), " --note-key ",
                             vkey, " --out ", plain));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("the log forked"), std::string::npos) << out;
  EXPECT_NE(out.find("not overwritten"), std::string::npos) << out;
  std::stringstream after_fork;
  after_fork << std::ifstream(plain).rdbuf();
  EXPECT_EQ(after_fork.str(), before_fork.str());
  std::tie(status, out) = watch();
  EXPECT_EQ(status, 3) << out;
  EXPECT_NE(out.find("ALARM: the log forked"), std::string::npos) << out;
  EXPECT_EQ(RunShell("test -s '" + state + "/ALARM'").first, 0);

  // A kept checkpoint that does not verify (torn, or changed) is an alarm
  // too: the witness does not start again from the server's word.
  ASSERT_EQ(
      RunShell("rm '" + state + "/ALARM' && head -c 40 '" + state + "/latest.checkpoint' > '" +
               state + "/torn' && mv '" + state + "/torn' '" + state + "/latest.checkpoint'")
          .first,
      0);
  std::tie(status, out) = watch();
  EXPECT_EQ(status, 3) << out;
  EXPECT_NE(out.find("ALARM: the kept checkpoint"), std::string::npos) << out;
  EXPECT_EQ(RunShell("test -s '" + state + "/ALARM'").first, 0);
}

// A test deployment on a test clock: time moves when the test says, so an
// event a month ahead of the real clock is recorded once the clock gets
// there. A real deployment refuses the clock.
class TestClockE2eTest : public AuditE2eTest {
 protected:
  std::string ClockFile() { return dir_ + "/clock"; }
  void SetClock(absl::Time t) {
    std::ofstream(ClockFile()) << absl::ToUnixSeconds(t) << "\n";
  }
  std::vector<std::string> InitFlags() override {
    SetClock(absl::Now());
    return {"--test-deployment", "--test-clock", ClockFile()};
  }
  std::vector<std::string> ServeFlags() override { return {"--test-clock", ClockFile()}; }
};

TEST_F(TestClockE2eTest, TimeMovesWhenTheTestSays) {
  grpc::ClientContext context;
  v1::Deployment deployment;
  ASSERT_TRUE(registry_->GetDeployment(&context, {}, &deployment).ok());
  EXPECT_TRUE(deployment.test_deployment());
  // The rules the log's latest entry (genesis) was checked under: this
  // server's, the newest.
  EXPECT_EQ(deployment.latest_rules_epoch(), journal::kCurrentRulesEpoch);

  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("CLOCK", 1, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const std::string code = issued.labels[0].code();
  ASSERT_NO_FATAL_FAILURE(Append(v1::COMMISSIONING, code, 1));

  // Stored a month from now: in the future for the server's clock.
  const absl::Time month = absl::Now() + absl::Hours(24 * 30);
  v1::Event store;
  store.set_event_id("stored-next-month");
  store.set_step(v1::STORING);
  store.add_codes(code);
  store.mutable_event_time()->set_seconds(absl::ToUnixSeconds(month));
  store.set_event_time_offset_minutes(480);
  store.mutable_location()->set_enterprise_uscc(kAcme);
  store.mutable_location()->set_site("warehouse 1");
  grpc::Status refused = AppendEvent(*acme_operator_, store);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("is in the future"), std::string::npos)
      << refused.error_message();

  // A month passes; the server, restarted, keeps the test clock.
  SetClock(month + absl::Minutes(1));
  ASSERT_NO_FATAL_FAILURE(StartServer());
  store.set_event_id("stored-next-month-2");
  const grpc::Status accepted = AppendEvent(*acme_operator_, store);
  EXPECT_TRUE(accepted.ok()) << accepted.error_message();

  // Refused on a deployment that is not a test deployment, before anything
  // is written; and at init without --test-deployment.
  ASSERT_TRUE(crypto::SaveSigningKey(*admin_, dir_ + "/real-admin.key", {}).ok());
  auto [status, out] = RunChemledgerd({"init", "--data", dir_ + "/real", "--deployment",
                                       "real.test", "--resolver", kResolver, "--admin-key",
                                       dir_ + "/real-admin.key"});
  ASSERT_EQ(status, 0) << out;
  std::tie(status, out) =
      RunChemledgerd({"serve", "--data", dir_ + "/real", "--listen", "127.0.0.1:0",
                      "--plaintext", "--http-listen", "none", "--test-clock", ClockFile()});
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("is not a test deployment"), std::string::npos) << out;
  std::tie(status, out) = RunChemledgerd({"init", "--data", dir_ + "/real2", "--deployment",
                                          "real.test", "--resolver", kResolver, "--admin-key",
                                          dir_ + "/real-admin.key", "--test-clock", ClockFile()});
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("--test-clock: for --test-deployment only"), std::string::npos) << out;
}

}  // namespace
}  // namespace chemledger::testing
