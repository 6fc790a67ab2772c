#include "crypto/checkpoint.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "crypto/internal/raw_ed25519.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chemledger::crypto {
namespace {

using ::testing::HasSubstr;

// RFC 8032 section 7.1 TEST 1 and TEST 2 secrets.
constexpr char kLogSeed[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr char kWitnessSeed[] =
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
constexpr char kOrigin[] = "chemledger.example/log";
constexpr char kWitnessName[] = "witness.example/w1";
constexpr char kEmDash[] = "\xE2\x80\x94";

// Produced independently (Python `cryptography` + hashlib) from the seeds
// above: Ed25519 over the note text, key hash = SHA-256(name "\n" 0x01 pk)[:4].
constexpr char kKnownNote[] =
    "chemledger.example/log\n"
    "20852163\n"
    "8o5NwwfqSX1bgPCgzjADtIhGemps31tM9PLO6TRXi4o=\n"
    "\n"
    "\xE2\x80\x94 chemledger.example/log "
    "+oxnA687AuwFyxq3v6rmCbCOJXD2Zt7ZSmt0El1QdJeQtnWapXs7LExMpBV3xh7/"
    "4x28KmUC23D2ACkXyyWpDzFd+g8=\n";
constexpr char kKnownWitnessLine[] =
    "\xE2\x80\x94 witness.example/w1 "
    "0xiJVcMT0lTBGd9t388cRjOUOEh0rV6L7SZQxH/"
    "5SQrE3RZ4cUoFZLYtKkJ+ej7AqvlZIjlcdlRo7xavyniEIYjZ1gw=\n";
constexpr char kLogVerifierKey[] =
    "chemledger.example/log+fa8c6703+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";
constexpr char kWitnessVerifierKey[] =
    "witness.example/w1+d3188955+AT1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM";

SigningKey KeyFromHexSeed(absl::string_view hex) {
  return SigningKey::FromSeed(*SecretSeed::FromBytes(*HexDecode(hex)));
}

NoteSigner MakeSigner(absl::string_view name, absl::string_view hex_seed) {
  absl::StatusOr<NoteSigner> signer =
      NoteSigner::Create(name, KeyFromHexSeed(hex_seed));
  EXPECT_TRUE(signer.ok()) << signer.status();
  return *std::move(signer);
}

Checkpoint KnownCheckpoint() {
  Checkpoint cp;
  cp.origin = kOrigin;
  cp.size = 20852163;
  cp.root_hash = Sha256("chemledger");
  return cp;
}

// A signature line made without NoteSigner (so tests can sign text that
// NoteSigner refuses to produce, and so the key hash is computed a second,
// independent way).
std::string RawSignatureLine(absl::string_view text, const SigningKey& key,
                             absl::string_view name) {
  const Sha256Digest h =
      Sha256Concat({name, "\n", "\x01", key.verifying_key().ToBytes()});
  const std::string hash = h.ToBytes().substr(0, 4);
  const Signature sig = internal::RawEd25519::Sign(key, text);
  return absl::StrCat(kEmDash, " ", name, " ",
                      absl::Base64Escape(hash + sig.ToBytes()), "\n");
}

std::string RawSignedNote(absl::string_view text) {
  return absl::StrCat(text, "\n",
                      RawSignatureLine(text, KeyFromHexSeed(kLogSeed), kOrigin));
}

class CheckpointTest : public ::testing::Test {
 protected:
  CheckpointTest()
      : log_(MakeSigner(kOrigin, kLogSeed)),
        witness_(MakeSigner(kWitnessName, kWitnessSeed)) {}

  absl::Status Open(absl::string_view note) {
    return OpenCheckpoint(note, kOrigin, log_.verifier()).status();
  }

  void ExpectOpenError(absl::string_view note, absl::StatusCode code,
                       absl::string_view message_part) {
    const absl::Status s = Open(note);
    EXPECT_EQ(s.code(), code) << s << "\nnote:\n" << note;
    EXPECT_THAT(std::string(s.message()), HasSubstr(message_part))
        << "note:\n" << note;
  }

  NoteSigner log_;
  NoteSigner witness_;
};

TEST_F(CheckpointTest, KnownAnswer) {
  absl::StatusOr<std::string> note = log_.SignCheckpoint(KnownCheckpoint());
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_EQ(*note, kKnownNote);
  // The parts, spelled out: three text lines, a blank line, then em dash
  // (E2 80 94), space, key name, space, base64 of 4 + 64 bytes.
  const std::vector<std::string> lines = absl::StrSplit(*note, '\n');
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "chemledger.example/log");
  EXPECT_EQ(lines[1], "20852163");
  EXPECT_EQ(lines[2], absl::Base64Escape(Sha256("chemledger").ToBytes()));
  EXPECT_EQ(lines[3], "");
  EXPECT_EQ(lines[4].substr(0, 4), "\xE2\x80\x94 ");
  EXPECT_EQ(lines[5], "");
  std::string sig;
  ASSERT_TRUE(absl::Base64Unescape(
      lines[4].substr(std::string("\xE2\x80\x94 chemledger.example/log ").size()),
      &sig));
  EXPECT_EQ(sig.size(), 68u);
  EXPECT_EQ(HexEncode(sig.substr(0, 4)), "fa8c6703");

  EXPECT_EQ(log_.verifier().VerifierKeyString(), kLogVerifierKey);
  EXPECT_EQ(witness_.verifier().VerifierKeyString(), kWitnessVerifierKey);
  EXPECT_EQ(log_.verifier().key_hash(), 0xfa8c6703u);

  absl::StatusOr<Checkpoint> opened =
      OpenCheckpoint(kKnownNote, kOrigin, log_.verifier());
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, KnownCheckpoint());
}

TEST_F(CheckpointTest, InteroperatesWithGoSumdbNoteVector) {
  // The key and note from Go's golang.org/x/mod/sumdb/note tests (also in the
  // C2SP ecosystem's ports): checks key hash, verifier key encoding and that
  // note signatures are plain Ed25519 over the text.
  constexpr char kVkey[] =
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
  constexpr char kText[] =
      "If you think cryptography is the answer to your problem,\n"
      "then you don't know what your problem is.\n";
  constexpr char kSigB64[] =
      "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngo"
      "tpRZb6KE6RyyBwJnAM=";
  absl::StatusOr<NoteVerifier> verifier = NoteVerifier::FromVerifierKey(kVkey);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_EQ(verifier->name(), "PeterNeumann");
  EXPECT_EQ(verifier->key_hash(), 0xc74f20a3u);
  EXPECT_EQ(verifier->VerifierKeyString(), kVkey);

  // Go's private key "PRIVATE+KEY+PeterNeumann+c74f20a3+<base64(0x01||seed)>".
  std::string skey;
  ASSERT_TRUE(absl::Base64Unescape("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
                                   &skey));
  const SigningKey key =
      SigningKey::FromSeed(*SecretSeed::FromBytes(skey.substr(1)));
  absl::StatusOr<NoteSigner> signer = NoteSigner::Create(
      "PeterNeumann",
      SigningKey::FromSeed(*SecretSeed::FromBytes(skey.substr(1))));
  ASSERT_TRUE(signer.ok());
  EXPECT_EQ(signer->verifier().VerifierKeyString(), kVkey);

  std::string sig;
  ASSERT_TRUE(absl::Base64Unescape(kSigB64, &sig));
  EXPECT_EQ(HexEncode(sig.substr(0, 4)), "c74f20a3");
  EXPECT_EQ(internal::RawEd25519::Sign(key, kText).ToBytes(), sig.substr(4));
  EXPECT_EQ(RawSignatureLine(kText, key, "PeterNeumann"),
            absl::StrCat(kEmDash, " PeterNeumann ", kSigB64, "\n"));
}

TEST_F(CheckpointTest, RoundTrip) {
  Checkpoint cp;
  cp.origin = "example.com/log42";
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{10},
                        uint64_t{18446744073709551615u}}) {
    cp.size = size;
    cp.root_hash = Sha256(absl::StrCat("root ", size));
    NoteSigner signer = MakeSigner("example.com/log42", kLogSeed);
    absl::StatusOr<std::string> note = signer.SignCheckpoint(cp);
    ASSERT_TRUE(note.ok()) << note.status();
    EXPECT_THAT(*note, HasSubstr(absl::StrCat("\n", size, "\n")));
    absl::StatusOr<Checkpoint> opened =
        OpenCheckpoint(*note, "example.com/log42", signer.verifier());
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(*opened, cp);
  }
}

TEST_F(CheckpointTest, ExtensionLinesRoundTrip) {
  Checkpoint cp = KnownCheckpoint();
  cp.extensions = {"timestamp 1700000000", "— unicode ünïcödé"};
  absl::StatusOr<std::string> note = log_.SignCheckpoint(cp);
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_THAT(*note,
              HasSubstr("=\ntimestamp 1700000000\n— unicode ünïcödé\n\n— "));
  absl::StatusOr<Checkpoint> opened = OpenCheckpoint(*note, kOrigin, log_.verifier());
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->extensions, cp.extensions);
}

TEST_F(CheckpointTest, VerifierKeyStringRoundTrip) {
  absl::StatusOr<NoteVerifier> v = NoteVerifier::FromVerifierKey(kLogVerifierKey);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->name(), kOrigin);
  EXPECT_EQ(v->key(), log_.verifier().key());
  EXPECT_TRUE(OpenCheckpoint(kKnownNote, kOrigin, *v).ok());
}

TEST_F(CheckpointTest, MalformedVerifierKeys) {
  const struct {
    std::string vkey;
    std::string error;
  } cases[] = {
      {"chemledger.example/log", "expected <name>+<8 hex digits>+<base64 key>"},
      {"+fa8c6703+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea", "must not be empty"},
      {"chemledger.example/log+FA8C6703+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea",
       "not 8 lowercase hex digits"},
      {"chemledger.example/log+fa8c670+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea",
       "not 8 lowercase hex digits"},
      {"chemledger.example/log+fa8c6704+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea",
       "key hash fa8c6704 does not match the name and key (they give fa8c6703)"},
      {"other.example/log+fa8c6703+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea",
       "does not match the name and key"},
      {"chemledger.example/log+fa8c6703+AtdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea",
       "signature type 0x02 is not supported"},
      {"chemledger.example/log+fa8c6703+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1E",
       "not canonical"},
      {"chemledger.example/log+fa8c6703+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
       "not a valid point"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<NoteVerifier> v = NoteVerifier::FromVerifierKey(c.vkey);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << c.vkey;
    EXPECT_THAT(std::string(v.status().message()), HasSubstr(c.error)) << c.vkey;
  }
}

TEST_F(CheckpointTest, KeyNameRules) {
  for (const char* bad : {"", "a b", "a+b", "a\tb", "a\xC2\xA0" "b",
                          "a\xE3\x80\x80" "b", "\xff"}) {
    absl::StatusOr<NoteSigner> s = NoteSigner::Create(bad, SigningKey::Generate());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(NoteSigner::Create("例え.example/ログ", SigningKey::Generate()).ok());
}

// ---- Tampering --------------------------------------------------------------

TEST_F(CheckpointTest, ChangedSizeFails) {
  const std::string note =
      absl::StrReplaceAll(kKnownNote, {{"\n20852163\n", "\n20852164\n"}});
  ExpectOpenError(note, absl::StatusCode::kUnauthenticated,
                  "signature by key chemledger.example/log+fa8c6703 does not "
                  "verify");
}

TEST_F(CheckpointTest, ChangedRootFails) {
  const std::string note = absl::StrReplaceAll(
      kKnownNote, {{absl::Base64Escape(Sha256("chemledger").ToBytes()),
                    absl::Base64Escape(Sha256("chemledgex").ToBytes())}});
  ASSERT_NE(note, kKnownNote);
  ExpectOpenError(note, absl::StatusCode::kUnauthenticated, "does not verify");
}

TEST_F(CheckpointTest, ChangedOriginFails) {
  const std::string note = absl::StrReplaceAll(
      kKnownNote, {{"chemledger.example/log\n2", "chemledger.example/lag\n2"}});
  ASSERT_NE(note, kKnownNote);
  // Against the real origin: the origin check fails first.
  ExpectOpenError(note, absl::StatusCode::kFailedPrecondition,
                  "origin \"chemledger.example/lag\" is not the expected "
                  "\"chemledger.example/log\"");
  // Against the forged origin: the signature fails.
  const absl::Status s =
      OpenCheckpoint(note, "chemledger.example/lag", log_.verifier()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
}

TEST_F(CheckpointTest, WrongExpectedOrigin) {
  const absl::Status s =
      OpenCheckpoint(kKnownNote, "chemledger.example/other", log_.verifier())
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(OpenCheckpoint(kKnownNote, "", log_.verifier()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CheckpointTest, ChangedSignatureByteFails) {
  std::vector<std::string> lines = absl::StrSplit(kKnownNote, '\n');
  const std::string prefix = absl::StrCat(kEmDash, " chemledger.example/log ");
  for (size_t i : {4, 10, 40, 67}) {
    std::string raw;
    ASSERT_TRUE(absl::Base64Unescape(lines[4].substr(prefix.size()), &raw));
    raw[i] ^= 0x20;
    std::vector<std::string> tampered = lines;
    tampered[4] = prefix + absl::Base64Escape(raw);
    ExpectOpenError(absl::StrJoin(tampered, "\n"),
                    absl::StatusCode::kUnauthenticated, "does not verify");
  }
  // A change in the key hash makes it someone else's signature.
  std::string raw;
  ASSERT_TRUE(absl::Base64Unescape(lines[4].substr(prefix.size()), &raw));
  raw[0] ^= 0x01;
  lines[4] = prefix + absl::Base64Escape(raw);
  ExpectOpenError(absl::StrJoin(lines, "\n"), absl::StatusCode::kUnauthenticated,
                  "no signature by key chemledger.example/log+fa8c6703 "
                  "(signed by: chemledger.example/log+fb8c6703)");
}

TEST_F(CheckpointTest, WrongVerifierKey) {
  const absl::Status s =
      OpenCheckpoint(kKnownNote, kOrigin, witness_.verifier()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(s.message(),
            "checkpoint: no signature by key witness.example/w1+d3188955 "
            "(signed by: chemledger.example/log+fa8c6703)");
  // Same name, different key: a different key hash, so also "no signature".
  const NoteVerifier impostor =
      *NoteVerifier::Create(kOrigin, SigningKey::Generate().verifying_key());
  const absl::Status s2 = OpenCheckpoint(kKnownNote, kOrigin, impostor).status();
  EXPECT_EQ(s2.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(s2.message()), HasSubstr("no signature by key"));
}

TEST_F(CheckpointTest, SignatureByUnknownKeyIsIgnored) {
  NoteSigner stranger = *NoteSigner::Create("stranger.example/x",
                                            SigningKey::Generate());
  absl::StatusOr<std::string> note = stranger.Cosign(kKnownNote);
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_TRUE(Open(*note).ok());
  // Also when the unknown line comes first, and when it shares our name.
  const std::string text = note->substr(0, note->find("\n\n") + 1);
  const std::string same_name_other_key =
      RawSignatureLine(text, SigningKey::Generate(), kOrigin);
  const std::string reordered =
      absl::StrCat(text, "\n", same_name_other_key,
                   RawSignatureLine(text, KeyFromHexSeed(kLogSeed), kOrigin));
  absl::StatusOr<Checkpoint> opened =
      OpenCheckpoint(reordered, kOrigin, log_.verifier());
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, KnownCheckpoint());
}

TEST_F(CheckpointTest, MultipleSigners) {
  absl::StatusOr<std::string> cosigned = witness_.Cosign(kKnownNote);
  ASSERT_TRUE(cosigned.ok()) << cosigned.status();
  EXPECT_EQ(*cosigned, absl::StrCat(kKnownNote, kKnownWitnessLine));
  absl::StatusOr<Checkpoint> by_log =
      OpenCheckpoint(*cosigned, kOrigin, log_.verifier());
  ASSERT_TRUE(by_log.ok()) << by_log.status();
  absl::StatusOr<Checkpoint> by_witness = OpenCheckpoint(
      *cosigned, kOrigin, *NoteVerifier::FromVerifierKey(kWitnessVerifierKey));
  ASSERT_TRUE(by_witness.ok()) << by_witness.status();
  EXPECT_EQ(*by_log, *by_witness);
  // Cosigning twice is refused.
  const absl::Status again = witness_.Cosign(*cosigned).status();
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(again.message()), HasSubstr("already has a signature"));
  // A witness line that does not verify rejects the note for the witness
  // verifier but not for the log verifier.
  const std::string bad_witness = absl::StrReplaceAll(
      *cosigned, {{"0xiJVcMT0lTBGd9t388c", "0xiJVcMT0lTBGd9t388d"}});
  EXPECT_TRUE(Open(bad_witness).ok());
  EXPECT_EQ(OpenCheckpoint(bad_witness, kOrigin, witness_.verifier())
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(CheckpointTest, FirstLineByTheKeyDecides) {
  // A bad line by the verifier's key is not rescued by a later good one.
  const std::string text = absl::StrCat(
      "chemledger.example/log\n20852163\n",
      absl::Base64Escape(Sha256("chemledger").ToBytes()), "\n");
  const std::string bad_line = RawSignatureLine(
      "other text\n", KeyFromHexSeed(kLogSeed), kOrigin);
  const std::string note = absl::StrCat(
      text, "\n", bad_line, RawSignatureLine(text, KeyFromHexSeed(kLogSeed), kOrigin));
  ExpectOpenError(note, absl::StatusCode::kUnauthenticated, "does not verify");
}

// ---- Strict parsing -----------------------------------------------------------

TEST_F(CheckpointTest, MissingBlankLine) {
  const std::string note =
      absl::StrReplaceAll(kKnownNote, {{"=\n\n\xE2\x80\x94", "=\n\xE2\x80\x94"}});
  ASSERT_NE(note, kKnownNote);
  ExpectOpenError(note, absl::StatusCode::kInvalidArgument,
                  "no blank line between the text and the signatures");
  ExpectOpenError(absl::StrCat(kKnownNote, "\n"),  // Blank line, no signatures.
                  absl::StatusCode::kInvalidArgument, "no signature lines");
}

TEST_F(CheckpointTest, TrailingGarbage) {
  ExpectOpenError("", absl::StatusCode::kInvalidArgument,
                  "does not end in a newline");
  ExpectOpenError(absl::StrCat(kKnownNote, "garbage"),
                  absl::StatusCode::kInvalidArgument,
                  "does not end in a newline");
  ExpectOpenError(absl::StrCat(kKnownNote, "garbage\n"),
                  absl::StatusCode::kInvalidArgument,
                  "signature line 2: does not begin with an em dash");
  ExpectOpenError(absl::StrCat(kKnownNote, "- ascii-dash c2lnbmF0dXJl\n"),
                  absl::StatusCode::kInvalidArgument,
                  "signature line 2: does not begin with an em dash");
  // Trailing whitespace on a signature line makes its base64 invalid.
  const std::string note = absl::StrReplaceAll(kKnownNote, {{"+g8=\n", "+g8= \n"}});
  ASSERT_NE(note, kKnownNote);
  ExpectOpenError(note, absl::StatusCode::kInvalidArgument,
                  "signature line 1: signature: not canonical");
}

TEST_F(CheckpointTest, LeadingZeroInSize) {
  const std::string root = absl::Base64Escape(Sha256("chemledger").ToBytes());
  ExpectOpenError(RawSignedNote(absl::StrCat(kOrigin, "\n020852163\n", root, "\n")),
                  absl::StatusCode::kInvalidArgument,
                  "tree size (line 2) \"020852163\" has a leading zero");
  ExpectOpenError(RawSignedNote(absl::StrCat(kOrigin, "\n00\n", root, "\n")),
                  absl::StatusCode::kInvalidArgument, "has a leading zero");
  // "0" itself is fine.
  EXPECT_TRUE(Open(RawSignedNote(absl::StrCat(kOrigin, "\n0\n", root, "\n"))).ok());
}

TEST_F(CheckpointTest, MalformedSize) {
  const std::string root = absl::Base64Escape(Sha256("chemledger").ToBytes());
  for (const char* size : {"", "+1", "-1", "1 ", " 1", "1e3", "0x10", "１"}) {
    ExpectOpenError(RawSignedNote(absl::StrCat(kOrigin, "\n", size, "\n", root, "\n")),
                    absl::StatusCode::kInvalidArgument, "tree size (line 2)");
  }
  ExpectOpenError(
      RawSignedNote(absl::StrCat(kOrigin, "\n18446744073709551616\n", root, "\n")),
      absl::StatusCode::kInvalidArgument, "does not fit in 64 bits");
  absl::StatusOr<Checkpoint> max = OpenCheckpoint(
      RawSignedNote(absl::StrCat(kOrigin, "\n18446744073709551615\n", root, "\n")),
      kOrigin, log_.verifier());
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(max->size, 18446744073709551615u);
}

TEST_F(CheckpointTest, NonCanonicalBase64) {
  // Root hash: unused low bits set ('o' -> 'p'), missing padding, wrong size.
  ExpectOpenError(RawSignedNote(absl::StrCat(
                      kOrigin, "\n1\n8o5NwwfqSX1bgPCgzjADtIhGemps31tM9PLO6TRXi4p=\n")),
                  absl::StatusCode::kInvalidArgument,
                  "root hash (line 3): not canonical padded standard base64");
  ExpectOpenError(RawSignedNote(absl::StrCat(
                      kOrigin, "\n1\n8o5NwwfqSX1bgPCgzjADtIhGemps31tM9PLO6TRXi4o\n")),
                  absl::StatusCode::kInvalidArgument, "root hash (line 3): not canonical");
  ExpectOpenError(RawSignedNote(absl::StrCat(
                      kOrigin, "\n1\n", absl::Base64Escape(std::string(31, 'r')), "\n")),
                  absl::StatusCode::kInvalidArgument,
                  "root hash (line 3): must decode to 32 bytes, got 31");
  // URL-safe alphabet is not standard base64.
  ExpectOpenError(RawSignedNote(absl::StrCat(
                      kOrigin, "\n1\n", absl::WebSafeBase64Escape(std::string(32, '\xff')),
                      "=\n")),
                  absl::StatusCode::kInvalidArgument, "root hash (line 3)");
  // Signature: unused low bits set ('8' -> '9').
  const std::string note = absl::StrReplaceAll(kKnownNote, {{"+g8=\n", "+g9=\n"}});
  ASSERT_NE(note, kKnownNote);
  ExpectOpenError(note, absl::StatusCode::kInvalidArgument,
                  "signature line 1: signature: not canonical");
}

TEST_F(CheckpointTest, TooFewLinesAndEmptyLines) {
  ExpectOpenError(RawSignedNote(absl::StrCat(kOrigin, "\n1\n")),
                  absl::StatusCode::kInvalidArgument,
                  "has 2 line(s); a checkpoint has at least 3");
  const std::string root = absl::Base64Escape(Sha256("chemledger").ToBytes());
  // An empty line in the text (the last blank line separates signatures).
  ExpectOpenError(RawSignedNote(absl::StrCat(kOrigin, "\n1\n", root, "\n\next\n")),
                  absl::StatusCode::kInvalidArgument,
                  "extension line 4 must not be empty");
}

TEST_F(CheckpointTest, OriginRules) {
  Checkpoint cp = KnownCheckpoint();
  const struct {
    std::string origin;
    std::string error;
  } cases[] = {
      {"", "origin must not be empty"},
      {"DSSEv1", "must not begin with \"DSSEv1\""},
      {"DSSEv1 29 http://example.com/HelloWorld 11 hello world",
       "must not begin with \"DSSEv1\""},
      {"a\tb", "control character 0x09"},
      {"a\nb", "control character 0x0a"},
      {"a\x7f" "b", "control character 0x7f"},
      {"a\xff", "not valid UTF-8 at byte 1"},
  };
  for (const auto& c : cases) {
    cp.origin = c.origin;
    absl::StatusOr<std::string> note = log_.SignCheckpoint(cp);
    EXPECT_EQ(note.status().code(), absl::StatusCode::kInvalidArgument) << c.origin;
    EXPECT_THAT(std::string(note.status().message()), HasSubstr(c.error));
  }
  // A validly signed note whose origin begins with DSSEv1 is refused too,
  // even if the caller expects that origin.
  const std::string root = absl::Base64Escape(Sha256("chemledger").ToBytes());
  const std::string dsse_note =
      RawSignedNote(absl::StrCat("DSSEv1 3 a/b 1 x\n1\n", root, "\n"));
  const absl::Status s =
      OpenCheckpoint(dsse_note, "DSSEv1 3 a/b 1 x", log_.verifier()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("DSSEv1"));
  // Control characters anywhere in a note are refused.
  ExpectOpenError(RawSignedNote(absl::StrCat("a\tb\n1\n", root, "\n")),
                  absl::StatusCode::kInvalidArgument,
                  "signed note: control character 0x09");
  ExpectOpenError(absl::StrReplaceAll(kKnownNote, {{"\n", "\r\n"}}),
                  absl::StatusCode::kInvalidArgument, "control character 0x0d");
  ExpectOpenError(absl::StrCat("\xC0\xAF", kKnownNote),
                  absl::StatusCode::kInvalidArgument, "not valid UTF-8 at byte 0");
}

TEST_F(CheckpointTest, ExtensionRules) {
  Checkpoint cp = KnownCheckpoint();
  cp.extensions = {"ok", ""};
  EXPECT_THAT(std::string(log_.SignCheckpoint(cp).status().message()),
              HasSubstr("extension line 5 must not be empty"));
  cp.extensions = {"two\nlines"};
  EXPECT_THAT(std::string(log_.SignCheckpoint(cp).status().message()),
              HasSubstr("extension line 4 contains control character 0x0a"));
}

TEST_F(CheckpointTest, MalformedSignatureLines) {
  const std::string text = std::string(kKnownNote).substr(
      0, std::string(kKnownNote).find("\n\n") + 1);
  const struct {
    std::string line;
    std::string error;
  } cases[] = {
      {absl::StrCat(kEmDash, " nospace\n"), "no space between key name and signature"},
      {absl::StrCat(kEmDash, "  AAAAAAAA\n"), "note key name: must not be empty"},
      {absl::StrCat(kEmDash, " a+b AAAAAAAA\n"),
       "note key name \"a+b\": must not contain '+'"},
      {absl::StrCat(kEmDash, " a\xC2\xA0" "b AAAAAAAA\n"),
       "note key name \"a\\xc2\\xa0\\x62\": must not contain '+', spaces or "
       "control characters (U+00A0 at byte 1)"},
      {absl::StrCat(kEmDash, " name AAAA\n"), "signature is 3 bytes; it needs a 4-byte key hash"},
      {absl::StrCat(kEmDash, " name !!!!!!!!\n"), "signature: not canonical"},
      {absl::StrCat(kEmDash, "name AAAAAAAA\n"), "does not begin with an em dash"},
  };
  for (const auto& c : cases) {
    // Put the malformed line after a good one: it still rejects the note.
    ExpectOpenError(absl::StrCat(kKnownNote, c.line),
                    absl::StatusCode::kInvalidArgument,
                    absl::StrCat("signature line 2: ", c.error));
  }
  // Other keys may use other algorithms: any signature of 5 or more bytes is
  // well-formed (and ignored).
  EXPECT_TRUE(Open(absl::StrCat(kKnownNote, kEmDash, " name AAAAAAAA\n")).ok());
  // A line by the verifier's own name and hash with a short signature does
  // not verify.
  const std::string short_sig = absl::StrCat(
      text, "\n", kEmDash, " chemledger.example/log ",
      absl::Base64Escape(absl::StrCat(*HexDecode("fa8c6703"), "short")), "\n");
  ExpectOpenError(short_sig, absl::StatusCode::kUnauthenticated, "does not verify");
}

TEST_F(CheckpointTest, Limits) {
  // 100 signature lines are accepted, 101 are not.
  std::string note = kKnownNote;
  for (int i = 0; i < 99; ++i) {
    absl::StrAppend(&note, kEmDash, " other.example/", i, " ",
                    absl::Base64Escape(std::string(68, static_cast<char>(i))), "\n");
  }
  EXPECT_TRUE(Open(note).ok()) << Open(note);
  absl::StrAppend(&note, kEmDash, " one.too/many ",
                  absl::Base64Escape(std::string(68, 'x')), "\n");
  ExpectOpenError(note, absl::StatusCode::kInvalidArgument,
                  "too many signature lines (101; the limit is 100)");

  // Notes over 1 MiB are refused before anything else is looked at.
  ExpectOpenError(std::string(kMaxSignedNoteSize + 1, 'a'),
                  absl::StatusCode::kInvalidArgument,
                  "signed note: too large (1048577 bytes; the limit is 1048576)");
  Checkpoint cp = KnownCheckpoint();
  cp.extensions = {std::string(kMaxSignedNoteSize, 'e')};
  absl::StatusOr<std::string> big = log_.SignCheckpoint(cp);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(big.status().message()), HasSubstr("the limit is 1048576"));
}

TEST_F(CheckpointTest, NoteSignatureNeverVerifiesAsDsse) {
  // The same key signs notes and DSSE envelopes; neither verifies as the
  // other.
  constexpr SignatureContext kContext("application/vnd.chemledger.checkpoint.v1");
  const SigningKey key = KeyFromHexSeed(kLogSeed);
  const std::string text = std::string(kKnownNote).substr(
      0, std::string(kKnownNote).find("\n\n") + 1);
  const Signature note_sig = internal::RawEd25519::Sign(key, text);
  EXPECT_FALSE(key.verifying_key().Verify(kContext, text, note_sig).ok());
  const Signature dsse_sig = *key.Sign(kContext, text);
  EXPECT_FALSE(internal::RawEd25519::Verify(key.verifying_key(), text, dsse_sig));
}

TEST(SignedNoteTest, SignAndOpenOtherDocuments) {
  const NoteSigner signer = MakeSigner("CL.EXAMPLE.CN/trust", kLogSeed);
  const std::string text = "chemledger-label-trust-list v1\nresolver CL.EXAMPLE.CN\n";
  absl::StatusOr<std::string> note = signer.SignNote(text);
  ASSERT_TRUE(note.ok()) << note.status();
  absl::StatusOr<std::string> opened = OpenNote(*note, signer.verifier());
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, text);

  std::string tampered = *note;
  tampered.replace(tampered.find("CL.EXAMPLE.CN\n"), 13, "CL.EXAMPLE.CO");
  EXPECT_EQ(OpenNote(tampered, signer.verifier()).status().code(),
            absl::StatusCode::kUnauthenticated);
  const NoteSigner other = MakeSigner("CL.EXAMPLE.CN/trust", kWitnessSeed);
  EXPECT_EQ(OpenNote(*note, other.verifier()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(SignedNoteTest, TextRules) {
  const NoteSigner signer = MakeSigner("k", kLogSeed);
  EXPECT_FALSE(signer.SignNote("").ok());
  EXPECT_FALSE(signer.SignNote("no newline").ok());
  EXPECT_FALSE(signer.SignNote("a\n\nb\n").ok());  // empty line
  EXPECT_FALSE(signer.SignNote("a\tb\n").ok());     // control character
  absl::StatusOr<std::string> dsse = signer.SignNote("DSSEv1 3 a/b 0 \n");
  ASSERT_FALSE(dsse.ok());
  EXPECT_NE(dsse.status().message().find("DSSEv1"), std::string::npos);
}

}  // namespace
}  // namespace chemledger::crypto
