#include "services/registry/reference_csv.h"

#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "services/common/identifiers.h"

namespace chemledger::registry {
namespace {

absl::Status LineError(size_t line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", what));
}

// The length of the UTF-8 sequence at the start of `s`, or 0 if it is not
// one (overlong forms, surrogates and code points beyond U+10FFFF included).
size_t Utf8SequenceLength(absl::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3f);
  }
  static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kSmallest[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

}  // namespace

std::string CsvProblem::ToString() const {
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

CatalogueCsv ReadCatalogueCsv(absl::string_view text) {
  CatalogueCsv out;
  const auto problem = [&](size_t line, absl::string_view field, std::string message) {
    // The identifier checks name their field first; the problem names it.
    const std::string named = absl::StrCat(field, ": ");
    if (!field.empty() && absl::StartsWith(message, named)) message.erase(0, named.size());
    out.problems.push_back(CsvProblem{line, std::string(field), std::move(message)});
  };
  if (text.size() > kMaxReferenceCsvBytes) {
    problem(0, "", absl::StrCat("the file has ", text.size(), " bytes, more than the ",
                                kMaxReferenceCsvBytes, " a table may have"));
    return out;
  }
  absl::StatusOr<std::vector<CsvRecord>> records = ReadCsv(text);
  if (!records.ok()) {
    problem(0, "", std::string(records.status().message()));
    return out;
  }
  if (records->empty()) {
    problem(1, "", absl::StrCat("the file is empty; it starts with the header ",
                                kCatalogueCsvHeader));
    return out;
  }
  static constexpr absl::string_view kFields[] = {"catalogue_no", "name_zh",      "name_en",
                                                  "cas",          "un",           "hazard_class",
                                                  "packing_group", "flags"};
  {
    const CsvRecord& header = records->front();
    std::string joined;
    for (size_t f = 0; f < header.fields.size(); ++f) {
      absl::StrAppend(&joined, f == 0 ? "" : ",", header.fields[f]);
    }
    if (joined != kCatalogueCsvHeader) {
      problem(1, "", absl::StrCat("the header is \"", joined, "\", not \"", kCatalogueCsvHeader,
                                  "\""));
      return out;
    }
  }
  if (records->size() - 1 > kMaxReferenceCsvRows) {
    problem(0, "", absl::StrCat("the file has ", records->size() - 1, " rows, more than the ",
                                kMaxReferenceCsvRows, " a table may have"));
    return out;
  }
  std::map<int, size_t> numbers;  // catalogue number -> its line
  for (size_t r = 1; r < records->size(); ++r) {
    const CsvRecord& record = (*records)[r];
    const size_t line = record.line;
    if (record.fields.size() != 8) {
      problem(line, "", absl::StrCat("has ", record.fields.size(), " fields, not 8"));
      continue;
    }
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
  if (!out.problems.empty()) out.rows.clear();
  return out;
}

}  // namespace chemledger::registry
