// Reading an actor's private key from the command line, the same way in every
// tool: the key file named by a flag, unsealed with --passphrase-file when
// given (crypto/key_files.h).
//
// Pure functions over parsed Args; not thread-safe beyond what Args is.

#ifndef CHEMLEDGER_TOOLS_CLI_KEY_ARGS_H_
#define CHEMLEDGER_TOOLS_CLI_KEY_ARGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "crypto/key_files.h"
#include "crypto/keys.h"
#include "tools/cli/args.h"

namespace chemledger::cli {

// The passphrase in the file --passphrase-file names, or none without it.
absl::StatusOr<absl::optional<crypto::Passphrase>> PassphraseArg(const Args& args);

// The private key file --<flag> names (required), unsealed with
// --passphrase-file if given.
absl::StatusOr<crypto::SigningKey> SigningKeyArg(const Args& args, const std::string& flag);

}  // namespace chemledger::cli

#endif  // CHEMLEDGER_TOOLS_CLI_KEY_ARGS_H_
