// chemledgerd's metrics (services/chemledgerd/metrics.h) against a real
// server: gRPC calls by method and code, the journal's batches, the log's
// and store's sizes, HTTP requests by route, scraped over HTTP in Prometheus
// text format.

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include <iterator>
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/e2e_server.h"

namespace chemledger::testing {
namespace {

class MetricsE2eTest : public ChemledgerdE2eTest {
 protected:
  void SetUp() override {
    if (ClusterShape()) GTEST_SKIP() << "chemledgerd's flags (the cluster's: services/cluster)";
    ChemledgerdE2eTest::SetUp();
  }
  // In the test's own directory (runs of the test may share TEST_TMPDIR).
  std::string PortFile() { return dir_ + "/metrics.port"; }
  std::string AccessLogFile() { return dir_ + "/access.log"; }
  std::vector<std::string> ServeFlags() override {
    return {"--metrics-listen", "127.0.0.1:0", "--metrics-port-file", PortFile(),
            "--access-log", AccessLogFile()};
  }
  std::string Scrape() {
    int port = 0;
    std::ifstream(PortFile()) >> port;
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
  ASSERT_TRUE(pages.Get("/console/"));
  // The refusal is recorded in the log after its answer: wait for it.
  for (uint64_t size = 0; size != RawLogSize();) {
    size = RawLogSize();
    absl::SleepFor(absl::Milliseconds(300));
  }

  const std::string text = Scrape();
  EXPECT_GT(Sample(text, "chemledger_grpc_requests_total",
                   {"method=\"/chemledger.v1.RegistryService/Submit\"", "code=\"OK\""}),
            0)
      << text;
  EXPECT_EQ(Sample(text, "chemledger_grpc_requests_total",
                   {"method=\"/chemledger.v1.RegistryService/Submit\"",
                    "code=\"INVALID_ARGUMENT\""}),
            1)
      << text;
  EXPECT_EQ(Sample(text, "chemledger_grpc_request_seconds_count",
                   {"method=\"/chemledger.v1.RegistryService/Submit\"",
                    "code=\"INVALID_ARGUMENT\""}),
            1)
      << text;
  EXPECT_GT(Sample(text, "chemledger_journal_batches_total"), 0) << text;
  EXPECT_GT(Sample(text, "chemledger_journal_commit_seconds_count"), 0) << text;
  EXPECT_EQ(Sample(text, "chemledger_log_entries"), static_cast<double>(RawLogSize())) << text;
  EXPECT_GT(Sample(text, "chemledger_store_bytes"), 0) << text;
  // Slots: none in use now, and their bounds.
  EXPECT_EQ(Sample(text, "chemledger_slots_in_use", {"slot=\"issuance\""}), 0) << text;
  EXPECT_EQ(Sample(text, "chemledger_slots", {"slot=\"issuance\""}), 4) << text;
  EXPECT_GT(Sample(text, "chemledger_slots", {"slot=\"ledger_streams\""}), 0) << text;
  EXPECT_EQ(Sample(text, "chemledger_slots", {"slot=\"anomaly_subscriptions\""}), 256) << text;
  EXPECT_EQ(Sample(text, "chemledger_slots_in_use", {"slot=\"exports\""}), 0) << text;
  EXPECT_EQ(Sample(text, "chemledger_http_requests_total", {"route=\"other\"", "status=\"200\""}),
            1)
      << text;
  EXPECT_EQ(Sample(text, "chemledger_http_requests_total", {"route=\"console\"", "status=\"200\""}),
            1)
      << text;
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
  httplib::Client pages("127.0.0.1", http_port_);
  ASSERT_TRUE(pages.Get("/console/enter?ticket=SECRET-TICKET"));
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
    std::ifstream in(AccessLogFile());
    log.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
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
