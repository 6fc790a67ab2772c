#include "crypto/key_files.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/base/call_once.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "crypto/internal/strict_base64.h"
#include "crypto/sha256.h"
#include "crypto/internal/sodium.h"

namespace chemledger::crypto {

static_assert(kDefaultKdfOpsLimit == crypto_pwhash_argon2id_OPSLIMIT_MODERATE,
              "default opslimit must be libsodium's MODERATE");
static_assert(kDefaultKdfMemLimit == crypto_pwhash_argon2id_MEMLIMIT_MODERATE,
              "default memlimit must be libsodium's MODERATE");
static_assert(kMaxKdfMemLimit >= crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE,
              "the loader must accept SENSITIVE-sealed files");

namespace {

constexpr absl::string_view kPrivateHeader = "chemledger-ed25519-private-key v1";
constexpr absl::string_view kPublicHeader = "chemledger-ed25519-public-key v1";
constexpr absl::string_view kKdfName = "argon2id13";
constexpr size_t kMaxKeyFileSize = 64 * 1024;
constexpr size_t kSaltSize = crypto_pwhash_SALTBYTES;  // 16
constexpr size_t kSealedSize =
    crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + SecretSeed::kSize;

using internal::EnsureSodium;

const unsigned char* U(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

absl::string_view AsView(const unsigned char* p, size_t n) {
  return absl::string_view(reinterpret_cast<const char*>(p), n);
}

// A std::string for secret material that is wiped when it goes away. Reserve
// the final size up front so that no copy is left behind by reallocation.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string s) : s_(std::move(s)) {}
  SecretString(SecretString&& other) noexcept : s_(std::move(other.s_)) {
    other.Wipe();  // A moved short string leaves its bytes behind.
  }
  SecretString& operator=(SecretString&& other) noexcept {
    if (this != &other) {
      Wipe();
      s_ = std::move(other.s_);
      other.Wipe();
    }
    return *this;
  }
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  ~SecretString() { Wipe(); }

  std::string& str() { return s_; }
  const std::string& str() const { return s_; }
  void Wipe() {
    s_.resize(s_.capacity());
    if (!s_.empty()) sodium_memzero(&s_[0], s_.size());
    s_.clear();
  }

 private:
  std::string s_;
};

// Wipes a fixed-size secret buffer when it goes away.
template <size_t N>
struct SecretBytes {
  unsigned char data[N];
  SecretBytes() { sodium_memzero(data, N); }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() { sodium_memzero(data, N); }
};

std::string OctalMode(mode_t mode) { return absl::StrFormat("0%03o", mode & 0777); }

absl::Status ErrnoError(int error, absl::string_view what,
                        absl::string_view path) {
  return absl::ErrnoToStatus(error, absl::StrCat(what, " ", path));
}

// Parses a decimal number without sign or leading zeros, at most `max`.
bool ParseDecimal(absl::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

absl::Status CheckKdfLimits(uint64_t opslimit, uint64_t memlimit,
                            absl::string_view where) {
  if (opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
      opslimit > kMaxKdfOpsLimit) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, "kdf opslimit ", opslimit, " is out of range ",
        crypto_pwhash_argon2id_OPSLIMIT_MIN, "..", kMaxKdfOpsLimit));
  }
  if (memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
      memlimit > kMaxKdfMemLimit) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, "kdf memlimit ", memlimit, " is out of range ",
        crypto_pwhash_argon2id_MEMLIMIT_MIN, "..", kMaxKdfMemLimit));
  }
  return absl::OkStatus();
}

// Argon2id13(passphrase, salt) -> secretbox key.
absl::Status DeriveSealingKey(absl::string_view passphrase,
                              absl::string_view salt, uint64_t opslimit,
                              uint64_t memlimit,
                              SecretBytes<crypto_secretbox_KEYBYTES>* key) {
  if (crypto_pwhash(key->data, crypto_secretbox_KEYBYTES, passphrase.data(),
                    passphrase.size(), U(salt), opslimit,
                    static_cast<size_t>(memlimit),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "argon2id13 key derivation failed (out of memory? memlimit=", memlimit,
        ")"));
  }
  return absl::OkStatus();
}

// ---- Files ----------------------------------------------------------------

struct FileContents {
  SecretString text;
  mode_t mode = 0;
  uid_t owner = 0;
};

absl::StatusOr<FileContents> ReadSmallFile(const std::string& path,
                                           absl::string_view what) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, absl::StrCat("cannot open ", what), path);
  FileContents out;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    close(fd);
    return ErrnoError(e, absl::StrCat("cannot stat ", what), path);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path, " is not a regular file"));
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxKeyFileSize) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path, " is too large (", st.st_size,
                     " bytes; the limit is ", kMaxKeyFileSize, ")"));
  }
  out.mode = st.st_mode;
  out.owner = st.st_uid;
  std::string& text = out.text.str();
  text.resize(kMaxKeyFileSize + 1);  // One spare byte detects growth.
  size_t used = 0;
  while (used < text.size()) {
    const ssize_t n = read(fd, &text[used], text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      close(fd);
      return ErrnoError(e, absl::StrCat("cannot read ", what), path);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  close(fd);
  if (used > kMaxKeyFileSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path, " is too large"));
  }
  sodium_memzero(&text[used], text.size() - used);
  text.resize(used);
  return out;
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "cannot write", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Moves `tmp` to `path`, atomically refusing to replace an existing file
// unless `overwrite`.
absl::Status CommitFile(const std::string& tmp, const std::string& path,
                        bool overwrite) {
  if (overwrite) {
    if (rename(tmp.c_str(), path.c_str()) != 0) {
      return ErrnoError(errno, "cannot rename temporary file to", path);
    }
    return absl::OkStatus();
  }
  if (renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(),
                RENAME_NOREPLACE) == 0) {
    return absl::OkStatus();
  }
  int e = errno;
  if (e == EINVAL || e == ENOSYS) {
    // The file system cannot do RENAME_NOREPLACE; link() fails with EEXIST
    // just as atomically.
    if (link(tmp.c_str(), path.c_str()) == 0) {
      unlink(tmp.c_str());
      return absl::OkStatus();
    }
    e = errno;
  }
  if (e == EEXIST) {
    return absl::AlreadyExistsError(absl::StrCat(
        "refusing to overwrite existing key file ", path));
  }
  return ErrnoError(e, "cannot move temporary file to", path);
}

// Writes `contents` to `path` with `mode`: temp file in the same directory,
// fsync, rename, fsync the directory.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents, mode_t mode,
                                 bool overwrite) {
  if (path.empty()) {
    return absl::InvalidArgumentError("key file path is empty");
  }
  struct stat st;
  if (!overwrite && lstat(path.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("refusing to overwrite existing key file ", path));
  }
  EnsureSodium();
  unsigned char rnd[8];
  randombytes_buf(rnd, sizeof(rnd));
  const std::string tmp =
      absl::StrCat(path, ".tmp-", HexEncode(AsView(rnd, sizeof(rnd))));
  const int fd = open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError(errno, "cannot create", tmp);
  absl::Status status = WriteAll(fd, contents, tmp);
  if (status.ok() && fsync(fd) != 0) status = ErrnoError(errno, "cannot fsync", tmp);
  if (close(fd) != 0 && status.ok()) status = ErrnoError(errno, "cannot close", tmp);
  if (status.ok()) status = CommitFile(tmp, path, overwrite);
  if (!status.ok()) {
    unlink(tmp.c_str());
    return status;
  }
  const std::string dir = DirName(path);
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return ErrnoError(errno, "cannot open directory", dir);
  const bool synced = fsync(dfd) == 0;
  const int e = errno;
  close(dfd);
  if (!synced) return ErrnoError(e, "cannot fsync directory", dir);
  return absl::OkStatus();
}

// ---- Key file format ------------------------------------------------------

struct ParsedKeyFile {
  bool is_private = false;
  absl::optional<VerifyingKey> public_key;
  // Unsealed private files.
  absl::optional<SecretString> seed;
  // Sealed private files.
  bool sealed = false;
  uint64_t opslimit = 0;
  uint64_t memlimit = 0;
  std::string salt;
  std::string sealed_seed;  // nonce || secretbox ciphertext
};

// Returns the value after "keyword " on `line`, or nullopt.
absl::optional<absl::string_view> Field(absl::string_view line,
                                        absl::string_view keyword) {
  if (line.size() > keyword.size() &&
      line.substr(0, keyword.size()) == keyword && line[keyword.size()] == ' ') {
    return line.substr(keyword.size() + 1);
  }
  return absl::nullopt;
}

// Splits `text` into lines, requiring every line to end in "\n".
absl::StatusOr<std::vector<absl::string_view>> SplitLines(
    absl::string_view text, absl::string_view where) {
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(where, "file is empty"));
  if (text.back() != '\n') {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "last line does not end in a newline"));
  }
  text.remove_suffix(1);
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    for (char c : lines[i]) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 || u > 0x7e) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%sline %d: byte 0x%02x is not printable ASCII", where, i + 1, u));
      }
    }
  }
  return lines;
}

absl::StatusOr<ParsedKeyFile> ParseKeyFile(absl::string_view text,
                                           const std::string& path) {
  const std::string where = absl::StrCat("key file ", path, ": ");
  absl::StatusOr<std::vector<absl::string_view>> split = SplitLines(text, where);
  if (!split.ok()) return split.status();
  const std::vector<absl::string_view>& lines = *split;
  auto line_error = [&](size_t line, absl::string_view msg) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "line ", line, ": ", msg));
  };

  ParsedKeyFile out;
  if (lines[0] == kPrivateHeader) {
    out.is_private = true;
  } else if (lines[0] == kPublicHeader) {
    out.is_private = false;
  } else if (absl::StartsWith(lines[0], "chemledger-ed25519-private-key ") ||
             absl::StartsWith(lines[0], "chemledger-ed25519-public-key ")) {
    return line_error(1, absl::StrCat("unsupported key file version \"",
                                      lines[0], "\" (this build reads v1)"));
  } else {
    return line_error(1, absl::StrCat("not a ChemLedger key file: expected \"",
                                      kPrivateHeader, "\" or \"", kPublicHeader,
                                      "\""));
  }
  const bool count_ok = out.is_private
                            ? (lines.size() == 4 || lines.size() == 5)
                            : lines.size() == 3;
  if (!count_ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, "has ", lines.size(), " lines; a ",
        out.is_private ? "private key file has 4 (unsealed) or 5 (sealed)"
                       : "public key file has 3"));
  }

  absl::optional<absl::string_view> v = Field(lines[1], "key-id");
  if (!v) return line_error(2, "expected \"key-id <16 lowercase hex digits>\"");
  absl::StatusOr<KeyId> key_id = KeyId::Parse(*v);
  if (!key_id.ok()) return line_error(2, key_id.status().message());

  v = Field(lines[2], "public-key");
  if (!v) return line_error(3, "expected \"public-key <base64 of 32 bytes>\"");
  absl::StatusOr<std::string> pk_bytes =
      internal::StrictBase64DecodeSize(*v, VerifyingKey::kSize, "public-key");
  if (!pk_bytes.ok()) return line_error(3, pk_bytes.status().message());
  absl::StatusOr<VerifyingKey> pk = VerifyingKey::FromBytes(*pk_bytes);
  if (!pk.ok()) return line_error(3, pk.status().message());
  out.public_key = *pk;
  if (pk->key_id() != *key_id) {
    return line_error(
        2, absl::StrCat("key-id ", key_id->ToString(),
                        " does not match the public-key line, whose key id is ",
                        pk->key_id().ToString(),
                        " (the file was modified or corrupted)"));
  }
  if (!out.is_private) return out;

  if (lines.size() == 4) {
    v = Field(lines[3], "seed");
    if (!v) {
      return line_error(4, "expected \"seed <base64 of 32 bytes>\" or \"kdf " +
                               std::string(kKdfName) + " ...\" and \"sealed-seed ...\"");
    }
    absl::StatusOr<std::string> seed =
        internal::StrictBase64DecodeSize(*v, SecretSeed::kSize, "seed");
    if (!seed.ok()) return line_error(4, seed.status().message());
    out.seed.emplace(std::move(*seed));
    return out;
  }

  if (Field(lines[3], "seed")) {
    return line_error(5, "unexpected line after \"seed\"");
  }
  // Sealed: "kdf argon2id13 opslimit=<n> memlimit=<n> salt=<base64>".
  const char* kKdfSyntax =
      "expected \"kdf argon2id13 opslimit=<n> memlimit=<n> salt=<base64 of 16 "
      "bytes>\"";
  v = Field(lines[3], "kdf");
  if (!v) return line_error(4, kKdfSyntax);
  std::vector<absl::string_view> parts = absl::StrSplit(*v, ' ');
  if (parts.size() != 4 || !absl::StartsWith(parts[1], "opslimit=") ||
      !absl::StartsWith(parts[2], "memlimit=") ||
      !absl::StartsWith(parts[3], "salt=")) {
    return line_error(4, kKdfSyntax);
  }
  if (parts[0] != kKdfName) {
    return line_error(4, absl::StrCat("unsupported kdf \"", parts[0],
                                      "\" (only ", kKdfName, ")"));
  }
  if (!ParseDecimal(parts[1].substr(9), UINT64_MAX, &out.opslimit)) {
    return line_error(4, "opslimit is not a decimal number");
  }
  if (!ParseDecimal(parts[2].substr(9), UINT64_MAX, &out.memlimit)) {
    return line_error(4, "memlimit is not a decimal number");
  }
  absl::Status limits = CheckKdfLimits(out.opslimit, out.memlimit, "");
  if (!limits.ok()) return line_error(4, limits.message());
  absl::StatusOr<std::string> salt =
      internal::StrictBase64DecodeSize(parts[3].substr(5), kSaltSize, "salt");
  if (!salt.ok()) return line_error(4, salt.status().message());
  out.salt = std::move(*salt);

  v = Field(lines[4], "sealed-seed");
  if (!v) return line_error(5, "expected \"sealed-seed <base64 of 72 bytes>\"");
  absl::StatusOr<std::string> sealed =
      internal::StrictBase64DecodeSize(*v, kSealedSize, "sealed-seed");
  if (!sealed.ok()) return line_error(5, sealed.status().message());
  out.sealed_seed = std::move(*sealed);
  out.sealed = true;
  return out;
}

// `what`: "private key file" or "passphrase file" (a passphrase others may
// read unseals the key beside it).
absl::Status CheckPrivateFileMode(const std::string& path, mode_t mode, uid_t owner,
                                  absl::string_view what = "private key file") {
  if (owner != geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(what, " ", path, " belongs to user ", owner,
                                                      ", not to this user (", geteuid(), "); a ",
                                                      what, " must be its user's own"));
  }
  if ((mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", path, " has mode ", OctalMode(mode),
                     "; it must not be accessible by group or others (run: chmod 600 ", path, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

namespace internal {

// The one way into a SigningKey's secret outside keys.cc (crypto/keys.h
// befriends it; it is defined here only): SaveSigningKey writes the seed.
class KeyFileAccess {
 public:
  // The RFC 8032 seed, the first 32 bytes of libsodium's secret key; nullopt
  // if `key` was moved from.
  static absl::optional<absl::string_view> Seed(const SigningKey& key) {
    if (key.secret_ == nullptr) return absl::nullopt;
    return AsView(key.secret_->sk, crypto_sign_SEEDBYTES);
  }
};

}  // namespace internal

// ---- Passphrase -----------------------------------------------------------

absl::StatusOr<Passphrase> Passphrase::FromString(absl::string_view text) {
  if (text.empty()) {
    return absl::InvalidArgumentError("passphrase: must not be empty");
  }
  Passphrase p;
  p.data_.assign(text.begin(), text.end());
  return p;
}

absl::StatusOr<Passphrase> Passphrase::ReadFromFile(const std::string& path) {
  absl::StatusOr<FileContents> file = ReadSmallFile(path, "passphrase file");
  if (!file.ok()) return file.status();
  if (absl::Status mode = CheckPrivateFileMode(path, file->mode, file->owner, "passphrase file");
      !mode.ok()) {
    return mode;
  }
  absl::string_view text = file->text.str();
  const size_t newline = text.find('\n');
  if (newline != absl::string_view::npos) text = text.substr(0, newline);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);  // CRLF files
  if (text.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "passphrase file ", path, ": the first line is empty"));
  }
  return FromString(text);
}

Passphrase::Passphrase(Passphrase&& other) noexcept
    : data_(std::move(other.data_)) {
  other.data_.clear();
}

Passphrase& Passphrase::operator=(Passphrase&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::move(other.data_);
    other.data_.clear();
  }
  return *this;
}

Passphrase::~Passphrase() { Wipe(); }

void Passphrase::Wipe() {
  if (!data_.empty()) sodium_memzero(data_.data(), data_.size());
  data_.clear();
}

// ---- Key files ------------------------------------------------------------

absl::Status SaveSigningKey(const SigningKey& key, const std::string& path,
                            const KeyFileOptions& options) {
  const absl::optional<absl::string_view> maybe_seed = internal::KeyFileAccess::Seed(key);
  if (!maybe_seed.has_value()) {
    return absl::FailedPreconditionError("SigningKey was moved from");
  }
  const VerifyingKey pk = key.verifying_key();
  const absl::string_view seed = *maybe_seed;

  SecretString text;
  text.str().reserve(512);
  absl::StrAppend(&text.str(), kPrivateHeader, "\n", "key-id ",
                  pk.key_id().ToString(), "\n", "public-key ", pk.ToBase64(),
                  "\n");
  if (!options.passphrase.has_value()) {
    SecretString b64;
    b64.str().reserve(64);
    absl::Base64Escape(seed, &b64.str());
    absl::StrAppend(&text.str(), "seed ", b64.str(), "\n");
  } else {
    absl::Status limits = CheckKdfLimits(options.kdf_opslimit,
                                         options.kdf_memlimit, "KeyFileOptions: ");
    if (!limits.ok()) return limits;
    EnsureSodium();
    unsigned char salt[kSaltSize];
    randombytes_buf(salt, sizeof(salt));
    SecretBytes<crypto_secretbox_KEYBYTES> box_key;
    absl::Status derived = DeriveSealingKey(
        options.passphrase->value(), AsView(salt, sizeof(salt)),
        options.kdf_opslimit, options.kdf_memlimit, &box_key);
    if (!derived.ok()) return derived;
    unsigned char sealed[kSealedSize];
    unsigned char* nonce = sealed;
    randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(sealed + crypto_secretbox_NONCEBYTES, U(seed),
                          seed.size(), nonce, box_key.data);
    absl::StrAppend(&text.str(), "kdf ", kKdfName,
                    " opslimit=", options.kdf_opslimit,
                    " memlimit=", options.kdf_memlimit,
                    " salt=", absl::Base64Escape(AsView(salt, sizeof(salt))),
                    "\n", "sealed-seed ",
                    absl::Base64Escape(AsView(sealed, sizeof(sealed))), "\n");
  }
  return WriteFileAtomically(path, text.str(), 0600, options.overwrite);
}

absl::StatusOr<SigningKey> LoadSigningKey(
    const std::string& path, absl::optional<Passphrase> passphrase) {
  absl::StatusOr<FileContents> file = ReadSmallFile(path, "key file");
  if (!file.ok()) return file.status();
  absl::StatusOr<ParsedKeyFile> parsed = ParseKeyFile(file->text.str(), path);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_private) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key file ", path,
        " is a public key file; signing needs a private key file"));
  }
  absl::Status mode = CheckPrivateFileMode(path, file->mode, file->owner);
  if (!mode.ok()) return mode;

  SecretBytes<SecretSeed::kSize> seed_bytes;
  if (!parsed->sealed) {
    std::memcpy(seed_bytes.data, parsed->seed->str().data(), SecretSeed::kSize);
  } else {
    if (!passphrase.has_value()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "key file ", path,
          " is sealed with a passphrase; a passphrase is required to load it"));
    }
    SecretBytes<crypto_secretbox_KEYBYTES> box_key;
    absl::Status derived =
        DeriveSealingKey(passphrase->value(), parsed->salt, parsed->opslimit,
                         parsed->memlimit, &box_key);
    if (!derived.ok()) return derived;
    const unsigned char* nonce = U(parsed->sealed_seed);
    const unsigned char* box = nonce + crypto_secretbox_NONCEBYTES;
    if (crypto_secretbox_open_easy(
            seed_bytes.data, box,
            parsed->sealed_seed.size() - crypto_secretbox_NONCEBYTES, nonce,
            box_key.data) != 0) {
      return absl::UnauthenticatedError(absl::StrCat(
          "wrong passphrase or corrupted key file ", path));
    }
  }
  absl::StatusOr<SecretSeed> seed =
      SecretSeed::FromBytes(AsView(seed_bytes.data, SecretSeed::kSize));
  if (!seed.ok()) return seed.status();
  SigningKey key = SigningKey::FromSeed(*seed);
  if (key.verifying_key() != *parsed->public_key) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key file ", path,
        ": the public-key line does not match the key derived from the seed "
        "(the file was modified or corrupted)"));
  }
  return key;
}

absl::Status SaveVerifyingKey(const VerifyingKey& key, const std::string& path,
                              const KeyFileOptions& options) {
  const std::string text =
      absl::StrCat(kPublicHeader, "\n", "key-id ", key.key_id().ToString(),
                   "\n", "public-key ", key.ToBase64(), "\n");
  return WriteFileAtomically(path, text, 0644, options.overwrite);
}

absl::StatusOr<std::string> ReadPrivateFile(const std::string& path, absl::string_view what) {
  absl::StatusOr<FileContents> file = ReadSmallFile(path, what);
  if (!file.ok()) return file.status();
  if (absl::Status s = CheckPrivateFileMode(path, file->mode, file->owner); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(what, ": ", s.message()));
  }
  return std::string(file->text.str());
}

absl::StatusOr<VerifyingKey> LoadVerifyingKey(const std::string& path) {
  absl::StatusOr<FileContents> file = ReadSmallFile(path, "key file");
  if (!file.ok()) return file.status();
  absl::StatusOr<ParsedKeyFile> parsed = ParseKeyFile(file->text.str(), path);
  if (!parsed.ok()) return parsed.status();
  if (parsed->is_private) {
    absl::Status mode = CheckPrivateFileMode(path, file->mode, file->owner);
    if (!mode.ok()) return mode;
    if (!parsed->sealed) {
      absl::StatusOr<SecretSeed> seed = SecretSeed::FromBytes(parsed->seed->str());
      if (!seed.ok()) return seed.status();
      if (SigningKey::FromSeed(*seed).verifying_key() != *parsed->public_key) {
        return absl::InvalidArgumentError(absl::StrCat(
            "key file ", path,
            ": the public-key line does not match the key derived from the "
            "seed (the file was modified or corrupted)"));
      }
    }
  }
  return *parsed->public_key;
}

}  // namespace chemledger::crypto
