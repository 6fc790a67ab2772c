// The reference catalogue of hazardous chemicals shipped with ChemLedger
// (services/registry/data/catalogue.tsv, sources in data/SOURCES.md): for
// each chemical its 危险化学品目录 (2015) entry number, names, CAS number, UN
// number, hazard class, packing group and control flags. Registering a product
// whose CAS number is in the catalogue is checked against its entry.
//
// A Catalogue is immutable once loaded; const methods are thread-safe.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_CATALOGUE_H_
#define CHEMLEDGER_SERVICES_REGISTRY_CATALOGUE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chemledger::registry {

// Control flags (the label's bits, crypto/label.h, use the same values).
enum ControlFlag : uint8_t {
  kHighlyToxic = 1 << 0,          // 剧毒
  kExplosivesPrecursor = 1 << 1,  // 易制爆
  kDrugPrecursor = 1 << 2,        // 易制毒
  kKeySupervised = 1 << 3,        // 重点监管
  kHighHazard = 1 << 4,           // 高危 (特别管控危险化学品)
};

struct CatalogueEntry {
  int catalogue_number = 0;   // 1..2828
  std::string name_zh;
  std::string name_en;
  std::string cas;            // may be empty
  std::string un_number;      // 4 digits
  std::string hazard_class;   // "3", "2.1", "5.1", ...
  std::string packing_group;  // "I", "II", "III", or "" where the class has none
  uint8_t flags = 0;          // ControlFlag bits
};

// Whether `hazard_class` is a class or division of GB 6944 / the UN Model
// Regulations ("1.1" .. "1.6", "2.1" .. "2.3", "3", "4.1" .. "4.3", "5.1",
// "5.2", "6.1", "6.2", "7", "8", "9").
bool IsHazardClass(absl::string_view hazard_class);

// Whether `hazard_class` (e.g. "2.1") is one that has no packing group:
// classes 1 and 2, divisions 5.2 and 6.2, class 7.
bool ClassHasNoPackingGroup(absl::string_view hazard_class);

// Parses a flag list such as "易制爆,重点监管" or "-" (none).
absl::StatusOr<uint8_t> ParseControlFlags(absl::string_view text);
// "易制爆,重点监管", or "-" for none.
std::string ControlFlagsText(uint8_t flags);

class Catalogue {
 public:
  // Parses catalogue TSV text (the format of data/catalogue.tsv). Every row is
  // validated (catalogue number, CAS check digit, UN number, class and packing
  // group, flags, no duplicate number or CAS); InvalidArgument names the line.
  static absl::StatusOr<Catalogue> Parse(absl::string_view tsv);
  // Reads and parses a file.
  static absl::StatusOr<Catalogue> Load(const std::string& path);
  // A catalogue of exactly these entries (not validated: for repeating a
  // check against rows recorded in the log). Later duplicates of a CAS number
  // are not found by FindByCas.
  static Catalogue FromEntries(std::vector<CatalogueEntry> entries);

  // The entry with this CAS number, or nullptr.
  const CatalogueEntry* FindByCas(absl::string_view cas) const;
  const std::vector<CatalogueEntry>& entries() const { return entries_; }

 private:
  std::vector<CatalogueEntry> entries_;
  std::map<std::string, size_t, std::less<>> by_cas_;
};

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_CATALOGUE_H_
