// chemctl: ChemLedger's command line for operators and developers.
// Run `chemctl --help` for the command list, `chemctl <command> --help` for one.

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tools/chemctl/command.h"

namespace chemledger::chemctl {
namespace {

std::vector<Command> AllCommands() {
  std::vector<Command> all;
  for (auto group : {LogCommands(), MerkleCommands(), KeyCommands(), CheckpointCommands(),
                     LabelCommands(), ServerCommands(), EventCommands(), WaybillCommands(),
                     ReferenceCommands()}) {
    all.insert(all.end(), group.begin(), group.end());
  }
  return all;
}

void PrintOverview(std::ostream& out, const std::vector<Command>& commands,
                   const std::string& prefix) {
  out << "usage: chemctl " << (prefix.empty() ? "<command>" : prefix + " <command>")
      << " [options]\n\ncommands:\n";
  for (const Command& c : commands) {
    if (!prefix.empty() && !absl::StartsWith(c.path, prefix + " ")) continue;
    out << "  " << c.path << std::string(c.path.size() < 24 ? 24 - c.path.size() : 1, ' ')
        << c.summary << "\n";
  }
  out << "\nRun 'chemctl <command> --help' for a command's options.\n";
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const std::vector<Command> commands = AllCommands();
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintOverview(args.empty() ? std::cerr : std::cout, commands, "");
    return args.empty() ? kExitUsage : kExitOk;
  }
  // Longest command path that prefixes the arguments wins.
  const Command* match = nullptr;
  size_t words = 0;
  for (const Command& c : commands) {
    std::vector<std::string> path = absl::StrSplit(c.path, ' ');
    if (path.size() > args.size() || path.size() <= words) continue;
    if (std::equal(path.begin(), path.end(), args.begin())) {
      match = &c;
      words = path.size();
    }
  }
  if (match == nullptr) {
    // A group name alone ("chemctl log") or with --help lists its commands.
    for (const Command& c : commands) {
      if (absl::StartsWith(c.path, args[0] + " ")) {
        const bool help = args.size() > 1 && (args[1] == "--help" || args[1] == "-h");
        if (args.size() == 1 || help) {
          PrintOverview(help ? std::cout : std::cerr, commands, args[0]);
          return help ? kExitOk : kExitUsage;
        }
        std::cerr << "chemctl: unknown command '" << cli::OneLine(args[0]) << " "
                  << cli::OneLine(args[1]) << "' (see chemctl " << cli::OneLine(args[0])
                  << " --help)\n";
        return kExitUsage;
      }
    }
    std::cerr << "chemctl: unknown command '" << cli::OneLine(args[0])
              << "' (see chemctl --help)\n";
    return kExitUsage;
  }
  absl::StatusOr<cli::Args> parsed = cli::Args::Parse(
      std::vector<std::string>(args.begin() + words, args.end()), match->flags);
  if (!parsed.ok()) {
    std::cerr << "chemctl " << match->path << ": " << cli::OneLine(parsed.status().message())
              << " (see --help)\n";
    return kExitUsage;
  }
  if (parsed->help()) {
    std::cout << match->usage;
    return kExitOk;
  }
  absl::Status status = match->run(*parsed);
  if (!status.ok()) {
    std::cerr << "chemctl " << match->path << ": " << cli::OneLine(status.message()) << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace
}  // namespace chemledger::chemctl

int main(int argc, char** argv) { return chemledger::chemctl::Main(argc, argv); }
