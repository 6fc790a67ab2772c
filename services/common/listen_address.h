// A listen address given on the command line, HOST:PORT (HOST possibly an
// IPv6 address in brackets), split for the HTTP servers that bind it
// (the scan pages, the metrics).
//
// Pure function; thread-safe.

#ifndef CHEMLEDGER_SERVICES_COMMON_LISTEN_ADDRESS_H_
#define CHEMLEDGER_SERVICES_COMMON_LISTEN_ADDRESS_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chemledger {

// The host (brackets taken off) and the port (0 to 65535; 0: any free one).
// InvalidArgument saying the form otherwise.
absl::StatusOr<std::pair<std::string, int>> SplitListenAddress(absl::string_view listen);

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_LISTEN_ADDRESS_H_
