// chemledgerd serve's configuration file (proto/chemledger/config/
// config.proto; docs/deployment.md, "Configuration"): a ServeConfig in
// Protobuf's text format, whose fields stand for the serve flags of the same
// names. Flags given on the command line override the file.
//
// Thread-safe: pure functions.

#ifndef CHEMLEDGER_SERVICES_CHEMLEDGERD_SERVE_CONFIG_H_
#define CHEMLEDGER_SERVICES_CHEMLEDGERD_SERVE_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace chemledger::server {

// `argv` (the serve command's arguments) with the fields of the file that
// `--config FILE` names added as flags, before the ones given (which
// therefore win), and `--config` itself taken out. Without --config,
// `argv` as it is. InvalidArgument naming the file, line and column for a
// file that does not parse (an unknown field included); NotFound for a
// missing file.
absl::StatusOr<std::vector<std::string>> WithServeConfig(const std::vector<std::string>& argv);

// What --help says of the file: each field, its type and its flag.
std::string ServeConfigHelp();

// The same for any configuration message whose fields are all strings or
// uint32s standing for the flags of the same names (the cluster's services
// read a chemledger.config.ServiceConfig).
absl::StatusOr<std::vector<std::string>> WithConfigFile(
    const std::vector<std::string>& argv, const google::protobuf::Message& prototype);
std::string ConfigFileHelp(const google::protobuf::Descriptor& descriptor);

}  // namespace chemledger::server

#endif  // CHEMLEDGER_SERVICES_CHEMLEDGERD_SERVE_CONFIG_H_
