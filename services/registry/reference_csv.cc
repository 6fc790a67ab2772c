#include "services/registry/reference_csv.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "services/common/identifiers.h"
#include "services/common/text_length.h"

namespace chemledger::registry {
namespace {

absl::Status LineError(size_t line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", what));
}

}  // namespace

std::string CsvProblem::ToString() const {
  // Line 0 is the file as a whole; its message says where, if anywhere.
  if (line == 0) return message;
  return field.empty() ? absl::StrCat("line ", line, ": ", message)
                       : absl::StrCat("line ", line, ", field ", field, ": ", message);
}

absl::StatusOr<std::vector<CsvRecord>> ReadCsv(absl::string_view text) {
  if (absl::StartsWith(text, "\xEF\xBB\xBF")) {
    return LineError(1, "starts with a byte-order mark; save the file as UTF-8 without one");
  }
  std::vector<CsvRecord> records;
  size_t line = 1;
  size_t i = 0;
  while (i < text.size()) {
    CsvRecord record;
    record.line = line;
    for (bool record_done = false; !record_done;) {
      std::string field;
      if (i < text.size() && text[i] == '"') {
        ++i;
        for (;;) {
          if (i >= text.size()) {
            return LineError(record.line, "a quoted field is not closed before the end");
          }
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          const size_t n = Utf8SequenceLength(text.substr(i));
          if (n == 0) return LineError(line, "is not UTF-8");
          field.append(text.data() + i, n);
          i += n;
        }
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          return LineError(line, "has text after a closing quote (a quote inside a quoted "
                                 "field is written twice)");
        }
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (text[i] == '"') {
            return LineError(line, "has a quote inside an unquoted field (quote the field and "
                                   "write the quote twice)");
          }
          const size_t n = Utf8SequenceLength(text.substr(i));
          if (n == 0) return LineError(line, "is not UTF-8");
          field.append(text.data() + i, n);
          i += n;
        }
      }
      record.fields.push_back(std::move(field));
      if (i >= text.size()) {
        record_done = true;
      } else if (text[i] == ',') {
        ++i;
      } else {  // a line break: LF or CRLF
        if (text[i] == '\r') {
          if (i + 1 >= text.size() || text[i + 1] != '\n') {
            return LineError(line, "has a carriage return that does not end the line");
          }
          ++i;
        }
        ++i;
        ++line;
        record_done = true;
      }
    }
    records.push_back(std::move(record));
  }
  return records;
}

namespace {

// Collects problems; an identifier check's message that starts with its
// field's name loses it (the problem names the field).
class Problems {
 public:
  explicit Problems(std::vector<CsvProblem>* out) : out_(out) {}
  void Add(size_t line, absl::string_view field, std::string message) {
    const std::string named = absl::StrCat(field, ": ");
    if (!field.empty() && absl::StartsWith(message, named)) message.erase(0, named.size());
    out_->push_back(CsvProblem{line, std::string(field), std::move(message)});
  }
  size_t count() const { return out_->size(); }
  // In the order of the file's lines (rows with the wrong number of fields
  // are found before the others are read).
  void SortByLine() {
    std::stable_sort(out_->begin(), out_->end(),
                     [](const CsvProblem& a, const CsvProblem& b) { return a.line < b.line; });
  }

 private:
  std::vector<CsvProblem>* out_;
};

// The rows of a table file whose header must be `header`, each with
// `header`'s number of fields (rows with another number are problems and
// left out); nullopt, with the problem, when the file as a whole is wrong.
std::optional<std::vector<CsvRecord>> ReadTableRows(absl::string_view text,
                                                    absl::string_view header_text,
                                                    Problems& problem) {
  if (text.size() > kMaxReferenceCsvBytes) {
    problem.Add(0, "",
                absl::StrCat("the file has ", text.size(), " bytes, more than the ",
                             kMaxReferenceCsvBytes, " a table may have"));
    return std::nullopt;
  }
  absl::StatusOr<std::vector<CsvRecord>> records = ReadCsv(text);
  if (!records.ok()) {
    problem.Add(0, "", std::string(records.status().message()));
    return std::nullopt;
  }
  if (records->empty()) {
    problem.Add(1, "", absl::StrCat("the file is empty; it starts with the header ", header_text));
    return std::nullopt;
  }
  const CsvRecord& header = records->front();
  const std::string joined = absl::StrJoin(header.fields, ",");
  if (joined != header_text) {
    problem.Add(1, "", absl::StrCat("the header is \"", joined, "\", not \"", header_text, "\""));
    return std::nullopt;
  }
  if (records->size() - 1 > kMaxReferenceCsvRows) {
    problem.Add(0, "",
                absl::StrCat("the file has ", records->size() - 1, " rows, more than the ",
                             kMaxReferenceCsvRows, " a table may have"));
    return std::nullopt;
  }
  std::vector<CsvRecord> rows;
  for (size_t r = 1; r < records->size(); ++r) {
    CsvRecord& record = (*records)[r];
    if (record.fields.size() != header.fields.size()) {
      problem.Add(
          record.line, "",
          absl::StrCat("has ", record.fields.size(), " fields, not ", header.fields.size()));
      continue;
    }
    rows.push_back(std::move(record));
  }
  return rows;
}

// A decimal of at most `decimals` digits after the point, > 0 and at most
// `max` (with `whole_bounds`; else its whole units at most `max`), as an
// integer count of 10^-decimals units.
std::optional<uint64_t> ParseDecimal(absl::string_view text, int decimals, uint64_t max,
                                     bool whole_bounds) {
  const size_t point = text.find('.');
  absl::string_view whole = text.substr(0, point);
  absl::string_view fraction = point == absl::string_view::npos ? "" : text.substr(point + 1);
  if (whole.empty() || whole.size() > 9 || fraction.size() > static_cast<size_t>(decimals) ||
      (point != absl::string_view::npos && fraction.empty())) {
    return std::nullopt;
  }
  for (char c : whole) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  for (char c : fraction) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t value = 0;
  uint64_t scaled_max = max;
  for (char c : whole) value = value * 10 + static_cast<uint64_t>(c - '0');
  if (!whole_bounds && value > max) return std::nullopt;
  for (int d = 0; d < decimals; ++d) {
    value = value * 10 + (d < static_cast<int>(fraction.size()) ? fraction[d] - '0' : 0);
    scaled_max *= 10;
  }
  if (value == 0 || (whole_bounds && value > scaled_max)) return std::nullopt;
  return value;
}

}  // namespace

CatalogueCsv ReadCatalogueCsv(absl::string_view text) {
  CatalogueCsv out;
  Problems problems(&out.problems);
  const auto problem = [&](size_t line, absl::string_view field, std::string message) {
    problems.Add(line, field, std::move(message));
  };
  static constexpr absl::string_view kFields[] = {
      "catalogue_no", "name_zh", "name_en", "cas", "un", "hazard_class", "packing_group", "flags"};
  std::optional<std::vector<CsvRecord>> records =
      ReadTableRows(text, kCatalogueCsvHeader, problems);
  if (!records) return out;
  std::map<int, size_t> numbers;  // catalogue number -> its line
  for (const CsvRecord& record : *records) {
    const size_t line = record.line;
    const std::vector<std::string>& f = record.fields;
    const size_t before = out.problems.size();
    CatalogueEntry e;
    if (!absl::SimpleAtoi(f[0], &e.catalogue_number)) {
      problem(line, kFields[0], absl::StrCat("'", f[0], "' is not a number"));
    } else if (absl::Status s = ids::ValidateCatalogueNumber(kFields[0], e.catalogue_number);
               !s.ok()) {
      problem(line, kFields[0], std::string(s.message()));
    } else if (auto [it, added] = numbers.emplace(e.catalogue_number, line); !added) {
      problem(line, kFields[0],
              absl::StrCat(e.catalogue_number, " is also on line ", it->second));
    }
    e.name_zh = f[1];
    if (e.name_zh.empty()) problem(line, kFields[1], "is empty (the 目录's name is required)");
    e.name_en = f[2];
    if (!f[3].empty() && f[3] != "-") {
      if (absl::Status s = ids::ValidateCas(kFields[3], f[3]); !s.ok()) {
        problem(line, kFields[3], std::string(s.message()));
      }
      e.cas = f[3];
    }
    if (!f[4].empty()) {
      if (absl::Status s = ids::ValidateUnNumber(kFields[4], f[4]); !s.ok()) {
        problem(line, kFields[4], std::string(s.message()));
      }
      e.un_number = f[4];
    }
    if (!f[5].empty()) {
      if (!IsHazardClass(f[5])) {
        problem(line, kFields[5], absl::StrCat("'", f[5], "' is not a GB 6944 class or division"));
      }
      e.hazard_class = f[5];
    }
    if (!f[6].empty()) {
      const bool none = f[6] == "-";
      if (e.hazard_class.empty()) {
        problem(line, kFields[6], "is given without a hazard_class");
      } else if (!none && f[6] != "I" && f[6] != "II" && f[6] != "III") {
        problem(line, kFields[6], absl::StrCat("'", f[6], "' is not I, II, III or -"));
      } else if (ClassHasNoPackingGroup(e.hazard_class) != none) {
        problem(line, kFields[6],
                absl::StrCat("class ", e.hazard_class,
                             none ? " has packing groups: I, II or III" : " has no packing group: -"));
      }
      e.packing_group = none ? "" : f[6];
    }
    absl::StatusOr<uint8_t> flags = ParseControlFlags(absl::StrReplaceAll(f[7], {{";", ","}}));
    if (!flags.ok()) {
      problem(line, kFields[7], std::string(flags.status().message()));
    } else {
      e.flags = *flags;
    }
    if (out.problems.size() == before) out.rows.push_back(std::move(e));
  }
  problems.SortByLine();
  if (!out.problems.empty()) out.rows.clear();
  return out;
}

ThresholdCsv ReadThresholdCsv(absl::string_view text, bool whole_bounds) {
  ThresholdCsv out;
  Problems problems(&out.problems);
  std::optional<std::vector<CsvRecord>> records =
      ReadTableRows(text, kThresholdCsvHeader, problems);
  if (!records) return out;
  std::map<std::pair<std::string, std::string>, size_t> keys;  // (kind, key) -> its line
  for (const CsvRecord& record : *records) {
    const size_t line = record.line;
    const std::vector<std::string>& f = record.fields;
    const size_t before = problems.count();
    ThresholdEntry e;
    if (f[0] == "cas") {
      e.kind = ThresholdEntry::kSubstance;
      if (absl::Status s = ids::ValidateCas("key", f[1]); !s.ok()) {
        problems.Add(line, "key", std::string(s.message()));
      }
    } else if (f[0] == "category") {
      e.kind = ThresholdEntry::kCategory;
      if (!ids::IsMajorHazardCategoryCode(f[1])) {
        problems.Add(
            line, "key",
            absl::StrCat("'", f[1], "' is not a category code: 1 to 16 of A-Z a-z 0-9 . -"));
      }
    } else {
      problems.Add(line, "kind", absl::StrCat("'", f[0], "' is not cas or category"));
    }
    e.key = f[1];
    if (auto [it, added] = keys.emplace(std::make_pair(f[0], f[1]), line); !added) {
      problems.Add(line, "key", absl::StrCat(f[0], " ", f[1], " is also on line ", it->second));
    }
    e.name_zh = f[2];
    if (e.name_zh.empty())
      problems.Add(line, "name_zh", "is empty (the standard's name is required)");
    if (std::optional<uint64_t> kg = ParseDecimal(f[3], 3, 1000000, whole_bounds)) {
      e.threshold_kg = *kg;
    } else {
      problems.Add(line, "threshold_t",
                   absl::StrCat("'", f[3],
                                "' is not a quantity in tonnes above 0 and at most "
                                "1000000, with at most 3 decimals"));
    }
    if (f[4].empty()) {
      e.beta_hundredths = 100;
    } else if (std::optional<uint64_t> beta = ParseDecimal(f[4], 2, 100, whole_bounds)) {
      e.beta_hundredths = static_cast<uint32_t>(*beta);
    } else {
      problems.Add(line, "beta",
                   absl::StrCat("'", f[4],
                                "' is not a correction factor above 0 and at most 100, "
                                "with at most 2 decimals (empty: 1)"));
    }
    if (problems.count() == before) out.rows.push_back(std::move(e));
  }
  problems.SortByLine();
  if (!out.problems.empty()) out.rows.clear();
  return out;
}

ControlListCsv ReadControlListCsv(absl::string_view text) {
  ControlListCsv out;
  Problems problems(&out.problems);
  std::optional<std::vector<CsvRecord>> records =
      ReadTableRows(text, kControlListCsvHeader, problems);
  if (!records) return out;
  std::map<std::string, size_t> lines;  // CAS number -> its line
  for (const CsvRecord& record : *records) {
    const size_t line = record.line;
    const std::vector<std::string>& f = record.fields;
    const size_t before = problems.count();
    ControlListEntry e;
    e.cas = f[0];
    if (absl::Status s = ids::ValidateCas("cas", e.cas); !s.ok()) {
      problems.Add(line, "cas", std::string(s.message()));
    } else if (auto [it, added] = lines.emplace(e.cas, line); !added) {
      problems.Add(line, "cas", absl::StrCat(e.cas, " is also on line ", it->second));
    }
    e.name_zh = f[1];
    if (e.name_zh.empty()) {
      problems.Add(line, "name_zh", "is empty (the list's name of the chemical is required)");
    }
    e.note = f[2];
    if (e.note.size() > 256) {
      problems.Add(line, "note", absl::StrCat("is ", e.note.size(), " bytes; at most 256"));
    }
    if (problems.count() == before) out.rows.push_back(std::move(e));
  }
  problems.SortByLine();
  if (!out.problems.empty()) out.rows.clear();
  return out;
}

namespace {

// A GB 6944 class ("3") or division ("5.1").
bool IsClassOrDivision(absl::string_view c) {
  return IsHazardClass(c) || (c.size() == 1 && c[0] >= '1' && c[0] <= '9');
}

TextCsv ReadTexts(absl::string_view text, absl::string_view header, absl::string_view key_field,
                  size_t max_text, bool (*valid_key)(absl::string_view),
                  absl::string_view key_rule) {
  TextCsv out;
  Problems problems(&out.problems);
  std::optional<std::vector<CsvRecord>> records = ReadTableRows(text, header, problems);
  if (!records) return out;
  std::map<std::string, size_t> lines;  // key -> its line
  for (const CsvRecord& record : *records) {
    const size_t line = record.line;
    const std::vector<std::string>& f = record.fields;
    const size_t before = problems.count();
    TextEntry e{f[0], f[1], f[2]};
    if (!valid_key(e.key)) {
      problems.Add(line, std::string(key_field), absl::StrCat("'", e.key, "' is not ", key_rule));
    } else if (auto [it, added] = lines.emplace(e.key, line); !added) {
      problems.Add(line, std::string(key_field),
                   absl::StrCat(e.key, " is also on line ", it->second));
    }
    if (e.text_zh.empty() && e.text_en.empty()) {
      problems.Add(line, "", "text_zh and text_en are both empty (give at least one)");
    }
    for (const auto& [field, value] :
         {std::pair<const char*, const std::string*>{"text_zh", &e.text_zh},
          {"text_en", &e.text_en}}) {
      if (value->size() > max_text) {
        problems.Add(line, field, absl::StrCat("is ", value->size(), " bytes; at most ", max_text));
      }
    }
    if (problems.count() == before) out.rows.push_back(std::move(e));
  }
  problems.SortByLine();
  if (!out.problems.empty()) out.rows.clear();
  return out;
}

}  // namespace

TextCsv ReadStatementCsv(absl::string_view text) {
  return ReadTexts(
      text, kStatementCsvHeader, "code", 1000,
      [](absl::string_view code) {
        return ids::IsHazardStatementCode(code) || ids::IsPrecautionaryStatementCode(code);
      },
      "a GHS statement code (H225, EUH014, P210, P301+P310)");
}

TextCsv ReadEmergencyCsv(absl::string_view text) {
  return ReadTexts(
      text, kEmergencyCsvHeader, "un", 4000,
      [](absl::string_view un) { return ids::ValidateUnNumber("un", un).ok(); },
      "a UN number of four digits");
}

SegregationCsv ReadSegregationCsv(absl::string_view text) {
  SegregationCsv out;
  Problems problems(&out.problems);
  std::optional<std::vector<CsvRecord>> records =
      ReadTableRows(text, kSegregationCsvHeader, problems);
  if (!records) return out;
  std::map<std::pair<std::string, std::string>, size_t> lines;  // pair -> its line
  for (const CsvRecord& record : *records) {
    const size_t line = record.line;
    const std::vector<std::string>& f = record.fields;
    const size_t before = problems.count();
    for (size_t i : {0, 1}) {
      if (!IsClassOrDivision(f[i])) {
        problems.Add(line, i == 0 ? "class_a" : "class_b",
                     absl::StrCat("'", f[i], "' is not a GB 6944 class or division (3, 5.1)"));
      }
    }
    SegregationEntry e;
    e.class_a = std::min(f[0], f[1]);
    e.class_b = std::max(f[0], f[1]);
    if (problems.count() == before) {
      if (auto [it, added] = lines.emplace(std::make_pair(e.class_a, e.class_b), line); !added) {
        problems.Add(line, "class_b",
                     absl::StrCat(e.class_a, " and ", e.class_b, " are also on line ", it->second));
      }
    }
    if (f[2] == "yes") {
      e.same_site_allowed = true;
    } else if (f[2] == "no") {
      e.same_site_allowed = false;
    } else {
      problems.Add(line, "same_site", absl::StrCat("'", f[2], "' is not yes or no"));
    }
    e.requirement = f[3];
    if (e.requirement.empty()) {
      problems.Add(line, "requirement", "is empty (the table's words are required)");
    } else if (e.requirement.size() > 256) {
      problems.Add(line, "requirement",
                   absl::StrCat("is ", e.requirement.size(), " bytes; at most 256"));
    }
    if (problems.count() == before) out.rows.push_back(std::move(e));
  }
  problems.SortByLine();
  if (!out.problems.empty()) out.rows.clear();
  return out;
}

}  // namespace chemledger::registry
