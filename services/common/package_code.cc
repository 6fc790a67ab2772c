#include "services/common/package_code.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/identifiers.h"

namespace chemledger::ids {

std::string PackageCode::ToString() const {
  return absl::StrCat(uscc, ".", product, ".", batch, ".", serial);
}

std::optional<PackageCode> PackageCode::Parse(absl::string_view code) {
  std::vector<absl::string_view> parts = absl::StrSplit(code, '.');
  PackageCode p;
  if (parts.size() != 4 || !ValidateUscc("code", parts[0]).ok() ||
      !crypto::IsProductNumber(parts[1]) || !crypto::IsBatch(parts[2]) ||
      !absl::SimpleAtoi(parts[3], &p.serial) || p.serial == 0 || p.serial > kMaxSerial ||
      absl::StrCat(p.serial) != parts[3]) {
    return std::nullopt;
  }
  p.uscc = std::string(parts[0]);
  p.product = std::string(parts[1]);
  p.batch = std::string(parts[2]);
  return p;
}

bool IsAggregateCode(absl::string_view code) {
  std::vector<absl::string_view> parts = absl::StrSplit(code, '.');
  return parts.size() == 3 && ValidateUscc("code", parts[0]).ok() && parts[1] == "LU" &&
         crypto::IsCodeField(parts[2], 32);
}

std::string EnterpriseOfCode(absl::string_view code) {
  if (PackageCode::Parse(code) || IsAggregateCode(code)) return std::string(code.substr(0, 18));
  return "";
}

}  // namespace chemledger::ids
