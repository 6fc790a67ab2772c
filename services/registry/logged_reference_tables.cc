#include "services/registry/logged_reference_tables.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/registry/reference_tables.h"

namespace chemledger::registry {
namespace {

const std::string& TextIn(const state::ReferenceTextRow& row, reference::Language language) {
  return language == reference::Language::kChinese ? row.text_zh() : row.text_en();
}

// "2.1" -> "2"; a class stays itself.
std::string ClassOf(absl::string_view division) {
  return std::string(division.substr(0, division.find('.')));
}

}  // namespace

const std::string& LoggedReferenceTables::InForce(v1::ReferenceTable table) const {
  std::optional<std::string>& cached = table == v1::STATEMENT_TEXTS       ? statements_
                                       : table == v1::STORAGE_SEGREGATION ? segregation_
                                                                          : emergency_;
  if (!cached) {
    absl::StatusOr<std::optional<v1::ReferenceTableVersion>> version =
        ReferenceTableInForce(state_, table);
    cached = version.ok() && *version ? (*version)->version() : std::string();
  }
  return *cached;
}

std::optional<std::string> LoggedReferenceTables::StatementText(
    absl::string_view code, reference::Language language) const {
  const std::string& version = InForce(v1::STATEMENT_TEXTS);
  if (!version.empty()) {
    absl::StatusOr<std::optional<state::ReferenceTextRow>> row =
        FindStatementText(state_, version, code);
    if (row.ok() && *row && !TextIn(**row, language).empty()) return TextIn(**row, language);
    // A combination the version lacks: its parts, as GHS joins them, when
    // the version has them all.
    std::vector<absl::string_view> parts = absl::StrSplit(code, '+');
    if (parts.size() > 1) {
      std::vector<std::string> texts;
      for (absl::string_view part : parts) {
        absl::StatusOr<std::optional<state::ReferenceTextRow>> one =
            FindStatementText(state_, version, part);
        if (!one.ok() || !*one || TextIn(**one, language).empty()) break;
        texts.push_back(TextIn(**one, language));
      }
      if (texts.size() == parts.size()) {
        return absl::StrJoin(texts, language == reference::Language::kChinese ? "" : " ");
      }
    }
  }
  return fallback_.StatementText(code, language);
}

std::optional<std::string> LoggedReferenceTables::EmergencyInformation(
    absl::string_view un, reference::Language language) const {
  const std::string& version = InForce(v1::EMERGENCY_INFORMATION);
  if (!version.empty()) {
    absl::StatusOr<std::optional<state::ReferenceTextRow>> row =
        FindEmergencyInformation(state_, version, un);
    if (row.ok() && *row && !TextIn(**row, language).empty()) return TextIn(**row, language);
  }
  return fallback_.EmergencyInformation(un, language);
}

std::optional<reference::SegregationRule> LoggedReferenceTables::StorageSegregation(
    absl::string_view a, absl::string_view b) const {
  const std::string& version = InForce(v1::STORAGE_SEGREGATION);
  if (version.empty()) return fallback_.StorageSegregation(a, b);
  // The pair as given, then by their classes.
  const std::string class_a = ClassOf(a), class_b = ClassOf(b);
  for (const auto& [x, y] : {std::pair<absl::string_view, absl::string_view>{a, b},
                             {class_a, b},
                             {a, class_b},
                             {class_a, class_b}}) {
    absl::StatusOr<std::optional<state::SegregationRow>> row =
        FindSegregationRow(state_, version, x, y);
    if (row.ok() && *row) {
      return reference::SegregationRule{(*row)->same_site_allowed(), (*row)->requirement()};
    }
  }
  return std::nullopt;
}

bool LoggedReferenceTables::HasSegregationTable() const {
  return !InForce(v1::STORAGE_SEGREGATION).empty() || fallback_.HasSegregationTable();
}

std::vector<reference::TableSource> LoggedReferenceTables::Sources() const {
  std::vector<reference::TableSource> out;
  for (v1::ReferenceTable table :
       {v1::STATEMENT_TEXTS, v1::STORAGE_SEGREGATION, v1::EMERGENCY_INFORMATION}) {
    absl::StatusOr<std::optional<v1::ReferenceTableVersion>> version =
        ReferenceTableInForce(state_, table);
    if (!version.ok() || !*version) continue;
    const v1::ReferenceSource& source = (*version)->source();
    out.push_back(reference::TableSource{
        absl::StrCat(ReferenceTableName(table), " ", (*version)->version(), " (imported, entry ",
                     (*version)->log_index(), ")"),
        absl::StrCat(source.title(), ", ", source.issuer(), ", ", source.document_number()),
        false});
  }
  for (reference::TableSource& s : fallback_.Sources()) out.push_back(std::move(s));
  return out;
}

}  // namespace chemledger::registry
