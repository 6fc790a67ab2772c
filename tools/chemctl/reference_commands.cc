// chemctl reference check|import|list|find: an operator's check of a
// reference table file (offline), its import as a signed registry entry, and
// what the server holds (docs/reference-data.md).

#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "crypto/sha256.h"
#include "services/registry/reference_csv.h"
#include "tools/chemctl/command.h"
#include "tools/chemctl/common.h"

namespace chemledger::chemctl {
namespace {

// The tables this version imports, by the name --table gives them.
constexpr struct {
  const char* name;
  v1::ReferenceTable table;
  const char* what;  // "a catalogue of N rows"
} kTables[] = {{"catalogue", v1::CATALOGUE, "catalogue"},
               {"thresholds", v1::MAJOR_HAZARD_THRESHOLDS, "threshold table"},
               {"explosives-precursors", v1::EXPLOSIVES_PRECURSOR_LIST, "易制爆 list"},
               {"drug-precursors", v1::DRUG_PRECURSOR_LIST, "易制毒 list"},
               {"key-supervised", v1::KEY_SUPERVISED_LIST, "重点监管 list"},
               {"specially-controlled", v1::SPECIALLY_CONTROLLED_LIST, "特别管控 list"},
               {"statements", v1::STATEMENT_TEXTS, "statement texts table"},
               {"segregation", v1::STORAGE_SEGREGATION, "segregation table"},
               {"emergency", v1::EMERGENCY_INFORMATION, "emergency information table"}};

std::string TableName(v1::ReferenceTable table) {
  for (const auto& t : kTables) {
    if (t.table == table) return t.name;
  }
  return absl::AsciiStrToLower(v1::ReferenceTable_Name(table));
}

// --table NAME (default catalogue).
absl::StatusOr<v1::ReferenceTable> TableArg(const cli::Args& args) {
  const std::string table = args.Get("table", "catalogue");
  std::vector<std::string> names;
  for (const auto& t : kTables) {
    if (table == t.name) return t.table;
    names.push_back(t.name);
  }
  return absl::InvalidArgumentError(absl::StrCat("--table: '", table,
                                                 "' is not a table this version reads (",
                                                 absl::StrJoin(names, ", "), ")"));
}

// A reference table file checked here: its text, or every problem printed
// (one per line) and an error.
absl::StatusOr<std::string> CheckedTableFile(const cli::Args& args, v1::ReferenceTable table,
                                             size_t* rows) {
  if (args.positional().size() != 1) {
    return absl::InvalidArgumentError("give one FILE.csv (or - for standard input)");
  }
  const std::string& path = args.positional()[0];
  absl::StatusOr<std::string> text =
      cli::ReadFileOrStdin(path, registry::kMaxReferenceCsvBytes + 1);
  if (!text.ok()) return text.status();
  std::vector<registry::CsvProblem> problems;
  if (table == v1::CATALOGUE) {
    registry::CatalogueCsv csv = registry::ReadCatalogueCsv(*text);
    problems = std::move(csv.problems);
    *rows = csv.rows.size();
  } else if (table == v1::STATEMENT_TEXTS || table == v1::EMERGENCY_INFORMATION) {
    registry::TextCsv csv = table == v1::STATEMENT_TEXTS ? registry::ReadStatementCsv(*text)
                                                         : registry::ReadEmergencyCsv(*text);
    problems = std::move(csv.problems);
    *rows = csv.rows.size();
  } else if (table == v1::STORAGE_SEGREGATION) {
    registry::SegregationCsv csv = registry::ReadSegregationCsv(*text);
    problems = std::move(csv.problems);
    *rows = csv.rows.size();
  } else if (table == v1::MAJOR_HAZARD_THRESHOLDS) {
    registry::ThresholdCsv csv = registry::ReadThresholdCsv(*text);
    problems = std::move(csv.problems);
    *rows = csv.rows.size();
  } else {
    registry::ControlListCsv csv = registry::ReadControlListCsv(*text);
    problems = std::move(csv.problems);
    *rows = csv.rows.size();
  }
  if (!problems.empty()) {
    for (const registry::CsvProblem& p : problems) std::cout << p.ToString() << "\n";
    std::cout.flush();
    return absl::InvalidArgumentError(
        absl::StrCat(problems.size(), problems.size() == 1 ? " problem" : " problems", " in ", path,
                     " (listed above); a table with any problem is refused whole"));
  }
  return text;
}

absl::Status ReferenceCheck(const cli::Args& args) {
  absl::StatusOr<v1::ReferenceTable> table = TableArg(args);
  if (!table.ok()) return table.status();
  size_t rows = 0;
  absl::StatusOr<std::string> text = CheckedTableFile(args, *table, &rows);
  if (!text.ok()) return text.status();
  std::string what;
  for (const auto& t : kTables) {
    if (t.table == *table) what = t.what;
  }
  std::cout << args.positional()[0] << ": a " << what << " of " << rows
            << " rows, no problems; SHA-256 " << crypto::Sha256(*text).ToHex() << "\n";
  return absl::OkStatus();
}

absl::Status ReferenceImport(const cli::Args& args) {
  absl::StatusOr<v1::ReferenceTable> table = TableArg(args);
  if (!table.ok()) return table.status();
  v1::ReferenceTableImport import;
  import.set_table(*table);
  for (const char* flag : {"version", "title", "issuer", "issued-on", "document-number"}) {
    if (!args.Has(flag))
      return absl::InvalidArgumentError(absl::StrCat("--", flag, " is required"));
  }
  import.set_version(args.Get("version"));
  v1::ReferenceSource* source = import.mutable_source();
  source->set_title(args.Get("title"));
  source->set_issuer(args.Get("issuer"));
  absl::StatusOr<absl::CivilDay> issued = DayArg("--issued-on", args.Get("issued-on"));
  if (!issued.ok()) return issued.status();
  *source->mutable_issued_on() = api::ToProtoDate(*issued);
  source->set_document_number(args.Get("document-number"));
  source->set_uri(args.Get("uri"));
  source->set_note(args.Get("note"));
  size_t rows = 0;
  absl::StatusOr<std::string> text = CheckedTableFile(args, *table, &rows);
  if (!text.ok()) return text.status();
  const crypto::Sha256Digest digest = crypto::Sha256(*text);
  import.set_content(*text);
  import.set_content_sha256(
      std::string(reinterpret_cast<const char*>(digest.bytes().data()), digest.kSize));
  v1::RegistryRequest request;
  *request.mutable_import_reference_table() = std::move(import);
  // The same file imported again under the same version is a retry: it
  // answers "already recorded" rather than that the version exists.
  const std::string request_id =
      absl::StrCat("import-", args.Get("table", "catalogue"), "-", args.Get("version"), "-",
                   digest.ToHex().substr(0, 16));
  absl::StatusOr<v1::SubmitResponse> submitted =
      SubmitRegistryRequest(args, std::move(request), request_id);
  if (!submitted.ok()) return submitted.status();
  std::cout << args.Get("table", "catalogue") << " " << args.Get("version") << " in force: " << rows
            << " rows, SHA-256 " << digest.ToHex() << "\n";
  return absl::OkStatus();
}

std::string DayText(const v1::Date& d) {
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

absl::Status ReferenceList(const cli::Args& args) {
  v1::ListReferenceTablesRequest request;
  if (args.Has("table")) {
    absl::StatusOr<v1::ReferenceTable> table = TableArg(args);
    if (!table.ok()) return table.status();
    request.set_table(*table);
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ServerChannel(args);
  if (!channel.ok()) return channel.status();
  v1::ListReferenceTablesResponse response;
  grpc::Status status = v1::RegistryService::NewStub(*channel)->ListReferenceTables(
      Context().get(), request, &response);
  if (!status.ok()) return ServerError(status);
  if (args.Bool("json")) {
    std::cout << PrintJson(response) << "\n";
    return absl::OkStatus();
  }
  if (response.versions().empty()) {
    std::cout << "no reference table imported (at log size " << response.log_size()
              << "): the compiled-in catalogue stands in\n";
  }
  for (const v1::ReferenceTableVersion& v : response.versions()) {
    std::cout << TableName(v.table()) << " " << v.version() << (v.in_force() ? " (in force)" : "")
              << ": " << v.rows() << " rows, " << v.source().title() << ", " << v.source().issuer()
              << " " << v.source().document_number() << " of " << DayText(v.source().issued_on())
              << "; log index " << v.log_index() << ", SHA-256 "
              << crypto::HexEncode(v.content_sha256()) << "\n";
  }
  return absl::OkStatus();
}

absl::Status ReferenceFind(const cli::Args& args) {
  if (args.positional().size() != 1) return absl::InvalidArgumentError("give one CAS number");
  v1::FindCatalogueEntriesRequest request;
  request.set_cas(args.positional()[0]);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ServerChannel(args);
  if (!channel.ok()) return channel.status();
  v1::FindCatalogueEntriesResponse response;
  grpc::Status status = v1::RegistryService::NewStub(*channel)->FindCatalogueEntries(
      Context().get(), request, &response);
  if (!status.ok()) return ServerError(status);
  if (args.Bool("json")) {
    std::cout << PrintJson(response) << "\n";
    return absl::OkStatus();
  }
  const std::string source = response.catalogue_version().empty()
                                 ? std::string("the compiled-in catalogue")
                                 : absl::StrCat("catalogue ", response.catalogue_version());
  if (!response.control_lists().empty()) {
    std::cout << request.cas() << ": named by " << absl::StrJoin(response.control_lists(), ", ")
              << ", which set " << absl::StrJoin(response.control_list_flags(), ",") << "\n";
  }
  if (response.rows().empty()) {
    std::cout << request.cas() << ": not in " << source << "\n";
    return absl::OkStatus();
  }
  for (const v1::CatalogueRow& row : response.rows()) {
    std::cout << request.cas() << ": entry " << row.catalogue_number() << " " << row.name_zh()
              << (row.name_en().empty() ? "" : absl::StrCat(" (", row.name_en(), ")"))
              << (row.un_number().empty() ? "" : absl::StrCat(", UN ", row.un_number()))
              << (row.hazard_class().empty() ? "" : absl::StrCat(", class ", row.hazard_class()))
              << ", flags " << registry::ControlFlagsText(static_cast<uint8_t>(row.control_flags()))
              << " (" << source << ")\n";
  }
  return absl::OkStatus();
}

absl::Status PendingProducts(const cli::Args& args) {
  if (args.positional().size() > 1) return absl::InvalidArgumentError("give at most one USCC");
  absl::StatusOr<ReadSession> reads = ReadSession::Open(args);
  if (!reads.ok()) return reads.status();
  v1::ListPendingProductsRequest request;
  if (!args.positional().empty()) request.set_enterprise_uscc(args.positional()[0]);
  v1::ListPendingProductsResponse response;
  if (absl::Status s = reads->Call(api::kListPendingProductsMethod, request, &response); !s.ok()) {
    return s;
  }
  if (args.Bool("json")) {
    std::cout << PrintJson(response) << "\n";
    return absl::OkStatus();
  }
  if (response.products().empty()) std::cout << "no product waits for a decision on its flags\n";
  for (const v1::PendingProduct& p : response.products()) {
    const v1::Product& product = p.product();
    std::cout << product.enterprise_uscc() << " " << product.product_number() << " "
              << product.name_zh() << " (CAS " << (product.cas().empty() ? "none" : product.cas())
              << "): declared "
              << (product.control_flags().empty() ? std::string("no flags")
                                                  : absl::StrJoin(product.control_flags(), ","))
              << ", registered at log index " << p.registered_at() << " under catalogue "
              << p.catalogue_version() << "\n";
  }
  return absl::OkStatus();
}

absl::Status DecideFlags(const cli::Args& args) {
  if (args.positional().size() != 2) {
    return absl::InvalidArgumentError("give the product's USCC and product number");
  }
  if (!args.Has("flags")) {
    return absl::InvalidArgumentError("--flags is required (e.g. 剧毒,重点监管; - for none)");
  }
  if (!args.Has("reason")) return absl::InvalidArgumentError("--reason is required");
  v1::RegistryRequest request;
  v1::ProductFlagsDecision* decision = request.mutable_decide_product_flags();
  decision->set_enterprise_uscc(args.positional()[0]);
  decision->set_product_number(args.positional()[1]);
  absl::StatusOr<uint8_t> flags = registry::ParseControlFlags(args.Get("flags"));
  if (!flags.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--flags: ", flags.status().message()));
  }
  if (*flags != 0) {
    for (absl::string_view name : absl::StrSplit(registry::ControlFlagsText(*flags), ',')) {
      decision->add_control_flags(std::string(name));
    }
  }
  decision->set_reason(args.Get("reason"));
  absl::StatusOr<v1::SubmitResponse> submitted = SubmitRegistryRequest(args, std::move(request));
  return submitted.ok() ? absl::OkStatus() : submitted.status();
}

absl::Status FlagChanges(const cli::Args& args) {
  if (args.positional().size() > 1) return absl::InvalidArgumentError("give at most one USCC");
  absl::StatusOr<ReadSession> reads = ReadSession::Open(args);
  if (!reads.ok()) return reads.status();
  v1::ListProductFlagChangesRequest request;
  if (!args.positional().empty()) request.set_enterprise_uscc(args.positional()[0]);
  v1::ListProductFlagChangesResponse response;
  if (absl::Status s = reads->Call(api::kListProductFlagChangesMethod, request, &response);
      !s.ok()) {
    return s;
  }
  if (args.Bool("json")) {
    std::cout << PrintJson(response) << "\n";
    return absl::OkStatus();
  }
  if (response.changes().empty()) std::cout << "no product's flags were changed\n";
  const auto text = [](const google::protobuf::RepeatedPtrField<std::string>& flags) {
    return flags.empty() ? std::string("none") : absl::StrJoin(flags, ",");
  };
  for (const v1::ProductFlagChange& c : response.changes()) {
    std::cout << c.enterprise_uscc() << " " << c.product_number() << " at log index "
              << c.log_index() << ": " << text(c.flags_before())
              << (c.was_provisional() ? " (provisional)" : "") << " -> " << text(c.flags_after())
              << ", "
              << (c.decided_by().empty()
                      ? absl::StrCat(
                            "by ",
                            TableName(c.table() == v1::REFERENCE_TABLE_UNSPECIFIED ? v1::CATALOGUE
                                                                                   : c.table()),
                            " ", c.catalogue_version())
                      : absl::StrCat("decided by regulator ", c.decided_by(), ": ", c.reason()))
              << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> ReferenceCommands() {
  return {
      {"reference check",
       "check a reference table file (CSV) before it is imported",
       "usage: chemctl reference check [--table TABLE] FILE.csv\n\n"
       "Reads a reference table file (docs/reference-data.md: UTF-8 CSV, RFC 4180,\n"
       "a header line) and checks every row. Prints every problem on its own line,\n"
       "naming the line of the file and the field (\"line 4, field cas: ...\"), and\n"
       "exits 1 if there is any; otherwise prints the number of rows and the file's\n"
       "SHA-256. Offline: nothing is sent anywhere. FILE - reads standard input.\n"
       "TABLE: catalogue (default), thresholds, a control list (explosives-precursors\n"
       "(易制爆), drug-precursors (易制毒), key-supervised (重点监管), specially-controlled\n"
       "(特别管控)), or a table the pages read: statements (GB 30000 texts), segregation\n"
       "(GB 15603), emergency (per UN number).\n",
       {{"table"}, {}},
       ReferenceCheck},
      {"reference import", "import a version of a reference table (platform admin)",
       "usage: chemctl reference import [--table TABLE] --version V --title T "
       "--issuer I\n"
       "                                --issued-on YYYY-MM-DD --document-number N\n"
       "                                [--uri URL] [--note TEXT] --key FILE [options] FILE.csv\n\n"
       "Checks FILE as reference check does (every problem printed, nothing sent if\n"
       "there is one), then signs it with its source and SHA-256 as a registry entry.\n"
       "From that entry on the version is in force: products registered after it are\n"
       "checked against it; those before keep the version of their time. V: 1 to 32 of\n"
       "A-Z a-z 0-9 . _ -, new for the table. The source is the official text's: title,\n"
       "issuing body, date and document number (文号); docs/reference-data.md. TABLE as\n"
       "for reference check; a control list adds its flag to the registered products\n"
       "it names, and from its entry on a product it names must carry the flag.\n\n" +
           std::string(kWriteHelp) + kServerHelp,
       WriteFlags(
           {"table", "version", "title", "issuer", "issued-on", "document-number", "uri", "note"}),
       ReferenceImport},
      {"reference list", "the reference table versions the server holds",
       "usage: chemctl reference list [--table TABLE] [--json] [--server "
       "HOST:PORT]\n\n"
       "Every imported version, by table in the order of import, the one in force\n"
       "marked, with its source, rows, log index and SHA-256. Open to anyone.\n\n" +
           std::string(kServerHelp),
       ServerFlags({"table"}, {"json"}), ReferenceList},
      {"reference find", "what the catalogue and the control lists in force say of a CAS number",
       "usage: chemctl reference find CAS [--json] [--server HOST:PORT]\n\n"
       "The control lists in force that name CAS and the flags they set, and the\n"
       "catalogue rows of CAS in the version in force (or the compiled-in catalogue\n"
       "before any import): entry number, names, UN number and class where the table\n"
       "gives them, and the control flags a product of it must carry.\n\n" +
           std::string(kServerHelp),
       ServerFlags({}, {"json"}), ReferenceFind},
      {"registry product pending", "products whose control flags wait for a regulator",
       "usage: chemctl registry product pending [USCC] [--json] --key FILE [--server HOST:PORT]\n\n"
       "Products registered with provisional flags: their CAS number is in no catalogue\n"
       "in force (docs/reference-data.md). An enterprise's actors see their own;\n"
       "regulators and platform administrators those they oversee (USCC: one of them).\n\n" +
           std::string("  --key FILE             your actor key (signs the read)\n"
                       "  --passphrase-file F    passphrase of a sealed --key\n") +
           kServerHelp,
       ReadFlags({}, {"json"}), PendingProducts},
      {"registry product decide-flags", "confirm or correct a product's control flags (应急管理)",
       "usage: chemctl registry product decide-flags USCC PRODUCT --flags F --reason TEXT\n"
       "                                             --key FILE [options]\n\n"
       "By a regulator of 应急管理 whose jurisdiction holds the enterprise. F: the\n"
       "flags from now on, comma-separated (剧毒,易制爆,易制毒,重点监管,高危), or - for\n"
       "none; they must include what the catalogue and the control lists in force give\n"
       "the product's CAS.\n\n" +
           std::string(kWriteHelp) + kServerHelp,
       WriteFlags({"flags", "reason"}), DecideFlags},
      {"registry product flag-changes", "changes of registered products' control flags",
       "usage: chemctl registry product flag-changes [USCC] [--json] --key FILE\n"
       "                                              [--server HOST:PORT]\n\n"
       "Every change of a product's flags: by a regulator's decision, or flags an\n"
       "imported catalogue or control list version added (\"by explosives-precursors\n"
       "2017\"). Read as registry product pending.\n\n" +
           std::string("  --key FILE             your actor key (signs the read)\n"
                       "  --passphrase-file F    passphrase of a sealed --key\n") +
           kServerHelp,
       ReadFlags({}, {"json"}), FlagChanges},
  };
}

}  // namespace chemledger::chemctl
