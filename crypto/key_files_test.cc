#include "crypto/key_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chemledger::crypto {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr SignatureContext kEventContext(
    "application/vnd.chemledger.event.v1+protobuf");

// RFC 8032 section 7.1, TEST 1 and TEST 2 (the seeds; crypto/keys_test.cc
// checks their keys and signatures).
constexpr char kRfcSeed1[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr char kRfcSeed2[] =
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

SigningKey KeyFromHexSeed(absl::string_view hex) {
  absl::StatusOr<std::string> raw = HexDecode(hex);
  EXPECT_TRUE(raw.ok());
  absl::StatusOr<SecretSeed> seed = SecretSeed::FromBytes(*raw);
  EXPECT_TRUE(seed.ok()) << seed.status();
  return SigningKey::FromSeed(*seed);
}

Passphrase MakePassphrase(absl::string_view text) {
  absl::StatusOr<Passphrase> p = Passphrase::FromString(text);
  EXPECT_TRUE(p.ok()) << p.status();
  return *std::move(p);
}

// Cheap Argon2id costs so tests stay fast; one test uses the defaults.
KeyFileOptions FastSealed(absl::string_view passphrase) {
  KeyFileOptions options;
  options.passphrase = MakePassphrase(passphrase);
  options.kdf_opslimit = 1;
  options.kdf_memlimit = 8192;
  return options;
}

TEST(KeyFilesTest, PassphraseRejectsEmpty) {
  EXPECT_EQ(Passphrase::FromString("").status().code(),
            absl::StatusCode::kInvalidArgument);
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string templ = absl::StrCat(base != nullptr ? base : "/tmp",
                                     "/keyfile_test_XXXXXX");
    ASSERT_NE(mkdtemp(&templ[0]), nullptr);
    dir_ = templ;
  }

  std::string Path(absl::string_view name) const {
    return absl::StrCat(dir_, "/", name);
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  static void WriteFile(const std::string& path, absl::string_view text,
                        mode_t mode = 0600) {
    unlink(path.c_str());
    const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, mode);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(write(fd, text.data(), text.size()),
              static_cast<ssize_t>(text.size()));
    ASSERT_EQ(fchmod(fd, mode), 0);
    close(fd);
  }

  static mode_t Mode(const std::string& path) {
    struct stat st;
    EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  std::vector<std::string> DirEntries() const {
    std::vector<std::string> names;
    DIR* d = opendir(dir_.c_str());
    while (struct dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir_;
};

TEST_F(KeyFileTest, SaveAndLoadUnsealed) {
  const SigningKey key = KeyFromHexSeed(kRfcSeed1);
  const std::string path = Path("log.key");
  ASSERT_TRUE(SaveSigningKey(key, path, KeyFileOptions()).ok());
  EXPECT_EQ(Mode(path), 0600);
  EXPECT_THAT(DirEntries(), ElementsAre("log.key"));  // No temp file left.
  EXPECT_EQ(ReadFile(path),
            "chemledger-ed25519-private-key v1\n"
            "key-id 1474ba62a1e3b3f7\n"
            "public-key 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
            "seed nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=\n");

  absl::StatusOr<SigningKey> loaded = LoadSigningKey(path, absl::nullopt);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->verifying_key(), key.verifying_key());
  EXPECT_EQ(*loaded->Sign(kEventContext, "m"), *key.Sign(kEventContext, "m"));
  // A passphrase given for an unsealed file is ignored.
  EXPECT_TRUE(LoadSigningKey(path, MakePassphrase("unused")).ok());
  // The public part of a private key file.
  absl::StatusOr<VerifyingKey> pk = LoadVerifyingKey(path);
  ASSERT_TRUE(pk.ok()) << pk.status();
  EXPECT_EQ(*pk, key.verifying_key());
}

TEST_F(KeyFileTest, SaveAndLoadSealed) {
  const SigningKey key = SigningKey::Generate();
  const std::string path = Path("sealed.key");
  ASSERT_TRUE(SaveSigningKey(key, path, FastSealed("correct horse")).ok());
  EXPECT_EQ(Mode(path), 0600);
  const std::string text = ReadFile(path);
  const std::vector<std::string> lines = absl::StrSplit(text, '\n');
  ASSERT_EQ(lines.size(), 6u) << text;  // 5 lines and the final "".
  EXPECT_EQ(lines[0], "chemledger-ed25519-private-key v1");
  EXPECT_EQ(lines[1], "key-id " + key.key_id().ToString());
  EXPECT_EQ(lines[2], "public-key " + key.verifying_key().ToBase64());
  EXPECT_THAT(lines[3], StartsWith("kdf argon2id13 opslimit=1 memlimit=8192 salt="));
  EXPECT_EQ(lines[3].size(), std::string("kdf argon2id13 opslimit=1 memlimit=8192 salt=").size() + 24);
  EXPECT_THAT(lines[4], StartsWith("sealed-seed "));
  EXPECT_EQ(lines[4].size(), std::string("sealed-seed ").size() + 96);  // 72 bytes
  EXPECT_THAT(text, Not(HasSubstr("\nseed ")));

  absl::StatusOr<SigningKey> loaded =
      LoadSigningKey(path, MakePassphrase("correct horse"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->verifying_key(), key.verifying_key());
  // The public part needs no passphrase.
  EXPECT_EQ(*LoadVerifyingKey(path), key.verifying_key());
}

TEST_F(KeyFileTest, SealedWithDefaultCosts) {
  const SigningKey key = SigningKey::Generate();
  const std::string path = Path("default.key");
  KeyFileOptions options;
  options.passphrase = MakePassphrase("pw");
  ASSERT_TRUE(SaveSigningKey(key, path, options).ok());
  EXPECT_THAT(ReadFile(path),
              HasSubstr("\nkdf argon2id13 opslimit=3 memlimit=268435456 salt="));
  absl::StatusOr<SigningKey> loaded = LoadSigningKey(path, MakePassphrase("pw"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->key_id(), key.key_id());
}

TEST_F(KeyFileTest, WrongPassphrase) {
  const std::string path = Path("sealed.key");
  ASSERT_TRUE(SaveSigningKey(SigningKey::Generate(), path, FastSealed("right")).ok());
  absl::StatusOr<SigningKey> loaded = LoadSigningKey(path, MakePassphrase("wrong"));
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(loaded.status().message(),
            "wrong passphrase or corrupted key file " + path);
}

TEST_F(KeyFileTest, MissingPassphrase) {
  const std::string path = Path("sealed.key");
  ASSERT_TRUE(SaveSigningKey(SigningKey::Generate(), path, FastSealed("pw")).ok());
  absl::StatusOr<SigningKey> loaded = LoadSigningKey(path, absl::nullopt);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(loaded.status().message()),
              HasSubstr("a passphrase is required"));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(path));
}

TEST_F(KeyFileTest, CorruptedSealedSeedOrSaltFailsToOpen) {
  const std::string path = Path("sealed.key");
  ASSERT_TRUE(SaveSigningKey(SigningKey::Generate(), path, FastSealed("pw")).ok());
  const std::string text = ReadFile(path);
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  // Change one ciphertext byte (re-encoded canonically).
  std::string sealed;
  ASSERT_TRUE(absl::Base64Unescape(lines[4].substr(12), &sealed));
  sealed[40] ^= 1;
  lines[4] = "sealed-seed " + absl::Base64Escape(sealed);
  WriteFile(path, absl::StrJoin(lines, "\n"));
  EXPECT_EQ(LoadSigningKey(path, MakePassphrase("pw")).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Weakening the stored costs only derives a different key.
  WriteFile(path, absl::StrReplaceAll(text, {{"opslimit=1 ", "opslimit=2 "}}));
  EXPECT_EQ(LoadSigningKey(path, MakePassphrase("pw")).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(KeyFileTest, TamperedPublicKeyLine) {
  const std::string path = Path("a.key");
  ASSERT_TRUE(SaveSigningKey(KeyFromHexSeed(kRfcSeed1), path, KeyFileOptions()).ok());
  const std::string text = ReadFile(path);
  const VerifyingKey other = KeyFromHexSeed(kRfcSeed2).verifying_key();

  // Only the public-key line changed: the key-id line no longer matches it.
  std::string t1 = absl::StrReplaceAll(
      text, {{KeyFromHexSeed(kRfcSeed1).verifying_key().ToBase64(),
              other.ToBase64()}});
  ASSERT_NE(t1, text);
  WriteFile(path, t1);
  absl::StatusOr<SigningKey> loaded = LoadSigningKey(path, absl::nullopt);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(loaded.status().message()),
              HasSubstr("line 2: key-id 1474ba62a1e3b3f7 does not match the "
                        "public-key line"));
  EXPECT_FALSE(LoadVerifyingKey(path).ok());

  // Both lines replaced consistently: the seed gives it away.
  const std::string t2 =
      absl::StrReplaceAll(t1, {{"1474ba62a1e3b3f7", other.key_id().ToString()}});
  WriteFile(path, t2);
  loaded = LoadSigningKey(path, absl::nullopt);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(loaded.status().message()),
              HasSubstr("public-key line does not match the key derived from "
                        "the seed"));
  EXPECT_FALSE(LoadVerifyingKey(path).ok());
}

TEST_F(KeyFileTest, TamperedPublicKeyLineInSealedFile) {
  const std::string path = Path("sealed.key");
  const SigningKey key = SigningKey::Generate();
  ASSERT_TRUE(SaveSigningKey(key, path, FastSealed("pw")).ok());
  const VerifyingKey other = KeyFromHexSeed(kRfcSeed2).verifying_key();
  WriteFile(path, absl::StrReplaceAll(
                      ReadFile(path),
                      {{key.verifying_key().ToBase64(), other.ToBase64()},
                       {key.key_id().ToString(), other.key_id().ToString()}}));
  absl::StatusOr<SigningKey> loaded = LoadSigningKey(path, MakePassphrase("pw"));
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(loaded.status().message()),
              HasSubstr("does not match the key derived from the seed"));
}

TEST_F(KeyFileTest, RefusesToOverwrite) {
  const std::string path = Path("k.key");
  const SigningKey first = SigningKey::Generate();
  const SigningKey second = SigningKey::Generate();
  ASSERT_TRUE(SaveSigningKey(first, path, KeyFileOptions()).ok());
  const absl::Status again = SaveSigningKey(second, path, KeyFileOptions());
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(again.message()), HasSubstr(path));
  EXPECT_EQ(LoadSigningKey(path, absl::nullopt)->key_id(), first.key_id());
  EXPECT_EQ(SaveVerifyingKey(second.verifying_key(), path, KeyFileOptions()).code(),
            absl::StatusCode::kAlreadyExists);

  KeyFileOptions overwrite;
  overwrite.overwrite = true;
  ASSERT_TRUE(SaveSigningKey(second, path, overwrite).ok());
  EXPECT_EQ(LoadSigningKey(path, absl::nullopt)->key_id(), second.key_id());
  EXPECT_EQ(Mode(path), 0600);
  EXPECT_THAT(DirEntries(), ElementsAre("k.key"));
}

TEST_F(KeyFileTest, RefusesGroupOrWorldAccessiblePrivateKey) {
  const std::string path = Path("open.key");
  ASSERT_TRUE(SaveSigningKey(SigningKey::Generate(), path, KeyFileOptions()).ok());
  for (mode_t mode : {0644, 0640, 0604, 0620}) {
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
    absl::StatusOr<SigningKey> loaded = LoadSigningKey(path, absl::nullopt);
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(loaded.status().message()),
                HasSubstr(absl::StrFormat("private key file %s has mode %04o",
                                          path, mode)));
    EXPECT_FALSE(LoadVerifyingKey(path).ok());
  }
  ASSERT_EQ(chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(LoadSigningKey(path, absl::nullopt).ok());
}

TEST_F(KeyFileTest, PublicKeyFile) {
  const SigningKey key = KeyFromHexSeed(kRfcSeed1);
  const std::string path = Path("log.pub");
  ASSERT_TRUE(SaveVerifyingKey(key.verifying_key(), path, KeyFileOptions()).ok());
  EXPECT_EQ(ReadFile(path),
            "chemledger-ed25519-public-key v1\n"
            "key-id 1474ba62a1e3b3f7\n"
            "public-key 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n");
  EXPECT_EQ(Mode(path) & 0600, 0600);
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);  // Public files may be readable.
  EXPECT_EQ(*LoadVerifyingKey(path), key.verifying_key());
  absl::StatusOr<SigningKey> as_private = LoadSigningKey(path, absl::nullopt);
  EXPECT_EQ(as_private.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(as_private.status().message()),
              HasSubstr("is a public key file"));
}

TEST_F(KeyFileTest, MissingFile) {
  absl::StatusOr<SigningKey> loaded =
      LoadSigningKey(Path("does-not-exist.key"), absl::nullopt);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(loaded.status().message()),
              HasSubstr("does-not-exist.key"));
}

TEST_F(KeyFileTest, MalformedFilesHaveClearErrors) {
  const std::string header = "chemledger-ed25519-private-key v1\n";
  const std::string id_line = "key-id 1474ba62a1e3b3f7\n";
  const std::string pk_line =
      "public-key 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n";
  const std::string seed_b64 = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
  const std::string good = header + id_line + pk_line + "seed " + seed_b64 + "\n";
  const std::string salt = " salt=AAAAAAAAAAAAAAAAAAAAAA==\n";
  const std::string sealed_line =
      "sealed-seed " + absl::Base64Escape(std::string(72, 'x')) + "\n";

  const struct {
    std::string text;
    std::string error;
  } cases[] = {
      {"", "file is empty"},
      {good.substr(0, good.size() - 1), "last line does not end in a newline"},
      {"-----BEGIN OPENSSH PRIVATE KEY-----\n", "line 1: not a ChemLedger key file"},
      {"chemledger-ed25519-private-key v2\n" + id_line + pk_line,
       "line 1: unsupported key file version"},
      {header + id_line + pk_line, "has 3 lines; a private key file has 4"},
      {good + "extra\n", "line 5: unexpected line after \"seed\""},
      {header + "key-id 1474BA62A1E3B3F7\n" + pk_line + "seed " + seed_b64 + "\n",
       "line 2: key id: character 4 is not a lowercase hex digit"},
      {header + "keyid 1474ba62a1e3b3f7\n" + pk_line + "seed " + seed_b64 + "\n",
       "line 2: expected \"key-id <16 lowercase hex digits>\""},
      {header + id_line + "public-key 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo\n" +
           "seed " + seed_b64 + "\n",
       "line 3: public-key: not canonical padded standard base64"},
      {header + id_line + pk_line + "seed " + seed_b64.substr(0, 40) + "\n",
       "line 4: seed: must decode to 32 bytes, got 30"},
      // 'A=' -> 'B=' sets an unused bit: not canonical.
      {header + id_line + pk_line + "seed nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2B=\n",
       "line 4: seed: not canonical"},
      {header + id_line + pk_line + "secret " + seed_b64 + "\n",
       "line 4: expected \"seed <base64 of 32 bytes>\""},
      {absl::StrReplaceAll(good, {{"\n", "\r\n"}}), "byte 0x0d is not printable"},
      {header + id_line + pk_line + "kdf scrypt opslimit=1 memlimit=8192" + salt +
           sealed_line,
       "line 4: unsupported kdf \"scrypt\""},
      {header + id_line + pk_line +
           "kdf argon2id13 opslimit=1 memlimit=100000000000" + salt + sealed_line,
       "line 4: kdf memlimit 100000000000 is out of range 8192..1073741824"},
      {header + id_line + pk_line + "kdf argon2id13 opslimit=1000 memlimit=8192" +
           salt + sealed_line,
       "line 4: kdf opslimit 1000 is out of range 1..10"},
      {header + id_line + pk_line + "kdf argon2id13 opslimit=01 memlimit=8192" +
           salt + sealed_line,
       "line 4: opslimit is not a decimal number"},
      {header + id_line + pk_line + "kdf argon2id13 opslimit=1 memlimit=8192\n" +
           sealed_line,
       "line 4: expected \"kdf argon2id13 opslimit=<n>"},
      {header + id_line + pk_line + "kdf argon2id13 opslimit=1 memlimit=8192" +
           salt + "sealed-seed AAAA\n",
       "line 5: sealed-seed: must decode to 72 bytes, got 3"},
  };
  const std::string path = Path("bad.key");
  for (const auto& c : cases) {
    WriteFile(path, c.text);
    absl::StatusOr<SigningKey> loaded =
        LoadSigningKey(path, MakePassphrase("pw"));
    ASSERT_FALSE(loaded.ok()) << c.text;
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument)
        << loaded.status();
    const std::string message(loaded.status().message());
    EXPECT_THAT(message, HasSubstr(c.error)) << c.text;
    EXPECT_THAT(message, HasSubstr("key file " + path)) << c.text;
    // Secret material never appears in errors.
    EXPECT_THAT(message, Not(HasSubstr("nWGxne"))) << c.text;
  }
  WriteFile(path, good);
  EXPECT_TRUE(LoadSigningKey(path, absl::nullopt).ok());
}

TEST_F(KeyFileTest, SaveRejectsOutOfRangeKdfCosts) {
  KeyFileOptions options = FastSealed("pw");
  options.kdf_memlimit = uint64_t{100} << 30;
  const absl::Status s = SaveSigningKey(SigningKey::Generate(), Path("x.key"), options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("memlimit"));
  EXPECT_TRUE(DirEntries().empty());
}

TEST_F(KeyFileTest, RefusesAPrivateKeyOwnedByAnotherUser) {
  const std::string path = Path("theirs.key");
  ASSERT_TRUE(SaveSigningKey(SigningKey::Generate(), path, KeyFileOptions{}).ok());
  if (chown(path.c_str(), geteuid() + 1, static_cast<gid_t>(-1)) != 0) {
    GTEST_SKIP() << "cannot chown here (not root)";
  }
  absl::StatusOr<SigningKey> loaded = LoadSigningKey(path, absl::nullopt);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("not to this user"));
}

TEST_F(KeyFileTest, PassphraseFromFile) {
  const std::string pw_path = Path("pw.txt");
  WriteFile(pw_path, "s3cret phrase\nsecond line ignored\n");
  absl::StatusOr<Passphrase> pw = Passphrase::ReadFromFile(pw_path);
  ASSERT_TRUE(pw.ok()) << pw.status();

  const std::string path = Path("sealed.key");
  const SigningKey key = SigningKey::Generate();
  ASSERT_TRUE(SaveSigningKey(key, path, FastSealed("s3cret phrase")).ok());
  absl::StatusOr<SigningKey> loaded = LoadSigningKey(path, *std::move(pw));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->key_id(), key.key_id());

  WriteFile(pw_path, "no newline at end");
  EXPECT_TRUE(Passphrase::ReadFromFile(pw_path).ok());
  // A file written on Windows: the CR is not part of the passphrase.
  WriteFile(pw_path, "s3cret phrase\r\n");
  EXPECT_TRUE(LoadSigningKey(path, *Passphrase::ReadFromFile(pw_path)).ok());
  WriteFile(pw_path, "\nsecond");
  EXPECT_THAT(std::string(Passphrase::ReadFromFile(pw_path).status().message()),
              HasSubstr("first line is empty"));
  EXPECT_EQ(Passphrase::ReadFromFile(Path("none")).status().code(),
            absl::StatusCode::kNotFound);
  // A passphrase others may read unseals the key beside it: refused.
  WriteFile(pw_path, "s3cret phrase\n", 0644);
  absl::StatusOr<Passphrase> shared = Passphrase::ReadFromFile(pw_path);
  EXPECT_EQ(shared.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(shared.status().message()), HasSubstr("passphrase file"));
  EXPECT_THAT(std::string(shared.status().message()), HasSubstr("chmod 600"));
}

}  // namespace
}  // namespace chemledger::crypto
