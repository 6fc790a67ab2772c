#include "reference/reference_tables.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "reference/ghsystem_statements_data.h"  // generated: kGhsystemStatementsTsv
#include "reference/hazard_statements_data.h"    // generated: kHazardStatementsTsv

namespace chemledger::reference {
namespace {

// The rows of a tab-separated table: lines that are not empty and do not
// start with '#', split at tabs; rows with another number of fields than
// `fields` are dropped (the tests check the tables' sizes and known rows).
std::vector<std::vector<std::string>> Rows(absl::string_view tsv, size_t fields) {
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(tsv, '\n')) {
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    std::vector<std::string> row = absl::StrSplit(line, '\t');
    if (row.size() == fields) rows.push_back(std::move(row));
  }
  return rows;
}

class ShippedTables final : public ReferenceTables {
 public:
  ShippedTables() {
    for (const HazardStatementRow& row : HazardStatementRows()) {
      zh_.emplace(row.code, row.zh);
      en_.emplace(row.code, row.en);
    }
    // ghsystem's English wins over the unverified table's.
    for (std::vector<std::string>& row : Rows(internal::kGhsystemStatementsTsv, 2)) {
      en_[row[0]] = std::move(row[1]);
    }
  }

  std::optional<std::string> StatementText(absl::string_view code,
                                           Language language) const override {
    const absl::flat_hash_map<std::string, std::string>& table =
        language == Language::kChinese ? zh_ : en_;
    if (auto it = table.find(code); it != table.end()) return it->second;
    // A combination the table lacks: its parts, as GHS joins them.
    std::vector<absl::string_view> parts = absl::StrSplit(code, '+');
    if (parts.size() < 2) return std::nullopt;
    std::vector<std::string> texts;
    for (absl::string_view part : parts) {
      auto it = table.find(part);
      if (it == table.end()) return std::nullopt;
      texts.push_back(it->second);
    }
    return absl::StrJoin(texts, language == Language::kChinese ? "" : " ");
  }

  std::vector<TableSource> Sources() const override {
    return {
        {"GHS hazard and precautionary statements (English)",
         "ghsystem 4.8c, 2020-02-17 (Clemens Niederberger, LPPL 1.3), Debian texlive-science 2022: the UN GHS "
         "Annex 3 and 4 and EU CLP wordings",
         false},
        {"GHS hazard statements (Chinese)",
         "reference/data/hazard_statements.tsv: GB 30000 wording written from memory, not checked "
         "against the standard",
         false},
    };
  }

 private:
  absl::flat_hash_map<std::string, std::string> zh_;
  absl::flat_hash_map<std::string, std::string> en_;
};

}  // namespace

const std::vector<HazardStatementRow>& HazardStatementRows() {
  static const auto* rows = [] {
    auto* out = new std::vector<HazardStatementRow>;
    for (std::vector<std::string>& row : Rows(internal::kHazardStatementsTsv, 3)) {
      if (row[0] == "code") continue;  // the header
      out->push_back({std::move(row[0]), std::move(row[1]), std::move(row[2])});
    }
    return out;
  }();
  return *rows;
}

const ReferenceTables& ShippedReferenceTables() {
  static const ReferenceTables* tables = new ShippedTables();
  return *tables;
}

}  // namespace chemledger::reference
