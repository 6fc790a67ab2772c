#include "services/common/listen_address.h"

#include <cstdio>
#include <fstream>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/durable_file.h"

namespace chemledger {

absl::StatusOr<std::pair<std::string, int>> SplitListenAddress(absl::string_view listen) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535 || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", listen, "' must be HOST:PORT (port 0 to 65535)"));
  }
  std::string host(listen.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(host, port);
}

bool IsLoopback(absl::string_view listen) {
  if (absl::StartsWith(listen, "unix:")) return true;
  const size_t colon = listen.rfind(':');
  if (colon == absl::string_view::npos) return false;
  const absl::string_view host = listen.substr(0, colon);
  if (host == "localhost" || host == "[::1]") return true;
  std::vector<absl::string_view> octets = absl::StrSplit(host, '.');
  if (octets.size() != 4 || octets[0] != "127") return false;
  for (absl::string_view o : octets) {
    int v = 0;
    if (o.empty() || o.size() > 3 || !absl::SimpleAtoi(o, &v) || v > 255) return false;
  }
  return true;
}

absl::Status WritePortFile(const std::string& path, int port) {
  return storage::ReplaceFileDurably(path, absl::StrCat(port, "\n"), 0644);
}

}  // namespace chemledger
