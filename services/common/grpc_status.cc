#include "services/common/grpc_status.h"

#include <errno.h>
#include <stdio.h>

#include <atomic>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace chemledger {
namespace {

// "1764615081-17": the second of the process's first reference (its first
// server fault) and a count, so references from two runs of a server do not
// meet in one log.
std::string NextReference() {
  static const int64_t started = absl::ToUnixSeconds(absl::Now());
  static std::atomic<uint64_t> count{0};
  return absl::StrCat(started, "-", count.fetch_add(1, std::memory_order_relaxed) + 1);
}

}  // namespace

bool IsServerFault(absl::StatusCode code) {
  return code == absl::StatusCode::kInternal || code == absl::StatusCode::kUnknown ||
         code == absl::StatusCode::kDataLoss;
}

absl::Status PublicStatus(const absl::Status& status) {
  if (!IsServerFault(status.code())) return status;
  const std::string reference = NextReference();
  const std::string code = absl::StatusCodeToString(status.code());
  // One line, written with one call: a message's newline must not start a
  // line of its own in the log.
  const std::string line =
      absl::StrCat(program_invocation_short_name, ": ", reference, ": ", code, ": ",
                   absl::StrReplaceAll(status.message(), {{"\n", "\\n"}, {"\r", "\\r"}}), "\n");
  fwrite(line.data(), 1, line.size(), stderr);
  fflush(stderr);
  return absl::Status(status.code(),
                      absl::StrCat("the server failed (", code,
                                   "); its log has the cause under reference ", reference));
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const absl::Status reported = PublicStatus(status);
  return grpc::Status(static_cast<grpc::StatusCode>(reported.code()),
                      std::string(reported.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

std::string GrpcCodeName(grpc::StatusCode code) {
  const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? "UNKNOWN" : name;
}

}  // namespace chemledger
