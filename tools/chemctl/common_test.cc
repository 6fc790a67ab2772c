#include "tools/chemctl/common.h"

#include <string>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace chemledger::chemctl {
namespace {

// A write refused by a rule was not recorded: the server's word as it is.
// One that ended without an answer may have been: the error says so and
// how to send the same request again.
TEST(WriteErrorTest, SaysHowToResendOnlyWhenTheOutcomeIsUnknown) {
  const absl::Status refused =
      WriteError(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "codes[0]: not issued"),
                 "--request-id r1");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.message(), "server: codes[0]: not issued");
  EXPECT_FALSE(OutcomeUnknown(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "")));
  EXPECT_FALSE(OutcomeUnknown(grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "")));
  for (grpc::StatusCode unknown :
       {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED,
        grpc::StatusCode::CANCELLED, grpc::StatusCode::UNKNOWN, grpc::StatusCode::INTERNAL}) {
    EXPECT_TRUE(OutcomeUnknown(grpc::Status(unknown, "")));
    const absl::Status s = WriteError(grpc::Status(unknown, "Socket closed"), "--request-id r1");
    EXPECT_EQ(static_cast<int>(s.code()), static_cast<int>(unknown));
    const std::string message(s.message());
    EXPECT_NE(message.find("server: Socket closed; the outcome is unknown"), std::string::npos)
        << message;
    EXPECT_NE(message.find("Send the same request again with --request-id r1"), std::string::npos)
        << message;
  }
}

}  // namespace
}  // namespace chemledger::chemctl
