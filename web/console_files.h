// The console's files (web/console/: index.html, console.js, console.css,
// and chart.min.js from Debian's libjs-chart.js), compiled into the server
// by tools/build/embed_binary_files.py.

#ifndef CHEMLEDGER_WEB_CONSOLE_FILES_H_
#define CHEMLEDGER_WEB_CONSOLE_FILES_H_

#include <optional>

#include "absl/strings/string_view.h"

namespace chemledger::web::internal {

// The bytes of the file named `name` (its base name), or nullopt.
std::optional<absl::string_view> FindConsoleFile(absl::string_view name);

}  // namespace chemledger::web::internal

#endif  // CHEMLEDGER_WEB_CONSOLE_FILES_H_
