// chemscan: what a warehouse worker, an inspector or a customs officer runs to
// check package labels, offline or against the server.
//
//   chemscan verify --trust-list FILE [--trust-root VKEY] [--json] INPUT...
//   chemscan verify --server HOST:PORT [--tls-ca FILE] [--key FILE]
//                   [--json] [--details] INPUT...
//   chemscan receive|ship --waybill NUMBER --enterprise USCC [--site SITE]
//                   --server HOST:PORT --key FILE INPUT...
//   chemscan stocktake --enterprise USCC --site SITE --server HOST:PORT
//                   --key FILE INPUT...
//   chemscan gate --park PARK --gate GATE --in|--out --server HOST:PORT
//                   --key FILE INPUT
//
// INPUT is a PNG or JPEG image (every QR code in it is checked), a label or
// waybill code URL, or "-" for URLs on standard input, one per line. One
// verdict line per code: authentic, or the precise reason not (malformed,
// unsupported-version, wrong-resolver, unknown-key, revoked-key,
// bad-signature). For an authentic waybill code (电子运单二维码) the line also
// says what it states: carrier, vehicle, route, dates and goods. Exit status
// 0 only when every code is authentic; 1 otherwise; 2 for a usage error.

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/verify_service.grpc.pb.h"
#include "chemledger/v1/waybill_service.grpc.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/trust_list.h"
#include "crypto/waybill_code.h"
#include "render/qr.h"
#include "services/common/envelope.h"
#include "tools/chemctl/common.h"
#include "tools/cli/args.h"

namespace chemledger::chemscan {
namespace {

constexpr char kUsage[] =
    "usage: chemscan verify --trust-list FILE [--trust-root VKEY] [--json]\n"
    "                       [--accept-expired] INPUT...\n\n"
    "Verifies package labels and e-waybill codes offline against a signed label\n"
    "trust list.\n\n"
    "  --trust-list FILE   the platform's signed label trust list\n"
    "  --trust-root VKEY   the trust-list key you trust (note verifier key\n"
    "                      NAME+HASH+KEY, published by the platform); default:\n"
    "                      $CHEMLEDGER_TRUST_ROOT, else the first line of\n"
    "                      ~/.config/chemledger/trust-root\n"
    "  --json              one JSON object per line instead of text\n"
    "  --accept-expired    use a trust list past its expiry (or one without, v1)\n"
    "                      anyway: each verdict then says so, as a key revoked\n"
    "                      since the list was issued would still pass\n"
    "  INPUT               a PNG or JPEG image, a label or waybill code URL, or -\n"
    "                      for URLs on standard input (one per line)\n\n"
    "One verdict per code: authentic, malformed, unsupported-version,\n"
    "wrong-resolver, unknown-key, revoked-key or bad-signature; an authentic\n"
    "waybill code's line says what it states (carrier, vehicle, route, dates,\n"
    "goods). Exit status 0 only when every code is authentic.\n\n"
    "usage: chemscan verify --server HOST:PORT [--tls-ca FILE] [--key FILE]\n"
    "                       [--passphrase-file F] [--json] [--details]\n"
    "                       [--observe-at SITE --enterprise USCC] INPUT...\n\n"
    "Verifies online (VerifyService): the server's verdict for each code, which\n"
    "knows what the log knows: a code voided, a package used up, disposed of,\n"
    "lost or in transit, a supplier blacklisted. Images are sent to the server,\n"
    "16 a call; URLs 1000 a call.\n\n"
    "  --server HOST:PORT  the chemledgerd to ask\n"
    "  --tls-ca FILE       use TLS, trusting this CA certificate (PEM)\n"
    "  --key FILE          sign the scans as a registered actor (see the\n"
    "                      package's state; far higher rate limits); without it\n"
    "                      the scans are anonymous, limited per address\n"
    "  --details           also the product, supplier and (signed) package state\n"
    "  --observe-at SITE   with --key: record the scans in the ledger (OBSERVING\n"
    "                      events of --enterprise at SITE); scans a package's\n"
    "                      history cannot explain become signals for regulators\n"
    "  --json              one JSON object per line\n\n"
    "One line per code: genuine, suspicious (the label was issued, but no\n"
    "package should carry it now) or fake, then the code, the input and why;\n"
    "for a waybill code its verdict (authentic, cancelled, closed, superseded,\n"
    "pending, not-issued, ...). Progress goes to standard error on long\n"
    "batches. Exit status 0 only when every code is genuine (a waybill code:\n"
    "authentic) and has no warning.\n\n"
    "Also: chemscan receive|ship --help (goods in and out by scan against an\n"
    "e-waybill), chemscan stocktake --help (a stock-take by scan), chemscan gate\n"
    "--help (a park gate).\n";

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += "0123456789abcdef"[(c >> 4) & 0xf];
          out += "0123456789abcdef"[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

struct Reporter {
  bool json = false;
  std::string warning;  // said with every verdict (an expired trust list)
  int checked = 0;
  int failed = 0;

  void Report(absl::string_view source, absl::string_view verdict, absl::string_view code,
              absl::string_view detail) {
    ++checked;
    if (verdict != "authentic") ++failed;
    if (json) {
      std::cout << "{\"input\":" << JsonString(source) << ",\"verdict\":" << JsonString(verdict)
                << ",\"code\":" << JsonString(code) << ",\"detail\":" << JsonString(detail);
      if (!warning.empty()) std::cout << ",\"warning\":" << JsonString(warning);
      std::cout << "}\n";
    } else {
      std::cout << verdict << "\t" << (code.empty() ? "-" : code) << "\t" << source;
      if (!detail.empty()) std::cout << "\t" << absl::StrReplaceAll(detail, {{"\n", " "}});
      if (!warning.empty()) std::cout << "\t(" << warning << ")";
      std::cout << "\n";
    }
  }

  void Check(absl::string_view source, absl::string_view url, const crypto::TrustList& trust) {
    if (crypto::IsWaybillCodeUrl(url)) {
      const crypto::WaybillCodeCheck check = crypto::VerifyWaybillCode(url, trust);
      const bool authentic = check.verdict == crypto::LabelVerdict::kAuthentic;
      Report(source, crypto::LabelVerdictName(check.verdict),
             check.code ? absl::StrCat("waybill:", check.code->claims.waybill_number) : "",
             authentic ? WaybillSummary(check.code->claims) : check.detail);
      return;
    }
    const crypto::LabelCheck check = crypto::VerifyLabel(url, trust);
    Report(source, crypto::LabelVerdictName(check.verdict),
           check.label ? check.label->claims.Code() : "", check.detail);
  }

  // What a roadside inspector compares with the truck and its load.
  static std::string WaybillSummary(const crypto::WaybillCodeClaims& c) {
    static constexpr const char* kColours[] = {"?", "blue", "yellow", "black",
                                               "white", "green", "yellow-green"};
    std::string goods;
    for (const crypto::WaybillCodeGoods& g : c.goods) {
      absl::StrAppend(&goods, goods.empty() ? "" : "; ", "UN", g.un_number, " class ",
                      g.hazard_class, g.packing_group.empty() ? "" : " PG " + g.packing_group, " ",
                      g.quantity_milli / 1000, g.quantity_milli % 1000 == 0 ? "" : absl::StrCat(
                          ".", absl::StrFormat("%03d", g.quantity_milli % 1000)),
                      " ", g.unit, " (", g.codes, " codes)");
    }
    if (c.goods_lines > c.goods.size()) {
      absl::StrAppend(&goods, "; and ", c.goods_lines - c.goods.size(), " more lines");
    }
    return absl::StrCat("carrier ", c.carrier_uscc, ", vehicle ", c.vehicle_plate, " (",
                        kColours[c.plate_colour < 7 ? c.plate_colour : 0], ")",
                        c.trailer_plate.empty() ? "" : " + " + c.trailer_plate, ", ",
                        c.origin_region, " -> ", c.destination_region, ", ",
                        absl::FormatCivilTime(c.planned_departure), " to ",
                        absl::FormatCivilTime(c.planned_arrival), ", goods: ", goods,
                        ", revision ", c.revision);
  }
};

bool LooksLikeImage(const std::string& bytes) {
  return absl::StartsWith(bytes, "\x89PNG") || absl::StartsWith(bytes, "\xFF\xD8\xFF");
}

// The trust-list key this verifier pins: --trust-root, else the environment
// variable CHEMLEDGER_TRUST_ROOT, else the first line of
// $XDG_CONFIG_HOME/chemledger/trust-root (~/.config/... by default).
absl::StatusOr<std::string> PinnedTrustRoot(const cli::Args& args) {
  if (args.Has("trust-root")) return args.Get("trust-root");
  if (const char* env = std::getenv("CHEMLEDGER_TRUST_ROOT"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  std::string config;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') {
    config = xdg;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    config = std::string(home) + "/.config";
  }
  if (!config.empty()) {
    std::ifstream in(config + "/chemledger/trust-root");
    std::string line;
    if (in && std::getline(in, line) && !line.empty()) return line;
  }
  return absl::FailedPreconditionError(
      "no pinned trust root: give --trust-root VKEY, set CHEMLEDGER_TRUST_ROOT, or put the key "
      "(chemledgerd init prints it) in ~/.config/chemledger/trust-root");
}

// What the command line names: a URL, or an image's bytes (or why neither).
struct Input {
  std::string source;
  std::string url;
  std::string image;
  std::string error;
};

// The inputs `positional` names, in order ("-": URLs on standard input).
std::vector<Input> ReadInputs(const std::vector<std::string>& positional) {
  std::vector<Input> inputs;
  for (const std::string& input : positional) {
    if (input == "-") {
      std::string line;
      for (int n = 1; std::getline(std::cin, line); ++n) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        inputs.push_back({absl::StrCat("stdin:", n), line, "", ""});
      }
      continue;
    }
    if (absl::StartsWith(input, "HTTPS://") || absl::StartsWith(input, "https://")) {
      inputs.push_back({"argument", input, "", ""});
      continue;
    }
    std::ifstream in(input, std::ios::binary);
    if (!in) {
      inputs.push_back({input, "", "", "cannot read this file (and it is not a label URL)"});
      continue;
    }
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!LooksLikeImage(bytes.str())) {
      inputs.push_back({input, "", "", "not a PNG or JPEG image"});
      continue;
    }
    inputs.push_back({input, "", bytes.str(), ""});
  }
  return inputs;
}

// Records `codes` as `step` events signed by the session's actor for
// `enterprise` at `site`, now, one event per `per_event` codes (`fill` adds
// the step's own fields); their log indexes, or the first refusal.
absl::StatusOr<std::vector<uint64_t>> RecordEvents(
    const chemctl::ReadSession& session, v1::BusinessStep step,
    const std::vector<std::string>& codes, const std::string& enterprise, const std::string& site,
    const std::function<void(v1::Event*)>& fill, size_t per_event = api::kMaxCodesPerEvent) {
  auto ledger = v1::LedgerService::NewStub(session.channel());
  std::vector<uint64_t> indexes;
  for (size_t first = 0; first < codes.size(); first += per_event) {
    v1::Event e;
    e.set_event_id(chemctl::RequestId(cli::Args()));
    e.set_step(step);
    for (size_t i = first; i < std::min(codes.size(), first + per_event); ++i) {
      e.add_codes(codes[i]);
    }
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(enterprise);
    e.mutable_location()->set_site(site);
    fill(&e);
    e.set_deployment(session.origin());
    absl::StatusOr<v1::SignedEnvelope> envelope =
        envelope::Sign(api::kEventContext, e.SerializeAsString(), session.key());
    if (!envelope.ok()) return envelope.status();
    v1::AppendResponse response;
    grpc::Status status = ledger->Append(chemctl::Context().get(), *envelope, &response);
    if (!status.ok()) {
      // What went before is recorded: said, so that a rerun leaves it out.
      std::string before;
      if (!indexes.empty()) {
        before = absl::StrCat(" (the ", first, " codes before them were recorded, at log index",
                              indexes.size() > 1 ? "es " : " ", absl::StrJoin(indexes, ", "), ")");
      }
      return absl::Status(
          chemctl::ServerError(status).code(),
          chemctl::OutcomeUnknown(status)
              ? absl::StrCat("recording ", e.codes_size(), " codes (", v1::BusinessStep_Name(step),
                             ", event ", e.event_id(),
                             ") ended without an answer: ", chemctl::ServerError(status).message(),
                             "; it may have been recorded: look at the codes' history "
                             "before scanning them again",
                             before)
              : absl::StrCat("recording ", e.codes_size(), " codes (", v1::BusinessStep_Name(step),
                             ") was refused: ", chemctl::ServerError(status).message(), before));
    }
    indexes.push_back(response.log_index());
  }
  return indexes;
}

// Online verdicts, one line (or JSON object) per code.
class OnlineReporter {
 public:
  OnlineReporter(bool json, bool details) : json_(json), details_(details) {}

  void Failure(absl::string_view source, absl::string_view why) {
    Line(source, "fake", "malformed", "", why, {}, "");
  }

  // The package codes of the labels the log accounts for, as reported.
  const std::vector<std::string>& accounted() const { return accounted_; }
  // The label URL each accounted code was read from.
  const std::string& LabelUrlOf(const std::string& code) const { return label_urls_.at(code); }

  // A waybill code's word: genuine for the current code of a waybill in use;
  // suspicious for a code the log holds that is not that (cancelled, closed,
  // superseded, pending, signed by a key revoked since: the scan page's
  // orange and red words); fake for one the log does not hold.
  static absl::string_view WaybillAssessment(const v1::ResolveWaybillCodeResponse& w) {
    if (w.verdict() == "authentic") return "genuine";
    return w.waybill_number().empty() ? "fake" : "suspicious";
  }

  void Report(absl::string_view source, const v1::Verification& v) {
    // Codes the ledger has seen (an issued label never commissioned is
    // "not-recorded": there is nothing to observe yet).
    if (v.has_label() && !v.label().code().empty() &&
        v.label().package_state() != "not-recorded" &&
        accounted_set_.insert(v.label().code()).second) {
      accounted_.push_back(v.label().code());
      label_urls_[v.label().code()] = v.url();
    }
    if (v.has_waybill()) {
      const v1::ResolveWaybillCodeResponse& w = v.waybill();
      std::string detail = w.detail();
      if (details_ && !w.waybill_number().empty()) {
        const v1::PublicWaybillView& view = w.public_view();
        absl::StrAppend(&detail, detail.empty() ? "" : "; ", "carrier ", view.carrier_name(),
                        ", vehicle ", view.vehicle_plate(), ", ", view.goods_size(),
                        " goods lines");
      }
      Line(source, WaybillAssessment(w), w.verdict(),
           w.waybill_number().empty() ? "" : absl::StrCat("waybill:", w.waybill_number()), detail,
           {}, "");
      return;
    }
    const v1::ResolveLabelResponse& l = v.label();
    std::vector<std::string> warnings(l.warnings().begin(), l.warnings().end());
    std::string detail = l.verdict() == "authentic" ? "" : l.detail();
    if (details_ && l.has_product()) {
      absl::StrAppend(&detail, detail.empty() ? "" : "; ", l.product().name_zh(), " (",
                      l.product().name_en(), "), UN ", l.product().un_number(), ", supplier ",
                      l.enterprise().enterprise().name());
    }
    if (details_ && !l.custodian_uscc().empty()) {
      absl::StrAppend(&detail, "; custodian ", l.custodian_uscc(), " at ", l.site(), ", ",
                      l.remaining_milli() / 1000, ".", absl::StrFormat("%03d", l.remaining_milli() % 1000),
                      " ", l.unit(), " left, latest event at log index ", l.last_event_log_index());
    }
    Line(source, l.assessment(), l.verdict(), l.code(), detail, warnings,
         details_ ? l.package_state() : "");
  }

  int checked() const { return checked_; }
  int failed() const { return failed_; }

 private:
  void Line(absl::string_view source, absl::string_view assessment, absl::string_view verdict,
            absl::string_view code, absl::string_view detail,
            const std::vector<std::string>& warnings, absl::string_view state) {
    ++checked_;
    if (assessment != "genuine" || !warnings.empty()) ++failed_;
    if (json_) {
      std::cout << "{\"input\":" << JsonString(source) << ",\"assessment\":"
                << JsonString(assessment) << ",\"verdict\":" << JsonString(verdict)
                << ",\"code\":" << JsonString(code) << ",\"detail\":" << JsonString(detail)
                << ",\"warnings\":[";
      for (size_t i = 0; i < warnings.size(); ++i) {
        std::cout << (i ? "," : "") << JsonString(warnings[i]);
      }
      std::cout << "]";
      if (!state.empty()) std::cout << ",\"package_state\":" << JsonString(state);
      std::cout << "}\n";
      return;
    }
    std::cout << assessment << "\t" << (code.empty() ? "-" : code) << "\t" << source << "\t"
              << verdict;
    if (!state.empty()) std::cout << ", " << state;
    if (!detail.empty()) std::cout << "; " << absl::StrReplaceAll(detail, {{"\n", " "}});
    for (const std::string& w : warnings) std::cout << "; WARNING: " << w;
    std::cout << "\n";
  }

  const bool json_;
  const bool details_;
  std::vector<std::string> accounted_;
  absl::flat_hash_set<std::string> accounted_set_;
  absl::flat_hash_map<std::string, std::string> label_urls_;
  int checked_ = 0;
  int failed_ = 0;
};

constexpr int kUrlsPerCall = 1000;
// What one call may cost: a signed call's bound, and below an anonymous
// address's burst (kAnonymousScanBurst, 600), which the server refuses a
// call to exceed.
constexpr size_t kSignedCostPerCall = 20000;
constexpr size_t kAnonymousCostPerCall = 500;

// The most `request` can cost: a URL 1, an image what it costs up front
// and then for the codes read from it beyond those (at most
// api::kVerifyMaxCodesPerImage in all), so that no call outgrows its budget.
size_t MostCostOf(const v1::VerifyRequest& request) {
  return static_cast<size_t>(request.urls_size()) +
         api::kVerifyMaxCodesPerImage * static_cast<size_t>(request.images_size());
}
constexpr int kImagesPerCall = 16;
constexpr size_t kImageBytesPerCall = 3 << 20;

using VerifyCall = std::function<absl::Status(const v1::VerifyRequest&, v1::VerifyResponse*)>;

// Sends `inputs` to VerifyService through `call`, at most 1000 URLs or 16
// photos (3 MiB) a call, and hands each verdict to `on_verdict` with the
// input it came from ("photo.png#2" for the second code in a photo), and
// each input that yields no code to `on_failure` with why. Progress goes to
// standard error on long batches when `progress` names the command. The
// first failed call's status.
absl::Status VerifyInputs(
    const std::vector<Input>& inputs, const VerifyCall& call,
    const std::function<void(const std::string&, const v1::Verification&)>& on_verdict,
    const std::function<void(const std::string&, absl::string_view)>& on_failure,
    const char* progress, size_t max_cost_per_call = kSignedCostPerCall) {
  const bool show = progress != nullptr && (inputs.size() > kUrlsPerCall || isatty(STDERR_FILENO));
  size_t done = 0;
  v1::VerifyRequest request;
  std::vector<std::string> sources, images;
  size_t image_bytes = 0;
  const auto flush = [&]() -> absl::Status {
    if (request.urls_size() == 0 && request.images_size() == 0) return absl::OkStatus();
    v1::VerifyResponse response;
    if (absl::Status s = call(request, &response); !s.ok()) return s;
    std::vector<int> codes_per_image(images.size() + 1, 0);
    for (const v1::Verification& v : response.verifications()) {
      if (v.image() > 0 && static_cast<size_t>(v.image()) <= images.size()) {
        ++codes_per_image[v.image()];
      }
    }
    std::vector<int> seen(images.size() + 1, 0);
    for (int i = 0; i < response.verifications_size(); ++i) {
      const v1::Verification& v = response.verifications(i);
      if (v.image() == 0) {
        // The URLs come first, in the order sent.
        on_verdict(static_cast<size_t>(i) < sources.size() ? sources[i] : v.url(), v);
      } else if (static_cast<size_t>(v.image()) <= images.size()) {
        const int k = ++seen[v.image()];
        const std::string& name = images[v.image() - 1];
        on_verdict(codes_per_image[v.image()] == 1 ? name : absl::StrCat(name, "#", k), v);
      }
    }
    for (int index : response.images_without_codes()) {
      if (index >= 1 && static_cast<size_t>(index) <= images.size()) {
        on_failure(images[index - 1], "no QR code found in the image");
      }
    }
    done += request.urls_size() + request.images_size();
    if (show) std::cerr << "chemscan " << progress << ": " << done << " of " << inputs.size() << "\n";
    request.Clear();
    sources.clear();
    images.clear();
    image_bytes = 0;
    return absl::OkStatus();
  };
  for (const Input& input : inputs) {
    if (!input.error.empty()) {
      on_failure(input.source, input.error);
      continue;
    }
    if (!input.url.empty()) {
      if (request.urls_size() == kUrlsPerCall || MostCostOf(request) + 1 > max_cost_per_call) {
        if (absl::Status s = flush(); !s.ok()) return s;
      }
      request.add_urls(input.url);
      sources.push_back(input.source);
      continue;
    }
    if (input.image.size() > kImageBytesPerCall) {
      on_failure(input.source, absl::StrCat("the photo is ", input.image.size(),
                                            " bytes; the server reads photos of at most ",
                                            kImageBytesPerCall, " (save it smaller)"));
      continue;
    }
    // What the server would refuse the whole call for (not a PNG or JPEG,
    // over 16 megapixels): this file's failure, not the batch's.
    if (absl::Status readable = render::CheckQrImage(input.image); !readable.ok()) {
      on_failure(input.source, readable.message());
      continue;
    }
    if (request.images_size() == kImagesPerCall ||
        image_bytes + input.image.size() > kImageBytesPerCall ||
        MostCostOf(request) + api::kVerifyMaxCodesPerImage > max_cost_per_call) {
      if (absl::Status s = flush(); !s.ok()) return s;
    }
    request.add_images(input.image);
    images.push_back(input.source);
    image_bytes += input.image.size();
  }
  return flush();
}

int VerifyOnline(const cli::Args& args) {
  const std::vector<Input> inputs = ReadInputs(args.positional());
  // Signed scans (--key) as a registered actor; anonymous ones otherwise.
  std::optional<chemctl::ReadSession> session;
  std::unique_ptr<v1::VerifyService::Stub> anonymous;
  if (args.Has("key")) {
    absl::StatusOr<chemctl::ReadSession> opened = chemctl::ReadSession::Open(args);
    if (!opened.ok()) {
      std::cerr << "chemscan verify: " << opened.status().message() << "\n";
      return 1;
    }
    session.emplace(*std::move(opened));
  } else {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = chemctl::ServerChannel(args);
    if (!channel.ok()) {
      std::cerr << "chemscan verify: " << channel.status().message() << "\n";
      return 2;
    }
    anonymous = v1::VerifyService::NewStub(*channel);
  }
  OnlineReporter reporter(args.Bool("json"), args.Bool("details"));
  // Anonymous scans are limited per address: wait and retry while the
  // server says so.
  const VerifyCall call = [&](const v1::VerifyRequest& request,
                              v1::VerifyResponse* response) -> absl::Status {
    for (int attempt = 0;; ++attempt) {
      absl::Status status;
      if (session) {
        status = session->Call(api::kVerifyMethod, request, response);
      } else {
        std::unique_ptr<grpc::ClientContext> context = chemctl::Context(60);
        grpc::Status s = anonymous->Verify(context.get(), request, response);
        status = s.ok() ? absl::OkStatus() : chemctl::ServerError(s);
      }
      if (!absl::IsResourceExhausted(status) || attempt >= 20) return status;
      if (attempt == 0) {
        std::cerr << "chemscan verify: the server limits scans (" << status.message()
                  << "); waiting and retrying" << (session ? "" : " (--key scans faster)")
                  << "\n";
      }
      absl::SleepFor(absl::Seconds(std::min(10, 1 << std::min(attempt, 3))));
    }
  };
  if (absl::Status s = VerifyInputs(
          inputs, call,
          [&](const std::string& source, const v1::Verification& v) { reporter.Report(source, v); },
          [&](const std::string& source, absl::string_view why) { reporter.Failure(source, why); },
          "verify",
          // An anonymous call may cost no more than the per-address burst.
          session ? kSignedCostPerCall : kAnonymousCostPerCall);
      !s.ok()) {
    std::cerr << "chemscan verify: " << s.message() << "\n";
    return 1;
  }
  if (reporter.checked() == 0) {
    std::cerr << "chemscan verify: no label found in the input\n";
    return 1;
  }
  // Signed scans recorded in the ledger: OBSERVING events of the codes the
  // log accounts for (genuine or not: a scan of an ended package is what
  // the regulators want to see), each with the label it was read from (what
  // proves the scan of a package the observer does not hold: at most
  // kMaxLabelsPerObservation labels an event, so events of that many).
  if (args.Has("observe-at") && !reporter.accounted().empty()) {
    absl::StatusOr<std::vector<uint64_t>> indexes = RecordEvents(
        *session, v1::OBSERVING, reporter.accounted(), args.Get("enterprise"),
        args.Get("observe-at"),
        [&](v1::Event* e) {
          for (const std::string& code : e->codes()) {
            e->add_label_urls(reporter.LabelUrlOf(code));
          }
        },
        std::min(api::kMaxLabelProofsPerObservation, api::kMaxLabelsPerObservation));
    if (!indexes.ok()) {
      std::cerr << "chemscan verify: " << indexes.status().message() << "\n";
      return 1;
    }
    std::cerr << "chemscan verify: recorded the scan of " << reporter.accounted().size()
              << " packages at " << args.Get("observe-at") << " (OBSERVING, log index"
              << (indexes->size() > 1 ? "es" : "");
    for (uint64_t i : *indexes) std::cerr << " " << i;
    std::cerr << ")\n";
  }
  return reporter.failed() == 0 ? 0 : 1;
}

// The genuine package codes in `positional`'s inputs as the server
// verifies them (signed), once each in scan order, and a line for every
// input or code that is not one ("<source>: not booked: <why>").
absl::Status ScanPackages(chemctl::ReadSession& session, const std::vector<std::string>& positional,
                          std::vector<std::string>* scanned, std::vector<std::string>* refused) {
  absl::flat_hash_set<std::string> seen;
  return VerifyInputs(
      ReadInputs(positional),
      [&](const v1::VerifyRequest& request, v1::VerifyResponse* response) {
        return session.Call(api::kVerifyMethod, request, response);
      },
      [&](const std::string& source, const v1::Verification& v) {
        if (!v.has_label() || v.label().assessment() != "genuine") {
          refused->push_back(absl::StrCat(
              source, ": not booked: ",
              v.has_label()
                  ? absl::StrCat(v.label().assessment(), " (", v.label().verdict(), ")")
                  : std::string("a waybill code, not a package")));
          return;
        }
        if (seen.insert(v.label().code()).second) scanned->push_back(v.label().code());
      },
      [&](const std::string& source, absl::string_view why) {
        refused->push_back(absl::StrCat(source, ": ", why));
      },
      nullptr);
}

// Named lists of codes, as receive, ship and stocktake report them: in text
// a line each ("<name> (<count>): <codes>"); in JSON one object,
// {"<key>": "<value>", "<name>": [codes], ...} and then `json_rest` (more
// members, written as JSON, each after a comma).
void PrintCodeLists(
    bool json, absl::string_view key, absl::string_view value,
    std::initializer_list<std::pair<absl::string_view, const std::vector<std::string>*>> lists,
    absl::string_view json_rest = "") {
  if (json) {
    std::cout << "{" << JsonString(key) << ":" << JsonString(value);
    for (const auto& [name, codes] : lists) {
      std::cout << "," << JsonString(name) << ":[";
      for (size_t i = 0; i < codes->size(); ++i) std::cout << (i ? "," : "") << JsonString((*codes)[i]);
      std::cout << "]";
    }
    std::cout << json_rest << "}\n";
    return;
  }
  for (const auto& [name, codes] : lists) {
    std::cout << name << " (" << codes->size() << "):";
    for (const std::string& c : *codes) std::cout << " " << c;
    std::cout << "\n";
  }
}

constexpr char kBookUsage[] =
    "usage: chemscan receive|ship --waybill NUMBER [--carrier USCC] --enterprise USCC\n"
    "                [--site SITE] --server HOST:PORT [--tls-ca FILE] --key FILE\n"
    "                [--passphrase-file F] [--json] INPUT...\n\n"
    "Goods in (receive) or goods out (ship) by scan: reads every code in the\n"
    "photos and URLs (INPUT as for verify), has the server verify them, and books\n"
    "the receipt (or the shipment) of those the e-waybill expects, in one signed\n"
    "event (RECEIVING, or SHIPPING to the waybill's consignee) per 1000 codes, as\n"
    "the actor of --key for --enterprise at --site (default \"main\").\n\n"
    "Expected: for receive, the waybill's shipped codes not yet received; for\n"
    "ship, its listed codes not yet shipped. Reported and changed nothing for:\n"
    "expected but not scanned, scanned but not expected, and codes whose scan is\n"
    "not genuine. Exit status 0 only when every expected code was scanned and\n"
    "booked and nothing else was scanned.\n";

// Goods in or out by scan, against an e-waybill.
int Book(const std::vector<std::string>& argv, v1::BusinessStep step) {
  const char* name = step == v1::RECEIVING ? "receive" : "ship";
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv, {{"waybill", "carrier", "enterprise", "site", "server", "tls-ca", "key",
              "passphrase-file"},
             {"json"}});
  if (!args.ok()) {
    std::cerr << "chemscan " << name << ": " << args.status().message() << " (see --help)\n";
    return 2;
  }
  if (args->help()) {
    std::cout << kBookUsage;
    return 0;
  }
  for (const char* required : {"waybill", "enterprise", "server", "key"}) {
    if (!args->Has(required)) {
      std::cerr << "chemscan " << name << ": --" << required << " is required (see --help)\n";
      return 2;
    }
  }
  if (args->positional().empty()) {
    std::cerr << "chemscan " << name << ": no INPUT given (see --help)\n";
    return 2;
  }
  const auto fail = [&](absl::string_view why) {
    std::cerr << "chemscan " << name << ": " << why << "\n";
    return 1;
  };
  absl::StatusOr<chemctl::ReadSession> session = chemctl::ReadSession::Open(*args);
  if (!session.ok()) return fail(session.status().message());

  // What the waybill expects.
  v1::GetWaybillRequest get;
  get.set_waybill_number(args->Get("waybill"));
  get.set_carrier_uscc(args->Get("carrier"));
  v1::WaybillRecord record;
  if (absl::Status s = session->Call(api::kGetWaybillMethod, get, &record); !s.ok()) {
    return fail(s.message());
  }
  std::set<std::string> expected;
  if (step == v1::RECEIVING) {
    expected.insert(record.shipped().begin(), record.shipped().end());
    for (const std::string& c : record.received()) expected.erase(c);
  } else {
    for (const v1::GoodsLine& line : record.waybill().goods()) {
      expected.insert(line.codes().begin(), line.codes().end());
    }
    for (const std::string& c : record.shipped()) expected.erase(c);
  }

  // What was scanned, as the server verifies it.
  std::vector<std::string> scanned, refused;
  if (absl::Status s = ScanPackages(*session, args->positional(), &scanned, &refused); !s.ok()) {
    return fail(s.message());
  }

  std::vector<std::string> book, unexpected, missing;
  for (const std::string& code : scanned) {
    (expected.count(code) ? book : unexpected).push_back(code);
  }
  const absl::flat_hash_set<std::string> scanned_set(scanned.begin(), scanned.end());
  for (const std::string& code : expected) {
    if (!scanned_set.contains(code)) missing.push_back(code);
  }

  absl::StatusOr<std::vector<uint64_t>> indexes = RecordEvents(
      *session, step, book, args->Get("enterprise"), args->Get("site", "main"),
      [&](v1::Event* e) {
        // A receipt names the waybill too: from rules epoch 16 the ledger
        // checks that the goods came on it.
        e->set_waybill_id(record.waybill().waybill_number());
        if (step == v1::SHIPPING) e->set_consignee_uscc(record.waybill().consignee().uscc());
      });
  if (!indexes.ok()) return fail(indexes.status().message());

  std::string log_indexes = ",\"log_indexes\":[";
  for (size_t i = 0; i < indexes->size(); ++i) {
    absl::StrAppend(&log_indexes, i ? "," : "", (*indexes)[i]);
  }
  log_indexes += "]";
  const bool json = args->Bool("json");
  PrintCodeLists(json, "waybill", record.waybill().waybill_number(),
                 {{step == v1::RECEIVING ? "received" : "shipped", &book},
                  {"expected, not scanned", &missing},
                  {"scanned, not expected (not booked)", &unexpected},
                  {"not booked", &refused}},
                 log_indexes);
  if (!json && !indexes->empty()) {
    std::cout << "booked at log index" << (indexes->size() > 1 ? "es" : "") << ":";
    for (uint64_t i : *indexes) std::cout << " " << i;
    std::cout << "\n";
  }
  return missing.empty() && unexpected.empty() && refused.empty() ? 0 : 1;
}

constexpr char kStocktakeUsage[] =
    "usage: chemscan stocktake --enterprise USCC --site SITE --server HOST:PORT\n"
    "                [--tls-ca FILE] --key FILE [--passphrase-file F] [--json] INPUT...\n\n"
    "A stock-take by scan: reads every code in the photos and URLs (INPUT as for\n"
    "verify), has the server verify them, and compares them with what the ledger\n"
    "says is at --site of --enterprise (LedgerService.ListStock: packages in its\n"
    "custody whose last event there named that site, active). Reports what the\n"
    "ledger lists and was not scanned, and what was scanned and the ledger does\n"
    "not list here; changes nothing. Pallet codes are left out: scan what is on\n"
    "them. Exit status 0 only when the two agree.\n";

int Stocktake(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv, {{"enterprise", "site", "server", "tls-ca", "key", "passphrase-file"}, {"json"}});
  if (!args.ok()) {
    std::cerr << "chemscan stocktake: " << args.status().message() << " (see --help)\n";
    return 2;
  }
  if (args->help()) {
    std::cout << kStocktakeUsage;
    return 0;
  }
  for (const char* required : {"enterprise", "site", "server", "key"}) {
    if (!args->Has(required)) {
      std::cerr << "chemscan stocktake: --" << required << " is required (see --help)\n";
      return 2;
    }
  }
  const auto fail = [](absl::string_view why) {
    std::cerr << "chemscan stocktake: " << why << "\n";
    return 1;
  };
  absl::StatusOr<chemctl::ReadSession> session = chemctl::ReadSession::Open(*args);
  if (!session.ok()) return fail(session.status().message());
  // What the ledger lists at the site, page by page.
  std::set<std::string> listed;
  v1::ListStockRequest request;
  request.set_enterprise_uscc(args->Get("enterprise"));
  request.set_site(args->Get("site"));
  do {
    v1::Stock page;
    if (absl::Status s = session->Call(api::kListStockMethod, request, &page); !s.ok()) {
      return fail(s.message());
    }
    for (const v1::Stock::Item& item : page.items()) {
      if (!item.aggregate()) listed.insert(item.code());
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());

  std::vector<std::string> scanned, refused;
  if (absl::Status s = ScanPackages(*session, args->positional(), &scanned, &refused); !s.ok()) {
    return fail(s.message());
  }
  std::vector<std::string> counted, missing, extra;
  for (const std::string& code : scanned) (listed.count(code) ? counted : extra).push_back(code);
  const absl::flat_hash_set<std::string> scanned_set(scanned.begin(), scanned.end());
  for (const std::string& code : listed) {
    if (!scanned_set.contains(code)) missing.push_back(code);
  }
  PrintCodeLists(args->Bool("json"), "site", args->Get("site"),
                 {{"counted", &counted},
                  {"on the ledger here, not scanned", &missing},
                  {"scanned, not on the ledger here", &extra},
                  {"not counted", &refused}});
  return missing.empty() && extra.empty() && refused.empty() ? 0 : 1;
}

constexpr char kGateUsage[] =
    "usage: chemscan gate --park PARK --gate GATE --in|--out --server HOST:PORT\n"
    "                [--tls-ca FILE] --key FILE [--passphrase-file F] INPUT\n\n"
    "A park gate (化工园区 车道控制): reads the e-waybill code (电子运单二维码) in\n"
    "the photo or URL, has the server verify it, and records the vehicle's entry\n"
    "(--in) or exit (--out) at GATE of PARK, signed by the gate actor of --key.\n"
    "Prints \"entry recorded\" (or \"exit recorded\"), or the reason entry is\n"
    "refused (a cancelled, closed or pending waybill, an unlicensed carrier, a\n"
    "blacklisted party); exit status 0 only when recorded.\n";

int Gate(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv, {{"park", "gate", "server", "tls-ca", "key", "passphrase-file"}, {"in", "out"}});
  if (!args.ok()) {
    std::cerr << "chemscan gate: " << args.status().message() << " (see --help)\n";
    return 2;
  }
  if (args->help()) {
    std::cout << kGateUsage;
    return 0;
  }
  for (const char* required : {"park", "gate", "server", "key"}) {
    if (!args->Has(required)) {
      std::cerr << "chemscan gate: --" << required << " is required (see --help)\n";
      return 2;
    }
  }
  if (args->Bool("in") == args->Bool("out") || args->positional().size() != 1) {
    std::cerr << "chemscan gate: one of --in and --out, and one INPUT (see --help)\n";
    return 2;
  }
  absl::StatusOr<chemctl::ReadSession> session = chemctl::ReadSession::Open(*args);
  if (!session.ok()) {
    std::cerr << "chemscan gate: " << session.status().message() << "\n";
    return 1;
  }
  // The waybill the code names, as the server verifies it.
  std::optional<v1::ResolveWaybillCodeResponse> waybill;
  std::string why;
  absl::Status verified = VerifyInputs(
      ReadInputs(args->positional()),
      [&](const v1::VerifyRequest& request, v1::VerifyResponse* response) {
        return session->Call(api::kVerifyMethod, request, response);
      },
      [&](const std::string&, const v1::Verification& v) {
        if (v.has_waybill() && !waybill) {
          waybill = v.waybill();
        } else if (!v.has_waybill()) {
          why = "a package label, not an e-waybill code";
        }
      },
      [&](const std::string&, absl::string_view reason) { why = std::string(reason); }, nullptr);
  if (!verified.ok()) {
    std::cerr << "chemscan gate: " << verified.message() << "\n";
    return 1;
  }
  if (!waybill) {
    std::cout << "entry refused: no e-waybill code read (" << why << ")\n";
    return 1;
  }
  if (waybill->waybill_number().empty()) {
    std::cout << "entry refused: the code is not a waybill of this platform ("
              << waybill->verdict() << ": " << waybill->detail() << ")\n";
    return 1;
  }
  v1::WaybillRequest r;
  r.set_request_id(chemctl::RequestId(cli::Args()));
  v1::GatePassage* g = r.mutable_gate();
  g->set_waybill_number(waybill->waybill_number());
  g->set_carrier_uscc(waybill->carrier_uscc());
  g->set_park_id(args->Get("park"));
  g->set_gate_id(args->Get("gate"));
  g->set_direction(args->Bool("in") ? v1::GatePassage::ENTRY : v1::GatePassage::EXIT);
  g->mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  r.set_deployment(session->origin());
  absl::StatusOr<v1::SignedEnvelope> envelope =
      envelope::Sign(api::kWaybillContext, r.SerializeAsString(), session->key());
  if (!envelope.ok()) {
    std::cerr << "chemscan gate: " << envelope.status().message() << "\n";
    return 1;
  }
  auto waybills = v1::WaybillService::NewStub(session->channel());
  v1::WaybillResult result;
  grpc::Status status = waybills->Submit(chemctl::Context().get(), *envelope, &result);
  const char* what = args->Bool("in") ? "entry" : "exit";
  if (status.ok() && result.code() != 0) {
    status = grpc::Status(static_cast<grpc::StatusCode>(result.code()), result.message());
  }
  if (!status.ok()) {
    std::cout << what
              << (chemctl::OutcomeUnknown(status) ? " not answered (it may have been recorded: "
                                                    "look at the waybill before scanning again)"
                                                  : " refused")
              << ": waybill " << waybill->waybill_number() << " of " << waybill->carrier_uscc()
              << ": " << chemctl::ServerError(status).message() << "\n";
    return 1;
  }
  const v1::PublicWaybillView& view = waybill->public_view();
  std::cout << what << " recorded: waybill " << waybill->waybill_number() << " of "
            << waybill->carrier_uscc() << ", vehicle " << view.vehicle_plate() << ", at "
            << args->Get("park") << " gate " << args->Get("gate") << " (log index "
            << result.log_index() << ")\n";
  return 0;
}

int Verify(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv, {{"trust-list", "trust-root", "server", "tls-ca", "key", "passphrase-file",
              "observe-at", "enterprise"},
             {"json", "accept-expired", "details"}});
  if (!args.ok()) {
    std::cerr << "chemscan verify: " << args.status().message() << " (see --help)\n";
    return 2;
  }
  if (args->help()) {
    std::cout << kUsage;
    return 0;
  }
  if (args->Has("server")) {
    if (args->Has("trust-list") || args->Has("trust-root") || args->Bool("accept-expired")) {
      std::cerr << "chemscan verify: --server asks the server; --trust-list, --trust-root and "
                   "--accept-expired are for offline verification (see --help)\n";
      return 2;
    }
    if (args->positional().empty()) {
      std::cerr << "chemscan verify: no INPUT given (see --help)\n";
      return 2;
    }
    if (args->Has("observe-at") && (!args->Has("key") || !args->Has("enterprise"))) {
      std::cerr << "chemscan verify: --observe-at records signed scans: it needs --key and "
                   "--enterprise (see --help)\n";
      return 2;
    }
    return VerifyOnline(*args);
  }
  if (args->Has("key") || args->Bool("details") || args->Has("observe-at")) {
    std::cerr << "chemscan verify: --key, --details and --observe-at go with --server (see "
                 "--help)\n";
    return 2;
  }
  absl::StatusOr<std::string> list_path = args->Required("trust-list");
  if (!list_path.ok()) {
    std::cerr << "chemscan verify: " << list_path.status().message() << " (see --help)\n";
    return 2;
  }
  absl::StatusOr<std::string> root_text = PinnedTrustRoot(*args);
  if (!root_text.ok()) {
    std::cerr << "chemscan verify: " << root_text.status().message() << "\n";
    return 2;
  }
  if (args->positional().empty()) {
    std::cerr << "chemscan verify: no INPUT given (see --help)\n";
    return 2;
  }
  absl::StatusOr<crypto::NoteVerifier> root = crypto::NoteVerifier::FromVerifierKey(*root_text);
  if (!root.ok()) {
    std::cerr << "chemscan verify: --trust-root: " << root.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<std::string> list_note = cli::ReadFileOrStdin(*list_path);
  if (!list_note.ok()) {
    std::cerr << "chemscan verify: " << list_note.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<crypto::TrustList> trust = crypto::OpenTrustList(*list_note, *root);
  if (!trust.ok()) {
    std::cerr << "chemscan verify: trust list " << *list_path << ": "
              << trust.status().message() << "\n";
    return 1;
  }

  // A list past its expiry (or from before lists expired) may predate a
  // revocation: refused, unless the user takes that risk and is told so.
  Reporter reporter;
  reporter.json = args->Bool("json");
  if (!trust->expires || api::TodayInChina() > *trust->expires) {
    const std::string why =
        trust->expires
            ? absl::StrCat("expired on ", absl::FormatCivilTime(*trust->expires))
            : std::string("has no expiry (format v1)");
    if (!args->Bool("accept-expired")) {
      std::cerr << "chemscan verify: trust list " << *list_path << " " << why
                << ": a key revoked since would still pass. Fetch a current one "
                   "(LabelService.GetTrustList), or give --accept-expired\n";
      return 1;
    }
    std::cerr << "chemscan verify: warning: trust list " << *list_path << " " << why
              << "; every verdict below is as of the list's issue date\n";
    reporter.warning = absl::StrCat(
        "trust list ",
        trust->expires ? absl::StrCat("expired ", absl::FormatCivilTime(*trust->expires))
                       : std::string("without expiry"),
        ": revocations since do not show");
  }
  for (const Input& input : ReadInputs(args->positional())) {
    if (!input.error.empty()) {
      reporter.Report(input.source, "malformed", "", input.error);
      continue;
    }
    if (!input.url.empty()) {
      reporter.Check(input.source, input.url, *trust);
      continue;
    }
    absl::StatusOr<std::vector<std::string>> codes = render::ReadQrCodes(input.image);
    if (!codes.ok()) {
      reporter.Report(input.source, "malformed", "", codes.status().message());
      continue;
    }
    if (codes->empty()) {
      reporter.Report(input.source, "malformed", "", "no QR code found in the image");
      continue;
    }
    for (size_t i = 0; i < codes->size(); ++i) {
      reporter.Check(codes->size() == 1 ? input.source : absl::StrCat(input.source, "#", i + 1),
                     (*codes)[i], *trust);
    }
  }
  if (reporter.checked == 0) {
    std::cerr << "chemscan verify: no label found in the input\n";
    return 1;
  }
  return reporter.failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace chemledger::chemscan

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? std::cerr : std::cout) << chemledger::chemscan::kUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "verify") {
    return chemledger::chemscan::Verify(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (args[0] == "gate") {
    return chemledger::chemscan::Gate(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (args[0] == "stocktake") {
    return chemledger::chemscan::Stocktake(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (args[0] == "receive" || args[0] == "ship") {
    return chemledger::chemscan::Book(std::vector<std::string>(args.begin() + 1, args.end()),
                                      args[0] == "receive" ? chemledger::v1::RECEIVING
                                                           : chemledger::v1::SHIPPING);
  }
  std::cerr << "chemscan: unknown command '" << args[0] << "' (see chemscan --help)\n";
  return 2;
}
