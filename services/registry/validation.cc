#include "services/registry/validation.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "crypto/package_code_fields.h"
#include "services/common/identifiers.h"

namespace chemledger::registry {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

absl::CivilDay ToDay(const v1::Date& d) { return absl::CivilDay(d.year(), d.month(), d.day()); }

v1::LicenceType LicenceFor(v1::EnterpriseRole role) {
  switch (role) {
    case v1::PRODUCER: return v1::SAFETY_PRODUCTION;
    case v1::IMPORTER:
    case v1::WAREHOUSE: return v1::HAZARDOUS_CHEMICALS_TRADE;
    case v1::CARRIER: return v1::ROAD_TRANSPORT;
    case v1::DISPOSER: return v1::HAZARDOUS_WASTE;
    default: return v1::LICENCE_TYPE_UNSPECIFIED;
  }
}

// 1 to `max` of A-Z 0-9 and '-'.
bool IsIdentifier(absl::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && !(c >= 'A' && c <= 'Z') &&
        c != '-') {
      return false;
    }
  }
  return true;
}

bool IsPhone(absl::string_view phone) {
  return phone.size() >= 5 && phone.size() <= 20 &&
         phone.find_first_not_of("0123456789+- ") == absl::string_view::npos;
}

absl::Status ValidatePerson(absl::string_view field, const v1::ResponsiblePerson& person) {
  if (person.name().empty() || person.name().size() > 64) {
    return Invalid(absl::StrCat(field, ".name"), "is required, at most 64 bytes");
  }
  if (!IsPhone(person.phone())) {
    return Invalid(absl::StrCat(field, ".phone"), "5 to 20 digits, '+', '-' or spaces");
  }
  return absl::OkStatus();
}

}  // namespace

bool ValidDate(const v1::Date& d) {
  if (d.year() < 1900 || d.year() > 9999 || d.month() < 1 || d.month() > 12 || d.day() < 1) {
    return false;
  }
  const absl::CivilDay day(d.year(), d.month(), d.day());
  return day.month() == d.month() && day.day() == d.day();  // no 02-30
}

absl::Status ValidateRegulatorScope(absl::string_view field, v1::Department department,
                                    const v1::Jurisdiction& jurisdiction) {
  if (department == v1::DEPARTMENT_UNSPECIFIED || !v1::Department_IsValid(department)) {
    return Invalid(absl::StrCat(field, ".department"),
                   "is required for a regulator: EMERGENCY_MANAGEMENT, TRANSPORT, "
                   "PUBLIC_SECURITY, ECOLOGY_ENVIRONMENT, MARKET_REGULATION or "
                   "PARK_ADMINISTRATION");
  }
  const int given = (jurisdiction.national() ? 1 : 0) + (jurisdiction.region_prefix().empty() ? 0 : 1) +
                    (jurisdiction.park_id().empty() ? 0 : 1);
  if (given != 1) {
    return Invalid(absl::StrCat(field, ".jurisdiction"),
                   "exactly one of national, region_prefix or park_id");
  }
  const std::string& region = jurisdiction.region_prefix();
  if (!region.empty() && ((region.size() != 2 && region.size() != 4 && region.size() != 6) ||
                          region.find_first_not_of("0123456789") != std::string::npos)) {
    return Invalid(absl::StrCat(field, ".jurisdiction.region_prefix"),
                   absl::StrCat("'", region, "' must be a GB/T 2260 code of 2, 4 or 6 digits "
                                "(province, city, county)"));
  }
  if (department == v1::PARK_ADMINISTRATION && jurisdiction.park_id().empty()) {
    return Invalid(absl::StrCat(field, ".jurisdiction.park_id"),
                   "a park administration's jurisdiction is its park");
  }
  return absl::OkStatus();
}

absl::Status ValidateSite(const v1::Site& site) {
  if (absl::Status s = ids::ValidateUscc("site.enterprise_uscc", site.enterprise_uscc()); !s.ok()) {
    return s;
  }
  if (!IsIdentifier(site.site_id(), kMaxSiteIdLength)) {
    return Invalid("site.site_id", absl::StrCat("'", site.site_id(), "' must be 1 to ",
                                                kMaxSiteIdLength, " of A-Z, 0-9 and '-'"));
  }
  if (site.name().empty() || site.name().size() > 128) {
    return Invalid("site.name", "is required, at most 128 bytes");
  }
  if (site.address().empty() || site.address().size() > 256) {
    return Invalid("site.address", "is required, at most 256 bytes");
  }
  if (absl::Status s = ids::ValidateRegionCode("site.region_code", site.region_code()); !s.ok()) {
    return s;
  }
  if (site.major_hazard_grade() == v1::MAJOR_HAZARD_GRADE_UNSPECIFIED ||
      !v1::MajorHazardGrade_IsValid(site.major_hazard_grade())) {
    return Invalid("site.major_hazard_grade",
                   "must be NOT_A_MAJOR_HAZARD or GRADE_1 to GRADE_4 (重大危险源 一级 to 四级)");
  }
  if (site.capacities_size() > 32) return Invalid("site.capacities", "at most 32");
  std::set<std::string> classes;
  for (int i = 0; i < site.capacities_size(); ++i) {
    const v1::StorageCapacity& c = site.capacities(i);
    const std::string field = absl::StrCat("site.capacities[", i, "]");
    // A capacity names a division ("5.1") or a whole class ("5"), which
    // counts its divisions (services/ledger/site_load.h).
    const bool whole_class = c.hazard_class().size() == 1 &&
                             IsHazardClass(absl::StrCat(c.hazard_class(), ".1"));
    if (!IsHazardClass(c.hazard_class()) && !whole_class) {
      return Invalid(absl::StrCat(field, ".hazard_class"),
                     absl::StrCat("'", c.hazard_class(), "' is not a GB 6944 class or division"));
    }
    if (!classes.insert(c.hazard_class()).second) {
      return Invalid(absl::StrCat(field, ".hazard_class"),
                     absl::StrCat(c.hazard_class(), " is listed twice"));
    }
    if (c.capacity_milli() == 0) return Invalid(absl::StrCat(field, ".capacity_milli"), "must be more than 0");
    if (c.unit() != "KGM" && c.unit() != "LTR" && c.unit() != "TNE" && c.unit() != "MTQ") {
      return Invalid(absl::StrCat(field, ".unit"), "must be KGM, LTR, TNE or MTQ");
    }
  }
  if (absl::Status s = ValidatePerson("site.principal", site.principal()); !s.ok()) return s;
  if (absl::Status s = ValidatePerson("site.technical", site.technical()); !s.ok()) return s;
  if (absl::Status s = ValidatePerson("site.operational", site.operational()); !s.ok()) return s;
  if (site.licensed_cas_size() > 500) return Invalid("site.licensed_cas", "at most 500");
  for (int i = 0; i < site.licensed_cas_size(); ++i) {
    if (absl::Status s =
            ids::ValidateCas(absl::StrCat("site.licensed_cas[", i, "]"), site.licensed_cas(i));
        !s.ok()) {
      return s;
    }
  }
  if (!site.park_id().empty() && !IsIdentifier(site.park_id(), kMaxSiteIdLength)) {
    return Invalid("site.park_id", "must be a registered park's id");
  }
  if (site.exposure_correction_tenths() > 100) {
    return Invalid(
        "site.exposure_correction_tenths",
        absl::StrCat(site.exposure_correction_tenths(),
                     " is over 100: GB 18218's α in tenths (20: 2.0), or 0 when not given"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePark(const v1::Park& park) {
  if (!IsIdentifier(park.park_id(), kMaxSiteIdLength)) {
    return Invalid("park.park_id", absl::StrCat("'", park.park_id(), "' must be 1 to ",
                                                kMaxSiteIdLength, " of A-Z, 0-9 and '-'"));
  }
  if (park.name().empty() || park.name().size() > 128) {
    return Invalid("park.name", "is required, at most 128 bytes");
  }
  if (absl::Status s = ids::ValidateRegionCode("park.region_code", park.region_code()); !s.ok()) {
    return s;
  }
  if (park.administration().empty() || park.administration().size() > 128) {
    return Invalid("park.administration", "is required, at most 128 bytes");
  }
  if (park.gates_size() > 64) return Invalid("park.gates", "at most 64");
  std::set<std::string> gates;
  for (int i = 0; i < park.gates_size(); ++i) {
    const std::string field = absl::StrCat("park.gates[", i, "]");
    if (!IsIdentifier(park.gates(i).gate_id(), 16)) {
      return Invalid(absl::StrCat(field, ".gate_id"), "must be 1 to 16 of A-Z, 0-9 and '-'");
    }
    if (!gates.insert(park.gates(i).gate_id()).second) {
      return Invalid(absl::StrCat(field, ".gate_id"), "is listed twice");
    }
    if (park.gates(i).name().empty() || park.gates(i).name().size() > 64) {
      return Invalid(absl::StrCat(field, ".name"), "is required, at most 64 bytes");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTextFieldBytes(const google::protobuf::Message& message, absl::string_view root,
                                 size_t most) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    const std::string name = absl::StrCat(root, ".", f->name());
    const int count = f->is_repeated() ? reflection->FieldSize(message, f) : 1;
    for (int i = 0; i < count; ++i) {
      const std::string at = f->is_repeated() ? absl::StrCat(name, "[", i, "]") : name;
      if (f->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
        const std::string& text =
            f->is_repeated() ? reflection->GetRepeatedStringReference(message, f, i, nullptr)
                             : reflection->GetStringReference(message, f, nullptr);
        if (text.size() > most) {
          return Invalid(at, absl::StrCat(text.size(), " bytes; at most ", most));
        }
      } else if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
        const google::protobuf::Message& inner = f->is_repeated()
                                                     ? reflection->GetRepeatedMessage(message, f, i)
                                                     : reflection->GetMessage(message, f);
        if (absl::Status s = CheckTextFieldBytes(inner, at, most); !s.ok()) return s;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLicence(const v1::Licence& l, absl::string_view field) {
  if (l.type() == v1::LICENCE_TYPE_UNSPECIFIED || !v1::LicenceType_IsValid(l.type())) {
    return Invalid(absl::StrCat(field, ".type"), "is not a known licence type");
  }
  if (l.number().empty()) return Invalid(absl::StrCat(field, ".number"), "is required");
  if (!ValidDate(l.valid_from())) {
    return Invalid(absl::StrCat(field, ".valid_from"), "is not a valid date");
  }
  if (!ValidDate(l.valid_until())) {
    return Invalid(absl::StrCat(field, ".valid_until"), "is not a valid date");
  }
  if (ToDay(l.valid_until()) < ToDay(l.valid_from())) {
    return Invalid(absl::StrCat(field, ".valid_until"), "is before valid_from");
  }
  return absl::OkStatus();
}

absl::Status ValidateEnterprise(const v1::Enterprise& e) {
  if (absl::Status s = ids::ValidateUscc("enterprise.uscc", e.uscc()); !s.ok()) return s;
  if (e.name().empty()) return Invalid("enterprise.name", "is required");
  if (absl::Status s = ids::ValidateRegionCode("enterprise.region_code", e.region_code()); !s.ok()) {
    return s;
  }
  if (e.address().empty()) return Invalid("enterprise.address", "is required");
  if (e.roles().empty()) return Invalid("enterprise.roles", "at least one role is required");
  std::set<int> roles;
  for (int i = 0; i < e.roles_size(); ++i) {
    const auto role = e.roles(i);
    if (role == v1::ENTERPRISE_ROLE_UNSPECIFIED || !v1::EnterpriseRole_IsValid(role)) {
      return Invalid(absl::StrCat("enterprise.roles[", i, "]"), "is not a known role");
    }
    if (!roles.insert(role).second) {
      return Invalid(absl::StrCat("enterprise.roles[", i, "]"), "is listed twice");
    }
  }
  std::set<int> licences;
  for (int i = 0; i < e.licences_size(); ++i) {
    const v1::Licence& l = e.licences(i);
    if (absl::Status s = ValidateLicence(l, absl::StrCat("enterprise.licences[", i, "]"));
        !s.ok()) {
      return s;
    }
    licences.insert(l.type());
  }
  for (int role : roles) {
    const v1::LicenceType needed = LicenceFor(static_cast<v1::EnterpriseRole>(role));
    if (needed != v1::LICENCE_TYPE_UNSPECIFIED && !licences.count(needed)) {
      return Invalid("enterprise.licences",
                     absl::StrCat("role ", v1::EnterpriseRole_Name(role), " needs a ",
                                  v1::LicenceType_Name(needed), " licence"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateProduct(const v1::Product& p, const Catalogue& catalogue) {
  if (absl::Status s = ids::ValidateUscc("product.enterprise_uscc", p.enterprise_uscc()); !s.ok()) {
    return s;
  }
  if (!crypto::IsProductNumber(p.product_number())) {
    return Invalid("product.product_number",
                   absl::StrCat("'", p.product_number(), "' must be 1 to ",
                                crypto::kMaxProductNumberLength, " of A-Z, 0-9"));
  }
  if (p.name_zh().empty()) return Invalid("product.name_zh", "is required");
  if (p.name_en().empty()) return Invalid("product.name_en", "is required");
  if (!p.cas().empty()) {
    if (absl::Status s = ids::ValidateCas("product.cas", p.cas()); !s.ok()) return s;
  }
  if (absl::Status s = ids::ValidateUnNumber("product.un_number", p.un_number()); !s.ok()) {
    return s;
  }
  if (!IsHazardClass(p.hazard_class())) {
    return Invalid("product.hazard_class",
                   absl::StrCat("'", p.hazard_class(), "' is not a GB 6944 class or division"));
  }
  if (ClassHasNoPackingGroup(p.hazard_class())) {
    if (!p.packing_group().empty()) {
      return Invalid("product.packing_group",
                     absl::StrCat("must be empty: class ", p.hazard_class(),
                                  " has no packing group"));
    }
  } else if (p.packing_group() != "I" && p.packing_group() != "II" &&
             p.packing_group() != "III") {
    return Invalid("product.packing_group",
                   absl::StrCat("class ", p.hazard_class(), " needs packing group I, II or III",
                                p.packing_group().empty() ? "" : absl::StrCat(", not '", p.packing_group(), "'")));
  }
  // 0: not in the 目录 (a product in no catalogue; its CAS number, if in
  // the catalogue checked against, still asks for the entry's number below).
  if (p.catalogue_number() != 0) {
    if (absl::Status s =
            ids::ValidateCatalogueNumber("product.catalogue_number", p.catalogue_number());
        !s.ok()) {
      return s;
    }
  }
  std::set<std::string> pictograms;
  for (int i = 0; i < p.ghs_pictograms_size(); ++i) {
    const std::string& g = p.ghs_pictograms(i);
    if (g.size() != 5 || !absl::StartsWith(g, "GHS0") || g[4] < '1' || g[4] > '9') {
      return Invalid(absl::StrCat("product.ghs_pictograms[", i, "]"),
                     absl::StrCat("'", g, "' must be GHS01 to GHS09"));
    }
    if (!pictograms.insert(g).second) {
      return Invalid(absl::StrCat("product.ghs_pictograms[", i, "]"), "is listed twice");
    }
  }
  if (p.signal_word() != v1::DANGER && p.signal_word() != v1::WARNING) {
    return Invalid("product.signal_word", "must be DANGER (危险) or WARNING (警告)");
  }
  for (int i = 0; i < p.hazard_statements_size(); ++i) {
    const std::string& h = p.hazard_statements(i);
    const bool ok = h.size() >= 4 && h.size() <= 8 && h[0] == 'H' &&
                    absl::ascii_isdigit(static_cast<unsigned char>(h[1])) &&
                    absl::ascii_isdigit(static_cast<unsigned char>(h[2])) &&
                    absl::ascii_isdigit(static_cast<unsigned char>(h[3]));
    if (!ok) {
      return Invalid(absl::StrCat("product.hazard_statements[", i, "]"),
                     absl::StrCat("'", h, "' must be a GHS hazard statement code such as H225"));
    }
  }
  for (int i = 0; i < p.precautionary_statements_size(); ++i) {
    const std::string& code = p.precautionary_statements(i);
    if (!ids::IsPrecautionaryStatementCode(code)) {
      return Invalid(absl::StrCat("product.precautionary_statements[", i, "]"),
                     absl::StrCat("'", code, "' must be a GHS precautionary statement code "
                                  "such as P210, or up to three joined by '+' (P301+P310)"));
    }
  }
  for (const auto& [field, text] :
       {std::pair<const char*, const std::string*>{"product.first_aid", &p.first_aid()},
        {"product.fire_fighting", &p.fire_fighting()},
        {"product.spill_response", &p.spill_response()}}) {
    if (text->size() > kMaxSafetyTextBytes) {
      return Invalid(field, absl::StrCat("is ", text->size(), " bytes; at most ",
                                         kMaxSafetyTextBytes));
    }
  }
  if (p.major_hazard_categories_size() > 8) {
    return Invalid("product.major_hazard_categories", "at most 8");
  }
  for (int i = 0; i < p.major_hazard_categories_size(); ++i) {
    if (!ids::IsMajorHazardCategoryCode(p.major_hazard_categories(i))) {
      return Invalid(absl::StrCat("product.major_hazard_categories[", i, "]"),
                     absl::StrCat("'", p.major_hazard_categories(i),
                                  "' is not a GB 18218 category code: 1 to 16 of A-Z a-z 0-9 . -"));
    }
  }
  if (p.density_grams_per_litre() > 50000) {
    return Invalid("product.density_grams_per_litre",
                   absl::StrCat(p.density_grams_per_litre(), " is over 50000 (g/L)"));
  }
  absl::StatusOr<uint8_t> flags = ParseControlFlags(absl::StrJoin(p.control_flags(), ","));
  if (!flags.ok()) return Invalid("product.control_flags", flags.status().message());
  if (!p.sds_sha256().empty() && p.sds_sha256().size() != 32) {
    return Invalid("product.sds_sha256", "must be 32 bytes (SHA-256)");
  }
  if (!p.sds_uri().empty() && !absl::StartsWith(p.sds_uri(), "https://") &&
      !absl::StartsWith(p.sds_uri(), "http://")) {
    return Invalid("product.sds_uri", "must be an http(s) URL");
  }
  if (!IsPhone(p.emergency_phone())) {
    return Invalid("product.emergency_phone",
                   "is required: 5 to 20 digits, '+', '-' or spaces (24-hour line)");
  }

  if (const CatalogueEntry* entry = catalogue.FindByCas(p.cas()); entry != nullptr) {
    const std::string ref =
        absl::StrCat(" (危险化学品目录 entry ", entry->catalogue_number, ", ", entry->name_zh, ")");
    // An imported 目录 gives no UN number or class: compared where it does.
    if (!entry->un_number.empty() && p.un_number() != entry->un_number) {
      return Invalid("product.un_number",
                     absl::StrCat(p.un_number(), " does not match CAS ", p.cas(), ": the catalogue says UN ",
                                  entry->un_number, ref));
    }
    if (!entry->hazard_class.empty() && p.hazard_class() != entry->hazard_class) {
      return Invalid("product.hazard_class",
                     absl::StrCat(p.hazard_class(), " does not match CAS ", p.cas(),
                                  ": the catalogue says class ", entry->hazard_class, ref));
    }
    if (p.catalogue_number() != entry->catalogue_number) {
      return Invalid("product.catalogue_number",
                     absl::StrCat(p.catalogue_number(), " does not match CAS ", p.cas(),
                                  ": the catalogue says ", entry->catalogue_number, ref));
    }
    if ((*flags & entry->flags) != entry->flags) {
      return Invalid("product.control_flags",
                     absl::StrCat("must include ", ControlFlagsText(entry->flags), " for CAS ",
                                  p.cas(), ref));
    }
  }
  return absl::OkStatus();
}

}  // namespace chemledger::registry
