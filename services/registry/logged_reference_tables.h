// The reference tables the pages and the site assessments read
// (reference::ReferenceTables), as the log has them at one state: the
// STATEMENT_TEXTS, STORAGE_SEGREGATION and EMERGENCY_INFORMATION versions in
// force (docs/reference-data.md), over the tables compiled into the binary.
//
// For statement texts and emergency information, an imported version's text
// for a code or UN number in a language comes first; where it gives none,
// the compiled-in text (if any) stands. A combined precautionary code
// ("P301+P310") the imported version lacks is its parts' texts joined, as
// the compiled-in tables do. For segregation, an imported version in force
// replaces the compiled-in table (which has none) whole; a pair of
// divisions ("2.1", "5.1") it lacks is looked up by their classes ("2",
// "5").
//
// One object per read: it caches which versions are in force. Not
// thread-safe; `state` and `fallback` must outlive it. A state that cannot
// be read is treated as holding no imported table.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_LOGGED_REFERENCE_TABLES_H_
#define CHEMLEDGER_SERVICES_REGISTRY_LOGGED_REFERENCE_TABLES_H_

#include <optional>
#include <string>
#include <vector>

#include "chemledger/v1/registry.pb.h"
#include "reference/reference_tables.h"
#include "storage/store.h"

namespace chemledger::registry {

class LoggedReferenceTables final : public reference::ReferenceTables {
 public:
  LoggedReferenceTables(const storage::StateReader& state,
                        const reference::ReferenceTables& fallback)
      : state_(state), fallback_(fallback) {}

  std::optional<std::string> StatementText(absl::string_view code,
                                           reference::Language language) const override;
  std::vector<reference::TableSource> Sources() const override;
  std::optional<reference::SegregationRule> StorageSegregation(absl::string_view a,
                                                               absl::string_view b) const override;
  bool HasSegregationTable() const override;
  std::optional<std::string> EmergencyInformation(absl::string_view un,
                                                  reference::Language language) const override;

 private:
  // The version of `table` in force ("" for none), read once.
  const std::string& InForce(v1::ReferenceTable table) const;

  const storage::StateReader& state_;
  const reference::ReferenceTables& fallback_;
  mutable std::optional<std::string> statements_, segregation_, emergency_;
};

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_LOGGED_REFERENCE_TABLES_H_
