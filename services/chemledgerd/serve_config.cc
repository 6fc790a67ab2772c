#include "services/chemledgerd/serve_config.h"

#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "chemledger/config/config.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/text_format.h"
#include "tools/cli/args.h"

namespace chemledger::server {
namespace {

// The first error the text-format parser reports.
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (error_.empty()) error_ = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ", message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

std::string FlagOf(const google::protobuf::FieldDescriptor* field) {
  return absl::StrReplaceAll(field->name(), {{"_", "-"}});
}

}  // namespace

absl::StatusOr<std::vector<std::string>> WithConfigFile(
    const std::vector<std::string>& argv, const google::protobuf::Message& prototype) {
  std::string path;
  std::vector<std::string> rest;
  std::set<std::string> given;
  bool flags_ended = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (!flags_ended && a == "--") flags_ended = true;
    if (!flags_ended && (a == "--config" || absl::StartsWith(a, "--config="))) {
      if (a == "--config") {
        if (i + 1 >= argv.size()) return absl::InvalidArgumentError("--config: needs a FILE");
        path = argv[++i];
      } else {
        path = a.substr(9);
      }
      continue;
    }
    if (!flags_ended && absl::StartsWith(a, "--")) {
      given.insert(a.substr(2, a.find('=') == std::string::npos ? std::string::npos
                                                                 : a.find('=') - 2));
    }
    rest.push_back(a);
  }
  if (path.empty()) return rest;
  absl::StatusOr<std::string> text = cli::ReadFileOrStdin(path, 1 << 20);
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat("--config: ", text.status().message()));
  }
  std::unique_ptr<google::protobuf::Message> parsed(prototype.New());
  google::protobuf::Message& serve = *parsed;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(*text, &serve)) {
    return absl::InvalidArgumentError(absl::StrCat("--config: ", path, ": ", errors.error(),
                                                   " (a ", prototype.GetDescriptor()->full_name(),
                                                   ": docs/deployment.md)"));
  }
  std::vector<std::string> out;
  const google::protobuf::Reflection* r = serve.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(serve, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    const std::string flag = FlagOf(f);
    if (given.count(flag)) continue;  // the command line wins
    out.push_back(absl::StrCat("--", flag));
    switch (f->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
        out.push_back(r->GetString(serve, f));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT32:
        out.push_back(absl::StrCat(r->GetUInt32(serve, f)));
        break;
      default:
        return absl::InternalError(
            absl::StrCat(prototype.GetDescriptor()->name(), ".", f->name(), ": unhandled type"));
    }
  }
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

absl::StatusOr<std::vector<std::string>> WithServeConfig(const std::vector<std::string>& argv) {
  return WithConfigFile(argv, config::ServeConfig::default_instance());
}

std::string ServeConfigHelp() { return ConfigFileHelp(*config::ServeConfig::descriptor()); }

std::string ConfigFileHelp(const google::protobuf::Descriptor& descriptor) {
  std::string help = absl::StrCat(
      "--config FILE reads the flags from FILE, a ", descriptor.full_name(), " in\n"
      "Protobuf's text format (proto/chemledger/config/config.proto, docs/deployment.md);\n"
      "flags on the command line override it. Its fields:\n");
  const google::protobuf::Descriptor* d = &descriptor;
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    absl::StrAppend(&help, "  ", f->name(), ": ",
                    f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING ? "\"...\""
                                                                                       : "N",
                    "    (--", FlagOf(f), ")\n");
  }
  return help;
}

}  // namespace chemledger::server
