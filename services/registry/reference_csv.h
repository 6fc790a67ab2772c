// Reference tables as CSV files (docs/reference-data.md): how an operator
// hands a table to `chemctl reference import`, and how the table is read
// back wherever it is checked. This module reads the file and checks every
// row; where the table goes is reference_tables.h's.
//
// The format: UTF-8 without a byte-order mark, RFC 4180 (fields separated by
// commas, a field with a comma, a quote or a line break in double quotes,
// a quote inside doubled), lines ending in LF or CRLF, a header line first.
// A validator reports every problem, each naming its line (of the file, 1
// for the header) and its field, so that one run shows all that is wrong.
//
// Thread-safety: functions only, no state.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_REFERENCE_CSV_H_
#define CHEMLEDGER_SERVICES_REGISTRY_REFERENCE_CSV_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/registry/catalogue.h"

namespace chemledger::registry {

// One record of a CSV file and the line of the file it starts on (a quoted
// field may run over several lines).
struct CsvRecord {
  size_t line = 0;
  std::vector<std::string> fields;
};

// Splits `text` into records. InvalidArgument naming the line for a
// byte-order mark, text that is not UTF-8, a quote inside an unquoted
// field, text after a closing quote, or a quoted field still open at the
// end. An empty last line is not a record.
absl::StatusOr<std::vector<CsvRecord>> ReadCsv(absl::string_view text);

// A problem with one field of one row.
struct CsvProblem {
  size_t line = 0;
  std::string field;  // the header's name of the field; "" for the whole row
  std::string message;
  // "line 3, field cas: check digit ..." (no field: "line 3: ..."; line 0,
  // the file as a whole: the message alone).
  std::string ToString() const;
};

// The largest reference table file, in bytes, and its most rows.
inline constexpr size_t kMaxReferenceCsvBytes = 2 << 20;
inline constexpr size_t kMaxReferenceCsvRows = 10000;

// The header of a catalogue CSV (the 危险化学品目录's entries).
inline constexpr absl::string_view kCatalogueCsvHeader =
    "catalogue_no,name_zh,name_en,cas,un,hazard_class,packing_group,flags";

// A catalogue CSV read and checked: its rows, and every problem found. The
// rows are usable only when there are no problems. Each row: catalogue_no
// 1 to 2828, unique in the file; name_zh required; name_en optional; cas
// empty or "-" for none, else a CAS number whose check digit holds (a CAS
// may appear on more than one row: the 目录 lists some under two entries);
// un, hazard_class, packing_group empty where the table does not say (the
// 目录 itself has none of them), else a UN number of four digits, a GB 6944
// class or division, and I, II or III exactly where the class has packing
// groups ("-" where it has none); flags empty or "-" for none, else names
// separated by ";" (剧毒, 易制爆, 易制毒, 重点监管, 高危).
struct CatalogueCsv {
  std::vector<CatalogueEntry> rows;
  std::vector<CsvProblem> problems;
};
CatalogueCsv ReadCatalogueCsv(absl::string_view text);

// The header of a threshold CSV: GB 18218's critical quantities (临界量)
// for identifying major hazard installations (重大危险源): its 表1 of named
// chemicals and its 表2 of hazard categories.
inline constexpr absl::string_view kThresholdCsvHeader = "kind,key,name_zh,threshold_t,beta";

// One row of a threshold table.
struct ThresholdEntry {
  enum Kind { kSubstance, kCategory };
  Kind kind = kSubstance;
  std::string key;  // a CAS number (kSubstance) or the standard's category code
  std::string name_zh;
  uint64_t threshold_kg = 0;       // the critical quantity Q, in kilograms
  uint32_t beta_hundredths = 100;  // the correction factor β, in hundredths
};

// A threshold CSV read and checked, as CatalogueCsv. Each row: kind `cas`
// (a named chemical; key its CAS number, check digit holding) or
// `category` (a hazard category; key the standard's code, 1 to 16 of A-Z
// a-z 0-9 . -); each (kind, key) once; name_zh required; threshold_t the
// critical quantity in tonnes, above 0, at most 1,000,000, at most 3
// decimals; beta the correction factor β, above 0, at most 100, at most 2
// decimals, empty for 1.
struct ThresholdCsv {
  std::vector<ThresholdEntry> rows;
  std::vector<CsvProblem> problems;
};
// `whole_bounds`: the most Q and β are bounds on the whole value, so 100.5
// is over a β of at most 100 (imports from rules epoch 8, and every file
// checked now); without it, as imports of epochs 6 and 7 were read, only the
// whole units are bounded.
ThresholdCsv ReadThresholdCsv(absl::string_view text, bool whole_bounds = true);

// The header of a control list CSV (易制爆, 易制毒, 重点监管, 特别管控): the
// chemicals a list names.
inline constexpr absl::string_view kControlListCsvHeader = "cas,name_zh,note";

// One chemical a control list names.
struct ControlListEntry {
  std::string cas;
  std::string name_zh;
  std::string note;  // e.g. the 易制毒 category, or the batch of 重点监管
};

// A control list CSV read and checked, as CatalogueCsv. Each row: cas a CAS
// number whose check digit holds, once per file; name_zh required (the
// list's name of the chemical); note optional, at most 256 bytes.
struct ControlListCsv {
  std::vector<ControlListEntry> rows;
  std::vector<CsvProblem> problems;
};
ControlListCsv ReadControlListCsv(absl::string_view text);

// The header of a statement texts CSV (GB 30000's hazard and precautionary
// statements), of an emergency information CSV (per UN number), and of a
// storage segregation CSV (GB 15603).
inline constexpr absl::string_view kStatementCsvHeader = "code,text_zh,text_en";
inline constexpr absl::string_view kEmergencyCsvHeader = "un,text_zh,text_en";
inline constexpr absl::string_view kSegregationCsvHeader = "class_a,class_b,same_site,requirement";

// One row of a statement texts or emergency information table: its key (a
// statement code, or a UN number) and its texts.
struct TextEntry {
  std::string key;
  std::string text_zh;
  std::string text_en;
};

// A statement texts CSV read and checked, as CatalogueCsv. Each row: code
// a GHS hazard statement code (H or EUH, three digits and up to four
// letters: H225, H350i, EUH014) or
// a precautionary one (P and three digits, or up to three joined by '+'),
// once per file; text_zh and text_en each at most 1000 bytes, at least one
// of them given.
struct TextCsv {
  std::vector<TextEntry> rows;
  std::vector<CsvProblem> problems;
};
TextCsv ReadStatementCsv(absl::string_view text);
// An emergency information CSV: as statements, keyed by un, a UN number of
// four digits; texts at most 4000 bytes.
TextCsv ReadEmergencyCsv(absl::string_view text);

// One row of a storage segregation table.
struct SegregationEntry {
  std::string class_a, class_b;  // class_a < class_b
  bool same_site_allowed = true;
  std::string requirement;
};

// A storage segregation CSV read and checked, as CatalogueCsv. Each row:
// class_a and class_b GB 6944 classes ("3") or divisions ("5.1"), each
// unordered pair once; same_site `yes` or `no` (whether the two may be
// stored in one storage area at all); requirement the table's words,
// required, at most 256 bytes.
struct SegregationCsv {
  std::vector<SegregationEntry> rows;
  std::vector<CsvProblem> problems;
};
SegregationCsv ReadSegregationCsv(absl::string_view text);

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_REFERENCE_CSV_H_
