#include "services/registry/reference_tables.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "chemledger/state/state.pb.h"
#include "crypto/label.h"
#include "crypto/sha256.h"
#include "services/registry/reference_csv.h"
#include "services/registry/state_record.h"

namespace chemledger::registry {
namespace {

// How many of a refused file's problems the refusal names (chemctl
// reference check lists them all).
constexpr size_t kProblemsNamed = 10;

std::string InForceKey(absl::string_view table) {
  return absl::StrCat(kReferenceTableInForcePrefix, table);
}
std::string VersionsOf(absl::string_view table) { return absl::StrCat("r/ref/ver/", table, "/"); }
std::string VersionKey(absl::string_view table, absl::string_view version) {
  return absl::StrCat(VersionsOf(table), version);
}
std::string CatalogueRowsKey(absl::string_view version, absl::string_view cas) {
  return absl::StrCat("r/ref/cas/catalogue/", version, "/", cas);
}
std::string ThresholdKey(absl::string_view version, bool category, absl::string_view key) {
  return absl::StrCat("r/ref/thr/", version, category ? "/cat/" : "/cas/", key);
}
std::string ControlListKey(absl::string_view table, absl::string_view version,
                           absl::string_view cas) {
  return absl::StrCat("r/ref/ctl/", table, "/", version, "/", cas);
}
std::string StatementKey(absl::string_view version, absl::string_view code) {
  return absl::StrCat("r/ref/stm/", version, "/", code);
}
std::string EmergencyKey(absl::string_view version, absl::string_view un) {
  return absl::StrCat("r/ref/emg/", version, "/", un);
}
std::string SegregationKey(absl::string_view version, absl::string_view a, absl::string_view b) {
  return absl::StrCat("r/ref/seg/", version, "/", a, "/", b);
}

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat("import_reference_table.", field, ": ", rule));
}

bool IsVersion(absl::string_view v) {
  if (v.empty() || v.size() > 32) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

absl::Status CheckText(absl::string_view field, const std::string& text, size_t max,
                       bool required) {
  if (required && text.empty()) return Invalid(field, "is required");
  if (text.size() > max) return Invalid(field, absl::StrCat("at most ", max, " bytes"));
  return absl::OkStatus();
}

absl::Status ValidateSource(const v1::ReferenceSource& source) {
  if (absl::Status s = CheckText("source.title", source.title(), 256, true); !s.ok()) return s;
  if (absl::Status s = CheckText("source.issuer", source.issuer(), 256, true); !s.ok()) return s;
  if (absl::Status s = CheckText("source.document_number", source.document_number(), 128, true);
      !s.ok()) {
    return s;
  }
  const v1::Date& d = source.issued_on();
  const absl::CivilDay day(d.year(), d.month(), d.day());
  if (d.year() < 1950 || d.year() > 2179 || day.year() != d.year() || day.month() != d.month() ||
      day.day() != d.day()) {
    return Invalid("source.issued_on",
                   absl::StrCat(d.year(), "-", d.month(), "-", d.day(),
                                " is not a date from 1950-01-01 to 2179-12-31"));
  }
  if (absl::Status s = CheckText("source.uri", source.uri(), 512, false); !s.ok()) return s;
  if (!source.uri().empty() && !absl::StartsWith(source.uri(), "https://") &&
      !absl::StartsWith(source.uri(), "http://")) {
    return Invalid("source.uri", "must be an http(s) URL");
  }
  return CheckText("source.note", source.note(), 2000, false);
}

}  // namespace

v1::CatalogueRow ToCatalogueRow(const CatalogueEntry& e) {
  v1::CatalogueRow row;
  row.set_catalogue_number(e.catalogue_number);
  row.set_name_zh(e.name_zh);
  row.set_name_en(e.name_en);
  row.set_cas(e.cas);
  row.set_un_number(e.un_number);
  row.set_hazard_class(e.hazard_class);
  row.set_packing_group(e.packing_group);
  row.set_control_flags(e.flags);
  return row;
}

absl::string_view ReferenceTableName(v1::ReferenceTable table) {
  switch (table) {
    case v1::CATALOGUE:
      return "catalogue";
    case v1::MAJOR_HAZARD_THRESHOLDS:
      return "thresholds";
    case v1::EXPLOSIVES_PRECURSOR_LIST:
      return "explosives-precursors";
    case v1::DRUG_PRECURSOR_LIST:
      return "drug-precursors";
    case v1::KEY_SUPERVISED_LIST:
      return "key-supervised";
    case v1::SPECIALLY_CONTROLLED_LIST:
      return "specially-controlled";
    case v1::STATEMENT_TEXTS:
      return "statements";
    case v1::STORAGE_SEGREGATION:
      return "segregation";
    case v1::EMERGENCY_INFORMATION:
      return "emergency";
    default:
      return "";
  }
}

uint8_t ControlListFlag(v1::ReferenceTable table) {
  switch (table) {
    case v1::EXPLOSIVES_PRECURSOR_LIST:
      return crypto::kExplosivesPrecursor;
    case v1::DRUG_PRECURSOR_LIST:
      return crypto::kDrugPrecursor;
    case v1::KEY_SUPERVISED_LIST:
      return crypto::kKeySupervised;
    case v1::SPECIALLY_CONTROLLED_LIST:
      return crypto::kHighHazard;
    default:
      return 0;
  }
}

absl::StatusOr<ControlListFlags> ControlListFlagsFor(const storage::StateReader& state,
                                                     absl::string_view cas) {
  ControlListFlags out;
  if (cas.empty()) return out;
  for (v1::ReferenceTable table : kControlLists) {
    absl::StatusOr<std::optional<v1::ReferenceTableVersion>> in_force =
        ReferenceTableInForce(state, table);
    if (!in_force.ok()) return in_force.status();
    if (!*in_force) continue;
    absl::StatusOr<std::optional<std::string>> named =
        state.Get(ControlListKey(ReferenceTableName(table), (*in_force)->version(), cas));
    if (!named.ok()) return named.status();
    if (!*named) continue;
    out.flags |= ControlListFlag(table);
    out.lists.push_back(absl::StrCat(ReferenceTableName(table), "/", (*in_force)->version()));
  }
  return out;
}

absl::StatusOr<std::optional<v1::ReferenceTableVersion>> ReferenceTableInForce(
    const storage::StateReader& state, v1::ReferenceTable table) {
  const absl::string_view name = ReferenceTableName(table);
  if (name.empty()) return std::nullopt;
  return ReadStateRecord<v1::ReferenceTableVersion>(state, InForceKey(name));
}

absl::StatusOr<std::vector<v1::ReferenceTableVersion>> ListReferenceTableVersions(
    const storage::StateReader& state, v1::ReferenceTable table) {
  std::vector<v1::ReferenceTable> tables;
  if (table == v1::REFERENCE_TABLE_UNSPECIFIED) {
    // Every table this build knows, in the enum's order.
    for (int t = v1::ReferenceTable_MIN; t <= v1::ReferenceTable_MAX; ++t) {
      if (v1::ReferenceTable_IsValid(t) &&
          !ReferenceTableName(static_cast<v1::ReferenceTable>(t)).empty()) {
        tables.push_back(static_cast<v1::ReferenceTable>(t));
      }
    }
  } else if (!ReferenceTableName(table).empty()) {
    tables = {table};
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("table: ", static_cast<int>(table), " is not a reference table"));
  }
  std::vector<v1::ReferenceTableVersion> out;
  for (v1::ReferenceTable t : tables) {
    const std::string prefix = VersionsOf(ReferenceTableName(t));
    std::vector<v1::ReferenceTableVersion> versions;
    bool malformed = false;
    absl::Status s = state.Scan(
        prefix, storage::PrefixEnd(prefix), [&](absl::string_view, absl::string_view value) {
          malformed = !versions.emplace_back().ParseFromString(std::string(value));
          return !malformed;
        });
    if (!s.ok()) return s;
    if (malformed) return absl::DataLossError("a reference table version record is malformed");
    absl::StatusOr<std::optional<v1::ReferenceTableVersion>> in_force =
        ReferenceTableInForce(state, t);
    if (!in_force.ok()) return in_force.status();
    std::sort(versions.begin(), versions.end(),
              [](const v1::ReferenceTableVersion& a, const v1::ReferenceTableVersion& b) {
                return a.log_index() < b.log_index();
              });
    for (v1::ReferenceTableVersion& v : versions) {
      v.set_in_force(*in_force && (*in_force)->version() == v.version());
      out.push_back(std::move(v));
    }
  }
  return out;
}

absl::StatusOr<std::vector<v1::CatalogueRow>> FindCatalogueRows(const storage::StateReader& state,
                                                                absl::string_view version,
                                                                absl::string_view cas) {
  if (version.empty() || cas.empty()) return std::vector<v1::CatalogueRow>{};
  absl::StatusOr<std::optional<state::CatalogueRows>> rows =
      ReadStateRecord<state::CatalogueRows>(state, CatalogueRowsKey(version, cas));
  if (!rows.ok()) return rows.status();
  if (!*rows) return std::vector<v1::CatalogueRow>{};
  return std::vector<v1::CatalogueRow>((*rows)->rows().begin(), (*rows)->rows().end());
}

absl::StatusOr<std::optional<v1::ThresholdRow>> FindThresholdRow(const storage::StateReader& state,
                                                                 absl::string_view version,
                                                                 bool category,
                                                                 absl::string_view key) {
  if (version.empty() || key.empty()) return std::nullopt;
  return ReadStateRecord<v1::ThresholdRow>(state, ThresholdKey(version, category, key));
}

absl::StatusOr<std::optional<state::ReferenceTextRow>> FindStatementText(
    const storage::StateReader& state, absl::string_view version, absl::string_view code) {
  if (version.empty() || code.empty()) return std::nullopt;
  return ReadStateRecord<state::ReferenceTextRow>(state, StatementKey(version, code));
}

absl::StatusOr<std::optional<state::ReferenceTextRow>> FindEmergencyInformation(
    const storage::StateReader& state, absl::string_view version, absl::string_view un) {
  if (version.empty() || un.empty()) return std::nullopt;
  return ReadStateRecord<state::ReferenceTextRow>(state, EmergencyKey(version, un));
}

absl::StatusOr<std::optional<state::SegregationRow>> FindSegregationRow(
    const storage::StateReader& state, absl::string_view version, absl::string_view a,
    absl::string_view b) {
  if (version.empty() || a.empty() || b.empty()) return std::nullopt;
  return ReadStateRecord<state::SegregationRow>(
      state, SegregationKey(version, std::min(a, b), std::max(a, b)));
}

const v1::CatalogueRow* ChooseCatalogueRow(const std::vector<v1::CatalogueRow>& rows,
                                           int32_t catalogue_number) {
  for (const v1::CatalogueRow& row : rows) {
    if (row.catalogue_number() == catalogue_number) return &row;
  }
  return rows.empty() ? nullptr : &rows.front();
}

absl::StatusOr<ImportedTable> ImportReferenceTable(const journal::EntryContext& entry,
                                                   const v1::ReferenceTableImport& import,
                                                   const v1::Actor& actor,
                                                   const storage::StateReader& state,
                                                   storage::StateWrites* changes) {
  if (actor.role() != v1::PLATFORM_ADMIN) {
    return absl::PermissionDeniedError(
        absl::StrCat("envelope.signatures[0].key_id: actor '", actor.name(), "' (",
                     v1::ActorRole_Name(actor.role()),
                     ") may not import reference tables: platform administrators only"));
  }
  if (entry.rules_epoch < kReferenceTablesRulesEpoch) {
    return absl::InvalidArgumentError(
        absl::StrCat("import_reference_table: reference tables are imported from rules epoch ",
                     kReferenceTablesRulesEpoch, "; this entry is of epoch ", entry.rules_epoch));
  }
  const absl::string_view table = ReferenceTableName(import.table());
  if (table.empty()) {
    return Invalid("table", absl::StrCat(v1::ReferenceTable_Name(import.table()), " (",
                                         static_cast<int>(import.table()),
                                         ") is not a table this server imports (CATALOGUE, "
                                         "MAJOR_HAZARD_THRESHOLDS, EXPLOSIVES_PRECURSOR_LIST, "
                                         "DRUG_PRECURSOR_LIST, KEY_SUPERVISED_LIST, "
                                         "SPECIALLY_CONTROLLED_LIST, STATEMENT_TEXTS, "
                                         "STORAGE_SEGREGATION, EMERGENCY_INFORMATION)"));
  }
  if (import.table() > v1::MAJOR_HAZARD_THRESHOLDS && entry.rules_epoch < kControlListsRulesEpoch) {
    return absl::InvalidArgumentError(
        absl::StrCat("import_reference_table.table: ", v1::ReferenceTable_Name(import.table()),
                     " is imported from rules epoch ", kControlListsRulesEpoch,
                     "; this entry is of epoch ", entry.rules_epoch));
  }
  if (!IsVersion(import.version())) {
    return Invalid("version",
                   absl::StrCat("'", import.version(), "' must be 1 to 32 of A-Z a-z 0-9 . _ -"));
  }
  if (absl::Status s = ValidateSource(import.source()); !s.ok()) return s;
  if (import.content().empty()) return Invalid("content", "is required (the table's CSV file)");
  if (import.content().size() > kMaxReferenceCsvBytes) {
    return Invalid("content", absl::StrCat("is ", import.content().size(), " bytes; at most ",
                                           kMaxReferenceCsvBytes));
  }
  const crypto::Sha256Digest digest = crypto::Sha256(import.content());
  if (import.content_sha256().size() != crypto::Sha256Digest::kSize) {
    return Invalid("content_sha256", "must be 32 bytes (the SHA-256 of content)");
  }
  if (import.content_sha256() !=
      absl::string_view(reinterpret_cast<const char*>(digest.bytes().data()), digest.kSize)) {
    return Invalid("content_sha256", absl::StrCat("is not the SHA-256 of content (", digest.ToHex(),
                                                  "): not the file meant"));
  }
  absl::StatusOr<std::optional<std::string>> known = state.Get(VersionKey(table, import.version()));
  if (!known.ok()) return known.status();
  if (known->has_value()) {
    return absl::AlreadyExistsError(absl::StrCat("import_reference_table.version: ", table, " ",
                                                 import.version(),
                                                 " was imported before; give a new version"));
  }

  // Every problem of the file, whatever its table; nothing is written
  // unless there is none.
  std::vector<CsvProblem> problems;
  size_t rows = 0;
  ImportedTable imported;
  imported.table = import.table();
  imported.version = import.version();
  std::vector<v1::ThresholdRow> thresholds;
  std::vector<std::pair<std::string, std::string>> keyed_rows;  // state key, record
  if (import.table() == v1::STATEMENT_TEXTS || import.table() == v1::EMERGENCY_INFORMATION) {
    const bool statements = import.table() == v1::STATEMENT_TEXTS;
    TextCsv csv =
        statements ? ReadStatementCsv(import.content()) : ReadEmergencyCsv(import.content());
    problems = std::move(csv.problems);
    rows = csv.rows.size();
    for (const TextEntry& row : csv.rows) {
      state::ReferenceTextRow record;
      record.set_text_zh(row.text_zh);
      record.set_text_en(row.text_en);
      keyed_rows.emplace_back(statements ? StatementKey(import.version(), row.key)
                                         : EmergencyKey(import.version(), row.key),
                              record.SerializeAsString());
    }
  } else if (import.table() == v1::STORAGE_SEGREGATION) {
    SegregationCsv csv = ReadSegregationCsv(import.content());
    problems = std::move(csv.problems);
    rows = csv.rows.size();
    for (const SegregationEntry& row : csv.rows) {
      state::SegregationRow record;
      record.set_same_site_allowed(row.same_site_allowed);
      record.set_requirement(row.requirement);
      keyed_rows.emplace_back(SegregationKey(import.version(), row.class_a, row.class_b),
                              record.SerializeAsString());
    }
  } else if (import.table() == v1::CATALOGUE) {
    CatalogueCsv csv = ReadCatalogueCsv(import.content());
    problems = std::move(csv.problems);
    rows = csv.rows.size();
    for (const CatalogueEntry& row : csv.rows) {
      if (!row.cas.empty()) imported.rows_by_cas[row.cas].push_back(ToCatalogueRow(row));
    }
  } else if (const uint8_t flag = ControlListFlag(import.table()); flag != 0) {
    ControlListCsv csv = ReadControlListCsv(import.content());
    problems = std::move(csv.problems);
    rows = csv.rows.size();
    for (const ControlListEntry& named : csv.rows) {
      v1::CatalogueRow row;
      row.set_cas(named.cas);
      row.set_name_zh(named.name_zh);
      row.set_control_flags(flag);
      imported.rows_by_cas[named.cas].push_back(std::move(row));
    }
  } else {
    // From epoch 8 the most Q and β bound the whole value (100.5 > 100).
    ThresholdCsv csv = ReadThresholdCsv(import.content(), entry.rules_epoch >= 8);
    problems = std::move(csv.problems);
    rows = csv.rows.size();
    for (const ThresholdEntry& entry : csv.rows) {
      v1::ThresholdRow& row = thresholds.emplace_back();
      row.set_category(entry.kind == ThresholdEntry::kCategory);
      row.set_key(entry.key);
      row.set_name_zh(entry.name_zh);
      row.set_threshold_kg(entry.threshold_kg);
      row.set_beta_hundredths(entry.beta_hundredths);
    }
  }
  if (!problems.empty()) {
    std::string named;
    for (size_t i = 0; i < problems.size() && i < kProblemsNamed; ++i) {
      absl::StrAppend(&named, i == 0 ? "" : "; ", problems[i].ToString());
    }
    return Invalid("content",
                   absl::StrCat(problems.size(), problems.size() == 1 ? " problem" : " problems",
                                ", the table is refused whole",
                                problems.size() > kProblemsNamed
                                    ? absl::StrCat(" (the first ", kProblemsNamed, ")")
                                    : "",
                                ": ", named));
  }
  for (const auto& [cas, cas_rows] : imported.rows_by_cas) {
    if (import.table() != v1::CATALOGUE) {
      changes->Put(ControlListKey(table, import.version(), cas), cas_rows[0].name_zh());
      continue;
    }
    state::CatalogueRows record;
    for (const v1::CatalogueRow& row : cas_rows) *record.add_rows() = row;
    changes->Put(CatalogueRowsKey(import.version(), cas), record.SerializeAsString());
  }
  for (const auto& [key, record] : keyed_rows) changes->Put(key, record);
  for (const v1::ThresholdRow& row : thresholds) {
    changes->Put(ThresholdKey(import.version(), row.category(), row.key()),
                 row.SerializeAsString());
  }
  v1::ReferenceTableVersion version;
  version.set_table(import.table());
  version.set_version(import.version());
  *version.mutable_source() = import.source();
  version.set_content_sha256(import.content_sha256());
  version.set_rows(static_cast<uint32_t>(rows));
  version.set_log_index(entry.index);
  const std::string record = version.SerializeAsString();
  changes->Put(VersionKey(table, import.version()), record);
  changes->Put(InForceKey(table), record);
  return imported;
}

}  // namespace chemledger::registry
