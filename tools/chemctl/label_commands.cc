// chemctl label ...: make, render and trust offline label material by hand
// (the label service does the same for whole batches).

#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "api/china_time.h"
#include "api/net_quantity.h"
#include "api/wire.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "crypto/checkpoint.h"
#include "crypto/key_files.h"
#include "crypto/keys.h"
#include "crypto/label.h"
#include "crypto/waybill_code.h"
#include "crypto/trust_list.h"
#include "render/qr.h"
#include "services/registry/catalogue.h"
#include "tools/chemctl/command.h"
#include "tools/chemctl/common.h"

namespace chemledger::chemctl {
namespace {

absl::Status Make(const cli::Args& args) {
  absl::StatusOr<crypto::SigningKey> key = cli::SigningKeyArg(args, "key");
  if (!key.ok()) return key.status();
  crypto::LabelClaims c;
  for (auto [flag, field] : std::vector<std::pair<const char*, std::string*>>{
           {"resolver", &c.resolver}, {"enterprise", &c.enterprise}, {"product", &c.product},
           {"batch", &c.batch}, {"unit", &c.unit}, {"un", &c.un_number}}) {
    absl::StatusOr<std::string> v = args.Required(flag);
    if (!v.ok()) return v.status();
    *field = *v;
  }
  c.cas = args.Get("cas");
  absl::StatusOr<uint64_t> serial = args.Uint("serial");
  if (!serial.ok()) return serial.status();
  c.serial = *serial;
  absl::StatusOr<std::string> date = args.Required("date");
  if (!date.ok()) return date.status();
  absl::StatusOr<absl::CivilDay> day = DayArg("--date", *date);
  if (!day.ok()) return day.status();
  c.production_date = *day;
  absl::StatusOr<std::string> quantity = args.Required("quantity");
  if (!quantity.ok()) return quantity.status();
  absl::StatusOr<uint32_t> milli = api::ParseNetQuantity("--quantity", *quantity);
  if (!milli.ok()) return milli.status();
  c.quantity_milli = *milli;
  absl::StatusOr<uint8_t> flags = registry::ParseControlFlags(args.Get("flags", "-"));
  if (!flags.ok()) return absl::InvalidArgumentError(absl::StrCat("--flags: ", flags.status().message()));
  c.control_flags = *flags;
  absl::StatusOr<std::string> url = crypto::MakeLabelUrl(c, *key);
  if (!url.ok()) return url.status();
  std::cout << *url << "\n";
  return absl::OkStatus();
}

absl::Status Render(const cli::Args& args) {
  if (args.positional().size() != 1) return absl::InvalidArgumentError("give exactly one label URL");
  if (!args.Has("png") && !args.Has("svg")) {
    return absl::InvalidArgumentError("give --png FILE and/or --svg FILE");
  }
  absl::StatusOr<uint64_t> module_px = args.Uint("module-px", 4);
  if (!module_px.ok()) return module_px.status();
  if (*module_px < 1 || *module_px > 64) {
    return absl::InvalidArgumentError("--module-px must be 1 to 64");
  }
  const std::string& url = args.positional()[0];
  if (crypto::IsWaybillCodeUrl(url)) {
    if (auto parsed = crypto::ParseWaybillCodeUrl(url); !parsed.ok()) return parsed.status();
  } else if (auto parsed = crypto::ParseLabelUrl(url); !parsed.ok()) {
    return parsed.status();
  }
  absl::StatusOr<render::QrSymbol> qr = render::EncodeQr(url);
  if (!qr.ok()) return qr.status();
  if (args.Has("png")) {
    absl::StatusOr<std::string> png = render::QrToPng(*qr, static_cast<int>(*module_px));
    if (!png.ok()) return png.status();
    if (absl::Status s = WriteFile(args.Get("png"), *png); !s.ok()) return s;
  }
  if (args.Has("svg")) {
    if (absl::Status s = WriteFile(args.Get("svg"), render::QrToSvg(*qr, static_cast<int>(*module_px)));
        !s.ok()) {
      return s;
    }
  }
  std::cout << "QR version " << qr->version() << "-M, " << qr->size << " modules\n";
  return absl::OkStatus();
}

absl::Status TrustListCommand(const cli::Args& args) {
  absl::StatusOr<crypto::SigningKey> root_key = cli::SigningKeyArg(args, "root-key");
  if (!root_key.ok()) return root_key.status();
  absl::StatusOr<std::string> resolver = args.Required("resolver");
  if (!resolver.ok()) return resolver.status();
  absl::StatusOr<crypto::NoteSigner> signer = crypto::NoteSigner::Create(
      args.Get("root-name", absl::StrCat(*resolver, "/label-trust")), *std::move(root_key));
  if (!signer.ok()) return signer.status();
  crypto::TrustList list;
  list.resolver = *resolver;
  absl::StatusOr<absl::CivilDay> issued =
      DayArg("--issued", args.Get("issued", absl::FormatCivilTime(api::TodayInChina())));
  if (!issued.ok()) return issued.status();
  list.issued = *issued;
  absl::StatusOr<absl::CivilDay> expires = DayArg(
      "--expires", args.Get("expires", absl::FormatCivilTime(*issued + 7)));
  if (!expires.ok()) return expires.status();
  list.expires = *expires;
  for (const std::string& spec : args.positional()) {
    const std::vector<std::string> f = absl::StrSplit(spec, ':');
    if (f.size() != 3 && f.size() != 4) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key spec '", spec, "' must be PUBLIC_KEY_FILE:FROM:UNTIL[:REVOKED]"));
    }
    absl::StatusOr<crypto::VerifyingKey> key = crypto::LoadVerifyingKey(f[0]);
    if (!key.ok()) return key.status();
    absl::StatusOr<absl::CivilDay> from = DayArg("valid-from", f[1]);
    if (!from.ok()) return from.status();
    absl::StatusOr<absl::CivilDay> until = DayArg("valid-until", f[2]);
    if (!until.ok()) return until.status();
    crypto::TrustedLabelKey entry{*key, *from, *until, absl::nullopt};
    if (f.size() == 4) {
      absl::StatusOr<absl::CivilDay> revoked = DayArg("revoked", f[3]);
      if (!revoked.ok()) return revoked.status();
      entry.revoked_on = *revoked;
    }
    list.keys.push_back(std::move(entry));
  }
  absl::StatusOr<std::string> note = crypto::SignTrustList(list, *signer);
  if (!note.ok()) return note.status();
  std::cout << *note;
  std::cerr << "trust root (give this to verifiers): " << signer->verifier().VerifierKeyString()
            << "\n";
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> LabelCommands() {
  return {
      {"label make",
       "sign one package label URL",
       "usage: chemctl label make --key FILE --resolver HOST --enterprise USCC --product P\n"
       "           --batch B --serial N --date YYYY-MM-DD --quantity Q --unit UNIT --un NNNN\n"
       "           [--cas CAS] [--flags 剧毒,易制爆,易制毒,重点监管,高危] [--passphrase-file F]\n\n"
       "Prints the signed label URL (docs/label-format.md). --quantity is the net\n"
       "quantity per package in UNIT (UNECE Rec 20, e.g. KGM, LTR), up to 3 decimals.\n",
       {{"key", "resolver", "enterprise", "product", "batch", "serial", "date", "quantity", "unit",
         "un", "cas", "flags", "passphrase-file"},
        {}},
       Make},
      {"label render",
       "write a label URL's QR code as PNG and/or SVG",
       "usage: chemctl label render URL [--png FILE] [--svg FILE] [--module-px N]\n\n"
       "Encodes the label URL as a QR code (error correction M, alphanumeric mode)\n"
       "with a 4-module quiet zone, N pixels per module (default 4).\n",
       {{"png", "svg", "module-px"}, {}},
       Render},
      {"label trust-list",
       "sign a label trust list for offline verifiers",
       "usage: chemctl label trust-list --root-key FILE --resolver HOST [--root-name NAME]\n"
       "           [--issued YYYY-MM-DD] [--expires YYYY-MM-DD] [--passphrase-file F]\n"
       "           KEYSPEC...\n\n"
       "KEYSPEC is PUBLIC_KEY_FILE:FROM:UNTIL[:REVOKED] (dates YYYY-MM-DD), one per\n"
       "label key. --issued defaults to today in China time (UTC+8), as the\n"
       "server's lists; the list expires a week after it is issued unless\n"
       "--expires says otherwise. Prints the signed trust list; prints on stderr the trust-root\n"
       "verifier key that chemscan verify --trust-root needs (NAME defaults to\n"
       "HOST/label-trust).\n",
       {{"root-key", "resolver", "root-name", "issued", "expires", "passphrase-file"}, {}},
       TrustListCommand},
  };
}

}  // namespace chemledger::chemctl
