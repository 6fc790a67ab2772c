// Key files: saving Ed25519 keys (crypto/keys.h) to disk and loading them
// back, for operators' and servers' keys (chemctl keygen, chemledgerd's note
// and label keys, --key flags). Private key files hold the seed, either as is
// or sealed with a passphrase (Argon2id13 + XSalsa20-Poly1305 secretbox);
// public key files hold the public key. Both are small line-based text files,
// written atomically (temporary file, fsync, rename, fsync of the directory)
// and parsed strictly; docs/signatures.md ("Key files") describes them.
// Private key files must be the user's own and mode 0600, as ssh requires.
//
// crypto/keys.h has the key types and does no file I/O; everything that
// touches a file is here.
//
// Ownership: Passphrase owns its bytes and zeroes them on destruction;
// KeyFileOptions owns the Passphrase it may hold; LoadSigningKey takes the
// passphrase by value (it is wiped when the call returns) and returns a
// SigningKey the caller owns. Nothing keeps a path or a file open after a
// call returns.
//
// Thread-safety: the functions keep no state and may be called from several
// threads at once. Saving to one path from several threads or processes
// leaves one complete file: without KeyFileOptions::overwrite exactly one
// save succeeds and the others fail with AlreadyExists; with it the last
// rename wins. Passphrase and KeyFileOptions are move-only values; use each
// from one thread at a time.

#ifndef CHEMLEDGER_CRYPTO_KEY_FILES_H_
#define CHEMLEDGER_CRYPTO_KEY_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "crypto/keys.h"

namespace chemledger::crypto {

struct KeyFileOptions;

// A passphrase that seals a private key file. Move-only; zeroes its memory on
// destruction.
class Passphrase {
 public:
  // InvalidArgument if `text` is empty.
  static absl::StatusOr<Passphrase> FromString(absl::string_view text);
  // The first line of the file at `path`, without its newline (for CLI use:
  // --passphrase-file). Empty passphrases and unreadable files are errors;
  // so is a file not this user's own or that group or others may read
  // (FailedPrecondition, as for a private key file: it unseals one).
  static absl::StatusOr<Passphrase> ReadFromFile(const std::string& path);

  Passphrase(Passphrase&& other) noexcept;
  Passphrase& operator=(Passphrase&& other) noexcept;
  Passphrase(const Passphrase&) = delete;
  Passphrase& operator=(const Passphrase&) = delete;
  ~Passphrase();

 private:
  friend absl::Status SaveSigningKey(const SigningKey& key,
                                     const std::string& path,
                                     const KeyFileOptions& options);
  friend absl::StatusOr<SigningKey> LoadSigningKey(
      const std::string& path, absl::optional<Passphrase> passphrase);

  Passphrase() = default;
  absl::string_view value() const { return {data_.data(), data_.size()}; }
  void Wipe();

  std::vector<char> data_;
};

// Argon2id13 cost parameters used to seal private key files by default:
// libsodium's OPSLIMIT_MODERATE and MEMLIMIT_MODERATE (256 MiB; about a
// second to open a key on a server core). Keys that sign for a person
// (administrators, regulators, operators) are worth that much to guess.
inline constexpr uint64_t kDefaultKdfOpsLimit = 3;
inline constexpr uint64_t kDefaultKdfMemLimit = uint64_t{256} << 20;
// Bounds enforced when saving and when loading (so a hostile file cannot make
// the loader spend gigabytes or minutes): opslimit 1..10, memlimit 8 KiB..1 GiB.
inline constexpr uint64_t kMaxKdfOpsLimit = 10;
inline constexpr uint64_t kMaxKdfMemLimit = uint64_t{1} << 30;

// How SaveSigningKey / SaveVerifyingKey write a file. Move-only (it may hold a
// Passphrase).
struct KeyFileOptions {
  // If set, the seed is sealed with a key derived from it (Argon2id13 +
  // XSalsa20-Poly1305 secretbox). Ignored by SaveVerifyingKey.
  absl::optional<Passphrase> passphrase;
  // Replace an existing file at the path. By default an existing file is
  // never touched and the save fails with AlreadyExists.
  bool overwrite = false;
  // Argon2id13 costs, stored in the file so that loaders use the same.
  uint64_t kdf_opslimit = kDefaultKdfOpsLimit;
  uint64_t kdf_memlimit = kDefaultKdfMemLimit;
};

// Writes `key` to a new private key file at `path` with mode 0600. The file is
// written to a temporary file in the same directory (created with
// O_CREAT|O_EXCL, mode 0600), fsync'd, then renamed into place, and the
// directory is fsync'd: a crash leaves either no file or the complete one.
// Format (every line ends in "\n"):
//
//   chemledger-ed25519-private-key v1
//   key-id <16 lowercase hex>
//   public-key <base64 of 32 bytes>
//   seed <base64 of 32 bytes>                  (unsealed), or
//   kdf argon2id13 opslimit=<n> memlimit=<n> salt=<base64 of 16 bytes>
//   sealed-seed <base64 of nonce(24) || secretbox(seed)(48)>   (sealed)
//
// AlreadyExists if the file exists and !options.overwrite.
absl::Status SaveSigningKey(const SigningKey& key, const std::string& path,
                            const KeyFileOptions& options);

// Reads a private key file written by SaveSigningKey. Refuses (with
// FailedPrecondition naming the path and mode) a file that group or others
// may access (mode & 077), as ssh does. Checks that the key derived from the
// seed matches the file's public-key and key-id lines (InvalidArgument if
// not: the file was tampered with). A sealed file needs `passphrase`
// (FailedPrecondition without one; Unauthenticated "wrong passphrase or
// corrupted key file <path>" if it does not open). For an unsealed file the
// passphrase is ignored.
absl::StatusOr<SigningKey> LoadSigningKey(
    const std::string& path, absl::optional<Passphrase> passphrase);

// Writes a public key file (mode 0644, same atomic write as SaveSigningKey):
//
//   chemledger-ed25519-public-key v1
//   key-id <16 lowercase hex>
//   public-key <base64 of 32 bytes>
absl::Status SaveVerifyingKey(const VerifyingKey& key, const std::string& path,
                              const KeyFileOptions& options);

// Reads a public key file, or the public part of a private key file (sealed
// or not; no passphrase needed, but the private file's mode is checked as in
// LoadSigningKey).
absl::StatusOr<VerifyingKey> LoadVerifyingKey(const std::string& path);

// Reads a private file that is not one of our key files (a TLS private key
// in PEM) under the same rules as LoadSigningKey: a regular file of at most
// 64 KiB, owned by this user, not accessible by group or others
// (FailedPrecondition naming the path and the chmod to run). `what` names it
// in errors ("--tls-key").
absl::StatusOr<std::string> ReadPrivateFile(const std::string& path, absl::string_view what);

}  // namespace chemledger::crypto

#endif  // CHEMLEDGER_CRYPTO_KEY_FILES_H_
