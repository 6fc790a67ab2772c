#include "crypto/waybill_code.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crypto/base32.h"
#include "crypto/internal/code_fields.h"
#include "crypto/label.h"

namespace chemledger::crypto {
namespace {

using internal::AllDigits;
using internal::GetBigEndian;
using internal::IsUpperAlnum;
using internal::PutBigEndian;

constexpr absl::string_view kScheme = "HTTPS://";
constexpr absl::string_view kTrailerSuffix = "挂";
constexpr size_t kFixedClaimsSize = 60;  // up to the goods lines
constexpr size_t kGoodsLineSize = 16;
constexpr uint64_t kMax48 = (uint64_t{1} << 48) - 1;
constexpr uint32_t kMax24 = (uint32_t{1} << 24) - 1;

constexpr absl::string_view kProvinces[] = {
    "京", "津", "沪", "渝", "冀", "豫", "云", "辽", "黑", "湘", "皖", "鲁", "新", "苏", "浙", "赣",
    "鄂", "桂", "甘", "晋", "蒙", "陕", "吉", "闽", "贵", "粤", "青", "藏", "川", "宁", "琼"};

// Divisions of each dangerous goods class 1 to 9 (GB 6944 / the UN Model
// Regulations); 0 for a class written without one ("3").
constexpr int kDivisions[10] = {-1, 6, 3, 0, 3, 2, 2, 0, 0, 0};
constexpr absl::string_view kPackingGroups[] = {"", "I", "II", "III"};

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat("waybill code ", field, ": ", rule));
}

// 1-based index of the plate's province, 0 if none; *rest is what follows it.
int ProvinceOf(absl::string_view plate, absl::string_view* rest) {
  for (size_t i = 0; i < sizeof(kProvinces) / sizeof(kProvinces[0]); ++i) {
    if (absl::StartsWith(plate, kProvinces[i])) {
      *rest = plate.substr(kProvinces[i].size());
      return static_cast<int>(i + 1);
    }
  }
  return 0;
}

bool IsPlateTail(absl::string_view s) {
  return !s.empty() && s[0] >= 'A' && s[0] <= 'Z' && IsUpperAlnum(s);
}

// Class "6.1" -> 61, "3" -> 30; 0 for an unknown class or division.
uint8_t ClassByte(absl::string_view c) {
  if (c.empty() || c[0] < '1' || c[0] > '9') return 0;
  const int major = c[0] - '0';
  if (kDivisions[major] == 0) return c.size() == 1 ? static_cast<uint8_t>(major * 10) : 0;
  if (c.size() != 3 || c[1] != '.' || c[2] < '1' || c[2] - '0' > kDivisions[major]) return 0;
  return static_cast<uint8_t>(major * 10 + (c[2] - '0'));
}

std::string ClassText(uint8_t b) {
  if (b % 10 == 0) return absl::StrCat(b / 10);
  return absl::StrCat(b / 10, ".", b % 10);
}

int PackingGroupIndex(absl::string_view pg) {
  for (int i = 0; i < 4; ++i) {
    if (pg == kPackingGroups[i]) return i;
  }
  return -1;
}

bool IsRegion(absl::string_view r) { return r.size() == 6 && AllDigits(r); }

absl::Status CheckClaims(const WaybillCodeClaims& c) {
  if (!ValidateLabelResolver(c.resolver).ok()) {
    return Invalid("resolver", absl::StrCat("'", c.resolver, "' must be an upper-case host name "
                                            "(A-Z, 0-9, '.', '-', optional :port)"));
  }
  const std::string& n = c.waybill_number;
  if (n.empty() || n.size() > 40 || n.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
                                        std::string::npos) {
    return Invalid("waybill_number", absl::StrCat("'", n, "' must be 1 to 40 of A-Z, 0-9, '-'"));
  }
  if (c.revision > kMax48) return Invalid("revision", "must be below 2^48");
  if (!internal::LooksLikeUscc(c.carrier_uscc)) {
    return Invalid("carrier_uscc",
                   absl::StrCat("'", c.carrier_uscc, "' must be an 18-character 统一社会信用代码"));
  }
  absl::string_view rest;
  if (ProvinceOf(c.vehicle_plate, &rest) == 0 || (rest.size() != 6 && rest.size() != 7) ||
      !IsPlateTail(rest)) {
    return Invalid("vehicle_plate", absl::StrCat("'", c.vehicle_plate, "' must be a province, a "
                                                 "letter and 5 (new-energy: 6) of A-Z, 0-9"));
  }
  if (c.plate_colour < 1 || c.plate_colour > 6) {
    return Invalid("plate_colour", "must be 1 (blue) to 6 (yellow-green)");
  }
  if (!c.trailer_plate.empty()) {
    absl::string_view trailer;
    if (ProvinceOf(c.trailer_plate, &trailer) == 0 || !absl::ConsumeSuffix(&trailer, kTrailerSuffix) ||
        trailer.size() != 5 || !IsPlateTail(trailer)) {
      return Invalid("trailer_plate", absl::StrCat("'", c.trailer_plate, "' must be a province, a "
                                                   "letter, 4 of A-Z, 0-9 and 挂"));
    }
  }
  if (!IsRegion(c.origin_region)) return Invalid("origin_region", "must be 6 digits (GB/T 2260)");
  if (!IsRegion(c.destination_region)) {
    return Invalid("destination_region", "must be 6 digits (GB/T 2260)");
  }
  for (auto [field, day] : {std::make_pair("planned_departure", c.planned_departure),
                            std::make_pair("planned_arrival", c.planned_arrival)}) {
    const int64_t days = day - internal::kCodeEpoch;
    if (days < 0 || days > 0xffff) {
      return Invalid(field, absl::StrCat(absl::FormatCivilTime(day),
                                         " must be from 2000-01-01 to 2179-06-06"));
    }
  }
  if (c.planned_arrival < c.planned_departure) {
    return Invalid("planned_arrival", "must not be before planned_departure");
  }
  if (c.goods.empty() || c.goods.size() > kMaxWaybillCodeLines) {
    return Invalid("goods", absl::StrCat("must list 1 to ", kMaxWaybillCodeLines, " lines"));
  }
  if (c.goods_lines < c.goods.size() || c.goods_lines > 255) {
    return Invalid("goods_lines", "must be at least the lines listed and at most 255");
  }
  for (size_t i = 0; i < c.goods.size(); ++i) {
    const WaybillCodeGoods& g = c.goods[i];
    const std::string field = absl::StrCat("goods[", i, "]");
    if (g.un_number.size() != 4 || !AllDigits(g.un_number) || g.un_number == "0000") {
      return Invalid(field + ".un_number", absl::StrCat("'", g.un_number, "' must be 4 digits"));
    }
    if (ClassByte(g.hazard_class) == 0) {
      return Invalid(field + ".hazard_class",
                     absl::StrCat("'", g.hazard_class, "' is not a dangerous goods class or division"));
    }
    if (PackingGroupIndex(g.packing_group) < 0) {
      return Invalid(field + ".packing_group", "must be '', I, II or III");
    }
    if (g.quantity_milli == 0 || g.quantity_milli > kMax48) {
      return Invalid(field + ".quantity_milli", "must be more than 0 and below 2^48");
    }
    if (g.unit.size() != 3 || !IsUpperAlnum(g.unit)) {
      return Invalid(field + ".unit", absl::StrCat("'", g.unit, "' must be a UNECE Rec 20 code"));
    }
    if (g.codes > kMax24) return Invalid(field + ".codes", "must be below 2^24");
  }
  return absl::OkStatus();
}

std::string UrlPrefix(const WaybillCodeClaims& c) {
  return absl::StrCat(kScheme, c.resolver, "/W/", c.waybill_number, "/");
}

void PutPlate(std::string* out, absl::string_view plate, size_t tail_size) {
  absl::string_view rest;
  out->push_back(static_cast<char>(ProvinceOf(plate, &rest)));
  absl::ConsumeSuffix(&rest, kTrailerSuffix);
  std::string tail(rest);
  tail.resize(tail_size, '\0');
  out->append(tail);
}

std::string EncodeClaims(const WaybillCodeClaims& c, const KeyId& key_id) {
  std::string out;
  out.push_back(static_cast<char>(kWaybillCodeVersion));
  out.append(key_id.ToBytes());
  PutBigEndian(&out, c.revision, 6);
  out.append(c.carrier_uscc);
  PutPlate(&out, c.vehicle_plate, 7);
  out.push_back(static_cast<char>(c.plate_colour));
  if (c.trailer_plate.empty()) {
    out.append(6, '\0');
  } else {
    PutPlate(&out, c.trailer_plate, 5);
  }
  uint64_t region = 0;
  absl::SimpleAtoi(c.origin_region, &region);
  PutBigEndian(&out, region, 3);
  absl::SimpleAtoi(c.destination_region, &region);
  PutBigEndian(&out, region, 3);
  PutBigEndian(&out, static_cast<uint64_t>(c.planned_departure - internal::kCodeEpoch), 2);
  PutBigEndian(&out, static_cast<uint64_t>(c.planned_arrival - internal::kCodeEpoch), 2);
  out.push_back(static_cast<char>(c.goods_lines));
  out.push_back(static_cast<char>(c.goods.size()));
  for (const WaybillCodeGoods& g : c.goods) {
    uint64_t un = 0;
    absl::SimpleAtoi(g.un_number, &un);
    PutBigEndian(&out, un, 2);
    out.push_back(static_cast<char>(ClassByte(g.hazard_class)));
    out.push_back(static_cast<char>(PackingGroupIndex(g.packing_group)));
    PutBigEndian(&out, g.quantity_milli, 6);
    out.append(g.unit);
    PutBigEndian(&out, g.codes, 3);
  }
  return out;
}

// The plate at `offset`: a province byte and `tail_size` bytes (a 6-character
// tail of a 7-byte field ends in a zero byte). "" for a province byte of 0.
absl::StatusOr<std::string> GetPlate(absl::string_view in, size_t offset, size_t tail_size,
                                     absl::string_view field) {
  const uint8_t province = static_cast<uint8_t>(in[offset]);
  std::string tail(in.substr(offset + 1, tail_size));
  if (province == 0) {
    if (tail != std::string(tail_size, '\0')) return Invalid(field, "has bytes but no province");
    return std::string();
  }
  if (province > sizeof(kProvinces) / sizeof(kProvinces[0])) {
    return Invalid(field, absl::StrCat("province ", province, " is not one of the 31"));
  }
  if (tail_size == 7 && tail.back() == '\0') tail.pop_back();
  return absl::StrCat(kProvinces[province - 1], tail);
}

}  // namespace

absl::Span<const absl::string_view> PlateProvinces() { return kProvinces; }

bool operator==(const WaybillCodeGoods& a, const WaybillCodeGoods& b) {
  return a.un_number == b.un_number && a.hazard_class == b.hazard_class &&
         a.packing_group == b.packing_group && a.quantity_milli == b.quantity_milli &&
         a.unit == b.unit && a.codes == b.codes;
}

bool operator==(const WaybillCodeClaims& a, const WaybillCodeClaims& b) {
  return a.resolver == b.resolver && a.waybill_number == b.waybill_number &&
         a.revision == b.revision && a.carrier_uscc == b.carrier_uscc &&
         a.vehicle_plate == b.vehicle_plate && a.plate_colour == b.plate_colour &&
         a.trailer_plate == b.trailer_plate && a.origin_region == b.origin_region &&
         a.destination_region == b.destination_region &&
         a.planned_departure == b.planned_departure && a.planned_arrival == b.planned_arrival &&
         a.goods == b.goods && a.goods_lines == b.goods_lines;
}

absl::StatusOr<std::string> MakeWaybillCodeUrl(const WaybillCodeClaims& claims,
                                               const SigningKey& label_key) {
  if (absl::Status s = CheckClaims(claims); !s.ok()) return s;
  const std::string prefix = UrlPrefix(claims);
  const std::string encoded = EncodeClaims(claims, label_key.key_id());
  absl::StatusOr<Signature> sig = label_key.Sign(kWaybillCodeContext, prefix + encoded);
  if (!sig.ok()) return sig.status();
  return absl::StrCat(prefix, Base32Encode(encoded + sig->ToBytes()));
}

absl::Status ParsedWaybillCode::VerifySignature(const VerifyingKey& key) const {
  return key.Verify(kWaybillCodeContext, signed_message, signature);
}

bool IsWaybillCodeUrl(absl::string_view url) {
  if (!absl::ConsumePrefix(&url, kScheme)) return false;
  const size_t slash = url.find('/');
  return slash != absl::string_view::npos && absl::StartsWith(url.substr(slash), "/W/");
}

absl::StatusOr<ParsedWaybillCode> ParseWaybillCodeUrl(absl::string_view url) {
  if (url.size() > 1024) return Invalid("url", "is longer than 1024 characters");
  if (!absl::StartsWith(url, kScheme)) {
    return Invalid("url", "must start with \"HTTPS://\" (upper case)");
  }
  std::vector<absl::string_view> parts = absl::StrSplit(url.substr(kScheme.size()), '/');
  if (parts.size() != 4 || parts[1] != "W") {
    return Invalid("url", "must be HTTPS://<resolver>/W/<waybill number>/<signature part>");
  }
  WaybillCodeClaims c;
  c.resolver = std::string(parts[0]);
  c.waybill_number = std::string(parts[2]);
  const absl::string_view segment = parts[3];
  absl::StatusOr<std::string> payload = Base32Decode(segment);
  if (!payload.ok()) return Invalid("signature part", payload.status().message());
  const std::string& p = *payload;
  if (p.empty()) return Invalid("signature part", "is empty");
  const uint8_t version = static_cast<uint8_t>(p[0]);
  if (version != kWaybillCodeVersion) {
    return absl::UnimplementedError(
        absl::StrCat("waybill code format version ", version, " is not supported (this verifier "
                     "reads version ", kWaybillCodeVersion, ")"));
  }
  if (p.size() < kFixedClaimsSize + Signature::kSize) {
    return Invalid("signature part", absl::StrCat("is ", p.size(), " bytes, too short (truncated?)"));
  }
  const size_t listed = static_cast<uint8_t>(p[59]);
  const size_t claims_size = kFixedClaimsSize + listed * kGoodsLineSize;
  if (p.size() != claims_size + Signature::kSize) {
    return Invalid("signature part", absl::StrCat("is ", p.size(), " bytes; ", listed,
                                                  " goods lines make ", claims_size + Signature::kSize,
                                                  p.size() < claims_size + Signature::kSize
                                                      ? " (truncated?)"
                                                      : " (trailing bytes?)"));
  }
  absl::StatusOr<KeyId> key_id = KeyId::FromBytes(p.substr(1, KeyId::kSize));
  if (!key_id.ok()) return key_id.status();
  c.revision = GetBigEndian(p, 9, 6);
  c.carrier_uscc = p.substr(15, 18);
  absl::StatusOr<std::string> plate = GetPlate(p, 33, 7, "vehicle_plate");
  if (!plate.ok()) return plate.status();
  c.vehicle_plate = *plate;
  c.plate_colour = static_cast<uint8_t>(p[41]);
  absl::StatusOr<std::string> trailer = GetPlate(p, 42, 5, "trailer_plate");
  if (!trailer.ok()) return trailer.status();
  c.trailer_plate = trailer->empty() ? "" : absl::StrCat(*trailer, kTrailerSuffix);
  const auto region = [](uint64_t v) {
    std::string r = absl::StrCat(v);
    if (r.size() < 6) r.insert(0, 6 - r.size(), '0');
    return r;
  };
  c.origin_region = region(GetBigEndian(p, 48, 3));
  c.destination_region = region(GetBigEndian(p, 51, 3));
  c.planned_departure = internal::kCodeEpoch + static_cast<int64_t>(GetBigEndian(p, 54, 2));
  c.planned_arrival = internal::kCodeEpoch + static_cast<int64_t>(GetBigEndian(p, 56, 2));
  c.goods_lines = static_cast<uint8_t>(p[58]);
  for (size_t i = 0; i < listed; ++i) {
    const size_t o = kFixedClaimsSize + i * kGoodsLineSize;
    WaybillCodeGoods& g = c.goods.emplace_back();
    g.un_number = absl::StrCat(GetBigEndian(p, o, 2));
    if (g.un_number.size() < 4) g.un_number.insert(0, 4 - g.un_number.size(), '0');
    const uint8_t class_byte = static_cast<uint8_t>(p[o + 2]);
    g.hazard_class = ClassByte(ClassText(class_byte)) == class_byte ? ClassText(class_byte) : "?";
    const uint8_t pg = static_cast<uint8_t>(p[o + 3]);
    g.packing_group = pg < 4 ? std::string(kPackingGroups[pg]) : "?";
    g.quantity_milli = GetBigEndian(p, o + 4, 6);
    g.unit = p.substr(o + 10, 3);
    g.codes = static_cast<uint32_t>(GetBigEndian(p, o + 13, 3));
  }
  // Values must be what MakeWaybillCodeUrl would write: one encoding per code.
  if (absl::Status s = CheckClaims(c); !s.ok()) return s;
  absl::StatusOr<Signature> signature = Signature::FromBytes(p.substr(claims_size, Signature::kSize));
  if (!signature.ok()) return signature.status();
  return ParsedWaybillCode{std::move(c), version, *key_id, *signature,
                           absl::StrCat(url.substr(0, url.size() - segment.size()),
                                        p.substr(0, claims_size))};
}

WaybillCodeCheck VerifyWaybillCode(absl::string_view url, const TrustList& trust) {
  absl::StatusOr<ParsedWaybillCode> parsed = ParseWaybillCodeUrl(url);
  if (!parsed.ok()) {
    return {absl::IsUnimplemented(parsed.status()) ? LabelVerdict::kUnsupportedVersion
                                                   : LabelVerdict::kMalformed,
            std::string(parsed.status().message()), absl::nullopt};
  }
  CodeVerdict verdict = CheckSignedCode(
      trust, "waybill code", parsed->claims.resolver, parsed->key_id,
      [&](const VerifyingKey& key) { return parsed->VerifySignature(key); });
  return {verdict.verdict, std::move(verdict.detail), *std::move(parsed)};
}

}  // namespace chemledger::crypto
