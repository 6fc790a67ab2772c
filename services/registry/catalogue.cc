#include "services/registry/catalogue.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/common/identifiers.h"

namespace chemledger::registry {
namespace {

constexpr absl::string_view kHeader =
    "catalogue_no\tname_zh\tname_en\tcas\tun\thazard_class\tpacking_group\tflags";

struct FlagName {
  ControlFlag flag;
  absl::string_view name;
};
constexpr FlagName kFlagNames[] = {
    {kHighlyToxic, "剧毒"},       {kExplosivesPrecursor, "易制爆"}, {kDrugPrecursor, "易制毒"},
    {kKeySupervised, "重点监管"}, {kHighHazard, "高危"},
};

// The classes and divisions of GB 6944 / the UN Model Regulations.
const std::set<std::string>& HazardClasses() {
  static const auto* classes = new std::set<std::string>{
      "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "2.1", "2.2", "2.3", "3", "4.1", "4.2",
      "4.3", "5.1", "5.2", "6.1", "6.2", "7",   "8",   "9"};
  return *classes;
}

absl::Status LineError(size_t line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("catalogue line ", line, ": ", what));
}

}  // namespace

bool IsHazardClass(absl::string_view c) { return HazardClasses().count(std::string(c)) > 0; }

bool ClassHasNoPackingGroup(absl::string_view c) {
  return absl::StartsWith(c, "1") || absl::StartsWith(c, "2") || c == "5.2" || c == "6.2" ||
         c == "7";
}

absl::StatusOr<uint8_t> ParseControlFlags(absl::string_view text) {
  if (text == "-" || text.empty()) return 0;
  uint8_t flags = 0;
  for (absl::string_view name : absl::StrSplit(text, ',')) {
    bool known = false;
    for (const FlagName& f : kFlagNames) {
      if (f.name == name) {
        flags |= f.flag;
        known = true;
      }
    }
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown control flag '", name, "' (known: 剧毒, 易制爆, 易制毒, 重点监管, 高危)"));
    }
  }
  return flags;
}

std::string ControlFlagsText(uint8_t flags) {
  std::vector<absl::string_view> names;
  for (const FlagName& f : kFlagNames) {
    if (flags & f.flag) names.push_back(f.name);
  }
  return names.empty() ? "-" : absl::StrJoin(names, ",");
}

absl::StatusOr<Catalogue> Catalogue::Parse(absl::string_view tsv) {
  std::vector<absl::string_view> lines = absl::StrSplit(tsv, '\n', absl::SkipEmpty());
  if (lines.empty() || lines[0] != kHeader) {
    return LineError(1, absl::StrCat("expected the header \"", kHeader, "\""));
  }
  Catalogue catalogue;
  std::set<int> numbers;
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t n = i + 1;
    const std::vector<std::string> f = absl::StrSplit(lines[i], '\t');
    if (f.size() != 8) return LineError(n, absl::StrCat("has ", f.size(), " fields, not 8"));
    CatalogueEntry e;
    if (!absl::SimpleAtoi(f[0], &e.catalogue_number)) {
      return LineError(n, absl::StrCat("catalogue number '", f[0], "' is not a number"));
    }
    if (absl::Status s = ids::ValidateCatalogueNumber("catalogue_no", e.catalogue_number);
        !s.ok()) {
      return LineError(n, s.message());
    }
    if (!numbers.insert(e.catalogue_number).second) {
      return LineError(n, absl::StrCat("catalogue number ", e.catalogue_number, " repeated"));
    }
    e.name_zh = f[1];
    e.name_en = f[2];
    if (e.name_zh.empty() || e.name_en.empty()) return LineError(n, "a name is empty");
    if (f[3] != "-" && !f[3].empty()) {
      if (absl::Status s = ids::ValidateCas("cas", f[3]); !s.ok()) return LineError(n, s.message());
      e.cas = f[3];
    }
    if (absl::Status s = ids::ValidateUnNumber("un", f[4]); !s.ok()) {
      return LineError(n, s.message());
    }
    e.un_number = f[4];
    if (!IsHazardClass(f[5])) {
      return LineError(n, absl::StrCat("hazard class '", f[5], "' is not a GB 6944 class"));
    }
    e.hazard_class = f[5];
    const bool none = f[6] == "-";
    if (ClassHasNoPackingGroup(e.hazard_class) != none) {
      return LineError(n, absl::StrCat("class ", e.hazard_class,
                                       none ? " needs a packing group" : " has no packing group"));
    }
    if (!none && f[6] != "I" && f[6] != "II" && f[6] != "III") {
      return LineError(n, absl::StrCat("packing group '", f[6], "' is not I, II or III"));
    }
    e.packing_group = none ? "" : f[6];
    absl::StatusOr<uint8_t> flags = ParseControlFlags(f[7]);
    if (!flags.ok()) return LineError(n, flags.status().message());
    e.flags = *flags;
    if (!e.cas.empty() && !catalogue.by_cas_.emplace(e.cas, catalogue.entries_.size()).second) {
      return LineError(n, absl::StrCat("CAS ", e.cas, " repeated"));
    }
    catalogue.entries_.push_back(std::move(e));
  }
  return catalogue;
}

absl::StatusOr<Catalogue> Catalogue::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read catalogue ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

Catalogue Catalogue::FromEntries(std::vector<CatalogueEntry> entries) {
  Catalogue catalogue;
  for (CatalogueEntry& e : entries) {
    if (!e.cas.empty()) catalogue.by_cas_.emplace(e.cas, catalogue.entries_.size());
    catalogue.entries_.push_back(std::move(e));
  }
  return catalogue;
}

const CatalogueEntry* Catalogue::FindByCas(absl::string_view cas) const {
  auto it = by_cas_.find(cas);
  return it == by_cas_.end() ? nullptr : &entries_[it->second];
}

}  // namespace chemledger::registry
