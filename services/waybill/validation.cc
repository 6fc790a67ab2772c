#include "services/waybill/validation.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "crypto/waybill_code.h"
#include "services/common/identifiers.h"
#include "api/net_quantity.h"
#include "services/registry/catalogue.h"

namespace chemledger::waybill {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

bool IsPlateCharacter(char c) {
  return (absl::ascii_isdigit(static_cast<unsigned char>(c)) || (c >= 'A' && c <= 'Z')) &&
         c != 'I' && c != 'O';
}

// The plate without its province abbreviation, or false.
bool StripProvince(absl::string_view plate, absl::string_view* rest) {
  for (absl::string_view p : crypto::PlateProvinces()) {
    if (absl::StartsWith(plate, p)) {
      *rest = plate.substr(p.size());
      return true;
    }
  }
  return false;
}

bool IsNewEnergyPlate(absl::string_view plate) {
  absl::string_view rest;
  return StripProvince(plate, &rest) && rest.size() == 7;
}

absl::Status ValidateParty(absl::string_view field, const v1::WaybillParty& p) {
  if (absl::Status s = ids::ValidateUscc(absl::StrCat(field, ".uscc"), p.uscc()); !s.ok()) return s;
  if (p.name().empty()) return Invalid(absl::StrCat(field, ".name"), "is required");
  return ValidatePhone(absl::StrCat(field, ".phone"), p.phone());
}

absl::Status ValidatePlace(absl::string_view field, const v1::WaybillPlace& p) {
  if (absl::Status s = ids::ValidateRegionCode(absl::StrCat(field, ".region_code"), p.region_code());
      !s.ok()) {
    return s;
  }
  if (p.address().empty()) return Invalid(absl::StrCat(field, ".address"), "is required");
  return absl::OkStatus();
}

absl::Status ValidateCrew(absl::string_view field, const v1::CrewMember& c) {
  if (c.name().empty()) return Invalid(absl::StrCat(field, ".name"), "is required");
  if (c.qualification_number().empty()) {
    return Invalid(absl::StrCat(field, ".qualification_number"), "从业资格证号 is required");
  }
  return ValidatePhone(absl::StrCat(field, ".phone"), c.phone());
}

}  // namespace

absl::Status ValidatePlate(absl::string_view field, absl::string_view plate) {
  absl::string_view rest;
  if (!StripProvince(plate, &rest)) {
    return Invalid(field, absl::StrCat("'", plate, "' must begin with a province abbreviation (京, 沪, 闽, ...)"));
  }
  if ((rest.size() != 6 && rest.size() != 7) || !(rest[0] >= 'A' && rest[0] <= 'Z') ||
      rest[0] == 'I' || rest[0] == 'O') {
    return Invalid(field, absl::StrCat("'", plate, "' must be a province, a letter and 5 letters or "
                                       "digits (6 for a new-energy plate)"));
  }
  for (char c : rest.substr(1)) {
    if (!IsPlateCharacter(c)) {
      return Invalid(field, absl::StrCat("'", plate, "' may hold only A-Z (not I, O) and 0-9 after the province"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTrailerPlate(absl::string_view field, absl::string_view plate) {
  absl::string_view rest;
  if (!StripProvince(plate, &rest) || !absl::EndsWith(rest, "挂")) {
    return Invalid(field, absl::StrCat("'", plate, "' must be a province, a letter, 4 letters or digits, and 挂"));
  }
  rest.remove_suffix(std::string_view("挂").size());
  if (rest.size() != 5 || !(rest[0] >= 'A' && rest[0] <= 'Z')) {
    return Invalid(field, absl::StrCat("'", plate, "' must be a province, a letter, 4 letters or digits, and 挂"));
  }
  for (char c : rest.substr(1)) {
    if (!IsPlateCharacter(c)) return Invalid(field, absl::StrCat("'", plate, "' has a character not allowed on plates"));
  }
  return absl::OkStatus();
}

absl::Status ValidateWasteCode(absl::string_view field, absl::string_view code) {
  bool ok = code.size() == 10 && code[3] == '-' && code[7] == '-';
  for (size_t i = 0; ok && i < code.size(); ++i) {
    if (i != 3 && i != 7) ok = absl::ascii_isdigit(static_cast<unsigned char>(code[i]));
  }
  if (!ok) return Invalid(field, absl::StrCat("'", code, "' must be 8 digits as NNN-NNN-NN"));
  return absl::OkStatus();
}

absl::Status ValidatePhone(absl::string_view field, absl::string_view phone) {
  size_t digits = 0;
  for (size_t i = 0; i < phone.size(); ++i) {
    const char c = phone[i];
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      ++digits;
    } else if (!(c == '-' || c == ' ' || (c == '+' && i == 0))) {
      return Invalid(field, absl::StrCat("'", phone, "' may hold only digits, '-', ' ' and a leading '+'"));
    }
  }
  if (digits < 7 || phone.size() > 20) {
    return Invalid(field, absl::StrCat("'", phone, "' must have 7 to 20 characters, at least 7 digits"));
  }
  return absl::OkStatus();
}

absl::Status ValidateTransportCertificate(absl::string_view field, absl::string_view number) {
  absl::string_view digits = number;
  absl::ConsumeSuffix(&digits, "号");
  const auto rule = [&] {
    return Invalid(field, absl::StrCat("'", number,
                                       "' must be a 道路运输证号: 12 digits (the issuing "
                                       "authority's region code and a serial), optionally after "
                                       "its abbreviation and before 号"));
  };
  if (digits.size() < 12) return rule();
  const absl::string_view prefix = digits.substr(0, digits.size() - 12);
  digits.remove_prefix(prefix.size());
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return rule();
  }
  // The abbreviation is Chinese characters only (bytes of multi-byte UTF-8).
  for (char c : prefix) {
    if (static_cast<unsigned char>(c) < 0x80) return rule();
  }
  return ids::ValidateRegionCode(field, digits.substr(0, 6)).ok() ? absl::OkStatus() : rule();
}

absl::Status ValidateResidentIdNumber(absl::string_view field, absl::string_view number) {
  const auto rule = [&](absl::string_view why) {
    return Invalid(field, absl::StrCat("'", number, "' is not a 居民身份证号 (GB 11643): ", why));
  };
  if (number.size() != 18) return rule("18 characters are required");
  static constexpr int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 17; ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(number[i]))) {
      return rule("the first 17 must be digits");
    }
    sum += (number[i] - '0') * kWeights[i];
  }
  if (number[17] != "10X98765432"[sum % 11]) return rule("its check character does not match");
  if (!ids::ValidateRegionCode(field, number.substr(0, 6)).ok()) {
    return rule("it does not begin with a region code");
  }
  int year = 0, month = 0, day = 0;
  if (!absl::SimpleAtoi(number.substr(6, 4), &year) ||
      !absl::SimpleAtoi(number.substr(10, 2), &month) ||
      !absl::SimpleAtoi(number.substr(12, 2), &day)) {
    return rule("characters 7 to 14 must be a birth date YYYYMMDD");
  }
  const absl::CivilDay birth(year, month, day);
  if (year < 1900 || birth.year() != year || birth.month() != month || birth.day() != day) {
    return rule("characters 7 to 14 must be a birth date YYYYMMDD from 1900");
  }
  return absl::OkStatus();
}

absl::Status ValidateDocumentNumbers(const v1::Waybill& w) {
  const v1::Vehicle& v = w.vehicle();
  if (absl::Status s =
          ValidateTransportCertificate("waybill.vehicle.transport_certificate", v.transport_certificate());
      !s.ok()) {
    return s;
  }
  if (!v.trailer_plate().empty()) {
    if (absl::Status s = ValidateTransportCertificate("waybill.vehicle.trailer_transport_certificate",
                                                      v.trailer_transport_certificate());
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = ValidateResidentIdNumber("waybill.driver.qualification_number",
                                                w.driver().qualification_number());
      !s.ok()) {
    return s;
  }
  return ValidateResidentIdNumber("waybill.escort.qualification_number",
                                  w.escort().qualification_number());
}

absl::Status ValidateWaybill(const v1::Waybill& w, absl::Time now) {
  const std::string& number = w.waybill_number();
  if (number.empty() || number.size() > 40) {
    return Invalid("waybill.waybill_number", "1 to 40 characters are required");
  }
  for (char c : number) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && !(c >= 'A' && c <= 'Z') && c != '-') {
      return Invalid("waybill.waybill_number", absl::StrCat("'", number, "' may hold only A-Z, 0-9 and '-'"));
    }
  }
  if (absl::Status s = ids::ValidateUscc("waybill.carrier_uscc", w.carrier_uscc()); !s.ok()) return s;
  if (w.carrier_name().empty()) return Invalid("waybill.carrier_name", "is required");
  if (w.carrier_licence().empty()) {
    return Invalid("waybill.carrier_licence", "道路运输经营许可证号 is required");
  }
  for (auto [field, party] : {std::make_pair("waybill.consignor", &w.consignor()),
                              std::make_pair("waybill.consignee", &w.consignee()),
                              std::make_pair("waybill.loader", &w.loader())}) {
    if (absl::Status s = ValidateParty(field, *party); !s.ok()) return s;
  }
  if (w.consignor().uscc() == w.consignee().uscc()) {
    return Invalid("waybill.consignee.uscc", "must not be the consignor");
  }
  if (absl::Status s = ValidatePlace("waybill.origin", w.origin()); !s.ok()) return s;
  if (absl::Status s = ValidatePlace("waybill.destination", w.destination()); !s.ok()) return s;
  if (!w.has_planned_departure()) return Invalid("waybill.planned_departure", "is required");
  if (!w.has_planned_arrival()) return Invalid("waybill.planned_arrival", "is required");
  if (w.planned_arrival().seconds() <= w.planned_departure().seconds()) {
    return Invalid("waybill.planned_arrival", "must be after planned_departure");
  }
  // Dates a waybill code can state (2000 to 2179) and a plausible journey.
  const int64_t departure = w.planned_departure().seconds();
  if (departure < absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2000, 1, 1), absl::UTCTimeZone())) ||
      departure > absl::ToUnixSeconds(now + kMaxPlanAhead)) {
    return Invalid("waybill.planned_departure", "must be from 2000 to at most a year from now");
  }
  if (w.planned_arrival().seconds() - departure > absl::ToInt64Seconds(kMaxJourney)) {
    return Invalid("waybill.planned_arrival", "must be at most 30 days after planned_departure");
  }

  const v1::Vehicle& v = w.vehicle();
  if (absl::Status s = ValidatePlate("waybill.vehicle.plate", v.plate()); !s.ok()) return s;
  if (v.plate_colour() == v1::PLATE_COLOUR_UNSPECIFIED || !v1::PlateColour_IsValid(v.plate_colour())) {
    return Invalid("waybill.vehicle.plate_colour", "is required");
  }
  const bool new_energy_colour =
      v.plate_colour() == v1::GREEN || v.plate_colour() == v1::YELLOW_GREEN;
  if (IsNewEnergyPlate(v.plate()) != new_energy_colour) {
    return Invalid("waybill.vehicle.plate_colour",
                   absl::StrCat(v1::PlateColour_Name(v.plate_colour()), " does not go with plate '",
                                v.plate(), "' (8-character new-energy plates are green or yellow-green)"));
  }
  if (v.transport_certificate().empty()) {
    return Invalid("waybill.vehicle.transport_certificate", "道路运输证号 is required");
  }
  if (!v.trailer_plate().empty()) {
    if (absl::Status s = ValidateTrailerPlate("waybill.vehicle.trailer_plate", v.trailer_plate());
        !s.ok()) {
      return s;
    }
    if (v.trailer_transport_certificate().empty()) {
      return Invalid("waybill.vehicle.trailer_transport_certificate",
                     "the trailer's 道路运输证号 is required");
    }
  }
  if (!v.tank_number().empty() && v.tank_volume_litres() == 0) {
    return Invalid("waybill.vehicle.tank_volume_litres", "is required with a tank");
  }

  if (absl::Status s = ValidateCrew("waybill.driver", w.driver()); !s.ok()) return s;
  if (absl::Status s = ValidateCrew("waybill.escort", w.escort()); !s.ok()) return s;
  if (w.driver().qualification_number() == w.escort().qualification_number()) {
    return Invalid("waybill.escort", "must be another person than the driver");
  }

  if (w.goods_size() == 0) return Invalid("waybill.goods", "at least one goods line is required");
  if (w.goods_size() > kMaxGoodsLines) {
    return Invalid("waybill.goods", absl::StrCat(w.goods_size(), " goods lines; at most ", kMaxGoodsLines));
  }
  int codes = 0;
  for (int i = 0; i < w.goods_size(); ++i) {
    const v1::GoodsLine& g = w.goods(i);
    const std::string field = absl::StrCat("waybill.goods[", i, "]");
    if (absl::Status s = ids::ValidateUnNumber(absl::StrCat(field, ".un_number"), g.un_number());
        !s.ok()) {
      return s;
    }
    if (g.proper_shipping_name().empty()) {
      return Invalid(absl::StrCat(field, ".proper_shipping_name"), "is required");
    }
    if (!registry::IsHazardClass(g.hazard_class())) {
      return Invalid(absl::StrCat(field, ".hazard_class"),
                     absl::StrCat("'", g.hazard_class(), "' is not a class or division of GB 6944"));
    }
    if (registry::ClassHasNoPackingGroup(g.hazard_class())) {
      if (!g.packing_group().empty()) {
        return Invalid(absl::StrCat(field, ".packing_group"),
                       absl::StrCat("must be empty for class ", g.hazard_class()));
      }
    } else if (g.packing_group() != "I" && g.packing_group() != "II" && g.packing_group() != "III") {
      return Invalid(absl::StrCat(field, ".packing_group"),
                     absl::StrCat("I, II or III is required for class ", g.hazard_class()));
    }
    if (g.packaging().empty()) return Invalid(absl::StrCat(field, ".packaging"), "is required");
    if (g.quantity_milli() == 0 || g.quantity_milli() > kMaxQuantityMilli) {
      return Invalid(absl::StrCat(field, ".quantity_milli"), "must be more than 0 and below 2^48");
    }
    if (!api::IsNetQuantityUnit(g.unit())) {
      return Invalid(absl::StrCat(field, ".unit"),
                     absl::StrCat("'", g.unit(), "' must be KGM, GRM, TNE, LTR, MLT or MTQ"));
    }
    if (g.codes_size() == 0) {
      return Invalid(absl::StrCat(field, ".codes"), "the line's package or pallet codes are required");
    }
    codes += g.codes_size();
    if (codes > kMaxCodesPerWaybill) {
      return Invalid(absl::StrCat(field, ".codes"),
                     absl::StrCat("a waybill lists at most ", kMaxCodesPerWaybill,
                                  " codes (pack packages on pallets and list the pallets)"));
    }
  }
  if (absl::Status s = ValidatePhone("waybill.emergency_phone", w.emergency_phone()); !s.ok()) return s;
  if (!w.waste_manifest().empty() || !w.waste_code().empty()) {
    if (w.waste_manifest().empty()) {
      return Invalid("waybill.waste_manifest", "危险废物转移联单 number is required for waste");
    }
    if (absl::Status s = ValidateWasteCode("waybill.waste_code", w.waste_code()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace chemledger::waybill
