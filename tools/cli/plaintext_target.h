// Where a client may talk plaintext gRPC: only to this machine, judged by
// the addresses a server name resolves to, never by how the name is spelt
// ("127.attacker.example" is not loopback; "localhost" is only if it resolves
// to loopback and nothing else). The channel then connects to the resolved
// address itself, so a name that resolves differently later is not asked
// again.
//
// Thread-safety: plain functions (getaddrinfo is thread-safe).

#ifndef CHEMLEDGER_TOOLS_CLI_PLAINTEXT_TARGET_H_
#define CHEMLEDGER_TOOLS_CLI_PLAINTEXT_TARGET_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chemledger::cli {

// The gRPC target for plaintext to `server` ("HOST:PORT", "[IPv6]:PORT" or
// "unix:PATH"): "ipv4:127.x.y.z:PORT", "ipv6:[::1]:PORT" or the unix target
// unchanged. InvalidArgument naming `flag` when the host does not resolve, or
// resolves to any address that is not loopback.
absl::StatusOr<std::string> PlaintextTarget(absl::string_view flag, absl::string_view server);

}  // namespace chemledger::cli

#endif  // CHEMLEDGER_TOOLS_CLI_PLAINTEXT_TARGET_H_
