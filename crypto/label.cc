#include "crypto/label.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crypto/base32.h"
#include "crypto/internal/code_fields.h"
#include "crypto/package_code_fields.h"

namespace chemledger::crypto {
namespace {

constexpr absl::string_view kScheme = "HTTPS://";
constexpr size_t kClaimsSize = 26;
constexpr size_t kPayloadSize = kClaimsSize + Signature::kSize;  // 90
constexpr size_t kSignedSegmentSize = (kPayloadSize * 8 + 4) / 5;  // 144 Base32 characters
using internal::AllDigits;
using internal::GetBigEndian;
using internal::IsUpperAlnum;
using internal::PutBigEndian;
const absl::CivilDay kEpoch = internal::kCodeEpoch;
constexpr uint64_t kMaxCasDigits = 9999999999;  // 10 digits fit in 40 bits

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat("label ", field, ": ", rule));
}

absl::Status CheckResolver(absl::string_view r) {
  if (r.empty() || r.size() > 63) return Invalid("resolver", "must be 1 to 63 characters");
  for (char c : r) {
    if (!(c >= 'A' && c <= 'Z') && !absl::ascii_isdigit(static_cast<unsigned char>(c)) &&
        c != '.' && c != '-' && c != ':') {
      return Invalid("resolver", absl::StrCat("'", r, "' must be an upper-case host name ",
                                              "(A-Z, 0-9, '.', '-', optional :port)"));
    }
  }
  if (r.front() == '.' || r.front() == '-' || r.back() == '.' || r.back() == '-') {
    return Invalid("resolver", absl::StrCat("'", r, "' must not start or end with '.' or '-'"));
  }
  return absl::OkStatus();
}

// Digits of a CAS number as one integer ("7732-18-5" -> 7732185), 0 for "".
absl::StatusOr<uint64_t> CasToInteger(absl::string_view cas) {
  if (cas.empty()) return 0;
  std::vector<absl::string_view> parts = absl::StrSplit(cas, '-');
  if (parts.size() != 3 || parts[0].size() < 2 || parts[0].size() > 7 || parts[0][0] == '0' ||
      parts[1].size() != 2 || parts[2].size() != 1 || !AllDigits(parts[0]) ||
      !AllDigits(parts[1]) || !AllDigits(parts[2])) {
    return Invalid("cas", absl::StrCat("'", cas, "' must have the form NNNNNNN-NN-N"));
  }
  uint64_t v = 0;
  for (absl::string_view p : parts) {
    for (char c : p) v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// Inverse of CasToInteger, for 0 or 10000 <= v <= kMaxCasDigits.
std::string IntegerToCas(uint64_t v) {
  if (v == 0) return "";
  const std::string d = std::to_string(v);
  return absl::StrCat(d.substr(0, d.size() - 3), "-", d.substr(d.size() - 3, 2), "-",
                      d.substr(d.size() - 1));
}

absl::Status CheckClaims(const LabelClaims& c) {
  if (absl::Status s = CheckResolver(c.resolver); !s.ok()) return s;
  if (!internal::LooksLikeUscc(c.enterprise)) {
    return Invalid("enterprise", absl::StrCat("'", c.enterprise,
                                              "' must be an 18-character 统一社会信用代码"));
  }
  if (!IsProductNumber(c.product)) {
    return Invalid("product", absl::StrCat("'", c.product, "' must be 1 to ",
                                           kMaxProductNumberLength, " of A-Z, 0-9"));
  }
  if (!IsBatch(c.batch)) {
    return Invalid("batch",
                   absl::StrCat("'", c.batch, "' must be 1 to ", kMaxBatchLength, " of A-Z, 0-9"));
  }
  if (c.serial < 1 || c.serial > kMaxSerial) {
    return Invalid("serial", absl::StrCat(c.serial, " must be 1 to ", kMaxSerial));
  }
  const int64_t days = c.production_date - kEpoch;
  if (days < 0 || days > 0xffff) {
    return Invalid("production_date", absl::StrCat(absl::FormatCivilTime(c.production_date),
                                                   " must be from 2000-01-01 to 2179-06-06"));
  }
  if (c.quantity_milli == 0) return Invalid("quantity", "must be more than 0");
  if (c.unit.size() != 3 || !IsUpperAlnum(c.unit)) {
    return Invalid("unit", absl::StrCat("'", c.unit,
                                        "' must be a 3-character UNECE Rec 20 code (KGM, LTR, ...)"));
  }
  if (c.un_number.size() != 4 || !AllDigits(c.un_number) || c.un_number == "0000") {
    return Invalid("un_number", absl::StrCat("'", c.un_number, "' must be 4 digits"));
  }
  absl::StatusOr<uint64_t> cas = CasToInteger(c.cas);
  if (!cas.ok()) return cas.status();
  if ((c.control_flags & ~kAllLabelControlFlags) != 0) {
    return Invalid("control_flags", "has unknown bits");
  }
  return absl::OkStatus();
}

// "HTTPS://R/E.P/B.S/": everything the URL shows before the signed segment.
std::string UrlPrefix(const LabelClaims& c) {
  return absl::StrCat(kScheme, c.resolver, "/", c.enterprise, ".", c.product, "/", c.batch,
                      ".", c.serial, "/");
}

// The 26 bytes of binary claims (format version 1).
std::string EncodeClaims(const LabelClaims& c, const KeyId& key_id) {
  std::string out;
  out.push_back(static_cast<char>(kLabelVersion));
  out.append(key_id.ToBytes());
  uint64_t un = 0;
  absl::SimpleAtoi(c.un_number, &un);
  PutBigEndian(&out, un, 2);
  PutBigEndian(&out, *CasToInteger(c.cas), 5);
  PutBigEndian(&out, c.quantity_milli, 4);
  out.append(c.unit);
  PutBigEndian(&out, static_cast<uint64_t>(c.production_date - kEpoch), 2);
  out.push_back(static_cast<char>(c.control_flags));
  return out;
}

}  // namespace

std::string LabelClaims::Code() const {
  return absl::StrCat(enterprise, ".", product, ".", batch, ".", serial);
}

bool operator==(const LabelClaims& a, const LabelClaims& b) {
  return a.resolver == b.resolver && a.enterprise == b.enterprise && a.product == b.product &&
         a.batch == b.batch && a.serial == b.serial && a.production_date == b.production_date &&
         a.quantity_milli == b.quantity_milli && a.unit == b.unit &&
         a.un_number == b.un_number && a.cas == b.cas && a.control_flags == b.control_flags;
}

absl::Status ValidateLabelResolver(absl::string_view resolver) { return CheckResolver(resolver); }

absl::Status ValidateLabelClaims(const LabelClaims& claims) { return CheckClaims(claims); }

absl::StatusOr<std::string> MakeLabelUrl(const LabelClaims& claims,
                                         const SigningKey& label_key) {
  if (absl::Status s = CheckClaims(claims); !s.ok()) return s;
  const std::string prefix = UrlPrefix(claims);
  const std::string encoded = EncodeClaims(claims, label_key.key_id());
  absl::StatusOr<Signature> sig = label_key.Sign(kLabelContext, prefix + encoded);
  if (!sig.ok()) return sig.status();
  return absl::StrCat(prefix, Base32Encode(encoded + sig->ToBytes()));
}

absl::Status ParsedLabel::VerifySignature(const VerifyingKey& key) const {
  return key.Verify(kLabelContext, signed_message, signature);
}

absl::StatusOr<ParsedLabel> ParseLabelUrl(absl::string_view url) {
  if (url.size() > 512) return Invalid("url", "is longer than 512 characters");
  if (!absl::StartsWith(url, kScheme)) {
    return Invalid("url", "must start with \"HTTPS://\" (upper case)");
  }
  std::vector<absl::string_view> parts = absl::StrSplit(url.substr(kScheme.size()), '/');
  if (parts.size() != 4) {
    return Invalid("url", absl::StrCat("must have 4 parts after HTTPS:// (resolver, product, "
                                       "package, signature), has ",
                                       parts.size()));
  }
  LabelClaims c;
  c.resolver = std::string(parts[0]);
  if (absl::Status s = CheckResolver(c.resolver); !s.ok()) return s;

  const size_t product_dot = parts[1].find('.');
  if (product_dot == absl::string_view::npos) {
    return Invalid("product part", "must be <USCC>.<PRODUCT>");
  }
  c.enterprise = std::string(parts[1].substr(0, product_dot));
  c.product = std::string(parts[1].substr(product_dot + 1));

  const size_t package_dot = parts[2].find('.');
  if (package_dot == absl::string_view::npos) {
    return Invalid("package part", "must be <BATCH>.<SERIAL>");
  }
  c.batch = std::string(parts[2].substr(0, package_dot));
  const absl::string_view serial = parts[2].substr(package_dot + 1);
  if (!AllDigits(serial) || serial.size() > 9 || serial[0] == '0') {
    return Invalid("serial", absl::StrCat("'", serial, "' must be 1 to 999999999 without "
                                                       "leading zeros"));
  }
  absl::SimpleAtoi(serial, &c.serial);

  const absl::string_view segment = parts[3];
  absl::StatusOr<std::string> payload = Base32Decode(segment);
  // The version comes first: a later version may have another length.
  if (payload.ok() && !payload->empty() && static_cast<uint8_t>((*payload)[0]) != kLabelVersion) {
    return absl::UnimplementedError(
        absl::StrCat("label format version ", static_cast<uint8_t>((*payload)[0]),
                     " is not supported (this verifier reads version ", kLabelVersion, ")"));
  }
  if (segment.size() != kSignedSegmentSize) {
    return Invalid("signature part",
                   absl::StrCat("must be ", kSignedSegmentSize, " Base32 characters, is ",
                                segment.size(), segment.size() < kSignedSegmentSize
                                                    ? " (truncated?)"
                                                    : " (trailing bytes?)"));
  }
  if (!payload.ok()) return Invalid("signature part", payload.status().message());
  if (payload->size() != kPayloadSize) return Invalid("signature part", "has the wrong length");
  absl::StatusOr<KeyId> key_id = KeyId::FromBytes(payload->substr(1, KeyId::kSize));
  if (!key_id.ok()) return key_id.status();
  c.un_number = absl::StrCat(GetBigEndian(*payload, 9, 2));
  while (c.un_number.size() < 4) c.un_number.insert(0, "0");
  const uint64_t cas = GetBigEndian(*payload, 11, 5);
  if (cas != 0 && (cas < 10000 || cas > kMaxCasDigits)) {
    return Invalid("cas", absl::StrCat(cas, " is not the digits of a CAS number"));
  }
  c.cas = IntegerToCas(cas);
  c.quantity_milli = static_cast<uint32_t>(GetBigEndian(*payload, 16, 4));
  c.unit = payload->substr(20, 3);
  c.production_date = kEpoch + static_cast<int64_t>(GetBigEndian(*payload, 23, 2));
  c.control_flags = static_cast<uint8_t>((*payload)[25]);
  // Values must be what MakeLabelUrl would write: one encoding per label.
  if (absl::Status s = CheckClaims(c); !s.ok()) return s;

  absl::StatusOr<Signature> signature =
      Signature::FromBytes(payload->substr(kClaimsSize, Signature::kSize));
  if (!signature.ok()) return signature.status();
  return ParsedLabel{
      std::move(c), kLabelVersion, *key_id, *signature,
      absl::StrCat(url.substr(0, url.size() - segment.size()), payload->substr(0, kClaimsSize))};
}

}  // namespace chemledger::crypto
