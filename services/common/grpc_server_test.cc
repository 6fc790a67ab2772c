#include "services/common/grpc_server.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/grpc_health.h"

namespace chemledger {
namespace {

cli::Args Parse(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(argv, {{"max-threads"}, {}});
  EXPECT_TRUE(args.ok()) << args.status();
  return args.ok() ? *std::move(args) : cli::Args();
}

TEST(GrpcServerTest, MaxThreadsIsEightToTenThousand) {
  EXPECT_EQ(*ReadMaxThreads(Parse({})), 1024);
  EXPECT_EQ(*ReadMaxThreads(Parse({"--max-threads", "8"})), 8);
  EXPECT_EQ(*ReadMaxThreads(Parse({"--max-threads", "10000"})), 10000);
  for (const char* bad : {"7", "10001", "many"}) {
    absl::StatusOr<int> read = ReadMaxThreads(Parse({"--max-threads", bad}));
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(read.status().message().find("--max-threads"), std::string::npos) << read.status();
  }
}

TEST(GrpcServerTest, StartsOnAFreePortAndNamesTheFlagWhenItCannotListen) {
  GrpcServerOptions options;
  options.name = "test";
  options.listen = "127.0.0.1:0";
  options.credentials = grpc::InsecureServerCredentials();
  absl::StatusOr<StartedGrpcServer> started = StartGrpcServer(std::move(options), "--listen");
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_GT(started->port, 0);
  // The health service answers on it.
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", started->port),
                                     grpc::InsecureChannelCredentials());
  EXPECT_EQ(testing::CheckHealth(channel), testing::kServing);
  // The same port again: taken.
  GrpcServerOptions again;
  again.name = "test";
  again.listen = absl::StrCat("127.0.0.1:", started->port);
  again.credentials = grpc::InsecureServerCredentials();
  absl::StatusOr<StartedGrpcServer> refused = StartGrpcServer(std::move(again), "--internal-listen");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(refused.status().message(),
            absl::StrCat("--internal-listen: cannot listen on 127.0.0.1:", started->port));
  started->server->Shutdown();
}

}  // namespace
}  // namespace chemledger
