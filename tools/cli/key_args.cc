#include "tools/cli/key_args.h"

#include <utility>

namespace chemledger::cli {

absl::StatusOr<absl::optional<crypto::Passphrase>> PassphraseArg(const Args& args) {
  if (!args.Has("passphrase-file")) return absl::optional<crypto::Passphrase>();
  absl::StatusOr<crypto::Passphrase> p =
      crypto::Passphrase::ReadFromFile(args.Get("passphrase-file"));
  if (!p.ok()) return p.status();
  return absl::optional<crypto::Passphrase>(*std::move(p));
}

absl::StatusOr<crypto::SigningKey> SigningKeyArg(const Args& args, const std::string& flag) {
  absl::StatusOr<std::string> path = args.Required(flag);
  if (!path.ok()) return path.status();
  absl::StatusOr<absl::optional<crypto::Passphrase>> passphrase = PassphraseArg(args);
  if (!passphrase.ok()) return passphrase.status();
  return crypto::LoadSigningKey(*path, *std::move(passphrase));
}

}  // namespace chemledger::cli
