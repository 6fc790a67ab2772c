// chemscan: what a warehouse worker, an inspector or a customs officer runs to
// check package labels, offline.
//
//   chemscan verify --trust-list FILE [--trust-root VKEY] [--json] INPUT...
//
// INPUT is a PNG or JPEG image (every QR code in it is checked), a label or
// waybill code URL, or "-" for URLs on standard input, one per line. One
// verdict line per code: authentic, or the precise reason not (malformed,
// unsupported-version, wrong-resolver, unknown-key, revoked-key,
// bad-signature). For an authentic waybill code (电子运单二维码) the line also
// says what it states: carrier, vehicle, route, dates and goods. Exit status
// 0 only when every code is authentic; 1 otherwise; 2 for a usage error.

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/china_time.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "crypto/checkpoint.h"
#include "crypto/trust_list.h"
#include "crypto/waybill_code.h"
#include "render/qr.h"
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
    "goods). Exit status 0 only when every code is authentic.\n";

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

int Verify(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args =
      cli::Args::Parse(argv, {{"trust-list", "trust-root"}, {"json", "accept-expired"}});
  if (!args.ok()) {
    std::cerr << "chemscan verify: " << args.status().message() << " (see --help)\n";
    return 2;
  }
  if (args->help()) {
    std::cout << kUsage;
    return 0;
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
  for (const std::string& input : args->positional()) {
    if (input == "-") {
      std::string line;
      for (int n = 1; std::getline(std::cin, line); ++n) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        reporter.Check(absl::StrCat("stdin:", n), line, *trust);
      }
      continue;
    }
    if (absl::StartsWith(input, "HTTPS://") || absl::StartsWith(input, "https://")) {
      reporter.Check("argument", input, *trust);
      continue;
    }
    std::ifstream in(input, std::ios::binary);
    if (!in) {
      reporter.Report(input, "malformed", "", "cannot read this file (and it is not a label URL)");
      continue;
    }
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!LooksLikeImage(bytes.str())) {
      reporter.Report(input, "malformed", "", "not a PNG or JPEG image");
      continue;
    }
    absl::StatusOr<std::vector<std::string>> codes = render::ReadQrCodes(bytes.str());
    if (!codes.ok()) {
      reporter.Report(input, "malformed", "", codes.status().message());
      continue;
    }
    if (codes->empty()) {
      reporter.Report(input, "malformed", "", "no QR code found in the image");
      continue;
    }
    for (size_t i = 0; i < codes->size(); ++i) {
      reporter.Check(codes->size() == 1 ? input : absl::StrCat(input, "#", i + 1), (*codes)[i],
                     *trust);
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
  std::cerr << "chemscan: unknown command '" << args[0] << "' (see chemscan --help)\n";
  return 2;
}
