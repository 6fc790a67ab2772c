// Reference tables that rules and pages read, behind one interface: today the
// texts of the GHS hazard (H) and precautionary (P) statements.
//
// The shipped tables are compiled into the binary (ShippedReferenceTables):
//   - English H and P texts: the LaTeX package ghsystem (LPPL 1.3, in
//     Debian's texlive-science), which follows UN GHS Annexes 3 and 4 and EU
//     CLP; turned into a table at build time (tools/build/ghsystem_statements.py).
//     Codes ghsystem lacks fall back to the English of data/hazard_statements.tsv.
//   - Chinese H texts: data/hazard_statements.tsv, whose header says they
//     were written from memory of GB 30000 and not checked against it.
//   - Chinese P texts: none is shipped (no source at hand); pages say so.
// A combined code ("P301+P310") missing from a table is its parts' texts
// joined, as GHS combines them, when every part has a text.
//
// A deployment imports its own versions as signed entries in the log
// (docs/reference-data.md); registry::LoggedReferenceTables
// (services/registry/logged_reference_tables.h) reads them at a snapshot,
// over these compiled-in tables, behind this same interface.
//
// Thread-safe: the tables are immutable after first use.

#ifndef CHEMLEDGER_REFERENCE_REFERENCE_TABLES_H_
#define CHEMLEDGER_REFERENCE_REFERENCE_TABLES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace chemledger::reference {

enum class Language { kChinese, kEnglish };

// Where a table's rows come from, for pages and docs to cite.
struct TableSource {
  std::string table;   // "GHS statements (English)"
  std::string source;  // title, issuer, version
  bool verified = false;  // checked against the official text
};

// One row of a storage segregation table.
struct SegregationRule {
  // Whether the two may be stored in one storage area (a registered site)
  // at all, however kept apart within it.
  bool same_site_allowed = true;
  std::string requirement;  // the table's words, e.g. "不得同库储存"
};

class ReferenceTables {
 public:
  virtual ~ReferenceTables() = default;

  // The text of a GHS hazard or precautionary statement ("H225", "P210",
  // "P301+P310") in `language`, or nullopt when the table has none.
  virtual std::optional<std::string> StatementText(absl::string_view code,
                                                   Language language) const = 0;

  // Where each table comes from.
  virtual std::vector<TableSource> Sources() const = 0;

  // GB 15603 segregation: how goods of hazard classes `a` and `b` (GB 6944
  // classes or divisions, "3", "5.1") must be kept apart in storage, or
  // nullopt when the table has no row for the pair. The shipped tables have
  // none (no source at hand); a deployment imports one (the reference-data
  // issue), tests build their own.
  virtual std::optional<SegregationRule> StorageSegregation(absl::string_view a,
                                                            absl::string_view b) const {
    return std::nullopt;
  }
  // Whether any segregation row is known (pages say "not assessed" if not).
  virtual bool HasSegregationTable() const { return false; }

  // Emergency information for UN number `un` ("1230") in `language`, or
  // nullopt. The shipped tables have none (no source at hand).
  virtual std::optional<std::string> EmergencyInformation(absl::string_view un,
                                                          Language language) const {
    return std::nullopt;
  }
};

// The tables compiled into this binary. Never null; lives forever.
const ReferenceTables& ShippedReferenceTables();

// A row of data/hazard_statements.tsv (the printable label's table).
struct HazardStatementRow {
  std::string code;  // "H225", "H300+H310"
  std::string zh;
  std::string en;
};
// Every row of that table, in table order; empty if the compiled-in table is
// malformed (reference_tables_test checks it is not).
const std::vector<HazardStatementRow>& HazardStatementRows();

}  // namespace chemledger::reference

#endif  // CHEMLEDGER_REFERENCE_REFERENCE_TABLES_H_
