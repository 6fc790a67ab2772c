#include "web/scan_server.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "testing/test_ledger.h"

namespace chemledger::web {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;

// A second server on the port of one still running is refused (httplib's
// default SO_REUSEPORT would have let it take half of the connections),
// and the first one goes on serving.
TEST(ScanServerTest, APortInUseIsRefusedNotShared) {
  std::unique_ptr<TestLedger> t = TestLedger::Create("scan_server", TestKey(1));
  ASSERT_NE(t, nullptr);
  ScanServer::Options options;
  options.listen = "127.0.0.1:0";
  options.threads = 2;
  absl::StatusOr<std::unique_ptr<ScanServer>> first = ScanServer::Start(&t->client(), options);
  ASSERT_TRUE(first.ok()) << first.status();
  const int port = (*first)->port();
  ASSERT_GT(port, 0);
  options.listen = absl::StrCat("127.0.0.1:", port);
  absl::StatusOr<std::unique_ptr<ScanServer>> second = ScanServer::Start(&t->client(), options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(second.status().message(),
            absl::StrCat("cannot listen on 127.0.0.1:", port,
                         ": another server listens there (stop it, or choose another port)"));
  httplib::Client client("127.0.0.1", port);
  for (int i = 0; i < 8; ++i) {
    httplib::Result got = client.Get("/robots.txt");
    ASSERT_TRUE(got) << httplib::to_string(got.error());
    EXPECT_EQ(got->status, 200);
  }
}

}  // namespace
}  // namespace chemledger::web
