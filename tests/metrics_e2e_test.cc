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
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/e2e_server.h"

namespace chemledger::testing {
namespace {

class MetricsE2eTest : public ChemledgerdE2eTest {
 protected:
  std::string PortFile() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    return std::string(tmp != nullptr ? tmp : "/tmp") + "/metrics.port";
  }
  std::vector<std::string> ServeFlags() override {
    return {"--metrics-listen", "127.0.0.1:0", "--metrics-port-file", PortFile()};
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
  EXPECT_GT(Sample(text, "chemledger_grpc_request_seconds_count",
                   {"method=\"/chemledger.v1.RegistryService/Submit\""}),
            0)
      << text;
  EXPECT_GT(Sample(text, "chemledger_journal_batches_total"), 0) << text;
  EXPECT_GT(Sample(text, "chemledger_journal_commit_seconds_count"), 0) << text;
  EXPECT_EQ(Sample(text, "chemledger_log_entries"), static_cast<double>(RawLogSize())) << text;
  EXPECT_GT(Sample(text, "chemledger_store_bytes"), 0) << text;
  EXPECT_EQ(Sample(text, "chemledger_http_requests_total", {"route=\"other\"", "status=\"200\""}),
            1)
      << text;
  EXPECT_EQ(Sample(text, "chemledger_http_requests_total", {"route=\"console\"", "status=\"200\""}),
            1)
      << text;
}

}  // namespace
}  // namespace chemledger::testing
