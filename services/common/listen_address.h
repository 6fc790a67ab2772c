// A listen address given on the command line, HOST:PORT (HOST possibly an
// IPv6 address in brackets): split for the HTTP servers that bind it (the
// scan pages, the metrics), told loopback or not (plaintext is for loopback
// only), and its port written where a test or script reads it.
//
// Thread-safe.

#ifndef CHEMLEDGER_SERVICES_COMMON_LISTEN_ADDRESS_H_
#define CHEMLEDGER_SERVICES_COMMON_LISTEN_ADDRESS_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace chemledger {

// The host (brackets taken off) and the port (0 to 65535; 0: any free one).
// InvalidArgument saying the form otherwise.
absl::StatusOr<std::pair<std::string, int>> SplitListenAddress(absl::string_view listen);

// Whether `listen` (HOST:PORT) is on this machine only: 127.x.y.z, [::1],
// localhost, or a Unix socket.
bool IsLoopback(absl::string_view listen);

// Writes `port` to `path`, whole or not at all (written aside under a name
// of its own, synced, then renamed: storage/durable_file.h), so that a
// reader never sees half of it.
absl::Status WritePortFile(const std::string& path, int port);

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_LISTEN_ADDRESS_H_
