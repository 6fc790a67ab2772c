// chemctl registry ... and chemctl label issue|fetch-trust-list|resolve: the
// commands that talk to a chemledgerd server over gRPC. Writes are signed on
// this machine with the actor's key (--key); the server only ever sees the
// signature.

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/china_time.h"
#include "api/net_quantity.h"
#include "api/wire.h"
#include "chemledger/v1/admin_service.grpc.pb.h"
#include "chemledger/v1/label_service.grpc.pb.h"
#include "chemledger/v1/ledger_service.pb.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/key_files.h"
#include "crypto/label.h"
#include "crypto/merkle.h"
#include "crypto/sha256.h"
#include "crypto/trust_list.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "reference/reference_tables.h"
#include "render/printable_label.h"
#include "render/qr.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "services/common/grpc_status.h"
#include "services/common/identifiers.h"
#include "services/registry/request_binding.h"
#include "tools/chemctl/command.h"
#include "tools/chemctl/common.h"

namespace chemledger::chemctl {
namespace {

absl::StatusOr<std::unique_ptr<v1::RegistryService::Stub>> RegistryStub(const cli::Args& args) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ServerChannel(args);
  if (!channel.ok()) return channel.status();
  return v1::RegistryService::NewStub(*channel);
}

absl::StatusOr<std::unique_ptr<v1::LabelService::Stub>> LabelStub(const cli::Args& args) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ServerChannel(args);
  if (!channel.ok()) return channel.status();
  return v1::LabelService::NewStub(*channel);
}

absl::Status Submit(const cli::Args& args, v1::RegistryRequest request) {
  absl::StatusOr<v1::SubmitResponse> submitted = SubmitRegistryRequest(args, std::move(request));
  return submitted.ok() ? absl::OkStatus() : submitted.status();
}

absl::Status RequireNoPositional(const cli::Args& args) {
  if (!args.positional().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", args.positional()[0], "'"));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- registry

// Submits a registry request whose `change` is the message M read from
// --json (FILE or -, M in Protobuf's JSON mapping).
template <typename M>
absl::Status SubmitJsonChange(const cli::Args& args, M* (v1::RegistryRequest::*change)()) {
  absl::StatusOr<std::string> path = args.Required("json");
  if (!path.ok()) return path.status();
  absl::StatusOr<M> message = ReadJson<M>(*path, M::descriptor()->full_name());
  if (!message.ok()) return message.status();
  v1::RegistryRequest r;
  *(r.*change)() = *std::move(message);
  return Submit(args, std::move(r));
}

absl::Status AddEnterprise(const cli::Args& args) {
  return SubmitJsonChange(args, &v1::RegistryRequest::mutable_register_enterprise);
}

absl::Status AddProduct(const cli::Args& args) {
  return SubmitJsonChange(args, &v1::RegistryRequest::mutable_register_product);
}

absl::Status AddSite(const cli::Args& args) {
  return SubmitJsonChange(args, &v1::RegistryRequest::mutable_register_site);
}

// What a site holds per class, against its capacities, and its GB 18218
// identification now (LedgerService.GetSiteLoad).
absl::Status ShowSiteLoad(const cli::Args& args) {
  if (args.positional().size() != 2) {
    return absl::InvalidArgumentError("give the enterprise's USCC and the site");
  }
  absl::StatusOr<ReadSession> reads = ReadSession::Open(args);
  if (!reads.ok()) return reads.status();
  v1::GetSiteLoadRequest request;
  request.set_enterprise_uscc(args.positional()[0]);
  request.set_site(args.positional()[1]);
  v1::SiteLoad response;
  if (absl::Status s = reads->Call(api::kGetSiteLoadMethod, request, &response); !s.ok()) {
    return s;
  }
  std::cout << PrintJson(response);
  return absl::OkStatus();
}

absl::StatusOr<crypto::VerifyingKey> PublicKeyArg(const cli::Args& args) {
  if (args.Has("public-key") == args.Has("public-key-file")) {
    return absl::InvalidArgumentError("give one of --public-key BASE64 or --public-key-file FILE");
  }
  if (args.Has("public-key")) {
    absl::StatusOr<crypto::VerifyingKey> key = crypto::VerifyingKey::FromBase64(args.Get("public-key"));
    if (!key.ok()) return absl::InvalidArgumentError(absl::StrCat("--public-key: ", key.status().message()));
    return key;
  }
  return crypto::LoadVerifyingKey(args.Get("public-key-file"));
}

// --department NAME and --jurisdiction national|REGION|park:ID (a regulator's).
absl::Status RegulatorScopeArgs(const cli::Args& args, v1::Department* department,
                                v1::Jurisdiction* jurisdiction) {
  absl::StatusOr<std::string> name = args.Required("department");
  if (!name.ok()) return name.status();
  if (!v1::Department_Parse(absl::AsciiStrToUpper(*name), department) ||
      *department == v1::DEPARTMENT_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--department '", *name, "' must be emergency_management, transport, public_security, "
        "ecology_environment, market_regulation or park_administration"));
  }
  absl::StatusOr<std::string> where = args.Required("jurisdiction");
  if (!where.ok()) return where.status();
  if (*where == "national") {
    jurisdiction->set_national(true);
  } else if (absl::StartsWith(*where, "park:")) {
    jurisdiction->set_park_id(where->substr(5));
  } else {
    jurisdiction->set_region_prefix(*where);
  }
  return absl::OkStatus();
}

absl::Status AddActor(const cli::Args& args) {
  v1::RegistryRequest r;
  v1::Actor* a = r.mutable_add_actor();
  absl::StatusOr<std::string> name = args.Required("name");
  if (!name.ok()) return name.status();
  a->set_name(*name);
  absl::StatusOr<std::string> role = args.Required("role");
  if (!role.ok()) return role.status();
  v1::ActorRole parsed_role;
  if (!v1::ActorRole_Parse(absl::AsciiStrToUpper(*role), &parsed_role) ||
      parsed_role == v1::ACTOR_ROLE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--role '", *role, "' must be platform_admin, regulator, enterprise_admin or "
        "enterprise_operator"));
  }
  a->set_role(parsed_role);
  a->set_enterprise_uscc(args.Get("enterprise"));
  absl::StatusOr<crypto::VerifyingKey> key = PublicKeyArg(args);
  if (!key.ok()) return key.status();
  a->set_public_key(key->ToBytes());
  if (args.Has("department") || args.Has("jurisdiction")) {
    v1::Department department;
    absl::Status s = RegulatorScopeArgs(args, &department, a->mutable_jurisdiction());
    if (!s.ok()) return s;
    a->set_department(department);
  }
  return Submit(args, std::move(r));
}

absl::Status AssignRegulator(const cli::Args& args) {
  v1::RegistryRequest r;
  v1::RegulatorAssignment* a = r.mutable_assign_regulator();
  absl::StatusOr<std::string> id = args.Required("key-id");
  if (!id.ok()) return id.status();
  a->set_key_id(*id);
  v1::Department department;
  absl::Status s = RegulatorScopeArgs(args, &department, a->mutable_jurisdiction());
  if (!s.ok()) return s;
  a->set_department(department);
  return Submit(args, std::move(r));
}

absl::Status RequireNamedRequests(const cli::Args& args) {
  v1::RegistryRequest r;
  r.mutable_set_deployment_policy()->set_require_named_requests(!args.Bool("off"));
  return Submit(args, std::move(r));
}

absl::Status RevokeKey(const cli::Args& args) {
  v1::RegistryRequest r;
  absl::StatusOr<std::string> id = args.Required("key-id");
  if (!id.ok()) return id.status();
  absl::StatusOr<std::string> reason = args.Required("reason");
  if (!reason.ok()) return reason.status();
  r.mutable_revoke_key()->set_key_id(*id);
  r.mutable_revoke_key()->set_reason(*reason);
  return Submit(args, std::move(r));
}

absl::Status Blacklist(const cli::Args& args) {
  v1::RegistryRequest r;
  absl::StatusOr<std::string> uscc = args.Required("enterprise");
  if (!uscc.ok()) return uscc.status();
  absl::StatusOr<std::string> reason = args.Required("reason");
  if (!reason.ok()) return reason.status();
  v1::BlacklistChange* b = r.mutable_blacklist();
  b->set_enterprise_uscc(*uscc);
  b->set_blacklisted(!args.Bool("lift"));
  b->set_reason(*reason);
  absl::StatusOr<absl::CivilDay> day = DayArg(
      "--date", args.Get("date", absl::FormatCivilTime(api::TodayInChina())));
  if (!day.ok()) return day.status();
  *b->mutable_date() = api::ToProtoDate(*day);
  return Submit(args, std::move(r));
}

// registry licence: a licence added (issued or renewed) or ended.
absl::Status ChangeLicence(const cli::Args& args) {
  v1::RegistryRequest r;
  v1::LicenceChange* c = r.mutable_change_licence();
  for (auto [flag, out] : {std::make_pair("enterprise", c->mutable_enterprise_uscc()),
                           std::make_pair("reason", c->mutable_reason())}) {
    absl::StatusOr<std::string> text = args.Required(flag);
    if (!text.ok()) return text.status();
    *out = *text;
  }
  absl::StatusOr<std::string> type_name = args.Required("type");
  if (!type_name.ok()) return type_name.status();
  v1::LicenceType type = v1::LICENCE_TYPE_UNSPECIFIED;
  if (!v1::LicenceType_Parse(*type_name, &type) || type == v1::LICENCE_TYPE_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        absl::StrCat("--type: '", *type_name,
                     "' is not SAFETY_PRODUCTION, HAZARDOUS_CHEMICALS_TRADE, ROAD_TRANSPORT or "
                     "HAZARDOUS_WASTE"));
  }
  absl::StatusOr<std::string> number = args.Required("number");
  if (!number.ok()) return number.status();
  if (args.Has("ended-on") == (args.Has("valid-from") || args.Has("valid-until"))) {
    return absl::InvalidArgumentError(
        "give --valid-from and --valid-until (a licence issued or renewed) or --ended-on (one "
        "revoked or cancelled)");
  }
  if (args.Has("ended-on")) {
    absl::StatusOr<absl::CivilDay> day = DayArg("--ended-on", args.Get("ended-on"));
    if (!day.ok()) return day.status();
    c->mutable_end()->set_type(type);
    c->mutable_end()->set_number(*number);
    *c->mutable_end()->mutable_ended_on() = api::ToProtoDate(*day);
    return Submit(args, std::move(r));
  }
  v1::Licence* l = c->mutable_add();
  l->set_type(type);
  l->set_number(*number);
  for (auto [flag, date] : {std::make_pair("valid-from", l->mutable_valid_from()),
                            std::make_pair("valid-until", l->mutable_valid_until())}) {
    absl::StatusOr<std::string> text = args.Required(flag);
    if (!text.ok()) return text.status();
    absl::StatusOr<absl::CivilDay> day = DayArg(absl::StrCat("--", flag), *text);
    if (!day.ok()) return day.status();
    *date = api::ToProtoDate(*day);
  }
  return Submit(args, std::move(r));
}

absl::Status AddLabelKey(const cli::Args& args) {
  v1::RegistryRequest r;
  absl::StatusOr<crypto::VerifyingKey> key = PublicKeyArg(args);
  if (!key.ok()) return key.status();
  r.mutable_add_label_key()->set_public_key(key->ToBytes());
  for (auto [flag, date] : {std::make_pair("valid-from", r.mutable_add_label_key()->mutable_valid_from()),
                            std::make_pair("valid-until", r.mutable_add_label_key()->mutable_valid_until())}) {
    absl::StatusOr<std::string> text = args.Required(flag);
    if (!text.ok()) return text.status();
    absl::StatusOr<absl::CivilDay> day = DayArg(absl::StrCat("--", flag), *text);
    if (!day.ok()) return day.status();
    *date = api::ToProtoDate(*day);
  }
  return Submit(args, std::move(r));
}

absl::Status ShowDeployment(const cli::Args& args) {
  absl::StatusOr<std::unique_ptr<v1::RegistryService::Stub>> stub = RegistryStub(args);
  if (!stub.ok()) return stub.status();
  v1::Deployment response;
  grpc::Status status = (*stub)->GetDeployment(Context().get(), {}, &response);
  if (!status.ok()) return ServerError(status);
  std::cout << PrintJson(response);
  return absl::OkStatus();
}

absl::Status ShowEnterprise(const cli::Args& args) {
  if (args.positional().size() != 1) return absl::InvalidArgumentError("give one USCC");
  absl::StatusOr<ReadSession> reads = ReadSession::Open(args);
  if (!reads.ok()) return reads.status();
  v1::GetEnterpriseRequest request;
  request.set_uscc(args.positional()[0]);
  v1::EnterpriseRecord response;
  if (absl::Status s = reads->Call(api::kGetEnterpriseMethod, request, &response); !s.ok()) {
    return s;
  }
  std::cout << PrintJson(response);
  return absl::OkStatus();
}

absl::Status ShowProducts(const cli::Args& args) {
  if (args.positional().empty() || args.positional().size() > 2) {
    return absl::InvalidArgumentError("give a USCC and optionally a product number");
  }
  absl::StatusOr<ReadSession> reads = ReadSession::Open(args);
  if (!reads.ok()) return reads.status();
  if (args.positional().size() == 2) {
    v1::GetProductRequest request;
    request.set_enterprise_uscc(args.positional()[0]);
    request.set_product_number(args.positional()[1]);
    v1::Product response;
    if (absl::Status s = reads->Call(api::kGetProductMethod, request, &response); !s.ok()) {
      return s;
    }
    std::cout << PrintJson(response);
    return absl::OkStatus();
  }
  v1::ListProductsRequest request;
  request.set_enterprise_uscc(args.positional()[0]);
  v1::ListProductsResponse response;
  if (absl::Status s = reads->Call(api::kListProductsMethod, request, &response); !s.ok()) {
    return s;
  }
  std::cout << PrintJson(response);
  return absl::OkStatus();
}

// One registry entry of the log, to audit the registry from outside: what
// it asks and who signed it, its leaf hash (to prove with an inclusion
// proof), and an imported reference table's file as it was logged.
absl::Status ShowRegistryEntry(const cli::Args& args) {
  uint64_t index = 0;
  if (args.positional().size() != 1 || !absl::SimpleAtoi(args.positional()[0], &index)) {
    return absl::InvalidArgumentError("give the entry's log index (a number)");
  }
  absl::StatusOr<ReadSession> reads = ReadSession::Open(args);
  if (!reads.ok()) return reads.status();
  v1::GetRegistryEntryRequest request;
  request.set_log_index(index);
  v1::RegistryEntry response;
  if (absl::Status s = reads->Call(api::kGetRegistryEntryMethod, request, &response); !s.ok()) {
    return s;
  }
  v1::LogEntry entry;
  v1::RegistryRequest change;
  if (!entry.ParseFromString(response.entry()) ||
      !registry::ParseLoggedRegistryRequest(entry.envelope().payload(), entry.rules_epoch(),
                                            &change)) {
    return absl::DataLossError(absl::StrCat("entry ", index, ": not a registry entry"));
  }
  if (args.Has("content-out") && !change.has_import_reference_table()) {
    return absl::InvalidArgumentError("--content-out: this entry imports no reference table");
  }
  std::cout << "log index " << response.log_index() << "\n"
            << "leaf hash " << crypto::HashLeaf(response.entry()).ToHex()
            << " (chemctl event history --verify proves entries; LedgerService.GetInclusionProof)\n"
            << "recorded "
            << absl::FormatTime(absl::FromUnixSeconds(entry.record_time().seconds()) +
                                    absl::Nanoseconds(entry.record_time().nanos()),
                                absl::UTCTimeZone())
            << "\n";
  for (const v1::Signature& s : entry.envelope().signatures()) {
    std::cout << "signed by key " << s.key_id() << "\n";
  }
  if (change.has_import_reference_table()) {
    v1::ReferenceTableImport* imported = change.mutable_import_reference_table();
    const std::string content = imported->content();
    std::cout << "imported file: " << content.size() << " bytes, SHA-256 "
              << crypto::Sha256(content).ToHex() << "\n";
    if (args.Has("content-out")) {
      std::ofstream out(args.Get("content-out"), std::ios::binary | std::ios::trunc);
      out << content;
      if (!out.good()) {
        return absl::UnavailableError(absl::StrCat("cannot write ", args.Get("content-out")));
      }
      std::cout << "written to " << args.Get("content-out") << "\n";
    }
    imported->clear_content();  // said above, not printed again
  }
  std::cout << PrintJson(change);
  return absl::OkStatus();
}

// ---------------------------------------------------------------- labels

// The statement texts in force on the server (GetStatementTexts): what its
// scan pages show, printed on the label too.
// A code the server was not asked about (one it would not take) has the
// texts compiled into chemctl.
class ServedStatementTexts final : public reference::ReferenceTables {
 public:
  void Keep(const v1::GetStatementTextsResponse& served) {
    for (const v1::StatementText& t : served.texts()) {
      asked_.insert(t.code());
      if (!t.text_zh().empty()) zh_[t.code()] = t.text_zh();
      if (!t.text_en().empty()) en_[t.code()] = t.text_en();
    }
    version_ = served.statements_version();
  }
  std::optional<std::string> StatementText(absl::string_view code,
                                           reference::Language language) const override {
    if (asked_.find(code) == asked_.end()) {
      return reference::ShippedReferenceTables().StatementText(code, language);
    }
    const std::map<std::string, std::string, std::less<>>& texts =
        language == reference::Language::kChinese ? zh_ : en_;
    if (auto it = texts.find(code); it != texts.end()) return it->second;
    return std::nullopt;
  }
  std::vector<reference::TableSource> Sources() const override {
    return {
        {"statement texts", version_.empty() ? "the server's compiled-in texts" : version_, false}};
  }

 private:
  std::set<std::string, std::less<>> asked_;
  std::map<std::string, std::string, std::less<>> zh_, en_;
  std::string version_;
};

// What a printable label of a product prints besides its URL.
struct LabelContent {
  v1::Product product;
  v1::Enterprise supplier;
  ServedStatementTexts statement_texts;
  bool texts_served = false;  // else the texts compiled into chemctl
};

// The printable label (SVG and PNG at 200 dpi) of one label URL.
absl::Status WritePrintable(const std::string& url, const LabelContent& content,
                            const std::string& png_path, const std::string& svg_path) {
  absl::StatusOr<crypto::ParsedLabel> parsed = crypto::ParseLabelUrl(url);
  if (!parsed.ok()) return parsed.status();
  render::PrintableLabel printable;
  printable.product = content.product;
  printable.supplier = content.supplier;
  printable.statement_texts = content.texts_served ? &content.statement_texts : nullptr;
  printable.url = url;
  printable.code = parsed->claims.Code();
  printable.batch = parsed->claims.batch;
  printable.production_date = parsed->claims.production_date;
  printable.quantity = api::NetQuantityText(parsed->claims.quantity_milli, parsed->claims.unit);
  if (!png_path.empty()) {
    absl::StatusOr<std::string> png = render::RenderLabelPng(printable);
    if (!png.ok()) return png.status();
    if (absl::Status s = WriteFile(png_path, *png); !s.ok()) return s;
  }
  if (!svg_path.empty()) {
    absl::StatusOr<std::string> svg = render::RenderLabelSvg(printable);
    if (!svg.ok()) return svg.status();
    if (absl::Status s = WriteFile(svg_path, *svg); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The registered product and enterprise a label's URL names, and the texts
// in force of the product's statements.
absl::Status FetchLabelContent(const cli::Args& args, const std::string& uscc,
                               const std::string& product_number, LabelContent* content) {
  absl::StatusOr<ReadSession> reads = ReadSession::Open(args);
  if (!reads.ok()) return reads.status();
  v1::GetProductRequest p;
  p.set_enterprise_uscc(uscc);
  p.set_product_number(product_number);
  if (absl::Status s = reads->Call(api::kGetProductMethod, p, &content->product); !s.ok()) {
    return s;
  }
  v1::GetEnterpriseRequest e;
  e.set_uscc(uscc);
  v1::EnterpriseRecord record;
  if (absl::Status s = reads->Call(api::kGetEnterpriseMethod, e, &record); !s.ok()) return s;
  content->supplier = record.enterprise();
  // The texts in force, asked 100 codes at a time (codes of the form the
  // server takes; any other keeps the compiled-in text). A server that
  // cannot say (one without GetStatementTexts) leaves the compiled-in texts,
  // as it is told on standard error.
  std::vector<std::string> codes;
  for (const std::string& code : content->product.hazard_statements()) {
    if (ids::IsHazardStatementCode(code)) codes.push_back(code);
  }
  for (const std::string& code : content->product.precautionary_statements()) {
    if (ids::IsPrecautionaryStatementCode(code)) codes.push_back(code);
  }
  auto registry = v1::RegistryService::NewStub(reads->channel());
  content->texts_served = true;
  for (size_t first = 0; first < codes.size(); first += 100) {
    v1::GetStatementTextsRequest ask;
    for (size_t i = first; i < std::min(codes.size(), first + 100); ++i) ask.add_codes(codes[i]);
    v1::GetStatementTextsResponse texts;
    grpc::Status status = registry->GetStatementTexts(Context().get(), ask, &texts);
    if (!status.ok()) {
      std::cerr << "chemctl: the statement texts in force could not be read ("
                << ServerError(status).message()
                << "); the label has the texts compiled into chemctl\n";
      content->texts_served = false;
      break;
    }
    content->statement_texts.Keep(texts);
  }
  return absl::OkStatus();
}

absl::Status Print(const cli::Args& args) {
  if (args.positional().size() != 1) return absl::InvalidArgumentError("give one label URL");
  if (!args.Has("png") && !args.Has("svg")) {
    return absl::InvalidArgumentError("give --png FILE and/or --svg FILE");
  }
  const std::string& url = args.positional()[0];
  absl::StatusOr<crypto::ParsedLabel> parsed = crypto::ParseLabelUrl(url);
  if (!parsed.ok()) return parsed.status();
  LabelContent content;
  if (absl::Status s =
          FetchLabelContent(args, parsed->claims.enterprise, parsed->claims.product, &content);
      !s.ok()) {
    return s;
  }
  return WritePrintable(url, content, args.Get("png"), args.Get("svg"));
}

absl::Status Issue(const cli::Args& args) {
  if (absl::Status s = RequireNoPositional(args); !s.ok()) return s;
  absl::StatusOr<crypto::SigningKey> key = cli::SigningKeyArg(args, "key");
  if (!key.ok()) return key.status();
  v1::IssueLabelsRequest r;
  r.set_request_id(RequestId(args));
  for (auto [flag, setter] : std::vector<std::pair<const char*, void (v1::IssueLabelsRequest::*)(const std::string&)>>{
           {"enterprise", &v1::IssueLabelsRequest::set_enterprise_uscc},
           {"product", &v1::IssueLabelsRequest::set_product_number},
           {"batch", &v1::IssueLabelsRequest::set_batch},
           {"quantity", &v1::IssueLabelsRequest::set_net_quantity},
           {"unit", &v1::IssueLabelsRequest::set_unit}}) {
    absl::StatusOr<std::string> v = args.Required(flag);
    if (!v.ok()) return v.status();
    (r.*setter)(*v);
  }
  absl::StatusOr<std::string> date = args.Required("production-date");
  if (!date.ok()) return date.status();
  absl::StatusOr<absl::CivilDay> day = DayArg("--production-date", *date);
  if (!day.ok()) return day.status();
  *r.mutable_production_date() = api::ToProtoDate(*day);
  absl::StatusOr<uint64_t> count = args.Uint("count");
  if (!count.ok()) return count.status();
  if (*count < 1 || *count > api::kMaxPackagesPerRequest) {
    return absl::InvalidArgumentError(
        absl::StrCat("--count must be 1 to ", api::kMaxPackagesPerRequest));
  }
  r.set_package_count(static_cast<uint32_t>(*count));
  absl::StatusOr<uint64_t> render_limit = args.Uint("render-limit", *count);
  if (!render_limit.ok()) return render_limit.status();

  absl::StatusOr<std::string> deployment = ServedDeployment(args);
  if (!deployment.ok()) return deployment.status();
  r.set_deployment(*deployment);
  absl::StatusOr<v1::SignedEnvelope> envelope =
      envelope::Sign(api::kIssueLabelsContext, r.SerializeAsString(), *key);
  if (!envelope.ok()) return envelope.status();
  absl::StatusOr<std::unique_ptr<v1::LabelService::Stub>> stub = LabelStub(args);
  if (!stub.ok()) return stub.status();

  std::ofstream urls;
  if (args.Has("out")) {
    urls.open(args.Get("out"), std::ios::trunc);
    if (!urls) return absl::PermissionDeniedError(absl::StrCat("cannot write ", args.Get("out")));
  }
  const std::string render_dir = args.Get("png-dir");
  const std::string print_dir = args.Get("print-dir");
  for (const std::string& dir : {render_dir, print_dir}) {
    if (!dir.empty() && mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::PermissionDeniedError(absl::StrCat("cannot create ", dir));
    }
  }
  LabelContent content;
  if (!print_dir.empty()) {
    if (absl::Status s = FetchLabelContent(args, r.enterprise_uscc(), r.product_number(), &content);
        !s.ok()) {
      return s;
    }
  }
  std::unique_ptr<grpc::ClientContext> context = Context(600);
  // Read credentials of the same key: a request the server recorded before
  // (this one sent again after a failure) gets its labels only with them.
  read_auth::AttachStreamCredentials(context.get(), api::kIssueLabelsMethod,
                                     read_auth::ReadSigner{*key, *deployment});
  std::unique_ptr<grpc::ClientReader<v1::IssueLabelsResponse>> reader =
      (*stub)->IssueLabels(context.get(), *envelope);
  v1::IssueLabelsResponse message;
  uint64_t received = 0, rendered = 0, printed = 0, log_index = 0;
  bool replayed = false;
  while (reader->Read(&message)) {
    log_index = message.log_index();
    replayed = message.replayed();
    for (const v1::IssuedLabel& label : message.labels()) {
      ++received;
      // File names come from the URL as parsed here, never from the server's
      // word: a label whose code is not its URL's is refused.
      absl::StatusOr<crypto::ParsedLabel> parsed = crypto::ParseLabelUrl(label.url());
      if (!parsed.ok() || parsed->claims.Code() != label.code()) {
        return absl::DataLossError(absl::StrCat("the server sent a malformed label for code '",
                                                label.code(), "'"));
      }
      if (urls.is_open()) urls << label.url() << "\n";
      if (!render_dir.empty() && rendered < *render_limit) {
        absl::StatusOr<render::QrSymbol> qr = render::EncodeQr(label.url());
        if (!qr.ok()) return qr.status();
        absl::StatusOr<std::string> png = render::QrToPng(*qr);
        if (!png.ok()) return png.status();
        if (absl::Status s = WriteFile(absl::StrCat(render_dir, "/", label.code(), ".png"), *png);
            !s.ok()) {
          return s;
        }
        ++rendered;
      }
      if (!print_dir.empty() && printed < *render_limit) {
        const std::string base = absl::StrCat(print_dir, "/", label.code());
        if (absl::Status s = WritePrintable(label.url(), content, base + ".png", base + ".svg");
            !s.ok()) {
          return s;
        }
        ++printed;
      }
    }
    if (!urls.is_open() && render_dir.empty() && print_dir.empty()) {
      for (const v1::IssuedLabel& label : message.labels()) std::cout << label.url() << "\n";
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return WriteError(status, absl::StrCat("--request-id ", r.request_id()));
  if (received != r.package_count()) {
    return absl::DataLossError(absl::StrCat("the server sent ", received, " labels, not ",
                                            r.package_count(), "; resend with --request-id ",
                                            r.request_id()));
  }
  if (urls.is_open()) {
    urls.close();
    if (!urls) return absl::DataLossError(absl::StrCat("cannot write ", args.Get("out")));
  }
  std::cerr << (replayed ? "re-delivered " : "issued ") << received << " labels, log index "
            << log_index << " (request " << r.request_id() << ")"
            << (args.Has("out") ? absl::StrCat(", URLs in ", args.Get("out")) : "")
            << (rendered ? absl::StrCat(", ", rendered, " QR PNGs in ", render_dir) : "")
            << (printed ? absl::StrCat(", ", printed, " printable labels in ", print_dir) : "")
            << "\n";
  return absl::OkStatus();
}

absl::Status FetchTrustList(const cli::Args& args) {
  if (absl::Status s = RequireNoPositional(args); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<v1::LabelService::Stub>> stub = LabelStub(args);
  if (!stub.ok()) return stub.status();
  v1::TrustListResponse response;
  grpc::Status status = (*stub)->GetTrustList(Context().get(), {}, &response);
  if (!status.ok()) return ServerError(status);
  // The note is only as good as the key that checks it: verify against the
  // pinned key when one is given.
  if (args.Has("trust-root")) {
    absl::StatusOr<crypto::NoteVerifier> root =
        crypto::NoteVerifier::FromVerifierKey(args.Get("trust-root"));
    if (!root.ok()) return absl::InvalidArgumentError(absl::StrCat("--trust-root: ", root.status().message()));
    absl::StatusOr<crypto::TrustList> list = crypto::OpenTrustList(response.signed_note(), *root);
    if (!list.ok()) return list.status();
  }
  if (args.Has("out")) {
    if (absl::Status s = WriteFile(args.Get("out"), response.signed_note()); !s.ok()) return s;
    std::cerr << "trust list written to " << args.Get("out") << "; signed by "
              << response.verifier_key() << "\n";
  } else {
    std::cout << response.signed_note();
  }
  return absl::OkStatus();
}

absl::Status Resolve(const cli::Args& args) {
  if (args.positional().size() != 1) return absl::InvalidArgumentError("give one label URL");
  v1::ResolveLabelRequest request;
  request.set_url(args.positional()[0]);
  v1::ResolveLabelResponse response;
  if (args.Has("key")) {
    absl::StatusOr<ReadSession> reads = ReadSession::Open(args);
    if (!reads.ok()) return reads.status();
    if (absl::Status s = reads->Call(api::kResolveLabelMethod, request, &response); !s.ok()) {
      return s;
    }
  } else {
    absl::StatusOr<std::unique_ptr<v1::LabelService::Stub>> stub = LabelStub(args);
    if (!stub.ok()) return stub.status();
    grpc::Status status = (*stub)->ResolveLabel(Context().get(), request, &response);
    if (!status.ok()) return ServerError(status);
  }
  std::cout << PrintJson(response);
  if (response.verdict() != "authentic") {
    return absl::FailedPreconditionError(absl::StrCat("label is ", response.verdict(),
                                                      response.detail().empty() ? "" : ": ",
                                                      response.detail()));
  }
  if (response.assessment() == "suspicious") {
    return absl::FailedPreconditionError(absl::StrCat(
        "label is authentic but suspicious: ", absl::StrJoin(response.warnings(), "; ")));
  }
  return absl::OkStatus();
}

absl::Status Backup(const cli::Args& args) {
  // The copy is made while the call waits: a large store takes minutes.
  absl::StatusOr<uint64_t> timeout = args.Uint("timeout", 3600);
  if (!timeout.ok()) return timeout.status();
  if (*timeout < 1 || *timeout > 7 * 24 * 3600) {
    return absl::InvalidArgumentError("--timeout: must be 1 to 604800 seconds");
  }
  absl::StatusOr<ReadSession> reads = ReadSession::Open(args);
  if (!reads.ok()) return reads.status();
  v1::BackupResponse response;
  if (absl::Status s = reads->Call(api::kBackupMethod, v1::BackupRequest(), &response,
                                   static_cast<int>(*timeout));
      !s.ok()) {
    return s;
  }
  std::cout << "backup: " << response.directory() << " (on the server's machine)\n"
            << "log size " << response.checkpoint().tree_size() << ", root "
            << absl::BytesToHexString(response.checkpoint().root_hash()) << "\n"
            << response.records() << " records in " << response.seconds() << " s\n"
            << "restore: chemledgerd restore --backup DIR --keys DATA/keys --data NEWDIR\n";
  if (args.Has("out")) {
    std::ofstream out(args.Get("out"), std::ios::binary);
    out << response.checkpoint().signed_note();
    if (!out.flush()) {
      return absl::PermissionDeniedError(absl::StrCat("--out: cannot write ", args.Get("out")));
    }
    std::cout << "its signed checkpoint: " << args.Get("out") << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> ServerCommands() {
  const std::string server_help = kServerHelp;
  const std::string read_help =
      std::string("  --key FILE             your actor key (signs the read)\n"
                  "  --passphrase-file F    passphrase of a sealed --key\n") +
      kServerHelp;
  const std::string write_help = std::string(kWriteHelp) + kServerHelp;
  return {
      {"admin backup", "an online backup of the store, on the server's machine (platform admin)",
       "usage: chemctl admin backup --key FILE [--out CHECKPOINT] [--timeout SECONDS]\n"
       "                           [--server HOST:PORT]\n\n"
       "The server copies its store as one commit left it, while it serves, into\n"
       "DATA/backups/<time>/ on its machine, with the copy's signed checkpoint\n"
       "(--out keeps it here too). Keys are not in it: back up DATA/keys apart.\n"
       "chemledgerd restore makes a data directory of it (docs/deployment.md).\n"
       "The call waits for the copy, up to --timeout (default 3600 s); a copy the\n"
       "call stopped waiting for still completes on the server.\n\n" +
           read_help,
       ReadFlags({"out", "timeout"}), Backup},
      {"registry deployment", "show the server's deployment, resolver and log size",
       "usage: chemctl registry deployment [--server HOST:PORT]\n\n" + server_help, ServerFlags({}),
       ShowDeployment},
      {"registry enterprise add", "register an enterprise (platform admin)",
       "usage: chemctl registry enterprise add --json FILE --key FILE [options]\n\n"
       "FILE (or - for stdin) is a chemledger.v1.Enterprise in JSON, e.g.\n"
       "  {\"uscc\": \"91350100M000100Y43\", \"name\": \"...\", \"region_code\": \"350100\",\n"
       "   \"address\": \"...\", \"roles\": [\"PRODUCER\"], \"licences\": [{\"type\":\n"
       "   \"SAFETY_PRODUCTION\", \"number\": \"...\", \"valid_from\": {\"year\": 2024,\n"
       "   \"month\": 1, \"day\": 1}, \"valid_until\": {...}}]}\n\n" +
           write_help,
       WriteFlags({"json"}), AddEnterprise},
      {"registry enterprise show", "show an enterprise and its blacklist state",
       "usage: chemctl registry enterprise show USCC --key FILE [--server HOST:PORT]\n\n" +
           read_help,
       ReadFlags(), ShowEnterprise},
      {"registry product add", "register a product (enterprise admin)",
       "usage: chemctl registry product add --json FILE --key FILE [options]\n\n"
       "FILE (or -) is a chemledger.v1.Product in JSON (proto/chemledger/v1/registry.proto).\n\n" +
           write_help,
       WriteFlags({"json"}), AddProduct},
      {"registry site add", "register (or re-register) a site (enterprise admin)",
       "usage: chemctl registry site add --json FILE --key FILE [options]\n\n"
       "FILE (or -) is a chemledger.v1.Site in JSON (proto/chemledger/v1/registry.proto;\n"
       "docs/sites.md), with exposure_correction_tenths for GB 18218's α.\n\n" +
           write_help,
       WriteFlags({"json"}), AddSite},
      {"registry site load", "what a site holds now, and its 重大危险源 identification",
       "usage: chemctl registry site load USCC SITE --key FILE [--server HOST:PORT]\n\n"
       "LedgerService.GetSiteLoad as JSON: the loads per hazard class against the\n"
       "site's capacities, and major_hazard: GB 18218's S = Σ q/Q, R and the grade\n"
       "of the stock there now, each product's share (docs/major-hazards.md).\n\n" +
           read_help,
       ReadFlags(), ShowSiteLoad},
      {"registry entry", "one registry entry of the log: what it asks, who signed it, its hash",
       "usage: chemctl registry entry LOG_INDEX [--content-out FILE] --key FILE\n"
       "                             [--server HOST:PORT]\n\n"
       "RegistryService.GetRegistryEntry: the entry's leaf hash, record time and\n"
       "signer, and the registry request as JSON. For an imported reference table\n"
       "(chemctl reference list gives their log indexes) the file's size and\n"
       "SHA-256, and with --content-out the file itself, byte for byte as logged,\n"
       "to compare with the official one.\n\n" +
           read_help,
       ReadFlags({"content-out"}), ShowRegistryEntry},
      {"registry product show", "show one product, or list an enterprise's products",
       "usage: chemctl registry product show USCC [PRODUCT] --key FILE [--server HOST:PORT]\n\n" +
           read_help,
       ReadFlags(), ShowProducts},
      {"registry actor add", "add an actor with its public key",
       "usage: chemctl registry actor add --name NAME --role ROLE [--enterprise USCC]\n"
       "                                  (--public-key BASE64 | --public-key-file FILE)\n"
       "                                  [--department D --jurisdiction J]\n"
       "                                  --key FILE [options]\n\n"
       "ROLE: platform_admin, regulator (by a platform admin), enterprise_admin,\n"
       "enterprise_operator (by a platform admin or the enterprise's admin).\n"
       "A regulator needs --department (emergency_management, transport,\n"
       "public_security, ecology_environment, market_regulation, park_administration)\n"
       "and --jurisdiction (national, a GB/T 2260 region of 2, 4 or 6 digits, or\n"
       "park:PARK_ID); docs/audit.md.\n\n" +
           write_help,
       WriteFlags({"name", "role", "enterprise", "public-key", "public-key-file", "department",
                   "jurisdiction"}),
       AddActor},
      {"registry regulator assign", "assign a regulator its department and jurisdiction",
       "usage: chemctl registry regulator assign --key-id ID --department D --jurisdiction J\n"
       "                                         --key FILE [options]\n\n"
       "By a platform administrator; D and J as for registry actor add.\n\n" +
           write_help,
       WriteFlags({"key-id", "department", "jurisdiction"}), AssignRegulator},
      {"registry require-named-requests",
       "require every signed write request to name this deployment, or --off",
       "usage: chemctl registry require-named-requests [--off] --key FILE [options]\n\n"
       "By a platform administrator (rules epoch 17). From then on a signed write\n"
       "request that names no deployment (field 30) is refused, as one naming another\n"
       "is; --off takes such requests again. Set it once every client of the\n"
       "deployment names it; docs/signatures.md.\n\n" +
           write_help,
       WriteFlags({}, {"off"}), RequireNamedRequests},
      {"registry revoke-key", "revoke an actor key or a label key",
       "usage: chemctl registry revoke-key --key-id ID --reason TEXT --key FILE [options]\n\n" +
           write_help,
       WriteFlags({"key-id", "reason"}), RevokeKey},
      {"registry blacklist", "put an enterprise on the blacklist, or --lift it",
       "usage: chemctl registry blacklist --enterprise USCC --reason TEXT [--date YYYY-MM-DD]\n"
       "                                  [--lift] --key FILE [options]\n\n" +
           write_help,
       WriteFlags({"enterprise", "reason", "date"}, {"lift"}), Blacklist},
      {"registry licence", "add an enterprise's licence (issued or renewed) or end one",
       "usage: chemctl registry licence --enterprise USCC --type TYPE --number NUMBER\n"
       "                                (--valid-from YYYY-MM-DD --valid-until YYYY-MM-DD |\n"
       "                                 --ended-on YYYY-MM-DD) --reason TEXT --key FILE "
       "[options]\n\n"
       "By a platform administrator (rules epoch 19), from the authority's decision.\n"
       "TYPE: SAFETY_PRODUCTION, HAZARDOUS_CHEMICALS_TRADE, ROAD_TRANSPORT or\n"
       "HAZARDOUS_WASTE. With --valid-from and --valid-until the licence is added, or\n"
       "replaces the enterprise's licence of the same type and number (a renewal that\n"
       "kept its number). With --ended-on (revoked, cancelled) that licence is valid no\n"
       "longer from that day on (a year back to 30 days ahead). --reason: the decision,\n"
       "e.g. 换证 or 吊销：闽应急罚〔2026〕12号.\n\n" +
           write_help,
       WriteFlags(
           {"enterprise", "type", "number", "valid-from", "valid-until", "ended-on", "reason"}),
       ChangeLicence},
      {"registry add-label-key", "register a label key made by chemledgerd label-key new",
       "usage: chemctl registry add-label-key (--public-key BASE64 | --public-key-file FILE)\n"
       "                                      --valid-from YYYY-MM-DD --valid-until YYYY-MM-DD\n"
       "                                      --key FILE [options]\n\n" +
           write_help,
       WriteFlags({"public-key", "public-key-file", "valid-from", "valid-until"}), AddLabelKey},
      {"label issue", "issue signed labels for a product batch (up to 100000)",
       "usage: chemctl label issue --enterprise USCC --product NUMBER --batch BATCH\n"
       "                           --production-date YYYY-MM-DD --count N\n"
       "                           --quantity DECIMAL --unit KGM|GRM|TNE|LTR|MLT|MTQ\n"
       "                           --key FILE [--out FILE] [--png-dir DIR] [--print-dir DIR]\n"
       "                           [--render-limit N]\n\n"
       "Writes the label URLs one per line to --out (or stdout); with --png-dir a QR\n"
       "code PNG per label, with --print-dir a printable GB 15258-style label (PNG at\n"
       "200 dpi and SVG) per label, each named by its code, for the first\n"
       "--render-limit labels (default all).\n\n" +
           write_help,
       WriteFlags({"enterprise", "product", "batch", "production-date", "count", "quantity", "unit",
                   "out", "png-dir", "print-dir", "render-limit"}),
       Issue},
      {"label print", "render a label URL as a printable GB 15258-style label",
       "usage: chemctl label print URL (--png FILE | --svg FILE)... --key FILE\n"
       "                           [--server HOST:PORT]\n\n"
       "Fetches the product and supplier the URL names from the registry (a read\n"
       "signed with --key) and writes the printable label (A6; PNG at 200 dpi, SVG\n"
       "in millimetres).\n\n" +
           read_help,
       ReadFlags({"png", "svg"}), Print},
      {"label fetch-trust-list", "download the signed label trust list",
       "usage: chemctl label fetch-trust-list [--out FILE] [--trust-root VKEY] [--server ...]\n\n"
       "With --trust-root (the note verifier key chemledgerd init printed) the list\n"
       "is verified before it is written.\n\n" +
           server_help,
       ServerFlags({"out", "trust-root"}), FetchTrustList},
      {"label resolve", "check a label online: signature, issuance, product",
       "usage: chemctl label resolve URL [--key FILE] [--server HOST:PORT]\n\n"
       "Exits 0 only for an authentic label whose code the log holds with exactly\n"
       "its claims. Anyone may resolve (the public scan shows the product and the\n"
       "supplier's name and address); with --key, a registered actor sees the whole\n"
       "enterprise record.\n\n" +
           read_help,
       ReadFlags(), Resolve},
  };
}

}  // namespace chemledger::chemctl
