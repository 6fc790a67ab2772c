// The metrics (services/chemledgerd/metrics.h) against real servers, in
// both shapes: gRPC calls by method and code, the journal's batches, the
// log's and store's sizes, cache lookups, slots, HTTP requests by route,
// scraped over HTTP in Prometheus text format from chemledgerd, or in the
// cluster shape from the process that serves each (ledgerd: the registry
// and the journal; labeld: issuance; verifyd: the scan pages; auditd: the
// console and the audit's slots). And the access log's lines.

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/e2e_server.h"

namespace chemledger::testing {
namespace {

class MetricsE2eTest : public ChemledgerdE2eTest {
 protected:
  // In the test's own directory (runs of the test may share TEST_TMPDIR).
  std::string PortFile() { return dir_ + "/metrics.port"; }
  std::string AccessLogFile() { return dir_ + "/access.log"; }
  // The access log's lines: chemledgerd's, or those of every process of the
  // cluster.
  std::string ReadAccessLogs() {
    std::string all;
    for (const std::string& file :
         ClusterShape() ? std::vector<std::string>{AccessLogFile() + ".ledgerd",
                                                   AccessLogFile() + ".verifyd",
                                                   AccessLogFile() + ".auditd"}
                        : std::vector<std::string>{AccessLogFile()}) {
      std::ifstream in(file);
      all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return all;
  }
  std::vector<std::string> ServeFlags() override {
    return {"--metrics-listen", "127.0.0.1:0", "--metrics-port-file", PortFile(),
            "--access-log", AccessLogFile()};
  }
  // The metrics of chemledgerd, or in the cluster shape of `process`.
  std::string Scrape(const std::string& process) {
    const std::string port_file =
        ClusterShape() ? absl::StrCat(PortFile(), ".", process) : PortFile();
    int port = 0;
    for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
         port == 0 && absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(20))) {
      std::ifstream(port_file) >> port;
    }
    EXPECT_NE(port, 0) << "no metrics port in " << port_file;
    httplib::Client client("127.0.0.1", port);
    httplib::Result r = client.Get("/metrics");
    EXPECT_TRUE(r && r->status == 200);
    return r ? r->body : "";
  }
  // The value of the sample whose line starts with `name` and holds every
  // one of `labels`; -1 if none.
  static double Sample(const std::string& text, const std::string& name,
                       const std::vector<std::string>& labels = {}) {
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (!absl::StartsWith(line, name + "{") && !absl::StartsWith(line, name + " ")) continue;
      bool all = true;
      for (const std::string& l : labels) all = all && absl::StrContains(line, l);
      if (!all) continue;
      double v = 0;
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) return v;
    }
    return -1;
  }
};

TEST_F(MetricsE2eTest, CallsBatchesAndSizesAreCounted) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  // A refused write, counted by its code.
  v1::RegistryRequest bad = Enterprise("not a uscc");
  v1::SubmitResponse response;
  EXPECT_FALSE(Submit(Signed(*admin_, bad), &response).ok());
  httplib::Client pages("127.0.0.1", http_port_);
  ASSERT_TRUE(pages.Get("/"));
  httplib::Client console("127.0.0.1", ConsolePort());
  ASSERT_TRUE(console.Get("/console/"));
  // The refusal is recorded in the log after its answer: wait for it.
  for (uint64_t size = 0; size != RawLogSize();) {
    size = RawLogSize();
    absl::SleepFor(absl::Milliseconds(300));
  }

  // The registry and the journal: chemledgerd's, or ledgerd's.
  const std::string ledger = Scrape("ledgerd");
  EXPECT_GT(Sample(ledger, "chemledger_grpc_requests_total",
                   {"method=\"/chemledger.v1.RegistryService/Submit\"", "code=\"OK\""}),
            0)
      << ledger;
  EXPECT_EQ(Sample(ledger, "chemledger_grpc_requests_total",
                   {"method=\"/chemledger.v1.RegistryService/Submit\"",
                    "code=\"INVALID_ARGUMENT\""}),
            1)
      << ledger;
  EXPECT_EQ(Sample(ledger, "chemledger_grpc_request_seconds_count",
                   {"method=\"/chemledger.v1.RegistryService/Submit\"",
                    "code=\"INVALID_ARGUMENT\""}),
            1)
      << ledger;
  EXPECT_GT(Sample(ledger, "chemledger_journal_batches_total"), 0) << ledger;
  // The refused submission's record reached the log.
  EXPECT_EQ(Sample(ledger, "chemledger_refusal_records_total", {"outcome=\"recorded\""}), 1)
      << ledger;
  EXPECT_EQ(Sample(ledger, "chemledger_refusal_records_total", {"outcome=\"dropped\""}), 0)
      << ledger;
  // No site crossed a threshold: the major hazard alert recorder is there,
  // with nothing recorded and nothing failed.
  EXPECT_EQ(Sample(ledger, "chemledger_major_hazard_alerts_total", {"outcome=\"failed\""}), 0)
      << ledger;
  EXPECT_EQ(Sample(ledger, "chemledger_major_hazard_alerts_waiting"), 0) << ledger;
  EXPECT_GT(Sample(ledger, "chemledger_journal_commit_seconds_count"), 0) << ledger;
  EXPECT_EQ(Sample(ledger, "chemledger_log_entries"), static_cast<double>(RawLogSize())) << ledger;
  EXPECT_GT(Sample(ledger, "chemledger_store_bytes"), 0) << ledger;
  // Every write checks its signer's actor record: after the first, from the
  // journal's cache.
  EXPECT_GT(Sample(ledger, "chemledger_cache_lookups_total",
                   {"cache=\"sequencer_state\"", "result=\"hit\""}),
            0)
      << ledger;
  EXPECT_GT(Sample(ledger, "chemledger_cache_lookups_total",
                   {"cache=\"sequencer_state\"", "result=\"miss\""}),
            0)
      << ledger;
  EXPECT_GT(Sample(ledger, "chemledger_slots", {"slot=\"ledger_streams\""}), 0) << ledger;
  // Slots, none in use now, and their bounds: issuance (labeld's), the
  // audit's (auditd's).
  const std::string labels = Scrape("labeld");
  EXPECT_EQ(Sample(labels, "chemledger_slots_in_use", {"slot=\"issuance\""}), 0) << labels;
  EXPECT_EQ(Sample(labels, "chemledger_slots", {"slot=\"issuance\""}), 4) << labels;
  const std::string audit = Scrape("auditd");
  EXPECT_EQ(Sample(audit, "chemledger_slots", {"slot=\"anomaly_subscriptions\""}), 256) << audit;
  EXPECT_EQ(Sample(audit, "chemledger_slots_in_use", {"slot=\"exports\""}), 0) << audit;
  // HTTP requests by route: the scan server's (verifyd's), the console's
  // (auditd's).
  const std::string scans = Scrape("verifyd");
  EXPECT_EQ(Sample(scans, "chemledger_http_requests_total", {"route=\"other\"", "status=\"200\""}),
            1)
      << scans;
  EXPECT_EQ(Sample(audit, "chemledger_http_requests_total", {"route=\"console\"", "status=\"200\""}),
            1)
      << audit;
  // The access log's lines (written by a thread of its own): every call so
  // far had one, none dropped.
  EXPECT_GT(Sample(ledger, "chemledger_access_log_lines_total", {"outcome=\"written\""}), 0)
      << ledger;
  EXPECT_EQ(Sample(ledger, "chemledger_access_log_lines_total", {"outcome=\"dropped\""}), 0)
      << ledger;
  if (ClusterShape()) {
    // A personality's caches of ledgerd's reads are counted (the row is
    // there, whatever its count so far).
    EXPECT_GE(Sample(audit, "chemledger_cache_lookups_total",
                     {"cache=\"ledger_state\"", "result=\"miss\""}),
              0)
        << audit;
  }
}

// A hang-up (a reload, a log rotation's postrotate) stops no process: the
// server keeps serving, reads and writes.
TEST_F(MetricsE2eTest, AHangUpDoesNotStopTheServer) {
  SignalServer(SIGHUP);
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  EXPECT_GT(LogSize(), 1u);
}

// The access log: a JSON object a line, with the request id (the caller's,
// sent back to it) and the signer's key id; no secrets.
TEST_F(MetricsE2eTest, TheAccessLogSaysWhoCalledWhatWithTheRequestId) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  v1::RegistryRequest bad = Enterprise("not a uscc");
  v1::SubmitResponse response;
  grpc::ClientContext context;
  context.AddMetadata("x-request-id", "walk-0001");
  const grpc::Status refused = registry_->Submit(&context, Signed(*admin_, bad), &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const auto& sent_back = context.GetServerInitialMetadata();
  auto id = sent_back.find("x-request-id");
  ASSERT_NE(id, sent_back.end());
  EXPECT_EQ(std::string(id->second.data(), id->second.size()), "walk-0001");
  httplib::Client console("127.0.0.1", ConsolePort());
  ASSERT_TRUE(console.Get("/console/enter?ticket=SECRET-TICKET"));
  httplib::Client pages("127.0.0.1", http_port_);
  // An HTTP request's id: the client's when sane, sent back; and a path that
  // is not UTF-8 still makes a JSON line.
  auto answered = pages.Get("/walk-page", {{"X-Request-Id", "page-0002"}});
  ASSERT_TRUE(answered);
  EXPECT_EQ(answered->get_header_value("X-Request-Id"), "page-0002");
  answered = pages.Get("/bad\xff\xfeutf8", {{"X-Request-Id", "has a space"}});
  ASSERT_TRUE(answered);
  EXPECT_EQ(answered->get_header_value("X-Request-Id").size(), 16u);

  // Lines are written when calls end; the last one may trail a moment.
  std::string log;
  for (int tries = 0; tries < 50; ++tries) {
    log = ReadAccessLogs();
    // (A call's line is written when the server is done with it, which may
    // be a moment after its answer reached the client.)
    if (absl::StrContains(log, "\"route\":\"console\"") &&
        absl::StrContains(log, "walk-0001") && absl::StrContains(log, "\\ufffd")) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::string refused_line;
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    ++lines;
    EXPECT_TRUE(absl::StartsWith(line, "{\"time\":\"") && absl::EndsWith(line, "}")) << line;
    if (absl::StrContains(line, "\"request_id\":\"walk-0001\"")) refused_line = std::string(line);
  }
  EXPECT_GT(lines, 5) << log;
  EXPECT_NE(refused_line.find("\"method\":\"/chemledger.v1.RegistryService/Submit\""),
            std::string::npos)
      << refused_line;
  EXPECT_NE(refused_line.find("\"code\":\"INVALID_ARGUMENT\""), std::string::npos) << refused_line;
  EXPECT_NE(refused_line.find(absl::StrCat("\"key_id\":\"", admin_->key_id().ToString(), "\"")),
            std::string::npos)
      << refused_line;
  EXPECT_NE(refused_line.find("\"payload_type\":\"application/vnd.chemledger.registry.v1+protobuf\""),
            std::string::npos)
      << refused_line;
  EXPECT_NE(log.find("\"request_id\":\"page-0002\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"path\":\"/bad\\ufffd\\ufffdutf8\""), std::string::npos) << log;
  // The console ticket in the query string is never logged.
  EXPECT_NE(log.find("\"path\":\"/console/enter\""), std::string::npos) << log;
  EXPECT_EQ(log.find("SECRET-TICKET"), std::string::npos) << log;
}

}  // namespace
}  // namespace chemledger::testing
