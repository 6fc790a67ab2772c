#include "tools/cli/args.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chemledger::cli {

absl::StatusOr<Args> Args::Parse(const std::vector<std::string>& argv,
                                 const FlagSpec& spec) {
  Args args;
  bool flags_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (flags_done || !absl::StartsWith(a, "-") || a == "-") {
      args.positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    if (a == "--help" || a == "-h") {
      args.help_ = true;
      continue;
    }
    if (!absl::StartsWith(a, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", a));
    }
    std::string name = a.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (spec.boolean.count(name)) {
      if (has_value) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      }
      args.bools_.insert(name);
    } else if (spec.with_value.count(name)) {
      if (!has_value) {
        if (i + 1 >= argv.size()) {
          return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
        }
        value = argv[++i];
      }
      args.values_[name] = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
    }
  }
  return args;
}

absl::StatusOr<std::string> Args::Required(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " is required"));
  }
  return it->second;
}

std::string Args::Get(const std::string& flag, const std::string& fallback) const {
  auto it = values_.find(flag);
  return it == values_.end() ? fallback : it->second;
}

absl::StatusOr<uint64_t> Args::Uint(const std::string& flag) const {
  absl::StatusOr<std::string> text = Required(flag);
  if (!text.ok()) return text.status();
  uint64_t v;
  if (text->empty() || text->find_first_not_of("0123456789") != std::string::npos ||
      !absl::SimpleAtoi(*text, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " must be an unsigned integer, got '", *text, "'"));
  }
  return v;
}

absl::StatusOr<uint64_t> Args::Uint(const std::string& flag, uint64_t fallback) const {
  if (!Has(flag)) return fallback;
  return Uint(flag);
}

absl::StatusOr<std::string> ReadFileOrStdin(const std::string& path, size_t max_bytes) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return absl::NotFoundError(absl::StrCat(path, " is not a readable regular file"));
    }
    file.open(path, std::ios::binary);
    if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
    in = &file;
  }
  std::string out;
  char buf[65536];
  while (*in) {
    in->read(buf, sizeof(buf));
    out.append(buf, static_cast<size_t>(in->gcount()));
    if (out.size() > max_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          path == "-" ? "standard input" : path, " is larger than ", max_bytes, " bytes"));
    }
  }
  if (in->bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
  return out;
}

std::string OneLine(absl::string_view message) {
  std::string out(message);
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out;
}

}  // namespace chemledger::cli
