// chemledgerd stops on SIGTERM or SIGINT (docs/deployment.md): once it
// serves, gracefully (it says so, finishes, exits 0, and everything it
// acknowledged is there at the next start); the stop while it starts is in
// lease_takeover_test (a standby waiting for the writer's lease) and
// services/common/stop_signals_test.

#include <signal.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e_server.h"

namespace chemledger::testing {
namespace {

class StopSignalsE2eTest : public ChemledgerdE2eTest {
 protected:
  bool RunsAsCluster() override { return false; }
};

TEST_F(StopSignalsE2eTest, AServingServerStopsGracefullyAndKeepsWhatItAcknowledged) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  for (const int signal : {SIGTERM, SIGINT}) {
    const uint64_t before = RawLogSize();
    ASSERT_NO_FATAL_FAILURE(SubmitOk(
        *admin_, Enterprise(signal == SIGTERM ? "91440300708461136T" : "91310000132200821H")));
    ASSERT_TRUE(server_->Kill(signal).ok());
    bool eof = false;
    const std::vector<std::string> lines =
        server_->ReadLines(absl::Now() + absl::Seconds(20), &eof);
    ASSERT_TRUE(eof) << "still serving 20 s after signal " << signal;
    const std::string said =
        std::string("chemledgerd: ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT") + ", stopping";
    bool stopping = false;
    for (const std::string& line : lines) stopping = stopping || line == said;
    EXPECT_TRUE(stopping) << "no '" << said << "' line";
    absl::StatusOr<int> status = server_->Wait();
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
    ASSERT_NO_FATAL_FAILURE(StartServer());
    EXPECT_EQ(RawLogSize(), before + 1);
  }
}

}  // namespace
}  // namespace chemledger::testing
