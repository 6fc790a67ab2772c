// chemctl keygen / key show, and signed checkpoints: chemctl log checkpoint,
// chemctl checkpoint verify.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/checkpoint.h"
#include "crypto/key_files.h"
#include "crypto/keys.h"
#include "storage/durable_file.h"
#include "storage/leveldb_log.h"
#include "tools/chemctl/command.h"
#include "tools/cli/key_args.h"

namespace chemledger::chemctl {
namespace {

void PrintKey(const crypto::VerifyingKey& key, const cli::Args& args) {
  std::cout << "key-id " << key.key_id().ToString() << "\npublic-key " << key.ToBase64()
            << "\n";
  if (args.Has("note-name")) {
    absl::StatusOr<crypto::NoteVerifier> v =
        crypto::NoteVerifier::Create(args.Get("note-name"), key);
    if (v.ok()) std::cout << "note-verifier-key " << v->VerifierKeyString() << "\n";
  }
}

absl::Status Keygen(const cli::Args& args) {
  absl::StatusOr<std::string> out = args.Required("out");
  if (!out.ok()) return out.status();
  if (args.Has("note-name")) {
    // Fail before writing anything if the name cannot name a note key.
    absl::StatusOr<crypto::NoteVerifier> check = crypto::NoteVerifier::Create(
        args.Get("note-name"), crypto::SigningKey::Generate().verifying_key());
    if (!check.ok()) return check.status();
  }
  // Sealed unless asked otherwise: a key file copied off a disk or a backup
  // must not be a key anyone can sign with.
  if (args.Has("passphrase-file") == args.Bool("unsealed")) {
    return absl::InvalidArgumentError(
        "keygen: give --passphrase-file F to seal the key (Argon2id, moderate cost), or "
        "--unsealed for a test or demo key that anyone who reads the file can use");
  }
  auto passphrase = cli::PassphraseArg(args);
  if (!passphrase.ok()) return passphrase.status();
  crypto::SigningKey key = crypto::SigningKey::Generate();
  crypto::KeyFileOptions options;
  options.overwrite = args.Bool("force");
  options.passphrase = *std::move(passphrase);
  const std::string pub = *out + ".pub";
  if (!options.overwrite) {
    for (const std::string& path : {*out, pub}) {
      if (std::filesystem::exists(path)) {
        return absl::AlreadyExistsError(
            absl::StrCat("refusing to overwrite existing key file ", path, " (use --force)"));
      }
    }
  }
  // Both files written aside first: a failure leaves the pair that was there
  // (with --force, the old key) as it was. Then the public file, then the
  // private one, each by a rename: a crash between them leaves the old
  // private key beside the new public file, never no private key.
  const std::string aside_suffix = absl::StrCat(".new-", getpid());
  const std::string new_private = *out + aside_suffix, new_pub = pub + aside_suffix;
  options.overwrite = true;  // a name of this run's
  if (absl::Status s = crypto::SaveSigningKey(key, new_private, options); !s.ok()) return s;
  crypto::KeyFileOptions pub_aside;
  pub_aside.overwrite = true;
  if (absl::Status s = crypto::SaveVerifyingKey(key.verifying_key(), new_pub, pub_aside); !s.ok()) {
    std::filesystem::remove(new_private);
    return s;
  }
  // Without --force a name someone took meanwhile is not replaced either.
  const unsigned int no_replace = args.Bool("force") ? 0 : RENAME_NOREPLACE;
  if (renameat2(AT_FDCWD, new_pub.c_str(), AT_FDCWD, pub.c_str(), no_replace) != 0) {
    const std::string why = std::strerror(errno);
    std::filesystem::remove(new_private);
    std::filesystem::remove(new_pub);
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", pub, ": ", why));
  }
  if (renameat2(AT_FDCWD, new_private.c_str(), AT_FDCWD, out->c_str(), no_replace) != 0) {
    const std::string why = std::strerror(errno);
    if (no_replace != 0) {
      // The public file just placed is this run's: taken back.
      std::filesystem::remove(pub);
      std::filesystem::remove(new_private);
      return absl::PermissionDeniedError(absl::StrCat("cannot write ", *out, ": ", why));
    }
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", *out, ": ", why, "; ", pub,
                                                    " is the new key's, ", new_private,
                                                    " its private key"));
  }
  const std::string dir = std::filesystem::path(*out).parent_path().string();
  if (absl::Status s = storage::SyncDirectory(dir.empty() ? "." : dir); !s.ok()) return s;
  std::cout << "wrote " << *out << " (private, mode 0600"
            << (options.passphrase ? ", sealed with the passphrase" : "") << ") and " << pub
            << "\n";
  PrintKey(key.verifying_key(), args);
  return absl::OkStatus();
}

absl::Status KeyShow(const cli::Args& args) {
  if (args.positional().size() != 1) {
    return absl::InvalidArgumentError("give exactly one key file");
  }
  absl::StatusOr<crypto::VerifyingKey> key = crypto::LoadVerifyingKey(args.positional()[0]);
  if (!key.ok()) return key.status();
  PrintKey(*key, args);
  return absl::OkStatus();
}

absl::Status LogCheckpoint(const cli::Args& args) {
  absl::StatusOr<std::string> db = args.Required("db");
  if (!db.ok()) return db.status();
  absl::StatusOr<std::string> key_file = args.Required("key");
  if (!key_file.ok()) return key_file.status();
  absl::StatusOr<std::string> origin = args.Required("origin");
  if (!origin.ok()) return origin.status();
  auto passphrase = cli::PassphraseArg(args);
  if (!passphrase.ok()) return passphrase.status();
  absl::StatusOr<crypto::SigningKey> key =
      crypto::LoadSigningKey(*key_file, *std::move(passphrase));
  if (!key.ok()) return key.status();
  absl::StatusOr<crypto::NoteSigner> signer =
      crypto::NoteSigner::Create(args.Get("key-name", *origin), *std::move(key));
  if (!signer.ok()) return signer.status();

  storage::LevelDbLogOptions options;
  options.create_if_missing = false;
  auto log = storage::OpenLevelDbLog(*db, options);
  if (!log.ok()) return log.status();
  absl::StatusOr<uint64_t> size = args.Uint("size", (*log)->Size());
  if (!size.ok()) return size.status();
  absl::StatusOr<crypto::Sha256Digest> root = (*log)->Root(*size);
  if (!root.ok()) return root.status();
  crypto::Checkpoint checkpoint;
  checkpoint.origin = *origin;
  checkpoint.size = *size;
  checkpoint.root_hash = *root;
  absl::StatusOr<std::string> note = signer->SignCheckpoint(checkpoint);
  if (!note.ok()) return note.status();
  std::cout << *note;
  return absl::OkStatus();
}

absl::Status CheckpointVerify(const cli::Args& args) {
  absl::StatusOr<std::string> origin = args.Required("origin");
  if (!origin.ok()) return origin.status();
  absl::StatusOr<std::string> vkey = args.Required("verifier-key");
  if (!vkey.ok()) return vkey.status();
  if (args.positional().size() != 1) {
    return absl::InvalidArgumentError("give exactly one checkpoint file (or - for stdin)");
  }
  absl::StatusOr<crypto::NoteVerifier> verifier = crypto::NoteVerifier::FromVerifierKey(*vkey);
  if (!verifier.ok()) return verifier.status();
  absl::StatusOr<std::string> note = cli::ReadFileOrStdin(args.positional()[0]);
  if (!note.ok()) return note.status();
  absl::StatusOr<crypto::Checkpoint> checkpoint =
      crypto::OpenCheckpoint(*note, *origin, *verifier);
  if (!checkpoint.ok()) return checkpoint.status();
  std::cout << "ok: checkpoint of " << checkpoint->origin << " signed by "
            << verifier->name() << "\nsize " << checkpoint->size << "\nroot "
            << checkpoint->root_hash.ToHex() << "\n";
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> KeyCommands() {
  return {
      {"keygen", "generate an Ed25519 key pair",
       "usage: chemctl keygen --out FILE (--passphrase-file F | --unsealed) [--force]\n"
       "         [--note-name NAME]\n\n"
       "Writes a new Ed25519 private key to FILE (mode 0600) and its public key to\n"
       "FILE.pub, then prints the key id and public key. The private key is sealed\n"
       "with a passphrase unless --unsealed is given.\n\n"
       "  --out FILE              private key file to create\n"
       "  --passphrase-file F     seal the private key with the first line of F\n"
       "                          (Argon2id at libsodium's moderate cost +\n"
       "                          XSalsa20-Poly1305)\n"
       "  --unsealed              write the key in the clear (tests and demos only)\n"
       "  --force                 replace existing files\n"
       "  --note-name NAME        also print the C2SP note verifier key for NAME\n"
       "                          (for a log key, NAME is the log's origin)\n",
       {{"out", "passphrase-file", "note-name"}, {"force", "unsealed"}}, Keygen},
      {"key show", "print a key file's key id and public key",
       "usage: chemctl key show FILE [--note-name NAME]\n\n"
       "FILE is a public or private key file (a private one is not decrypted).\n\n"
       "  --note-name NAME        also print the C2SP note verifier key for NAME\n",
       {{"note-name"}, {}}, KeyShow},
  };
}

std::vector<Command> CheckpointCommands() {
  return {
      {"log checkpoint", "print a signed checkpoint (C2SP tlog-checkpoint)",
       "usage: chemctl log checkpoint --db DIR --key FILE --origin ORIGIN\n"
       "                              [--key-name NAME] [--size N] [--passphrase-file F]\n\n"
       "Signs the log's size and root hash as a C2SP tlog-checkpoint signed note.\n\n"
       "  --db DIR                the log's LevelDB directory\n"
       "  --key FILE              the log's private key file\n"
       "  --origin ORIGIN         the log's origin line, e.g. chemledger.example/log\n"
       "  --key-name NAME         signature key name (default: the origin)\n"
       "  --size N                checkpoint of the first N entries (default: all)\n"
       "  --passphrase-file F     passphrase of a sealed key file\n",
       {{"db", "key", "origin", "key-name", "size", "passphrase-file"}, {}}, LogCheckpoint},
      {"checkpoint verify", "verify a signed checkpoint",
       "usage: chemctl checkpoint verify --origin ORIGIN --verifier-key VKEY FILE|-\n\n"
       "Checks the note's origin and its signature by VKEY (a verifier key string\n"
       "NAME+HASH+KEY, as printed by 'chemctl keygen --note-name'). Prints size and root.\n",
       {{"origin", "verifier-key"}, {}}, CheckpointVerify},
  };
}

}  // namespace chemledger::chemctl
