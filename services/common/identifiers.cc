#include "services/common/identifiers.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace chemledger::ids {
namespace {

constexpr absl::string_view kUsccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
constexpr int kUsccWeights[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
// GB 11714 organisation code: 8 characters (digits and A-Z) and a check.
constexpr int kOrgCodeWeights[8] = {3, 7, 9, 10, 5, 8, 4, 2};
// GB 32100 registration authorities: 1-9, A (CMC), N (agriculture), Y (other).
constexpr absl::string_view kRegistrationAuthorities = "123456789ANY";

absl::Status Invalid(absl::string_view field, absl::string_view value,
                     absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": '", value, "' ", rule));
}

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}

bool IsProvince(int p) {
  switch (p) {
    case 11: case 12: case 13: case 14: case 15:
    case 21: case 22: case 23:
    case 31: case 32: case 33: case 34: case 35: case 36: case 37:
    case 41: case 42: case 43: case 44: case 45: case 46:
    case 50: case 51: case 52: case 53: case 54:
    case 61: case 62: case 63: case 64: case 65:
    case 71: case 81: case 82:
      return true;
    default:
      return false;
  }
}

char OrgCodeCheckCharacter(absl::string_view first8) {
  int sum = 0;
  for (int i = 0; i < 8; ++i) {
    const char c = first8[i];
    const int v = absl::ascii_isdigit(static_cast<unsigned char>(c)) ? c - '0' : c - 'A' + 10;
    sum += v * kOrgCodeWeights[i];
  }
  const int check = 11 - sum % 11;
  if (check == 10) return 'X';
  if (check == 11) return '0';
  return static_cast<char>('0' + check);
}

}  // namespace

char UsccCheckCharacter(absl::string_view first17) {
  int sum = 0;
  for (int i = 0; i < 17; ++i) {
    sum += static_cast<int>(kUsccAlphabet.find(first17[i])) * kUsccWeights[i];
  }
  const int check = 31 - sum % 31;
  return kUsccAlphabet[check == 31 ? 0 : check];
}

absl::Status ValidateUscc(absl::string_view field, absl::string_view uscc) {
  if (uscc.size() != 18) {
    return Invalid(field, uscc, absl::StrCat("must be 18 characters (统一社会信用代码, GB 32100), not ",
                                             uscc.size()));
  }
  for (size_t i = 0; i < uscc.size(); ++i) {
    if (kUsccAlphabet.find(uscc[i]) == absl::string_view::npos) {
      return Invalid(field, uscc,
                     absl::StrCat("has '", uscc.substr(i, 1), "' at position ", i + 1,
                                  "; only digits and upper-case letters other than I, O, "
                                  "S, V, Z are allowed (GB 32100)"));
    }
  }
  if (kRegistrationAuthorities.find(uscc[0]) == absl::string_view::npos) {
    return Invalid(field, uscc,
                   absl::StrCat("has registration authority code '", uscc.substr(0, 1),
                                "' (position 1); GB 32100 defines 1-9, A, N and Y"));
  }
  const absl::string_view region = uscc.substr(2, 6);
  if (!AllDigits(region)) {
    return Invalid(field, uscc, "positions 3-8 must be a 6-digit region code (GB/T 2260)");
  }
  const int province = (region[0] - '0') * 10 + (region[1] - '0');
  if (province != 10 && !IsProvince(province)) {  // 10xxxx: national level
    return Invalid(field, uscc,
                   absl::StrCat("has region code ", region,
                                " (positions 3-8), which names no province (GB/T 2260)"));
  }
  const absl::string_view org = uscc.substr(8, 9);
  const char org_check = OrgCodeCheckCharacter(org.substr(0, 8));
  if (org[8] != org_check) {
    return Invalid(field, uscc,
                   absl::StrCat("has organisation code ", org, " (positions 9-17) whose check "
                                "character is '", org.substr(8, 1), "', expected '",
                                std::string(1, org_check), "' (GB 11714)"));
  }
  const char check = UsccCheckCharacter(uscc.substr(0, 17));
  if (uscc[17] != check) {
    return Invalid(field, uscc,
                   absl::StrCat("has check character '", uscc.substr(17, 1), "', expected '",
                                std::string(1, check), "' (GB 32100)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRegionCode(absl::string_view field, absl::string_view code) {
  if (code.size() != 6 || !AllDigits(code)) {
    return Invalid(field, code, "must be 6 digits (GB/T 2260 administrative division code)");
  }
  const int province = (code[0] - '0') * 10 + (code[1] - '0');
  if (!IsProvince(province)) {
    return Invalid(field, code,
                   absl::StrCat("starts with ", code.substr(0, 2),
                                ", which is no province-level division (GB/T 2260)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateCas(absl::string_view field, absl::string_view cas) {
  const size_t first_dash = cas.find('-');
  const size_t second_dash =
      first_dash == absl::string_view::npos ? first_dash : cas.find('-', first_dash + 1);
  if (second_dash == absl::string_view::npos) {
    return Invalid(field, cas, "must have the form NNNNNNN-NN-N (CAS Registry Number)");
  }
  const absl::string_view a = cas.substr(0, first_dash);
  const absl::string_view b = cas.substr(first_dash + 1, second_dash - first_dash - 1);
  const absl::string_view c = cas.substr(second_dash + 1);
  if (a.size() < 2 || a.size() > 7 || !AllDigits(a) || b.size() != 2 || !AllDigits(b) ||
      c.size() != 1 || !AllDigits(c)) {
    return Invalid(field, cas,
                   "must have the form NNNNNNN-NN-N: 2 to 7 digits, 2 digits, 1 check digit");
  }
  if (a[0] == '0') return Invalid(field, cas, "must not start with 0 (CAS Registry Number)");
  const std::string digits = absl::StrCat(a, b);
  int sum = 0;
  for (size_t i = 0; i < digits.size(); ++i) {
    sum += (digits[digits.size() - 1 - i] - '0') * static_cast<int>(i + 1);
  }
  const char expected = static_cast<char>('0' + sum % 10);
  if (c[0] != expected) {
    return Invalid(field, cas,
                   absl::StrCat("has check digit ", c, ", expected ", std::string(1, expected),
                                " (CAS Registry Number)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateUnNumber(absl::string_view field, absl::string_view un) {
  if (un.size() != 4 || !AllDigits(un)) {
    return Invalid(field, un, "must be exactly 4 digits (UN number, e.g. 1942)");
  }
  if (un == "0000") return Invalid(field, un, "is not a UN number");
  return absl::OkStatus();
}

absl::Status ValidateCatalogueNumber(absl::string_view field, int64_t number) {
  if (number < 1 || number > kCatalogueEntries) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", number, " is out of range; 危险化学品目录 (2015) has entries 1 to ",
        kCatalogueEntries));
  }
  return absl::OkStatus();
}

bool IsMajorHazardCategoryCode(absl::string_view code) {
  return !code.empty() && code.size() <= 16 && std::all_of(code.begin(), code.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
  });
}

bool IsHazardStatementCode(absl::string_view code) {
  absl::string_view rest = code;
  if (!absl::ConsumePrefix(&rest, "EUH") && !absl::ConsumePrefix(&rest, "H")) return false;
  if (rest.size() < 3 || rest.size() > 7) return false;
  for (size_t i = 0; i < rest.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(rest[i]);
    if (i < 3 ? !absl::ascii_isdigit(c) : !absl::ascii_isalpha(c)) return false;
  }
  return true;
}

bool IsPrecautionaryStatementCode(absl::string_view code) {
  std::vector<absl::string_view> parts = absl::StrSplit(code, '+');
  if (parts.size() > 3) return false;
  for (absl::string_view part : parts) {
    if (part.size() != 4 || part[0] != 'P') return false;
    for (char c : part.substr(1)) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    }
  }
  return true;
}

}  // namespace chemledger::ids
