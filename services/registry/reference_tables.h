// Reference tables in the registry (docs/reference-data.md): the versions of
// the tables a platform administrator imported as signed registry entries
// (v1::ReferenceTableImport), and the rows the rules read from the version
// in force. A new version is in force from its own entry on; because the
// journal hands each entry the state as it stood just before it, an entry
// is always checked (when sequenced, and again when the state is rebuilt)
// against the version in force when it was written.
//
// State keys (the registry's "r/ref/" prefix; docs/architecture.md):
//   r/ref/cur/<table>                     v1::ReferenceTableVersion in force
//   r/ref/ver/<table>/<version>           v1::ReferenceTableVersion
//   r/ref/cas/catalogue/<version>/<cas>   state::CatalogueRows (CATALOGUE)
//   r/ref/thr/<version>/<cas|cat>/<key>   v1::ThresholdRow (MAJOR_HAZARD_THRESHOLDS)
//   r/ref/ctl/<table>/<version>/<cas>     the list's name of the chemical (control lists)
//   r/ref/stm/<version>/<code>            state::ReferenceTextRow (STATEMENT_TEXTS)
//   r/ref/emg/<version>/<un>              state::ReferenceTextRow (EMERGENCY_INFORMATION)
//   r/ref/seg/<version>/<a>/<b>           state::SegregationRow (STORAGE_SEGREGATION; a < b)
// where <table> is ReferenceTableName ("catalogue", "thresholds",
// "explosives-precursors", "drug-precursors", "key-supervised",
// "specially-controlled", "statements", "segregation", "emergency").
//
// Pure functions over a storage::StateReader; thread-safe as the reader is.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_REFERENCE_TABLES_H_
#define CHEMLEDGER_SERVICES_REGISTRY_REFERENCE_TABLES_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chemledger/state/state.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "journal/state_machine.h"
#include "services/registry/catalogue.h"
#include "storage/store.h"

namespace chemledger::registry {

// The rules epoch from which reference tables are imported into the log
// (journal::kCurrentRulesEpoch's list).
inline constexpr uint32_t kReferenceTablesRulesEpoch = 6;

// The prefix of the records of the versions in force (read by every
// product registration: the journal keeps it in memory).
inline constexpr absl::string_view kReferenceTableInForcePrefix = "r/ref/cur/";

// "catalogue" for CATALOGUE, "thresholds" for MAJOR_HAZARD_THRESHOLDS; ""
// for a table this build does not know.
absl::string_view ReferenceTableName(v1::ReferenceTable table);

// The rules epoch from which control lists are imported and read.
inline constexpr uint32_t kControlListsRulesEpoch = 7;

// The control lists, each setting one control flag on the chemicals it names.
inline constexpr v1::ReferenceTable kControlLists[] = {
    v1::EXPLOSIVES_PRECURSOR_LIST, v1::DRUG_PRECURSOR_LIST, v1::KEY_SUPERVISED_LIST,
    v1::SPECIALLY_CONTROLLED_LIST};

// The control flag (crypto/label.h bits) a control list sets; 0 for a table
// that is not one.
uint8_t ControlListFlag(v1::ReferenceTable table);

// What the control lists in force say of CAS number `cas`: the flags they
// set, and which lists name it ("<table>/<version>"), in kControlLists order.
struct ControlListFlags {
  uint8_t flags = 0;
  std::vector<std::string> lists;
};
absl::StatusOr<ControlListFlags> ControlListFlagsFor(const storage::StateReader& state,
                                                     absl::string_view cas);

// The version of `table` in force, if any was imported.
absl::StatusOr<std::optional<v1::ReferenceTableVersion>> ReferenceTableInForce(
    const storage::StateReader& state, v1::ReferenceTable table);

// Every imported version of `table` (REFERENCE_TABLE_UNSPECIFIED: of every
// table), by table and then in the order of their imports, in_force set on
// the version in force.
absl::StatusOr<std::vector<v1::ReferenceTableVersion>> ListReferenceTableVersions(
    const storage::StateReader& state, v1::ReferenceTable table);

// The rows of catalogue `version` with CAS number `cas`, in file order
// (none: the CAS number is not in it).
absl::StatusOr<std::vector<v1::CatalogueRow>> FindCatalogueRows(const storage::StateReader& state,
                                                                absl::string_view version,
                                                                absl::string_view cas);

// A catalogue entry as the log and the state record it.
v1::CatalogueRow ToCatalogueRow(const CatalogueEntry& entry);

// Of the rows of one CAS number, the one whose catalogue number is
// `catalogue_number`, else the first; nullptr when `rows` is empty.
const v1::CatalogueRow* ChooseCatalogueRow(const std::vector<v1::CatalogueRow>& rows,
                                           int32_t catalogue_number);

// The threshold row of GB 18218 for `key` in thresholds `version`: a named
// chemical's by CAS number (category false) or a hazard category's by its
// code; nullopt when the version has none.
absl::StatusOr<std::optional<v1::ThresholdRow>> FindThresholdRow(const storage::StateReader& state,
                                                                 absl::string_view version,
                                                                 bool category,
                                                                 absl::string_view key);

// A row of statement texts `version` for a statement code ("H225",
// "P301+P310"), of emergency information `version` for a UN number, and of
// segregation `version` for two classes (either order); nullopt when the
// version has none.
absl::StatusOr<std::optional<state::ReferenceTextRow>> FindStatementText(
    const storage::StateReader& state, absl::string_view version, absl::string_view code);
absl::StatusOr<std::optional<state::ReferenceTextRow>> FindEmergencyInformation(
    const storage::StateReader& state, absl::string_view version, absl::string_view un);
absl::StatusOr<std::optional<state::SegregationRow>> FindSegregationRow(
    const storage::StateReader& state, absl::string_view version, absl::string_view a,
    absl::string_view b);

// A table version as its import entry wrote it: its table, its name and,
// for a catalogue, its rows by CAS number (rows without one are not keyed);
// for a control list, a row per CAS number it names, carrying its flag.
struct ImportedTable {
  v1::ReferenceTable table = v1::REFERENCE_TABLE_UNSPECIFIED;
  std::string version;
  std::map<std::string, std::vector<v1::CatalogueRow>, std::less<>> rows_by_cas;
};

// The rule of RegistryRequest.import_reference_table, for an actor the
// caller found may act (registry_rules.h): a platform administrator's;
// under rules epoch kReferenceTablesRulesEpoch or later; a known table; a
// version of 1-32 of A-Z a-z 0-9 . _ - not imported before for its table (AlreadyExists);
// the source's title, issuer, date and document number; content_sha256 the
// SHA-256 of content; content a file of the table's format with no problem
// at all (InvalidArgument "import_reference_table.content: ..." naming the
// line and field of the first problems). Writes the version, puts it in
// force, and writes its rows; returns them (for AddImportedFlags,
// product_flags.h).
absl::StatusOr<ImportedTable> ImportReferenceTable(const journal::EntryContext& entry,
                                                   const v1::ReferenceTableImport& import,
                                                   const v1::Actor& actor,
                                                   const storage::StateReader& state,
                                                   storage::StateWrites* changes);

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_REFERENCE_TABLES_H_
