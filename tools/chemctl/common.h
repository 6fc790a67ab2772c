// Helpers shared by chemctl's commands: reading dates, keys and files from
// the command line, and talking to a chemledgerd server.

#ifndef CHEMLEDGER_TOOLS_CHEMCTL_COMMON_H_
#define CHEMLEDGER_TOOLS_CHEMCTL_COMMON_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "crypto/keys.h"
#include "grpcpp/channel.h"
#include "tools/cli/args.h"
#include "tools/cli/key_args.h"

namespace chemledger::chemctl {

// A date "YYYY-MM-DD"; InvalidArgument naming `flag` otherwise.
absl::StatusOr<absl::CivilDay> DayArg(absl::string_view flag, absl::string_view text);

// Writes `bytes` to `path` (replacing it).
absl::Status WriteFile(const std::string& path, const std::string& bytes);

// The flags every server command takes: --server HOST:PORT (default
// 127.0.0.1:7443) and --tls-ca FILE (TLS with that root; plaintext without).
inline constexpr const char* kServerFlags[] = {"server", "tls-ca"};

// A channel to the server the flags name.
absl::StatusOr<std::shared_ptr<grpc::Channel>> ServerChannel(const cli::Args& args);

// A fresh random request id ("chemctl-" + 32 hex digits), or --request-id.
std::string RequestId(const cli::Args& args);

}  // namespace chemledger::chemctl

#endif  // CHEMLEDGER_TOOLS_CHEMCTL_COMMON_H_
