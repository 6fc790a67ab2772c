// The label trust list: which label keys an offline verifier accepts, for
// which resolver, and which are revoked. The platform signs it with its
// trust-list key as a C2SP signed note (crypto/checkpoint.h), so it can be
// copied anywhere and checked against one pinned verifier key. Labels are then
// verified offline with VerifyLabel. docs/label-format.md describes both.
//
// clang-format off
//   chemledger-label-trust-list v2
//   resolver CL.EXAMPLE.CN
//   issued 2026-11-23
//   expires 2026-11-30
//   key 1474ba62a1e3b3f7 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= valid 2026-01-01 2027-12-31
//   key f332fdd2d1f23bcf PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw= valid 2025-01-01 2026-12-31 revoked 2026-06-01
// clang-format on
//
// The validity dates say when the platform may sign with a key; a label does
// not record when it was signed, so verification does not use them. A revoked
// key's labels all fail ("keys rotate; old labels keep verifying with their
// key id until that key is revoked").
//
// Thread-safety: value types and pure functions.

#ifndef CHEMLEDGER_CRYPTO_TRUST_LIST_H_
#define CHEMLEDGER_CRYPTO_TRUST_LIST_H_

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/types/optional.h"
#include "crypto/checkpoint.h"
#include "crypto/keys.h"
#include "crypto/label.h"

namespace chemledger::crypto {

struct TrustedLabelKey {
  VerifyingKey key;
  absl::CivilDay valid_from;
  absl::CivilDay valid_until;
  absl::optional<absl::CivilDay> revoked_on;
};

struct TrustList {
  std::string resolver;  // the resolver labels must name
  absl::CivilDay issued;
  // The last day (China time) the list may be relied on: a list from before
  // a revocation stops working. Set, the list is written as format v2 with
  // an "expires" line; v1 lists (none) have no expiry, and a verifier treats
  // them as expired.
  absl::optional<absl::CivilDay> expires;
  std::vector<TrustedLabelKey> keys;

  // The entry for `id`, or nullptr.
  const TrustedLabelKey* Find(const KeyId& id) const;
};

// Whether two lists say the same: resolver, days and every key's standing.
bool SameTrustList(const TrustList& a, const TrustList& b);

// The signed note for `list` (InvalidArgument for an empty or malformed
// resolver, a key listed twice, or valid_until before valid_from).
absl::StatusOr<std::string> SignTrustList(const TrustList& list, const NoteSigner& signer);

// Verifies the note's signature by `root`, then parses the list strictly.
// Unauthenticated for a bad or missing signature, InvalidArgument (naming the
// line) for a malformed list.
absl::StatusOr<TrustList> OpenTrustList(absl::string_view signed_note,
                                        const NoteVerifier& root);

enum class LabelVerdict {
  kAuthentic,
  kMalformed,
  kUnsupportedVersion,
  kWrongResolver,
  kUnknownKey,
  kRevokedKey,
  kBadSignature,
};

// "authentic", "malformed", "unsupported-version", "wrong-resolver",
// "unknown-key", "revoked-key", "bad-signature".
absl::string_view LabelVerdictName(LabelVerdict verdict);

struct LabelCheck {
  LabelVerdict verdict;
  std::string detail;                // why, for people; empty when authentic
  absl::optional<ParsedLabel> label;  // set whenever the URL parsed
};

// Verifies one label URL offline against a trust list already opened with
// OpenTrustList.
LabelCheck VerifyLabel(absl::string_view url, const TrustList& trust);

// What every code signed with a label key (labels, waybill codes) must pass
// once parsed: it names the list's resolver, its key is listed and not
// revoked, and `verify_signature` accepts that key. `what` names the kind of
// code in the detail ("label", "waybill code").
struct CodeVerdict {
  LabelVerdict verdict;
  std::string detail;  // empty when authentic
};
CodeVerdict CheckSignedCode(const TrustList& trust, absl::string_view what,
                            absl::string_view resolver, const KeyId& key_id,
                            absl::FunctionRef<absl::Status(const VerifyingKey&)> verify_signature);

}  // namespace chemledger::crypto

#endif  // CHEMLEDGER_CRYPTO_TRUST_LIST_H_
