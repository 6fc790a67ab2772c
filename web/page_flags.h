// The flags of the HTTP pages that chemledgerd and a cluster's verifyd and
// auditd take alike: --http-listen ("none": no pages), --trusted-proxy and
// --console-address, read into web::ScanServer::Options. A server reads
// them before it starts anything, so that a mistake in one stops it before
// it opens a store or connects to ledgerd; each adds its own TLS flags and
// what its pages serve (chemledgerd's --tls-cert serves both ports; the
// cluster's pages take --http-tls-cert).
//
// Thread-safety: a plain function.

#ifndef CHEMLEDGER_WEB_PAGE_FLAGS_H_
#define CHEMLEDGER_WEB_PAGE_FLAGS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "tools/cli/args.h"
#include "web/scan_server.h"

namespace chemledger::web {

// The pages' options as `args` give them, --http-listen defaulting to
// `default_listen`; nullopt when --http-listen is "none". InvalidArgument
// naming the flag for a --trusted-proxy or --console-address that does not
// parse (ParseTrustedProxies, ParseConsoleAddresses).
absl::StatusOr<std::optional<ScanServer::Options>> ReadPageFlags(const cli::Args& args,
                                                                 const std::string& default_listen);

}  // namespace chemledger::web

#endif  // CHEMLEDGER_WEB_PAGE_FLAGS_H_
