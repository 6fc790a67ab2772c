// Command-line parsing for ChemLedger's tools (chemctl, chemscan, chemaudit,
// chembench): subcommands with "--flag value", "--flag=value" and boolean
// "--flag" options plus positional arguments. Errors name the flag and the
// rule, so a tool can print them as its one-line reason.
//
// Not thread-safe; parse once in main.

#ifndef CHEMLEDGER_TOOLS_CLI_ARGS_H_
#define CHEMLEDGER_TOOLS_CLI_ARGS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chemledger::cli {

// What a command accepts.
struct FlagSpec {
  std::set<std::string> with_value;  // e.g. {"db", "size"}
  std::set<std::string> boolean;     // e.g. {"hex", "json"}
};

class Args {
 public:
  // Parses `argv` against `spec`. "--" ends the flags; "--help"/"-h" sets help().
  // InvalidArgument for an unknown flag, a missing value, or a value given to a
  // boolean flag.
  static absl::StatusOr<Args> Parse(const std::vector<std::string>& argv,
                                    const FlagSpec& spec);

  bool help() const { return help_; }
  bool Has(const std::string& flag) const { return values_.count(flag) > 0; }
  bool Bool(const std::string& flag) const { return bools_.count(flag) > 0; }

  // The value of a required flag; InvalidArgument "--flag is required".
  absl::StatusOr<std::string> Required(const std::string& flag) const;
  std::string Get(const std::string& flag, const std::string& fallback = "") const;
  // An unsigned decimal; InvalidArgument naming the flag otherwise.
  absl::StatusOr<uint64_t> Uint(const std::string& flag) const;
  absl::StatusOr<uint64_t> Uint(const std::string& flag, uint64_t fallback) const;

  const std::vector<std::string>& positional() const { return positional_; }

 private:
  bool help_ = false;
  std::map<std::string, std::string> values_;
  std::set<std::string> bools_;
  std::vector<std::string> positional_;
};

// Reads a whole regular file, or standard input when `path` is "-", of at most
// `max_bytes` (InvalidArgument beyond; NotFound for a missing file or a
// directory).
absl::StatusOr<std::string> ReadFileOrStdin(const std::string& path,
                                            size_t max_bytes = 16 << 20);

// `message` on one line, for a command's error ("<program>: <message>"):
// arguments and messages may hold newlines.
std::string OneLine(absl::string_view message);

}  // namespace chemledger::cli

#endif  // CHEMLEDGER_TOOLS_CLI_ARGS_H_
