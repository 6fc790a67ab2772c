#include "services/common/grpc_status.h"

#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace chemledger {
namespace {

TEST(PublicStatusTest, ARefusalReachesTheCallerAsWritten) {
  for (const absl::Status& refusal :
       {absl::InvalidArgumentError("events[0].quantity: must be positive"),
        absl::PermissionDeniedError("signer: not of the enterprise"),
        absl::NotFoundError("code: no such label"),
        absl::FailedPreconditionError("code: the package is held"),
        absl::UnavailableError("journal: the store is read-only after a failed commit"),
        absl::ResourceExhaustedError("too many requests")}) {
    testing::internal::CaptureStderr();
    EXPECT_EQ(PublicStatus(refusal), refusal);
    const grpc::Status sent = ToGrpcStatus(refusal);
    EXPECT_EQ(static_cast<int>(sent.error_code()), static_cast<int>(refusal.code()));
    EXPECT_EQ(sent.error_message(), refusal.message());
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "") << "a refusal is not the operator's";
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(PublicStatusTest, AServerFaultIsLoggedAndTheCallerGetsTheCodeAndAReferenceOnly) {
  for (const absl::Status& fault :
       {absl::InternalError("store: IO error: /var/lib/chemledger/store/000123.ldb: EIO"),
        absl::DataLossError("code record c/CL1/x under /var/lib/chemledger is malformed"),
        absl::UnknownError("exception in /var/lib/chemledger")}) {
    testing::internal::CaptureStderr();
    const grpc::Status sent = ToGrpcStatus(fault);
    const std::string log = testing::internal::GetCapturedStderr();
    EXPECT_EQ(static_cast<int>(sent.error_code()), static_cast<int>(fault.code()));
    EXPECT_FALSE(absl::StrContains(sent.error_message(), "/var/lib")) << sent.error_message();
    EXPECT_TRUE(absl::StartsWith(sent.error_message(), "the server failed (" +
                                                           absl::StatusCodeToString(fault.code()) +
                                                           "); its log has the cause under "
                                                           "reference "))
        << sent.error_message();
    const std::string reference = sent.error_message().substr(sent.error_message().rfind(' ') + 1);
    ASSERT_FALSE(reference.empty());
    // The log names the reference, the code and the whole message, on one line.
    EXPECT_TRUE(absl::StrContains(
        log, absl::StrCat(": ", reference, ": ", absl::StatusCodeToString(fault.code()), ": ",
                          fault.message(), "\n")))
        << log;
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  }
}

TEST(PublicStatusTest, EachFaultHasAReferenceOfItsOwnAndALogLineOfItsOwn) {
  testing::internal::CaptureStderr();
  const absl::Status first = PublicStatus(absl::InternalError("first\nforged: second line"));
  const absl::Status second = PublicStatus(absl::InternalError("again"));
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(first.message(), second.message());
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 2) << log;
  EXPECT_TRUE(absl::StrContains(log, "first\\nforged: second line\n")) << log;
}

TEST(PublicStatusTest, OnlyInternalUnknownAndDataLossAreFaults) {
  EXPECT_TRUE(IsServerFault(absl::StatusCode::kInternal));
  EXPECT_TRUE(IsServerFault(absl::StatusCode::kUnknown));
  EXPECT_TRUE(IsServerFault(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(IsServerFault(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(IsServerFault(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(IsServerFault(absl::StatusCode::kOk));
}

TEST(GrpcStatusTest, FromGrpcStatusKeepsWhatTheServerSent) {
  const absl::Status back =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::DATA_LOSS, "the server failed (DATA_LOSS)"));
  EXPECT_EQ(back.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(back.message(), "the server failed (DATA_LOSS)");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::INVALID_ARGUMENT), "INVALID_ARGUMENT");
  EXPECT_EQ(GrpcCodeName(static_cast<grpc::StatusCode>(99)), "UNKNOWN");
}

}  // namespace
}  // namespace chemledger
