// chemctl's command table: each subcommand is a name, a one-line summary, a
// usage text and a function from its arguments to an exit status.
//
// Conventions every command follows: --help prints the usage and exits 0;
// on error a single line "chemctl <command>: <reason>" goes to stderr and the
// exit status is 1 (2 when the command line itself cannot be parsed).

#ifndef CHEMLEDGER_TOOLS_CHEMCTL_COMMAND_H_
#define CHEMLEDGER_TOOLS_CHEMCTL_COMMAND_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tools/cli/args.h"

namespace chemledger::chemctl {

struct Command {
  std::string path;     // e.g. "log append"
  std::string summary;  // one line
  std::string usage;    // full help text
  cli::FlagSpec flags;
  std::function<absl::Status(const cli::Args&)> run;
};

std::vector<Command> LogCommands();
std::vector<Command> MerkleCommands();
std::vector<Command> KeyCommands();
std::vector<Command> CheckpointCommands();
std::vector<Command> LabelCommands();
std::vector<Command> ServerCommands();
std::vector<Command> WaybillCommands();  // waybill submit|depart|arrive|cancel|show|list
// reference check|import|list|find, registry product pending|decide-flags|flag-changes
std::vector<Command> ReferenceCommands();
std::vector<Command> EventCommands();  // event record|history  // registry ..., label issue|fetch-trust-list|resolve

// Exit statuses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

}  // namespace chemledger::chemctl

#endif  // CHEMLEDGER_TOOLS_CHEMCTL_COMMAND_H_
