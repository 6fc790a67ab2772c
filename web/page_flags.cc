#include "web/page_flags.h"

#include <utility>
#include <vector>

#include "web/console.h"

namespace chemledger::web {

absl::StatusOr<std::optional<ScanServer::Options>> ReadPageFlags(
    const cli::Args& args, const std::string& default_listen) {
  ScanServer::Options options;
  options.listen = args.Get("http-listen", default_listen);
  if (args.Has("trusted-proxy")) {
    absl::StatusOr<std::vector<std::string>> proxies =
        ParseTrustedProxies(args.Get("trusted-proxy"));
    if (!proxies.ok()) return proxies.status();
    options.trusted_proxies = *std::move(proxies);
  }
  if (args.Has("console-address")) {
    absl::StatusOr<std::vector<std::string>> addresses =
        ParseConsoleAddresses(args.Get("console-address"));
    if (!addresses.ok()) return addresses.status();
    options.console_addresses = *std::move(addresses);
  }
  // The flags are checked even when there are no pages: a mistake in one
  // is a mistake still when the pages are turned on again.
  if (options.listen == "none") return std::nullopt;
  return options;
}

}  // namespace chemledger::web
