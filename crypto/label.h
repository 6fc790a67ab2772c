// Package labels (一码): the signed, upper-case HTTPS URL that a package's QR
// code holds. A phone camera opens it; an offline verifier checks its
// Ed25519 signature. docs/label-format.md specifies it byte by byte.
//
//   HTTPS://<RESOLVER>/<USCC>.<PRODUCT>/<BATCH>.<SERIAL>/<SIGNED>
//
// SIGNED is Base32 (RFC 4648, no padding) of 90 bytes: the binary claims (26
// bytes: version, key id, UN number, CAS, quantity, unit, production date,
// control flags) and an Ed25519 signature over
//   PAE("application/vnd.chemledger.label.v1",
//       "HTTPS://<RESOLVER>/<USCC>.<PRODUCT>/<BATCH>.<SERIAL>/" || claims)
// so the signature binds everything the URL shows: moving a code to another
// resolver, product or batch breaks it. Every character of the URL is in the
// QR alphanumeric set, so the symbol stays small (version 10 or less at error
// correction M with a resolver of up to 24 characters).
//
// This file only builds and parses labels; deciding whether a label is
// authentic (known key, not revoked, right resolver) needs a trust list.
//
// Thread-safety: plain functions and value types; thread-safe.

#ifndef CHEMLEDGER_CRYPTO_LABEL_H_
#define CHEMLEDGER_CRYPTO_LABEL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "crypto/keys.h"

namespace chemledger::crypto {

inline constexpr SignatureContext kLabelContext("application/vnd.chemledger.label.v1");

// Label format version written by MakeLabelUrl.
inline constexpr uint8_t kLabelVersion = 1;

// Control flags carried on a label (bit values of the flags byte).
enum LabelControlFlag : uint8_t {
  kHighlyToxic = 1 << 0,          // 剧毒
  kExplosivesPrecursor = 1 << 1,  // 易制爆
  kDrugPrecursor = 1 << 2,        // 易制毒
  kKeySupervised = 1 << 3,        // 重点监管
  kHighHazard = 1 << 4,           // 高危 (特别管控)
};
inline constexpr uint8_t kAllLabelControlFlags = 0x1f;

// What a label states about its package. A plain value type.
struct LabelClaims {
  std::string resolver;    // host[:port], upper case, e.g. "CL.EXAMPLE.CN"
  std::string enterprise;  // 统一社会信用代码 (18 characters)
  std::string product;     // the enterprise's product number, 1-16 of [A-Z0-9]
  std::string batch;       // 1-20 of [A-Z0-9]
  uint64_t serial = 0;     // package serial in the batch, 1 to 999999999
  absl::CivilDay production_date = absl::CivilDay(2000, 1, 1);  // 2000-01-01 .. 2179-06-06
  uint32_t quantity_milli = 0;  // net quantity per package, in thousandths of `unit`
  std::string unit;        // UNECE Recommendation 20 code, 3 characters, e.g. "KGM"
  std::string un_number;   // 4 digits
  std::string cas;         // CAS Registry Number, or "" for none
  uint8_t control_flags = 0;  // LabelControlFlag bits

  // The package's code: "<enterprise>.<product>.<batch>.<serial>".
  std::string Code() const;

  friend bool operator==(const LabelClaims& a, const LabelClaims& b);
  friend bool operator!=(const LabelClaims& a, const LabelClaims& b) { return !(a == b); }
};

// Checks a resolver host ("CL.EXAMPLE.CN", optionally ":port"): 1 to 63 of
// A-Z, 0-9, '.', '-', ':', not starting or ending with '.' or '-'.
// InvalidArgument naming the field "resolver" otherwise. A deployment keeps it
// to 24 characters so that its labels fit QR version 10 at error correction M.
absl::Status ValidateLabelResolver(absl::string_view resolver);
inline constexpr size_t kMaxQrFriendlyResolverLength = 24;

// Checks that `claims` make a label (each field within what the format
// holds): InvalidArgument naming the field and the rule otherwise.
absl::Status ValidateLabelClaims(const LabelClaims& claims);

// Checks `claims` (as ValidateLabelClaims) and returns the label URL signed
// with `label_key`.
absl::StatusOr<std::string> MakeLabelUrl(const LabelClaims& claims,
                                         const SigningKey& label_key);

// A label taken apart; its signature not yet checked.
struct ParsedLabel {
  LabelClaims claims;
  uint8_t version = 0;
  KeyId key_id;
  Signature signature;
  // The exact bytes the signature covers (before PAE with kLabelContext).
  std::string signed_message;

  // OK if `key` signed this label (Unauthenticated otherwise). The caller
  // chooses `key` by key_id from a trust list it has checked.
  absl::Status VerifySignature(const VerifyingKey& key) const;
};

// Parses a label URL strictly. InvalidArgument saying what is malformed
// (scheme, resolver, product, package, encoding, length, trailing bytes, a
// field value); Unimplemented for a label format version this code does not
// know.
absl::StatusOr<ParsedLabel> ParseLabelUrl(absl::string_view url);

}  // namespace chemledger::crypto

#endif  // CHEMLEDGER_CRYPTO_LABEL_H_
