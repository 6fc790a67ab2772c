#include "api/net_quantity.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace chemledger::api {

absl::StatusOr<uint32_t> ParseNetQuantity(absl::string_view field, absl::string_view text) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": '", text,
        "' must be a decimal with at most 3 fraction digits, more than 0 and at most 4294967.295"));
  };
  absl::string_view whole = text, fraction;
  if (size_t dot = text.find('.'); dot != absl::string_view::npos) {
    whole = text.substr(0, dot);
    fraction = text.substr(dot + 1);
    if (fraction.empty() || fraction.size() > 3) return bad();
  }
  if (whole.empty() || whole.size() > 7 || (whole.size() > 1 && whole[0] == '0')) return bad();
  for (absl::string_view part : {whole, fraction}) {
    for (char c : part) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return bad();
    }
  }
  uint64_t milli = 0;
  for (char c : whole) milli = milli * 10 + static_cast<uint64_t>(c - '0');
  for (size_t i = 0; i < 3; ++i) {
    milli = milli * 10 + (i < fraction.size() ? static_cast<uint64_t>(fraction[i] - '0') : 0);
  }
  if (milli == 0 || milli > UINT32_MAX) return bad();
  return static_cast<uint32_t>(milli);
}

std::string FormatNetQuantity(uint64_t milli) {
  std::string out = std::to_string(milli / 1000);
  if (uint64_t f = milli % 1000; f != 0) {
    std::string digits = std::to_string(1000 + f).substr(1);
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    absl::StrAppend(&out, ".", digits);
  }
  return out;
}

std::string NetQuantityText(uint32_t milli, absl::string_view unit) {
  absl::string_view symbol = unit;
  if (unit == "KGM") symbol = "kg";
  if (unit == "GRM") symbol = "g";
  if (unit == "TNE") symbol = "t";
  if (unit == "LTR") symbol = "L";
  if (unit == "MLT") symbol = "mL";
  if (unit == "MTQ") symbol = "m³";
  return absl::StrCat(FormatNetQuantity(milli), " ", symbol);
}

bool IsNetQuantityUnit(absl::string_view unit) {
  for (absl::string_view u : {"KGM", "GRM", "TNE", "LTR", "MLT", "MTQ"}) {
    if (unit == u) return true;
  }
  return false;
}

}  // namespace chemledger::api
