// Signed checkpoints: the log's commitment to its Merkle tree (size + root),
// in the C2SP tlog-checkpoint format (c2sp.org/tlog-checkpoint) carried in a
// C2SP signed note (c2sp.org/signed-note) with Ed25519 signatures. Any
// checkpoint tool (Go's sumdb/note, transparency-dev, sigsum) can read ours.
//
// A signed checkpoint looks like this (every line ends in "\n"):
//
//   chemledger.example/log                       <- origin
//   20852163                                     <- tree size, decimal
//   8o5NwwfqSX1bgPCgzjADtIhGemps31tM9PLO6TRXi4o= <- root hash, base64
//                                                <- blank line
//   — chemledger.example/log +oxnA687...=        <- signature line(s)
//
// The signature line is U+2014 EM DASH, a space, the key name, a space, and
// base64(4-byte key hash || 64-byte Ed25519 signature of the note text). The
// note text is everything before the blank line, including its last newline.
// Key hash = SHA-256(key name || "\n" || 0x01 || public key)[:4], big-endian.
//
// Note signatures are raw Ed25519 over the note text (no DSSE PAE: see
// crypto/internal/raw_ed25519.h). They cannot be confused with ChemLedger's
// DSSE signatures because a PAE message begins with "DSSEv1 " and this code
// refuses to sign or accept a checkpoint whose origin begins with "DSSEv1".
//
// Parsing is strict: a note is accepted only in the exact form SignCheckpoint
// produces (plus any extra well-formed signature lines, which verifiers must
// ignore unless they are from the expected key, as the spec requires).
//
// Thread-safety: NoteSigner and NoteVerifier are immutable; their const
// methods may be called from several threads at once. The free functions are
// thread-safe.

#ifndef CHEMLEDGER_CRYPTO_CHECKPOINT_H_
#define CHEMLEDGER_CRYPTO_CHECKPOINT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"

namespace chemledger::crypto {

// Limits applied when parsing (and signing) notes. The spec asks verifiers to
// accept at least 16 signatures.
inline constexpr size_t kMaxSignedNoteSize = size_t{1} << 20;  // 1 MiB
inline constexpr size_t kMaxNoteSignatures = 100;

// The body of a checkpoint note. A plain value type.
struct Checkpoint {
  // Identifies the log, e.g. "chemledger.example/log". Non-empty UTF-8, no
  // control characters, must not begin with "DSSEv1".
  std::string origin;
  // Number of leaves in the tree.
  uint64_t size = 0;
  // RFC 6962 root hash of the tree at `size`.
  Sha256Digest root_hash;
  // Optional, opaque, non-empty lines after the root hash (not recommended
  // by the spec; they are not auditable).
  std::vector<std::string> extensions;

  friend bool operator==(const Checkpoint& a, const Checkpoint& b) {
    return a.origin == b.origin && a.size == b.size &&
           a.root_hash == b.root_hash && a.extensions == b.extensions;
  }
  friend bool operator!=(const Checkpoint& a, const Checkpoint& b) {
    return !(a == b);
  }
};

// A signed-note public key: a key name plus an Ed25519 public key. A cheap
// value type.
class NoteVerifier {
 public:
  // InvalidArgument if `name` is not a valid key name: non-empty UTF-8 with
  // no spaces (Unicode White_Space), no '+' and no control characters.
  static absl::StatusOr<NoteVerifier> Create(absl::string_view name,
                                             const VerifyingKey& key);
  // Parses a verifier key string "<name>+<8 lowercase hex key hash>+<base64(
  // 0x01 || 32-byte public key)>", as printed by VerifierKeyString() and by
  // Go's note.NewVerifier. The key hash must match the name and key.
  static absl::StatusOr<NoteVerifier> FromVerifierKey(absl::string_view vkey);

  std::string VerifierKeyString() const;
  const std::string& name() const { return name_; }
  uint32_t key_hash() const { return key_hash_; }
  const VerifyingKey& key() const { return key_; }

 private:
  NoteVerifier(std::string name, const VerifyingKey& key, uint32_t key_hash)
      : name_(std::move(name)), key_(key), key_hash_(key_hash) {}

  std::string name_;
  VerifyingKey key_;
  uint32_t key_hash_;
};

// Signs checkpoints (and other signed notes) as one signed-note key. Owns its SigningKey; move-only.
// This is the only code that makes raw (non-PAE) note signatures.
class NoteSigner {
 public:
  // InvalidArgument if `name` is not a valid key name (see NoteVerifier).
  // By convention a log's key name is its origin.
  static absl::StatusOr<NoteSigner> Create(absl::string_view name,
                                           SigningKey key);

  NoteSigner(NoteSigner&&) noexcept = default;
  NoteSigner& operator=(NoteSigner&&) noexcept = default;

  const std::string& name() const { return verifier_.name(); }
  // The matching verifier (name + public key).
  const NoteVerifier& verifier() const { return verifier_; }

  // The signed note for `checkpoint`, with one signature line by this key.
  // InvalidArgument if the checkpoint breaks a rule above or the note would
  // exceed kMaxSignedNoteSize.
  absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint) const;

  // Adds this key's signature line to an existing signed checkpoint (a
  // cosignature, e.g. by a witness or a second log key during rotation). The
  // note must parse strictly; its existing signatures are NOT checked, so
  // verify it with OpenCheckpoint first. FailedPrecondition if the note
  // already has a signature line by this key.
  absl::StatusOr<std::string> Cosign(absl::string_view signed_note) const;

  // Signs any other ChemLedger document kept as a signed note (for example
  // the label trust list). `text` is one or more non-empty lines, each ending
  // in "\n", valid UTF-8 without control characters; its first line names the
  // document type and must not begin with "DSSEv1". InvalidArgument otherwise.
  absl::StatusOr<std::string> SignNote(absl::string_view text) const;

 private:
  NoteSigner(SigningKey key, NoteVerifier verifier)
      : key_(std::move(key)), verifier_(std::move(verifier)) {}
  std::string SignatureLine(absl::string_view text) const;

  SigningKey key_;
  NoteVerifier verifier_;
};

// Verifies a signed note made with NoteSigner::SignNote: parses it strictly
// and checks the signature line by `verifier` (other keys' lines are
// ignored). Returns the note text (with its final newline). Errors as for
// OpenCheckpoint, without the origin check: the caller checks the text.
absl::StatusOr<std::string> OpenNote(absl::string_view signed_note,
                                     const NoteVerifier& verifier);

// Parses `signed_note` strictly, checks that its origin is `expected_origin`,
// and verifies the signature line by `verifier` (matched by key name and key
// hash). Signature lines by other keys are ignored, but must be well-formed.
// Errors:
//   InvalidArgument     malformed note or checkpoint (each names the rule and
//                       the line), note larger than kMaxSignedNoteSize, more
//                       than kMaxNoteSignatures signature lines;
//   FailedPrecondition  well-formed, but the origin is not expected_origin;
//   Unauthenticated     no signature by the verifier's key, or its signature
//                       does not verify.
absl::StatusOr<Checkpoint> OpenCheckpoint(absl::string_view signed_note,
                                          absl::string_view expected_origin,
                                          const NoteVerifier& verifier);

}  // namespace chemledger::crypto

#endif  // CHEMLEDGER_CRYPTO_CHECKPOINT_H_
