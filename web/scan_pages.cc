#include "web/scan_pages.h"

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "api/china_time.h"
#include "api/net_quantity.h"
#include "render/pictograms.h"
#include "web/html.h"

namespace chemledger::web {
namespace {

// The text in the page's language.
absl::string_view T(const PageRequest& r, absl::string_view zh, absl::string_view en) {
  return r.language == Language::kChinese ? zh : en;
}

// Why a code the log does not account for is refused, in a fixed text per
// verdict: never the verifier's detail, which quotes what the code's maker
// wrote into it (a forged serial reading "正品，请致电 400..." must not show
// on the platform's own page).
absl::string_view WhyRefused(absl::string_view verdict, const PageRequest& r) {
  if (verdict == "malformed") {
    return T(r, "二维码内容不是本平台的标签或运单格式。",
             "The code is not in the platform's label or waybill format.");
  }
  if (verdict == "unsupported-version") {
    return T(r, "二维码的格式版本本平台不认识。",
             "The code's format version is not one this "
             "platform knows.");
  }
  if (verdict == "wrong-resolver") {
    return T(r, "二维码属于另一个平台或地址。", "The code names another platform's address.");
  }
  if (verdict == "unknown-key") {
    return T(r, "签名所用的密钥不是本平台的。",
             "It is signed by a key that is not this "
             "platform's.");
  }
  if (verdict == "revoked-key") {
    return T(r, "签名所用的密钥已被吊销，且账本中没有吊销前的签发记录。",
             "It is signed by a revoked key, and the ledger holds no issuance of it from before "
             "the revocation.");
  }
  if (verdict == "bad-signature") {
    return T(r, "签名不符：内容被改动过或是伪造的。",
             "The signature does not match: the content was altered or forged.");
  }
  if (verdict == "not-issued") {
    return T(r, "签名有效，但账本中没有这样的签发记录。",
             "The signature verifies, but the ledger holds no such issuance.");
  }
  return T(r, "账本中没有此码。", "The ledger does not hold this code.");
}

// Warnings that change what the holder of a genuine label must do now: the
// page's header says so in colour, not only the list below it.
bool CallsForCare(v1::ScanWarningKind kind) {
  switch (kind) {
    case v1::PACKAGE_LOST:
    case v1::PACKAGE_ON_HOLD:
    case v1::PACKAGE_RECALLED:
    case v1::IN_TRANSIT_ELSEWHERE:
      return true;
    default:
      return false;
  }
}

constexpr absl::string_view kStyle =
    "body{margin:0;font:16px/1.45 system-ui,-apple-system,'PingFang SC','Microsoft YaHei',"
    "sans-serif;color:#1b1b1b;background:#f4f4f4}"
    "header{padding:14px 16px;color:#fff}"
    "header .word{font-size:44px;font-weight:700;line-height:1.1}"
    "header .what{font-size:15px;margin-top:4px}"
    ".ok{background:#1b7a35}.warn{background:#b35300}.bad{background:#c0262d}"
    ".muted{background:#5b5b5b}"
    "main{padding:4px 12px 16px}"
    "section{background:#fff;border-radius:8px;margin:10px 0;padding:10px 12px}"
    "h2{font-size:17px;margin:0 0 6px}h3{font-size:15px;margin:8px 0 2px}"
    "ul{margin:4px 0;padding-left:20px}li{margin:3px 0}"
    ".alert{border:2px solid #c0262d;background:#fff3f3}"
    ".alert li{color:#8c1219;font-weight:600}"
    ".pics img{width:76px;height:76px;margin:2px}"
    ".signal{font-size:22px;font-weight:700;color:#c0262d}"
    "dl{margin:0;display:grid;grid-template-columns:auto 1fr;gap:3px 10px}"
    "main{overflow-wrap:anywhere}dt{color:#555}dd{margin:0;word-break:break-all}"
    ".phone{font-size:20px;font-weight:700}"
    "table{border-collapse:collapse;width:100%;font-size:14px}"
    "td,th{border-bottom:1px solid #ddd;padding:4px;text-align:left;vertical-align:top}"
    "small,.na{color:#666}"
    "footer{padding:8px 16px 24px;font-size:13px;color:#555}";

std::string Head(absl::string_view title, const PageRequest& r) {
  return absl::StrCat(
      "<!doctype html><html lang=\"", T(r, "zh-CN", "en"),
      "\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
      "content=\"width=device-width,initial-scale=1\"><meta name=\"robots\" "
      "content=\"noindex\"><title>",
      Escape(title), "</title><style>", kStyle, "</style></head><body>");
}

std::string Foot(const PageRequest& r) {
  // Relative to the page itself: no path from the request goes into a link.
  const absl::string_view other = T(r, "?lang=en", "?lang=zh");
  return absl::StrCat("<footer><a href=\"", other, "\">",
                      T(r, "English", "中文"), "</a> · <a href=\"/blacklist",
                      T(r, "", "?lang=en"), "\">", T(r, "黑名单", "Blacklist"),
                      "</a> · ChemLedger ",
                      T(r, "一企一品一码", "one enterprise, one product, one code"),
                      "</footer></body></html>");
}

// What a page shows of one registered text (a name, an address, a reason),
// of a statement list, and of a link: the page stays within kMaxPageBytes
// whatever a registration holds (the SDS has the rest).
constexpr size_t kMaxTextShown = 300;
constexpr int kMaxStatementsShown = 30;
constexpr size_t kMaxLinkShown = 512;
// A text the registry or the reference tables already bound (a supplier's
// first aid, a UN number's guidance): shown whole, this only a backstop.
constexpr size_t kWholeText = 4096;

// What a label page shows of a registration's texts. A page over budget as
// usual (texts that escaping makes several times longer) is made again
// compact, within the budget for any registration the registry accepts.
struct Shown {
  size_t text;     // a name, an address, a reason
  int statements;  // of each list
  size_t link;     // the SDS link
  size_t safety;   // first aid, fire fighting, spills
};
constexpr Shown kUsual{kMaxTextShown, kMaxStatementsShown, kMaxLinkShown, kWholeText};
constexpr Shown kCompact{100, 10, 128, 300};

// <dt>name</dt><dd>value</dd>, for a value that is there (at most
// `max_bytes` of it).
void Row(std::string* out, absl::string_view name, absl::string_view value,
         size_t max_bytes = kMaxTextShown) {
  if (value.empty()) return;
  absl::StrAppend(out, "<dt>", Escape(name), "</dt><dd>", Escape(Clip(value, max_bytes)), "</dd>");
}

// "<li>N more: see the SDS</li>" for a list cut at kMaxStatementsShown.
std::string MoreStatements(int more, const PageRequest& r) {
  if (more <= 0) return "";
  return absl::StrCat("<li class=\"na\">",
                      r.language == Language::kChinese
                          ? absl::StrCat("另有 ", more, " 条，见安全技术说明书（SDS）。")
                          : absl::StrCat(more, " more: see the safety data sheet (SDS)."),
                      "</li>");
}

std::string ChinaTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(t.seconds()),
                          api::ChinaTimeZone());
}

std::string UnitText(const PageRequest& r, absl::string_view unit) {
  if (unit == "KGM") return "kg";
  if (unit == "GRM") return "g";
  if (unit == "TNE") return "t";
  if (unit == "LTR") return "L";
  if (unit == "MLT") return "mL";
  if (unit == "MTQ") return "m³";
  if (unit == "H87") return std::string(T(r, "件", "pieces"));
  return std::string(unit);
}

std::string TelLink(absl::string_view phone) {
  std::string digits;
  for (char c : phone) {
    if ((c >= '0' && c <= '9') || c == '+') digits += c;
  }
  return absl::StrCat("<a class=\"phone\" href=\"tel:", Escape(digits), "\">", Escape(phone),
                      "</a>");
}

// ---------------------------------------------------------------------------
// Labels.

std::string WarningText(const v1::ScanWarning& w, const PageRequest& r) {
  if (r.language == Language::kEnglish) return w.text();
  switch (w.kind()) {
    case v1::LABEL_KEY_REVOKED:
      return "签发此标签的密钥已在本包装签发之后被吊销：本标签签发在先，其信息仍然有效。";
    case v1::CODE_VOIDED:
      return "此码已作废：任何包装都不应带有此标签，它可能是复制的。";
    case v1::PACKAGE_ENDED:
      return "此包装已用完或已处置：现在扫到的标签可能被复制到了其他容器上。";
    case v1::PACKAGE_LOST:
      return "此包装已报告丢失或被盗：请远离，拨打 110 或 119，并拨打下方的应急电话。";
    case v1::SUPPLIER_BLACKLISTED:
      return "供应商已被列入黑名单。";
    case v1::IN_TRANSIT_ELSEWHERE:
      return "此包装正按电子运单运输中，而扫描者不是其承运人或收货人。";
    case v1::PACKAGE_ON_HOLD:
      return "此包装已被封存（暂扣）：不得移动或使用。";
    case v1::PACKAGE_RECALLED:
      return "此包装已被供应商或监管部门召回：请勿使用，退还供应商。";
    default:
      return w.text();
  }
}

// The statement's text in the page's language; the English where the
// Chinese table lacks it (said so); "not available" where both do.
std::string StatementItem(absl::string_view code, const reference::ReferenceTables& tables,
                          const PageRequest& r) {
  std::string out = absl::StrCat("<li><b>", Escape(code), "</b> ");
  if (std::optional<std::string> text = tables.StatementText(code, r.language)) {
    absl::StrAppend(&out, Escape(*text));
  } else if (std::optional<std::string> en =
                 r.language == Language::kChinese
                     ? tables.StatementText(code, Language::kEnglish)
                     : std::nullopt) {
    absl::StrAppend(&out, "<span lang=\"en\">", Escape(*en), "</span> <small>（中文文本暂缺）</small>");
  } else {
    absl::StrAppend(&out, "<span class=\"na\">", T(r, "（文本暂缺）", "(text not available)"),
                    "</span>");
  }
  absl::StrAppend(&out, "</li>");
  return out;
}

void PrecautionarySection(const v1::Product& p, const reference::ReferenceTables& tables,
                          const PageRequest& r, const Shown& limits, std::string* out) {
  if (p.precautionary_statements().empty()) {
    absl::StrAppend(out, "<section><h2>", T(r, "防范说明", "Precautionary statements"),
                    "</h2><p class=\"na\">",
                    T(r, "供应商未登记防范说明。", "The supplier registered none."),
                    "</p></section>");
    return;
  }
  struct Group {
    char digit;
    absl::string_view zh, en;
  };
  const Group groups[] = {{'1', "一般", "General"},
                          {'2', "预防措施", "Prevention"},
                          {'3', "事故响应", "Response"},
                          {'4', "安全储存", "Storage"},
                          {'5', "废弃处置", "Disposal"}};
  absl::StrAppend(out, "<section><h2>", T(r, "防范说明", "Precautionary statements"), "</h2>");
  const int shown = std::min(p.precautionary_statements_size(), limits.statements);
  for (const Group& g : groups) {
    std::string items;
    for (int i = 0; i < shown; ++i) {
      const std::string& code = p.precautionary_statements(i);
      if (code.size() > 1 && code[1] == g.digit) {
        absl::StrAppend(&items, StatementItem(code, tables, r));
      }
    }
    if (!items.empty()) {
      absl::StrAppend(out, "<h3>", T(r, g.zh, g.en), "</h3><ul>", items, "</ul>");
    }
  }
  if (shown < p.precautionary_statements_size()) {
    absl::StrAppend(out, "<ul>", MoreStatements(p.precautionary_statements_size() - shown, r),
                    "</ul>");
  }
  absl::StrAppend(out, "</section>");
}

void SafetyText(absl::string_view title, const std::string& text, const PageRequest& r,
                const Shown& limits, std::string* out) {
  absl::StrAppend(out, "<section><h2>", Escape(title), "</h2>");
  if (text.empty()) {
    absl::StrAppend(out, "<p class=\"na\">",
                    T(r, "供应商未登记，请查阅安全技术说明书（SDS）。",
                      "Not registered by the supplier: see the safety data sheet (SDS)."),
                    "</p>");
  } else {
    absl::StrAppend(out, "<p>", Escape(Clip(text, limits.safety)), "</p>");
  }
  absl::StrAppend(out, "</section>");
}

void SafetyInformation(const v1::ResolveLabelResponse& scan,
                       const reference::ReferenceTables& tables, const PageRequest& r,
                       const Shown& limits, std::string* out) {
  const v1::Product& p = scan.product();
  // Who to call comes first: it is what a person next to a leaking drum
  // needs.
  if (!p.emergency_phone().empty()) {
    absl::StrAppend(out, "<section><h2>", T(r, "应急咨询电话（24小时）", "Emergency phone (24 h)"),
                    "</h2>", TelLink(p.emergency_phone()), "</section>");
  }
  absl::StrAppend(out, "<section><h2>", Escape(Clip(p.name_zh(), limits.text)),
                  "<br><small lang=\"en\">", Escape(Clip(p.name_en(), limits.text)),
                  "</small></h2><dl>");
  Row(out, "CAS", p.cas());
  Row(out, T(r, "联合国编号", "UN number"), p.un_number().empty() ? "" : "UN " + p.un_number());
  Row(out, T(r, "危险类别", "Hazard class"), p.hazard_class());
  Row(out, T(r, "包装类别", "Packing group"), p.packing_group());
  if (p.catalogue_number() > 0) {
    Row(out, T(r, "危险化学品目录序号", "Catalogue entry"), absl::StrCat(p.catalogue_number()));
  }
  if (p.flags_provisional()) {
    // In no catalogue in force: the registrant's own declaration until a
    // regulator decides (docs/reference-data.md).
    const std::string declared = p.control_flags().empty()
                                     ? std::string(T(r, "未申报", "none declared"))
                                     : absl::StrJoin(p.control_flags(), "、");
    Row(out, T(r, "管控类别", "Control"),
        absl::StrCat(declared,
                     T(r, "（暂定：企业自报，待应急管理部门确认）",
                       " (provisional: declared by the enterprise, not yet confirmed by the "
                       "emergency management regulator)")));
  } else {
    Row(out, T(r, "管控类别", "Control"), absl::StrJoin(p.control_flags(), "、"));
  }
  absl::StrAppend(out, "</dl></section>");

  absl::StrAppend(out, "<section><h2>", T(r, "危险性", "Hazards"), "</h2>");
  if (!p.ghs_pictograms().empty()) {
    absl::StrAppend(out, "<div class=\"pics\">");
    for (const std::string& g : p.ghs_pictograms()) {
      if (render::GhsPictogramPng(g)) {
        absl::StrAppend(out, "<img src=\"/static/ghs/", Escape(g), ".png\" alt=\"", Escape(g),
                        "\" width=\"76\" height=\"76\">");
      } else {
        absl::StrAppend(out, "<span>", Escape(g), "</span>");
      }
    }
    absl::StrAppend(out, "</div>");
  }
  if (p.signal_word() == v1::DANGER || p.signal_word() == v1::WARNING) {
    absl::StrAppend(out, "<p class=\"signal\">",
                    p.signal_word() == v1::DANGER ? T(r, "危险", "Danger") : T(r, "警告", "Warning"),
                    "</p>");
  }
  if (!p.hazard_statements().empty()) {
    absl::StrAppend(out, "<ul>");
    const int shown = std::min(p.hazard_statements_size(), limits.statements);
    for (int i = 0; i < shown; ++i) {
      absl::StrAppend(out, StatementItem(p.hazard_statements(i), tables, r));
    }
    absl::StrAppend(out, MoreStatements(p.hazard_statements_size() - shown, r), "</ul>");
  }
  absl::StrAppend(out, "</section>");

  PrecautionarySection(p, tables, r, limits, out);
  SafetyText(T(r, "急救措施", "First aid"), p.first_aid(), r, limits, out);
  SafetyText(T(r, "消防措施", "Fire fighting"), p.fire_fighting(), r, limits, out);
  SafetyText(T(r, "泄漏应急处理", "Spills and leaks"), p.spill_response(), r, limits, out);

  const v1::Enterprise& e = scan.enterprise().enterprise();
  absl::StrAppend(out, "<section><h2>", T(r, "供应商", "Supplier"), "</h2><dl>");
  Row(out, T(r, "名称", "Name"), e.name(), limits.text);
  Row(out, T(r, "统一社会信用代码", "USCC"), e.uscc(), limits.text);
  Row(out, T(r, "地址", "Address"), e.address(), limits.text);
  absl::StrAppend(out, "</dl></section>");

  absl::StrAppend(out, "<section><h2>", T(r, "安全技术说明书（SDS）", "Safety data sheet (SDS)"),
                  "</h2>");
  if (p.sds_uri().empty()) {
    absl::StrAppend(out, "<p class=\"na\">", T(r, "未登记。", "Not registered."), "</p>");
  } else if (p.sds_uri().size() > limits.link) {
    absl::StrAppend(out, "<p class=\"na\">",
                    T(r, "登记的链接过长，此页不显示：请向供应商索取。",
                      "The registered link is too long to show here: ask the supplier."),
                    "</p>");
  } else {
    absl::StrAppend(out, "<p><a href=\"", Escape(p.sds_uri()), "\" rel=\"noopener nofollow\">",
                    Escape(p.sds_uri()), "</a></p>");
  }
  if (p.sds_sha256().size() == 32) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned char c : p.sds_sha256()) {
      hex += kHex[c >> 4];
      hex += kHex[c & 15];
    }
    absl::StrAppend(out, "<p><small>",
                    T(r, "登记的 SHA-256（文件由供应商提供，平台不托管；下载后可核对）：",
                      "Registered SHA-256 (the supplier hosts the document, not the platform; "
                      "compare after downloading): "),
                    hex, "</small></p>");
  }
  absl::StrAppend(out, "</section>");
}

std::string LabelPageWithin(const v1::ResolveLabelResponse& scan,
                            const reference::ReferenceTables& tables, const PageRequest& r,
                            const Shown& limits) {
  absl::string_view word, what, colour;
  const auto warned = [&](v1::ScanWarningKind kind) {
    for (const v1::ScanWarning& w : scan.scan_warnings()) {
      if (w.kind() == kind) return true;
    }
    return false;
  };
  bool calls_for_care = false;
  for (const v1::ScanWarning& w : scan.scan_warnings()) calls_for_care |= CallsForCare(w.kind());
  if (scan.assessment() == "genuine" && warned(v1::PACKAGE_LOST)) {
    // The label is the platform's, but the package is missing from its
    // owner: the finder's first concern is safety, and the header says so.
    word = T(r, "真", "Genuine");
    what = T(r, "标签真实，但此包装已报告丢失或被盗：请远离，拨打 110 或 119。",
             "The label is genuine, but this package was reported lost or stolen: keep away "
             "and call 110 or 119.");
    colour = "bad";
  } else if (scan.assessment() == "genuine" && calls_for_care) {
    word = T(r, "真", "Genuine");
    what = T(r, "标签真实，但此包装有警示：请先阅读下面的警示。",
             "The label is genuine, but this package has warnings: read them below first.");
    colour = "warn";
  } else if (scan.assessment() == "genuine") {
    word = T(r, "真", "Genuine");
    what = T(r, "标签真实：由平台签发并记录在账本中。", "This label was issued by the platform and is in its ledger.");
    colour = "ok";
  } else if (scan.assessment() == "suspicious") {
    word = T(r, "可疑", "Suspicious");
    what = T(r, "标签曾经签发，但此包装现在不应再出现：它可能是复制的。",
             "This label was issued, but no package should carry it now: it may be a copy.");
    colour = "warn";
  } else {
    word = T(r, "伪", "Fake");
    what = T(r, "此标签不是本平台签发的，或已失效：请勿相信其内容，请联系当地应急管理部门。",
             "This label was not issued by this platform, or is no longer valid: do not trust "
             "what it says; tell the local emergency management authority.");
    colour = "bad";
  }
  std::string out =
      Head(absl::StrCat(word, " · ",
                        scan.product().name_zh().empty() ? "ChemLedger"
                                                         : Clip(scan.product().name_zh(), 100)),
           r);
  absl::StrAppend(&out, "<header class=\"", colour, "\"><div class=\"word\">", word,
                  "</div><div class=\"what\">", what, "</div></header><main>");
  if (!scan.scan_warnings().empty()) {
    absl::StrAppend(&out, "<section class=\"alert\"><h2>", T(r, "警示", "Warnings"), "</h2><ul>");
    for (const v1::ScanWarning& w : scan.scan_warnings()) {
      absl::StrAppend(&out, "<li>", Escape(Clip(WarningText(w, r), 2 * kMaxTextShown)), "</li>");
    }
    absl::StrAppend(&out, "</ul>");
    if (scan.has_supplier_blacklisting()) {
      const v1::BlacklistEntry& b = scan.supplier_blacklisting();
      absl::StrAppend(
          &out, "<p>", T(r, "列入黑名单：", "Blacklisted: "),
          Escape(Clip(b.enterprise_name(), kMaxTextShown)), " · ",
          Escape(Clip(b.reason(), kMaxTextShown)), " · ",
          absl::StrFormat("%04d-%02d-%02d", b.date().year(), b.date().month(), b.date().day()),
          " · <a href=\"/blacklist", T(r, "", "?lang=en"), "\">",
          T(r, "查看黑名单", "see the blacklist"), "</a></p>");
    }
    absl::StrAppend(&out, "</section>");
  }
  if (scan.product().un_number().empty() && scan.code().empty()) {
    // Nothing the log accounts for: the verdict and why, nothing else.
    absl::StrAppend(&out, "<section><h2>", T(r, "原因", "Why"), "</h2><p><code>",
                    Escape(scan.verdict()), "</code> ", WhyRefused(scan.verdict(), r),
                    "</p></section>");
  } else {
    SafetyInformation(scan, tables, r, limits, &out);
    absl::StrAppend(&out, "<section><h2>", T(r, "本码", "This code"), "</h2><dl>");
    Row(&out, T(r, "码", "Code"), scan.code());
    Row(&out, T(r, "签发记录（账本序号）", "Issued at log index"),
        absl::StrCat(scan.issuance_log_index()));
    absl::StrAppend(&out, "</dl></section>");
  }
  absl::StrAppend(&out, "</main>", Foot(r));
  return out;
}

}  // namespace

std::string LabelPage(const v1::ResolveLabelResponse& scan,
                      const reference::ReferenceTables& tables, const PageRequest& r) {
  std::string page = LabelPageWithin(scan, tables, r, kUsual);
  if (page.size() > kMaxPageBytes) page = LabelPageWithin(scan, tables, r, kCompact);
  return page;
}

std::string WaybillPage(const v1::ResolveWaybillCodeResponse& scan,
                        const reference::ReferenceTables& tables, const PageRequest& r) {
  absl::string_view word, what, colour;
  const std::string& v = scan.verdict();
  if (v == "authentic") {
    word = T(r, "有效", "Valid");
    what = T(r, "电子运单真实，是该运单当前的二维码。", "The current code of this e-waybill.");
    colour = "ok";
  } else if (v == "cancelled") {
    word = T(r, "已取消", "Cancelled");
    what = T(r, "此运单已取消：二维码作废，车辆不得凭此运输。",
             "This waybill was cancelled: the code is void.");
    colour = "bad";
  } else if (v == "closed") {
    word = T(r, "已关闭", "Closed");
    what = T(r, "此运单的运输已结束，所运货物已签收：二维码不再使用。",
             "This waybill's trip is over and what it carried was received: the code is no "
             "longer in use.");
    colour = "bad";
  } else if (v == "revoked-key" && !scan.waybill_number().empty()) {
    // Signed by a key revoked after this revision: the log holds it.
    word = T(r, "需换码", "Re-issue");
    what = T(r, "运单内容与账本一致，但二维码的签名密钥已被吊销：请向承运人索取新的二维码。",
             "The waybill is as the ledger holds it, but the code's signing key was revoked: "
             "ask the carrier for a new code.");
    colour = "warn";
  } else if (v == "superseded") {
    word = T(r, "已更新", "Superseded");
    what = T(r, "运单已修改：请向承运人索取当前的二维码。",
             "The waybill was amended: ask the carrier for its current code.");
    colour = "warn";
  } else if (v == "pending") {
    word = T(r, "待确认", "Pending");
    what = T(r, "托运人尚未确认此运单。", "The consignor has not consented to this waybill yet.");
    colour = "warn";
  } else {
    word = T(r, "伪", "Fake");
    what = T(r, "此二维码不是本平台签发的电子运单，或已失效。",
             "This is not an e-waybill code of this platform, or it is no longer valid.");
    colour = "bad";
  }
  std::string out = Head(absl::StrCat(word, " · ", T(r, "电子运单 ", "E-waybill "),
                                      scan.waybill_number()),
                         r);
  absl::StrAppend(&out, "<header class=\"", colour, "\"><div class=\"word\">", word,
                  "</div><div class=\"what\">", what, "</div></header><main>");
  if (scan.waybill_number().empty()) {
    absl::StrAppend(&out, "<section><h2>", T(r, "原因", "Why"), "</h2><p><code>", Escape(v),
                    "</code> ", WhyRefused(v, r), "</p></section></main>", Foot(r));
    return out;
  }
  const v1::PublicWaybillView& w = scan.public_view();
  if (!w.emergency_phone().empty()) {
    absl::StrAppend(&out, "<section><h2>", T(r, "应急电话（24小时）", "Emergency phone (24 h)"),
                    "</h2>", TelLink(w.emergency_phone()), "</section>");
  }
  absl::StrAppend(&out, "<section><h2>", T(r, "运单", "Waybill"), " ",
                  Escape(scan.waybill_number()), "</h2><dl>");
  Row(&out, T(r, "承运人", "Carrier"), w.carrier_name());
  Row(&out, T(r, "统一社会信用代码", "USCC"), scan.carrier_uscc());
  Row(&out, T(r, "道路运输经营许可证", "Carrier licence"), w.carrier_licence());
  Row(&out, T(r, "托运人", "Consignor"), w.consignor_name());
  Row(&out, T(r, "收货人", "Consignee"), w.consignee_name());
  Row(&out, T(r, "起运地", "From"), absl::StrCat(w.origin().region_code(), " ", w.origin().address()));
  Row(&out, T(r, "目的地", "To"),
      absl::StrCat(w.destination().region_code(), " ", w.destination().address()));
  Row(&out, T(r, "计划起运", "Planned departure"), ChinaTime(w.planned_departure()));
  Row(&out, T(r, "计划到达", "Planned arrival"), ChinaTime(w.planned_arrival()));
  absl::StrAppend(&out, "</dl></section><section><h2>", T(r, "车辆与人员", "Vehicle and crew"),
                  "</h2><dl>");
  static const absl::string_view kColoursZh[] = {"", "蓝", "黄", "黑", "白", "渐变绿", "黄绿"};
  static const absl::string_view kColoursEn[] = {"", "blue", "yellow", "black", "white", "green",
                                                 "yellow-green"};
  const int colour_index = w.plate_colour() >= 0 && w.plate_colour() <= 6 ? w.plate_colour() : 0;
  Row(&out, T(r, "车牌", "Plate"),
      absl::StrCat(w.vehicle_plate(), colour_index > 0 ? " (" : "",
                   T(r, kColoursZh[colour_index], kColoursEn[colour_index]),
                   colour_index > 0 ? ")" : ""));
  Row(&out, T(r, "挂车", "Trailer"), w.trailer_plate());
  Row(&out, T(r, "罐体编号", "Tank"), w.tank_number());
  for (const auto& [title_zh, title_en, crew] :
       {std::tuple<absl::string_view, absl::string_view, const v1::MaskedCrewMember*>{
            "驾驶员", "Driver", &w.driver()},
        {"押运员", "Escort", &w.escort()}}) {
    if (crew->name().empty()) continue;
    Row(&out, T(r, title_zh, title_en),
        absl::StrCat(crew->name(), " · ", T(r, "从业资格证 ", "qualification "),
                     crew->qualification_number(), " · ", crew->phone()));
  }
  absl::StrAppend(&out, "</dl></section>");

  absl::StrAppend(&out, "<section><h2>", T(r, "货物", "Goods"), "</h2>");
  // Within the page budget: a waybill of very many lines (or products)
  // shows as many as fit, then says how many more there are. What follows
  // the goods (permits, the footer) takes less than kReserve.
  constexpr size_t kReserve = 8 * 1024;
  const size_t budget = kMaxPageBytes - kReserve;
  const auto more_lines = [&](int line) {
    return absl::StrCat(
        "<p class=\"na\">",
        r.language == Language::kChinese
            ? absl::StrCat("另有 ", w.goods_size() - line, " 行货物未列出：请查看运单。")
            : absl::StrCat(w.goods_size() - line, " more goods lines not shown: see the waybill."),
        "</p>");
  };
  for (int line = 0; line < w.goods_size(); ++line) {
    const v1::PublicGoodsLine& g = w.goods(line);
    if (out.size() > budget - 2 * 1024) {
      absl::StrAppend(&out, more_lines(line));
      break;
    }
    std::string head;
    absl::StrAppend(&head, "<h3>UN ", Escape(g.un_number()), " ",
                    Escape(Clip(g.proper_shipping_name(), kMaxTextShown)), "</h3>");
    if (std::optional<absl::string_view> png = render::TransportLabelPng(g.hazard_class()); png) {
      absl::StrAppend(&head, "<div class=\"pics\"><img src=\"/static/transport/",
                      Escape(g.hazard_class()), ".png\" alt=\"", T(r, "类别 ", "class "),
                      Escape(g.hazard_class()), "\" width=\"76\" height=\"76\"></div>");
    }
    absl::StrAppend(&head, "<dl>");
    Row(&head, T(r, "类别", "Class"), g.hazard_class());
    Row(&head, T(r, "包装类别", "Packing group"), g.packing_group());
    Row(&head, T(r, "包装", "Packaging"), g.packaging());
    Row(&head, T(r, "数量", "Quantity"),
        absl::StrCat(api::FormatNetQuantity(g.quantity_milli()), " ", UnitText(r, g.unit()),
                     g.codes() > 0 ? absl::StrCat(" · ", g.codes(), T(r, " 个码", " codes")) : ""));
    absl::StrAppend(&head, "</dl>");
    // The general information for the UN number, from the reference
    // tables: what a responder reads before knowing whose goods these are.
    if (std::optional<std::string> general =
            tables.EmergencyInformation(g.un_number(), r.language == Language::kChinese
                                                           ? reference::Language::kChinese
                                                           : reference::Language::kEnglish);
        general) {
      absl::StrAppend(&head, "<p><b>",
                      T(r, "按联合国编号的应急处置", "Emergency response for the UN number"),
                      "</b></p><p>", Escape(Clip(*general, kWholeText)), "</p>");
    } else {
      absl::StrAppend(
          &head, "<p class=\"na\">",
          r.language == Language::kChinese
              ? absl::StrCat("UN ", Escape(g.un_number()), " 的通用应急处置信息：参考表未收录。")
              : absl::StrCat("General emergency information for UN ", Escape(g.un_number()),
                             ": not in the reference tables."),
          "</p>");
    }
    if (out.size() + head.size() > budget) {
      absl::StrAppend(&out, more_lines(line));
      break;
    }
    absl::StrAppend(&out, head);
    if (g.emergency().empty()) {
      absl::StrAppend(
          &out, "<p class=\"na\">",
          T(r, "此行未显示货物的应急处置信息（未登记，或超出本页查询的范围）：请拨打运单应急电话。",
            "No emergency information shown for this line (none registered, or "
            "beyond what this page looks up): call the waybill's emergency phone."),
          "</p>");
    }
    int products_left_out = 0;
    for (const v1::GoodsEmergencyInfo& e : g.emergency()) {
      if (products_left_out > 0) {  // the rest of the line is counted, not made
        ++products_left_out;
        continue;
      }
      std::string product;
      absl::StrAppend(
          &product, "<p><b>",
          Escape(Clip(r.language == Language::kChinese ? e.product_name_zh() : e.product_name_en(),
                      kMaxTextShown)),
          "</b> <small>", Escape(Clip(e.supplier_name(), kMaxTextShown)), "</small></p><dl>");
      if (!e.emergency_phone().empty()) {
        absl::StrAppend(&product, "<dt>", T(r, "应急电话", "Emergency phone"), "</dt><dd>",
                        TelLink(e.emergency_phone()), "</dd>");
      }
      const absl::string_view na = T(r, "未登记", "not registered");
      Row(&product, T(r, "急救", "First aid"), e.first_aid().empty() ? na : e.first_aid(),
          kWholeText);
      Row(&product, T(r, "消防", "Fire fighting"),
          e.fire_fighting().empty() ? na : e.fire_fighting(), kWholeText);
      Row(&product, T(r, "泄漏", "Spills"), e.spill_response().empty() ? na : e.spill_response(),
          kWholeText);
      absl::StrAppend(&product, "</dl>");
      if (out.size() + product.size() > budget) {
        ++products_left_out;
        continue;
      }
      absl::StrAppend(&out, product);
    }
    if (products_left_out > 0) {
      absl::StrAppend(
          &out, "<p class=\"na\">",
          r.language == Language::kChinese
              ? absl::StrCat("另有 ", products_left_out,
                             " 种货物的应急处置信息未显示（页面篇幅所限）：请拨打运单应急电话。")
              : absl::StrCat(products_left_out,
                             " more products' emergency information not shown (the "
                             "page's size): call the waybill's emergency phone."),
          "</p>");
    }
  }
  absl::StrAppend(&out, "</section>");
  if (!w.toxic_permit().empty() || !w.precursor_permit().empty() || !w.waste_manifest().empty()) {
    absl::StrAppend(&out, "<section><h2>", T(r, "许可与联单", "Permits"), "</h2><dl>");
    Row(&out, T(r, "剧毒化学品道路运输通行证", "Toxic goods road permit"), w.toxic_permit());
    Row(&out, T(r, "易制毒化学品运输许可", "Precursor transport permit"), w.precursor_permit());
    Row(&out, T(r, "危险废物转移联单", "Waste manifest"), w.waste_manifest());
    absl::StrAppend(&out, "</dl></section>");
  }
  absl::StrAppend(&out, "</main>", Foot(r));
  return out;
}

std::string BlacklistPage(const std::vector<v1::BlacklistEntry>& entries,
                          absl::string_view next_page, const PageRequest& r) {
  std::string out = Head(T(r, "黑名单", "Blacklist"), r);
  absl::StrAppend(&out, "<header class=\"muted\"><div class=\"word\">", T(r, "黑名单", "Blacklist"),
                  "</div><div class=\"what\">",
                  T(r, "被列入黑名单的企业不能签发标签、记录事件或接收货物。",
                    "Blacklisted enterprises can no longer issue labels, record events or "
                    "receive goods."),
                  "</div></header><main><section>");
  if (entries.empty()) {
    absl::StrAppend(&out, "<p>", T(r, "目前没有企业被列入黑名单。", "No enterprise is listed."),
                    "</p>");
  } else {
    absl::StrAppend(&out, "<table><tr><th>", T(r, "企业", "Enterprise"), "</th><th>",
                    T(r, "原因", "Reason"), "</th><th>", T(r, "日期", "Date"), "</th><th>",
                    T(r, "列入者", "Listed by"), "</th></tr>");
    for (const v1::BlacklistEntry& e : entries) {
      const absl::string_view by =
          e.listed_by() == "regulator"
              ? T(r, "监管部门", "regulator")
              : e.listed_by() == "platform administrator" ? T(r, "平台管理员", "platform administrator")
                                                          : absl::string_view(e.listed_by());
      absl::StrAppend(
          &out, "<tr><td>", Escape(Clip(e.enterprise_name(), kMaxTextShown)), "<br><small>",
          Escape(e.enterprise_uscc()), "</small></td><td>", Escape(Clip(e.reason(), kMaxTextShown)),
          "</td><td>",
          absl::StrFormat("%04d-%02d-%02d", e.date().year(), e.date().month(), e.date().day()),
          "</td><td>", Escape(by), "<br><small>", T(r, "账本序号 ", "log index "), e.log_index(),
          "</small></td></tr>");
    }
    absl::StrAppend(&out, "</table>");
  }
  if (!next_page.empty()) {
    absl::StrAppend(&out, "<p><a href=\"", Escape(next_page), "\">", T(r, "下一页", "Next page"),
                    "</a></p>");
  }
  absl::StrAppend(&out, "</section></main>", Foot(r));
  return out;
}

std::string MessagePage(absl::string_view title, absl::string_view message,
                        const PageRequest& r) {
  return absl::StrCat(Head(title, r), "<header class=\"muted\"><div class=\"word\">",
                      Escape(title), "</div></header><main><section><p>", Escape(message),
                      "</p></section></main>", Foot(r));
}

}  // namespace chemledger::web
