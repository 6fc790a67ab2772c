// chemctl reference check: an operator's check of a reference table file
// before it is imported (docs/reference-data.md). Offline: reads the file
// only.

#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/sha256.h"
#include "services/registry/reference_csv.h"
#include "tools/chemctl/command.h"

namespace chemledger::chemctl {
namespace {

absl::Status ReferenceCheck(const cli::Args& args) {
  const std::string table = args.Get("table", "catalogue");
  if (table != "catalogue") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--table: '", table, "' is not a table this version reads (catalogue)"));
  }
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
  std::cout << path << ": a " << table << " of " << csv.rows.size()
            << " rows, no problems; SHA-256 " << crypto::Sha256(*text).ToHex() << "\n";
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
  };
}

}  // namespace chemledger::chemctl
