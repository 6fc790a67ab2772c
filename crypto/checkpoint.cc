#include "crypto/checkpoint.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "crypto/internal/raw_ed25519.h"
#include "crypto/internal/strict_base64.h"

namespace chemledger::crypto {
namespace {

constexpr absl::string_view kEmDashSpace = "\xE2\x80\x94 ";  // U+2014, ' '
constexpr absl::string_view kReservedOriginPrefix = "DSSEv1";
constexpr char kEd25519Type = 0x01;
constexpr size_t kKeyHashSize = 4;

// Decodes one UTF-8 sequence at s[*i], advancing *i. Returns the code point,
// or -1 for invalid UTF-8 (overlong forms, surrogates, > U+10FFFF, truncated).
int32_t DecodeUtf8(absl::string_view s, size_t* i) {
  const unsigned char c = static_cast<unsigned char>(s[*i]);
  if (c < 0x80) {
    ++*i;
    return c;
  }
  int len;
  int32_t cp;
  int32_t min;
  if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if (*i + len > s.size()) return -1;
  for (int k = 1; k < len; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[*i + k]);
    if ((cc & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  *i += len;
  return cp;
}

// Unicode White_Space (what Go's unicode.IsSpace tests).
bool IsUnicodeSpace(int32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 ||
         cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

// ASCII control characters. Notes and key names may contain none but '\n'
// (the spec's rule); origins and extension lines may not contain DEL either.
bool IsC0Control(int32_t cp) { return cp < 0x20; }
bool IsControl(int32_t cp) { return cp < 0x20 || cp == 0x7F; }

// Escaped, length-limited copy of untrusted text for error messages.
std::string Quote(absl::string_view s) {
  constexpr size_t kMax = 64;
  std::string out = absl::StrCat("\"", absl::CHexEscape(s.substr(0, kMax)));
  if (s.size() > kMax) out += "...";
  out += "\"";
  return out;
}

// A single line of note text (origin or extension): non-empty UTF-8 without
// control characters.
absl::Status ValidateTextLine(absl::string_view line, absl::string_view what) {
  if (line.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint: ", what, " must not be empty"));
  }
  for (size_t i = 0; i < line.size();) {
    const size_t at = i;
    const int32_t cp = DecodeUtf8(line, &i);
    if (cp < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint: ", what, " is not valid UTF-8 at byte ", at));
    }
    if (IsControl(cp)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "checkpoint: %s contains control character 0x%02x at byte %d", what,
          cp, at));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateOrigin(absl::string_view origin) {
  absl::Status s = ValidateTextLine(origin, "origin");
  if (!s.ok()) return s;
  if (absl::StartsWith(origin, kReservedOriginPrefix)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint: origin must not begin with \"", kReservedOriginPrefix,
        "\" (reserved so that note signatures never collide with DSSE "
        "signatures)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateKeyName(absl::string_view name) {
  if (name.empty()) {
    return absl::InvalidArgumentError("note key name: must not be empty");
  }
  for (size_t i = 0; i < name.size();) {
    const size_t at = i;
    const int32_t cp = DecodeUtf8(name, &i);
    if (cp < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "note key name ", Quote(name), ": not valid UTF-8 at byte ", at));
    }
    if (cp == '+' || IsUnicodeSpace(cp) || IsC0Control(cp)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "note key name %s: must not contain '+', spaces or control "
          "characters (U+%04X at byte %d)",
          Quote(name), cp, at));
    }
  }
  return absl::OkStatus();
}

uint32_t KeyHash(absl::string_view name, const VerifyingKey& key) {
  const Sha256Digest h = Sha256Concat(
      {name, "\n", absl::string_view(&kEd25519Type, 1), key.ToBytes()});
  const auto& b = h.bytes();
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) |
         (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

std::string KeyHashBytes(uint32_t hash) {
  const char bytes[kKeyHashSize] = {
      static_cast<char>(hash >> 24), static_cast<char>(hash >> 16),
      static_cast<char>(hash >> 8), static_cast<char>(hash)};
  return std::string(bytes, kKeyHashSize);
}

std::string KeyLabel(absl::string_view name, uint32_t hash) {
  return absl::StrFormat("%s+%08x", name, hash);
}

// ---- Parsing ----------------------------------------------------------------

struct NoteSignatureLine {
  absl::string_view name;
  uint32_t key_hash;
  std::string signature;  // Without the key hash.
};

struct ParsedNote {
  absl::string_view text;  // Includes its final newline.
  std::vector<NoteSignatureLine> signatures;
};

// Splits a signed note into text and well-formed signature lines
// (c2sp.org/signed-note). Does not verify anything.
absl::StatusOr<ParsedNote> ParseSignedNote(absl::string_view note) {
  if (note.size() > kMaxSignedNoteSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("signed note: too large (", note.size(),
                     " bytes; the limit is ", kMaxSignedNoteSize, ")"));
  }
  for (size_t i = 0; i < note.size();) {
    const size_t at = i;
    const int32_t cp = DecodeUtf8(note, &i);
    if (cp < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("signed note: not valid UTF-8 at byte ", at));
    }
    if (cp != '\n' && IsC0Control(cp)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "signed note: control character 0x%02x at byte %d", cp, at));
    }
  }
  if (note.empty() || note.back() != '\n') {
    return absl::InvalidArgumentError(
        "signed note: does not end in a newline");
  }
  // The text ends at the last blank line (the spec allows blank lines in
  // text; checkpoints do not, which ParseCheckpointText checks).
  const size_t blank = note.rfind("\n\n");
  if (blank == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "signed note: no blank line between the text and the signatures");
  }
  ParsedNote out;
  out.text = note.substr(0, blank + 1);
  absl::string_view sigs = note.substr(blank + 2);
  if (sigs.empty()) {
    return absl::InvalidArgumentError(
        "signed note: no signature lines after the blank line");
  }
  sigs.remove_suffix(1);  // The final newline.
  const std::vector<absl::string_view> lines = absl::StrSplit(sigs, '\n');
  if (lines.size() > kMaxNoteSignatures) {
    return absl::InvalidArgumentError(absl::StrCat(
        "signed note: too many signature lines (", lines.size(),
        "; the limit is ", kMaxNoteSignatures, ")"));
  }
  for (size_t n = 0; n < lines.size(); ++n) {
    absl::string_view line = lines[n];
    const std::string where = absl::StrCat("signed note: signature line ", n + 1);
    if (!absl::ConsumePrefix(&line, kEmDashSpace)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": does not begin with an em dash (U+2014) and a space"));
    }
    const size_t space = line.find(' ');
    if (space == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": no space between key name and signature"));
    }
    NoteSignatureLine sig;
    sig.name = line.substr(0, space);
    absl::Status name_ok = ValidateKeyName(sig.name);
    if (!name_ok.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", name_ok.message()));
    }
    absl::StatusOr<std::string> raw =
        internal::StrictBase64Decode(line.substr(space + 1), "signature");
    if (!raw.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", raw.status().message()));
    }
    if (raw->size() <= kKeyHashSize) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": signature is ", raw->size(),
          " bytes; it needs a 4-byte key hash and a signature"));
    }
    const unsigned char* b = reinterpret_cast<const unsigned char*>(raw->data());
    sig.key_hash = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) |
                   (uint32_t{b[2]} << 8) | uint32_t{b[3]};
    sig.signature = raw->substr(kKeyHashSize);
    out.signatures.push_back(std::move(sig));
  }
  return out;
}

absl::StatusOr<uint64_t> ParseTreeSize(absl::string_view s) {
  if (s.empty()) {
    return absl::InvalidArgumentError("checkpoint: tree size (line 2) is empty");
  }
  for (char c : s) {
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint: tree size (line 2) ", Quote(s),
          " is not a decimal number"));
    }
  }
  if (s.size() > 1 && s[0] == '0') {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint: tree size (line 2) ", Quote(s), " has a leading zero"));
  }
  uint64_t v = 0;
  for (char c : s) {
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint: tree size (line 2) ", Quote(s),
          " does not fit in 64 bits"));
    }
    v = v * 10 + d;
  }
  return v;
}

// Parses checkpoint note text (c2sp.org/tlog-checkpoint).
absl::StatusOr<Checkpoint> ParseCheckpointText(absl::string_view text) {
  // ParseSignedNote guarantees a final newline.
  text.remove_suffix(1);
  const std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines.size() < 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint: the note text has ", lines.size(),
        " line(s); a checkpoint has at least 3 (origin, tree size, root hash)"));
  }
  Checkpoint cp;
  absl::Status s = ValidateOrigin(lines[0]);
  if (!s.ok()) return s;
  cp.origin = std::string(lines[0]);
  absl::StatusOr<uint64_t> size = ParseTreeSize(lines[1]);
  if (!size.ok()) return size.status();
  cp.size = *size;
  absl::StatusOr<std::string> root = internal::StrictBase64DecodeSize(
      lines[2], Sha256Digest::kSize, "checkpoint: root hash (line 3)");
  if (!root.ok()) return root.status();
  cp.root_hash = *Sha256Digest::FromBytes(*root);
  for (size_t i = 3; i < lines.size(); ++i) {
    s = ValidateTextLine(lines[i], absl::StrCat("extension line ", i + 1));
    if (!s.ok()) return s;
    cp.extensions.emplace_back(lines[i]);
  }
  return cp;
}

// The note text for `cp`, after checking every rule ParseCheckpointText
// enforces, so that everything we sign we also accept.
absl::StatusOr<std::string> CheckpointText(const Checkpoint& cp) {
  absl::Status s = ValidateOrigin(cp.origin);
  if (!s.ok()) return s;
  std::string text = absl::StrCat(cp.origin, "\n", cp.size, "\n",
                                   absl::Base64Escape(cp.root_hash.ToBytes()),
                                   "\n");
  for (size_t i = 0; i < cp.extensions.size(); ++i) {
    s = ValidateTextLine(cp.extensions[i],
                         absl::StrCat("extension line ", i + 4));
    if (!s.ok()) return s;
    absl::StrAppend(&text, cp.extensions[i], "\n");
  }
  return text;
}

}  // namespace

namespace {

// Checks the signature line by `verifier` in `parsed`; lines by other keys
// are ignored. `what` starts the error messages ("checkpoint", ...).
absl::Status VerifyNoteSignature(const ParsedNote& parsed, const NoteVerifier& verifier,
                                 absl::string_view what) {
  const std::string label = KeyLabel(verifier.name(), verifier.key_hash());
  std::vector<std::string> others;
  for (const NoteSignatureLine& sig : parsed.signatures) {
    if (sig.name != verifier.name() || sig.key_hash != verifier.key_hash()) {
      // Unknown key (even if it shares the name or the hash): ignored.
      if (others.size() < 5) others.push_back(KeyLabel(sig.name, sig.key_hash));
      continue;
    }
    // The first line by the verifier's key decides, as in Go's note.Open.
    absl::StatusOr<Signature> signature = Signature::FromBytes(sig.signature);
    if (!signature.ok() ||
        !internal::RawEd25519::Verify(verifier.key(), parsed.text, *signature)) {
      return absl::UnauthenticatedError(
          absl::StrCat(what, ": signature by key ", label, " does not verify"));
    }
    return absl::OkStatus();
  }
  return absl::UnauthenticatedError(absl::StrCat(
      what, ": no signature by key ", label, " (signed by: ", absl::StrJoin(others, ", "),
      parsed.signatures.size() > others.size() ? ", ..." : "", ")"));
}

}  // namespace

// ---- NoteVerifier -----------------------------------------------------------

absl::StatusOr<NoteVerifier> NoteVerifier::Create(absl::string_view name,
                                                  const VerifyingKey& key) {
  absl::Status s = ValidateKeyName(name);
  if (!s.ok()) return s;
  return NoteVerifier(std::string(name), key, KeyHash(name, key));
}

absl::StatusOr<NoteVerifier> NoteVerifier::FromVerifierKey(
    absl::string_view vkey) {
  const std::vector<absl::string_view> parts =
      absl::StrSplit(vkey, absl::MaxSplits('+', 2));
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        "verifier key: expected <name>+<8 hex digits>+<base64 key>");
  }
  absl::Status s = ValidateKeyName(parts[0]);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("verifier key: ", s.message()));
  }
  const absl::string_view hash_hex = parts[1];
  bool hex_ok = hash_hex.size() == 8;
  uint32_t hash = 0;
  for (char c : hash_hex) {
    if (c >= '0' && c <= '9') {
      hash = (hash << 4) | static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      hash = (hash << 4) | static_cast<uint32_t>(c - 'a' + 10);
    } else {
      hex_ok = false;
    }
  }
  if (!hex_ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "verifier key: key hash ", Quote(hash_hex),
        " is not 8 lowercase hex digits"));
  }
  absl::StatusOr<std::string> raw = internal::StrictBase64DecodeSize(
      parts[2], 1 + VerifyingKey::kSize, "verifier key: key");
  if (!raw.ok()) return raw.status();
  if ((*raw)[0] != kEd25519Type) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "verifier key: signature type 0x%02x is not supported (only Ed25519, "
        "0x01)",
        static_cast<unsigned char>((*raw)[0])));
  }
  absl::StatusOr<VerifyingKey> key = VerifyingKey::FromBytes(raw->substr(1));
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("verifier key: ", key.status().message()));
  }
  const uint32_t want = KeyHash(parts[0], *key);
  if (hash != want) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "verifier key: key hash %08x does not match the name and key (they "
        "give %08x)",
        hash, want));
  }
  return NoteVerifier(std::string(parts[0]), *key, hash);
}

std::string NoteVerifier::VerifierKeyString() const {
  return absl::StrCat(
      KeyLabel(name_, key_hash_), "+",
      absl::Base64Escape(absl::StrCat(absl::string_view(&kEd25519Type, 1),
                                      key_.ToBytes())));
}

// ---- NoteSigner -------------------------------------------------------------

absl::StatusOr<NoteSigner> NoteSigner::Create(absl::string_view name,
                                              SigningKey key) {
  absl::StatusOr<NoteVerifier> verifier =
      NoteVerifier::Create(name, key.verifying_key());
  if (!verifier.ok()) return verifier.status();
  return NoteSigner(std::move(key), *std::move(verifier));
}

std::string NoteSigner::SignatureLine(absl::string_view text) const {
  // The one place raw note signatures are made. `text` is note text whose
  // first line never begins with "DSSEv1" (checked by the callers; see the
  // header).
  const Signature sig = internal::RawEd25519::Sign(key_, text);
  return absl::StrCat(
      kEmDashSpace, verifier_.name(), " ",
      absl::Base64Escape(
          absl::StrCat(KeyHashBytes(verifier_.key_hash()), sig.ToBytes())),
      "\n");
}

absl::StatusOr<std::string> NoteSigner::SignCheckpoint(
    const Checkpoint& checkpoint) const {
  absl::StatusOr<std::string> text = CheckpointText(checkpoint);
  if (!text.ok()) return text.status();
  std::string note = absl::StrCat(*text, "\n", SignatureLine(*text));
  if (note.size() > kMaxSignedNoteSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint: signed note would be ", note.size(),
                     " bytes; the limit is ", kMaxSignedNoteSize));
  }
  return note;
}

absl::StatusOr<std::string> NoteSigner::Cosign(
    absl::string_view signed_note) const {
  absl::StatusOr<ParsedNote> parsed = ParseSignedNote(signed_note);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<Checkpoint> cp = ParseCheckpointText(parsed->text);
  if (!cp.ok()) return cp.status();
  for (const NoteSignatureLine& sig : parsed->signatures) {
    if (sig.name == verifier_.name() && sig.key_hash == verifier_.key_hash()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "signed note already has a signature by key ",
          KeyLabel(verifier_.name(), verifier_.key_hash())));
    }
  }
  if (parsed->signatures.size() + 1 > kMaxNoteSignatures) {
    return absl::InvalidArgumentError(absl::StrCat(
        "signed note: already has ", parsed->signatures.size(),
        " signatures; the limit is ", kMaxNoteSignatures));
  }
  std::string note =
      absl::StrCat(signed_note, SignatureLine(parsed->text));
  if (note.size() > kMaxSignedNoteSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("signed note: would be ", note.size(),
                     " bytes; the limit is ", kMaxSignedNoteSize));
  }
  return note;
}

// ---- OpenCheckpoint ---------------------------------------------------------

absl::StatusOr<Checkpoint> OpenCheckpoint(absl::string_view signed_note,
                                          absl::string_view expected_origin,
                                          const NoteVerifier& verifier) {
  if (expected_origin.empty()) {
    return absl::InvalidArgumentError("expected origin must not be empty");
  }
  absl::StatusOr<ParsedNote> parsed = ParseSignedNote(signed_note);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<Checkpoint> cp = ParseCheckpointText(parsed->text);
  if (!cp.ok()) return cp.status();
  if (cp->origin != expected_origin) {
    return absl::FailedPreconditionError(
        absl::StrCat("checkpoint: origin ", Quote(cp->origin),
                     " is not the expected ", Quote(expected_origin)));
  }
  absl::Status verified = VerifyNoteSignature(*parsed, verifier, "checkpoint");
  if (!verified.ok()) return verified;
  return cp;
}

// ---- Other signed notes -------------------------------------------------------

absl::StatusOr<std::string> NoteSigner::SignNote(absl::string_view text) const {
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("signed note: the text must end in a newline");
  }
  const std::vector<absl::string_view> lines =
      absl::StrSplit(text.substr(0, text.size() - 1), '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::Status s = ValidateTextLine(lines[i], absl::StrCat("line ", i + 1));
    if (!s.ok()) return s;
    if (lines[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("signed note: line ", i + 1, " is empty"));
    }
  }
  if (absl::StartsWith(lines[0], "DSSEv1")) {
    return absl::InvalidArgumentError(
        "signed note: the first line must not begin with \"DSSEv1\"");
  }
  std::string note = absl::StrCat(text, "\n", SignatureLine(text));
  if (note.size() > kMaxSignedNoteSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "signed note: would be ", note.size(), " bytes; the limit is ", kMaxSignedNoteSize));
  }
  return note;
}

absl::StatusOr<std::string> OpenNote(absl::string_view signed_note,
                                     const NoteVerifier& verifier) {
  absl::StatusOr<ParsedNote> parsed = ParseSignedNote(signed_note);
  if (!parsed.ok()) return parsed.status();
  if (absl::StartsWith(parsed->text, "DSSEv1")) {
    return absl::InvalidArgumentError(
        "signed note: the first line must not begin with \"DSSEv1\"");
  }
  absl::Status verified = VerifyNoteSignature(*parsed, verifier, "signed note");
  if (!verified.ok()) return verified;
  return std::string(parsed->text);
}

}  // namespace chemledger::crypto
