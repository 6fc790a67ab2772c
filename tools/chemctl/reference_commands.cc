// chemctl reference check|import|list|find: an operator's check of a
// reference table file (offline), its import as a signed registry entry, and
// what the server holds (docs/reference-data.md).

#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/china_time.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "crypto/sha256.h"
#include "services/registry/reference_csv.h"
#include "tools/chemctl/command.h"
#include "tools/chemctl/common.h"

namespace chemledger::chemctl {
namespace {

// --table NAME (default catalogue): the tables this version imports.
absl::StatusOr<v1::ReferenceTable> TableArg(const cli::Args& args) {
  const std::string table = args.Get("table", "catalogue");
  if (table != "catalogue") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--table: '", table, "' is not a table this version reads (catalogue)"));
  }
  return v1::CATALOGUE;
}

// A reference table file checked here: its text, or every problem printed
// (one per line) and an error.
absl::StatusOr<std::string> CheckedTableFile(const cli::Args& args, size_t* rows) {
  if (args.positional().size() != 1) {
    return absl::InvalidArgumentError("give one FILE.csv (or - for standard input)");
  }
  const std::string& path = args.positional()[0];
  absl::StatusOr<std::string> text =
      cli::ReadFileOrStdin(path, registry::kMaxReferenceCsvBytes + 1);
  if (!text.ok()) return text.status();
  const registry::CatalogueCsv csv = registry::ReadCatalogueCsv(*text);
  if (!csv.problems.empty()) {
    for (const registry::CsvProblem& p : csv.problems) std::cout << p.ToString() << "\n";
    std::cout.flush();
    return absl::InvalidArgumentError(absl::StrCat(
        csv.problems.size(), csv.problems.size() == 1 ? " problem" : " problems", " in ", path,
        " (listed above); a table with any problem is refused whole"));
  }
  *rows = csv.rows.size();
  return text;
}

absl::Status ReferenceCheck(const cli::Args& args) {
  absl::StatusOr<v1::ReferenceTable> table = TableArg(args);
  if (!table.ok()) return table.status();
  size_t rows = 0;
  absl::StatusOr<std::string> text = CheckedTableFile(args, &rows);
  if (!text.ok()) return text.status();
  std::cout << args.positional()[0] << ": a " << args.Get("table", "catalogue") << " of " << rows
            << " rows, no problems; SHA-256 " << crypto::Sha256(*text).ToHex() << "\n";
  return absl::OkStatus();
}

absl::Status ReferenceImport(const cli::Args& args) {
  absl::StatusOr<v1::ReferenceTable> table = TableArg(args);
  if (!table.ok()) return table.status();
  v1::ReferenceTableImport import;
  import.set_table(*table);
  for (const char* flag : {"version", "title", "issuer", "issued-on", "document-number"}) {
    if (!args.Has(flag)) return absl::InvalidArgumentError(absl::StrCat("--", flag, " is required"));
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
  absl::StatusOr<std::string> text = CheckedTableFile(args, &rows);
  if (!text.ok()) return text.status();
  const crypto::Sha256Digest digest = crypto::Sha256(*text);
  import.set_content(*text);
  import.set_content_sha256(
      std::string(reinterpret_cast<const char*>(digest.bytes().data()), digest.kSize));
  v1::RegistryRequest request;
  *request.mutable_import_reference_table() = std::move(import);
  absl::StatusOr<v1::SubmitResponse> submitted = SubmitRegistryRequest(args, std::move(request));
  if (!submitted.ok()) return submitted.status();
  std::cout << args.Get("table", "catalogue") << " " << args.Get("version") << " in force: "
            << rows << " rows, SHA-256 " << digest.ToHex() << "\n";
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
    std::cout << absl::AsciiStrToLower(v1::ReferenceTable_Name(v.table())) << " " << v.version()
              << (v.in_force() ? " (in force)" : "") << ": " << v.rows() << " rows, "
              << v.source().title() << ", " << v.source().issuer() << " "
              << v.source().document_number() << " of " << DayText(v.source().issued_on())
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

}  // namespace

std::vector<Command> ReferenceCommands() {
  return {
      {"reference check", "check a reference table file (CSV) before it is imported",
       "usage: chemctl reference check [--table catalogue] FILE.csv\n\n"
       "Reads a reference table file (docs/reference-data.md: UTF-8 CSV, RFC 4180,\n"
       "a header line) and checks every row. Prints every problem on its own line,\n"
       "naming the line of the file and the field (\"line 4, field cas: ...\"), and\n"
       "exits 1 if there is any; otherwise prints the number of rows and the file's\n"
       "SHA-256. Offline: nothing is sent anywhere. FILE - reads standard input.\n",
       {{"table"}, {}}, ReferenceCheck},
      {"reference import", "import a version of a reference table (platform admin)",
       "usage: chemctl reference import [--table catalogue] --version V --title T --issuer I\n"
       "                                --issued-on YYYY-MM-DD --document-number N\n"
       "                                [--uri URL] [--note TEXT] --key FILE [options] FILE.csv\n\n"
       "Checks FILE as reference check does (every problem printed, nothing sent if\n"
       "there is one), then signs it with its source and SHA-256 as a registry entry.\n"
       "From that entry on the version is in force: products registered after it are\n"
       "checked against it; those before keep the version of their time. V: 1 to 32 of\n"
       "A-Z a-z 0-9 . _ -, new for the table. The source is the official text's: title,\n"
       "issuing body, date and document number (文号); docs/reference-data.md.\n\n" +
           std::string(kWriteHelp) + kServerHelp,
       WriteFlags({"table", "version", "title", "issuer", "issued-on", "document-number", "uri",
                   "note"}),
       ReferenceImport},
      {"reference list", "the reference table versions the server holds",
       "usage: chemctl reference list [--table catalogue] [--json] [--server HOST:PORT]\n\n"
       "Every imported version, by table in the order of import, the one in force\n"
       "marked, with its source, rows, log index and SHA-256. Open to anyone.\n\n" +
           std::string(kServerHelp),
       ServerFlags({"table"}, {"json"}), ReferenceList},
      {"reference find", "what the catalogue in force says of a CAS number",
       "usage: chemctl reference find CAS [--json] [--server HOST:PORT]\n\n"
       "The catalogue rows of CAS in the version in force (or the compiled-in\n"
       "catalogue before any import): entry number, names, UN number and class where\n"
       "the table gives them, and the control flags a product of it must carry.\n\n" +
           std::string(kServerHelp),
       ServerFlags({}, {"json"}), ReferenceFind},
  };
}

}  // namespace chemledger::chemctl
