#include "crypto/trust_list.h"

#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace chemledger::crypto {
namespace {

constexpr absl::string_view kHeader = "chemledger-label-trust-list v1";
constexpr absl::string_view kHeaderV2 = "chemledger-label-trust-list v2";

absl::Status LineError(size_t line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("trust list line ", line, ": ", what));
}

absl::StatusOr<absl::CivilDay> ParseDay(absl::string_view text, size_t line,
                                        absl::string_view what) {
  absl::CivilDay day;
  // Strictly YYYY-MM-DD, and a real date (ParseCivilTime normalises 02-30).
  if (text.size() != 10 || !absl::ParseCivilTime(text, &day) ||
      absl::FormatCivilTime(day) != text) {
    return LineError(line, absl::StrCat(what, " '", text, "' is not a YYYY-MM-DD date"));
  }
  return day;
}

absl::Status CheckList(const TrustList& list) {
  if (list.resolver.empty() || list.resolver.find_first_of(" \n") != std::string::npos) {
    return absl::InvalidArgumentError("trust list: resolver must be one non-empty word");
  }
  if (list.expires && *list.expires < list.issued) {
    return absl::InvalidArgumentError("trust list: it expires before it is issued");
  }
  std::set<KeyId> seen;
  for (const TrustedLabelKey& k : list.keys) {
    if (!seen.insert(k.key.key_id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("trust list: key ", k.key.key_id().ToString(), " is listed twice"));
    }
    if (k.valid_until < k.valid_from) {
      return absl::InvalidArgumentError(absl::StrCat(
          "trust list: key ", k.key.key_id().ToString(), " is valid until ",
          absl::FormatCivilTime(k.valid_until), ", before it is valid from ",
          absl::FormatCivilTime(k.valid_from)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

const TrustedLabelKey* TrustList::Find(const KeyId& id) const {
  for (const TrustedLabelKey& k : keys) {
    if (k.key.key_id() == id) return &k;
  }
  return nullptr;
}

bool SameTrustList(const TrustList& a, const TrustList& b) {
  if (a.resolver != b.resolver || a.issued != b.issued || a.expires != b.expires ||
      a.keys.size() != b.keys.size()) {
    return false;
  }
  for (size_t i = 0; i < a.keys.size(); ++i) {
    const TrustedLabelKey& x = a.keys[i];
    const TrustedLabelKey& y = b.keys[i];
    if (x.key.ToBytes() != y.key.ToBytes() || x.valid_from != y.valid_from ||
        x.valid_until != y.valid_until || x.revoked_on != y.revoked_on) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::string> SignTrustList(const TrustList& list, const NoteSigner& signer) {
  if (absl::Status s = CheckList(list); !s.ok()) return s;
  std::string text = absl::StrCat(list.expires ? kHeaderV2 : kHeader, "\n", "resolver ",
                                  list.resolver, "\n", "issued ",
                                  absl::FormatCivilTime(list.issued), "\n");
  if (list.expires) absl::StrAppend(&text, "expires ", absl::FormatCivilTime(*list.expires), "\n");
  for (const TrustedLabelKey& k : list.keys) {
    absl::StrAppend(&text, "key ", k.key.key_id().ToString(), " ", k.key.ToBase64(), " valid ",
                    absl::FormatCivilTime(k.valid_from), " ",
                    absl::FormatCivilTime(k.valid_until));
    if (k.revoked_on) absl::StrAppend(&text, " revoked ", absl::FormatCivilTime(*k.revoked_on));
    absl::StrAppend(&text, "\n");
  }
  return signer.SignNote(text);
}

absl::StatusOr<TrustList> OpenTrustList(absl::string_view signed_note,
                                        const NoteVerifier& root) {
  absl::StatusOr<std::string> text = OpenNote(signed_note, root);
  if (!text.ok()) return text.status();
  absl::string_view body(*text);
  body.remove_suffix(1);  // final newline
  const std::vector<absl::string_view> lines = absl::StrSplit(body, '\n');
  const bool v2 = lines[0] == kHeaderV2;
  if (lines[0] != kHeader && !v2) {
    return LineError(1, absl::StrCat("expected \"", kHeaderV2, "\" (or \"", kHeader, "\")"));
  }
  TrustList list;
  if (lines.size() < 3 || !absl::StartsWith(lines[1], "resolver ") ||
      !absl::StartsWith(lines[2], "issued ")) {
    return absl::InvalidArgumentError(
        "trust list: lines 2 and 3 must be \"resolver <host>\" and \"issued <date>\"");
  }
  list.resolver = std::string(lines[1].substr(9));
  absl::StatusOr<absl::CivilDay> issued = ParseDay(lines[2].substr(7), 3, "issue date");
  if (!issued.ok()) return issued.status();
  list.issued = *issued;
  size_t first_key = 3;
  if (v2) {
    if (lines.size() < 4 || !absl::StartsWith(lines[3], "expires ")) {
      return LineError(4, "expected \"expires <date>\"");
    }
    absl::StatusOr<absl::CivilDay> expires = ParseDay(lines[3].substr(8), 4, "expiry date");
    if (!expires.ok()) return expires.status();
    list.expires = *expires;
    first_key = 4;
  }
  for (size_t i = first_key; i < lines.size(); ++i) {
    const size_t n = i + 1;
    const std::vector<absl::string_view> f = absl::StrSplit(lines[i], ' ');
    if (!(f.size() == 6 || f.size() == 8) || f[0] != "key" || f[3] != "valid" ||
        (f.size() == 8 && f[6] != "revoked")) {
      return LineError(n, "expected \"key <id> <public key> valid <from> <until> "
                          "[revoked <date>]\"");
    }
    absl::StatusOr<VerifyingKey> key = VerifyingKey::FromBase64(f[2]);
    if (!key.ok()) return LineError(n, key.status().message());
    if (key->key_id().ToString() != f[1]) {
      return LineError(n, absl::StrCat("key id ", f[1], " does not match the public key (",
                                       key->key_id().ToString(), ")"));
    }
    absl::StatusOr<absl::CivilDay> from = ParseDay(f[4], n, "valid-from");
    if (!from.ok()) return from.status();
    absl::StatusOr<absl::CivilDay> until = ParseDay(f[5], n, "valid-until");
    if (!until.ok()) return until.status();
    TrustedLabelKey entry{*key, *from, *until, absl::nullopt};
    if (f.size() == 8) {
      absl::StatusOr<absl::CivilDay> revoked = ParseDay(f[7], n, "revocation date");
      if (!revoked.ok()) return revoked.status();
      entry.revoked_on = *revoked;
    }
    list.keys.push_back(std::move(entry));
  }
  if (absl::Status s = CheckList(list); !s.ok()) return s;
  return list;
}

absl::string_view LabelVerdictName(LabelVerdict verdict) {
  switch (verdict) {
    case LabelVerdict::kAuthentic: return "authentic";
    case LabelVerdict::kMalformed: return "malformed";
    case LabelVerdict::kUnsupportedVersion: return "unsupported-version";
    case LabelVerdict::kWrongResolver: return "wrong-resolver";
    case LabelVerdict::kUnknownKey: return "unknown-key";
    case LabelVerdict::kRevokedKey: return "revoked-key";
    case LabelVerdict::kBadSignature: return "bad-signature";
  }
  return "unknown";
}

LabelCheck VerifyLabel(absl::string_view url, const TrustList& trust) {
  absl::StatusOr<ParsedLabel> parsed = ParseLabelUrl(url);
  if (!parsed.ok()) {
    return {absl::IsUnimplemented(parsed.status()) ? LabelVerdict::kUnsupportedVersion
                                                   : LabelVerdict::kMalformed,
            std::string(parsed.status().message()), absl::nullopt};
  }
  CodeVerdict verdict = CheckSignedCode(
      trust, "label", parsed->claims.resolver, parsed->key_id,
      [&](const VerifyingKey& key) { return parsed->VerifySignature(key); });
  return {verdict.verdict, std::move(verdict.detail), *std::move(parsed)};
}

CodeVerdict CheckSignedCode(const TrustList& trust, absl::string_view what,
                            absl::string_view resolver, const KeyId& key_id,
                            absl::FunctionRef<absl::Status(const VerifyingKey&)> verify_signature) {
  if (resolver != trust.resolver) {
    return {LabelVerdict::kWrongResolver, absl::StrCat(what, " names resolver ", resolver,
                                                       ", the trust list is for ", trust.resolver)};
  }
  const TrustedLabelKey* key = trust.Find(key_id);
  if (key == nullptr) {
    return {LabelVerdict::kUnknownKey, absl::StrCat("key ", key_id.ToString(), " is not in the trust list")};
  }
  if (key->revoked_on) {
    return {LabelVerdict::kRevokedKey, absl::StrCat("key ", key_id.ToString(), " was revoked on ",
                                                    absl::FormatCivilTime(*key->revoked_on))};
  }
  if (absl::Status s = verify_signature(key->key); !s.ok()) {
    return {LabelVerdict::kBadSignature, std::string(s.message())};
  }
  return {LabelVerdict::kAuthentic, ""};
}

}  // namespace chemledger::crypto
