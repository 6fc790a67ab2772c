#include "render/printable_label.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>

// clang-format off
#include <ft2build.h>
#include FT_FREETYPE_H
#include FT_ADVANCES_H
#include FT_OUTLINE_H
// clang-format on

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "reference/reference_tables.h"
#include "render/pictograms.h"
#include "render/png.h"
#include "render/qr.h"
#include "services/common/identifiers.h"
#include "stb/stb_image.h"

namespace chemledger::render {
namespace {

// ---------------------------------------------------------------------------
// Text: UTF-8, a width model, line wrapping.

// Decodes UTF-8; false if `s` is not valid UTF-8 (overlong forms, surrogates
// and code points above U+10FFFF are invalid).
bool DecodeUtf8(absl::string_view s, std::vector<char32_t>* out) {
  out->clear();
  for (size_t i = 0; i < s.size();) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    int len;
    char32_t cp;
    if (b0 < 0x80) {
      len = 1, cp = b0;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2, cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3, cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4, cp = b0 & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    out->push_back(cp);
    i += len;
  }
  return true;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsWide(char32_t c) {
  return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) ||
         (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
         (c >= 0xFFE0 && c <= 0xFFE6) || c >= 0x20000;
}

// Advance widths of ASCII 32-126 in thousandths of an em: WenQuanYi Micro
// Hei's, rounded up. CJK characters are 1 em in every CJK font; other
// characters are taken as 1 em (Latin-1 and Latin Extended as 0.7), wider
// than most fonts draw them. Layout uses this model in both renderings, so
// the SVG and the PNG wrap lines at the same places.
constexpr uint16_t kAsciiWidth[95] = {
    260, 270, 402, 646, 551, 826, 703, 227, 301, 301, 551, 551, 250, 322, 269, 374,  //
    551, 551, 551, 551, 551, 551, 551, 551, 551, 551, 269, 269, 551, 551, 551, 426,  //
    867, 608, 622, 604, 685, 528, 492, 690, 702, 339, 271, 580, 492, 871, 730, 743,  //
    577, 742, 590, 520, 520, 699, 568, 884, 547, 527, 540, 304, 374, 304, 533, 412,  //
    578, 531, 586, 463, 586, 536, 330, 519, 589, 259, 259, 497, 259, 896, 589, 578,  //
    586, 586, 399, 452, 339, 589, 480, 747, 500, 489, 441, 355, 551, 355, 551};

double EmWidth(char32_t c) {
  if (c >= 32 && c < 127) return kAsciiWidth[c - 32] / 1000.0;
  if (c >= 0xA0 && c < 0x250) return 0.7;
  return 1.0;
}

// Bold text is drawn wider (PNG: emboldened outlines; SVG: the viewer's bold).
constexpr double kBoldWidthFactor = 1.04;

double TextWidthMm(absl::string_view utf8, double size, bool bold) {
  std::vector<char32_t> cps;
  DecodeUtf8(utf8, &cps);
  double em = 0;
  for (char32_t c : cps) em += EmWidth(c);
  return em * size * (bold ? kBoldWidthFactor : 1.0);
}

bool NoBreakBefore(char32_t c) {
  static constexpr absl::string_view kClosing = ",.;:!?)]}%，。、；：！？）」』】》〉”’";
  static const auto* closing = [] {
    auto* cps = new std::vector<char32_t>;
    DecodeUtf8(kClosing, cps);
    return cps;
  }();
  return std::find(closing->begin(), closing->end(), c) != closing->end();
}

bool NoBreakAfter(char32_t c) {
  return c == '(' || c == '[' || c == '{' || c == 0xFF08 || c == 0x300C || c == 0x300E ||
         c == 0x3010 || c == 0x300A || c == 0x3008 || c == 0x201C || c == 0x2018;
}

bool CanBreakBefore(const std::vector<char32_t>& cps, size_t i, bool break_after_dot) {
  const char32_t prev = cps[i - 1], cur = cps[i];
  if (cur == ' ') return false;  // break after the space instead
  if (NoBreakBefore(cur) || NoBreakAfter(prev)) return false;
  if (prev == ' ' || IsWide(prev) || IsWide(cur)) return true;
  if (prev == '.' && break_after_dot) return true;
  if (prev == '/' || prev == ',' || prev == ';' || prev == '.') return cur < '0' || cur > '9';
  return false;
}

std::string Encode(const std::vector<char32_t>& cps, size_t begin, size_t end) {
  while (end > begin && cps[end - 1] == ' ') --end;
  std::string s;
  for (size_t i = begin; i < end; ++i) AppendUtf8(cps[i], &s);
  return s;
}

// Greedy line breaking: CJK text breaks between any two characters (not
// before closing punctuation), Latin text at spaces; a word longer than a
// line is broken anywhere. `break_after_dot`: package codes break after any
// '.'.
std::vector<std::string> Wrap(absl::string_view text, double size, bool bold, double max_width,
                              bool break_after_dot = false) {
  std::vector<char32_t> cps;
  DecodeUtf8(text, &cps);
  const double factor = size * (bold ? kBoldWidthFactor : 1.0);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < cps.size() && cps[start] == ' ') ++start;
  size_t last_break = 0;
  double width = 0;
  for (size_t i = start; i < cps.size(); ++i) {
    if (i > start && CanBreakBefore(cps, i, break_after_dot)) last_break = i;
    const double w = EmWidth(cps[i]) * factor;
    if (width + w > max_width && i > start && cps[i] != ' ') {
      const size_t cut = last_break > start ? last_break : i;
      lines.push_back(Encode(cps, start, cut));
      start = cut;
      while (start < cps.size() && cps[start] == ' ') ++start;
      last_break = 0;
      width = 0;
      i = start;
      if (i >= cps.size()) break;
      width = EmWidth(cps[i]) * factor;
      continue;
    }
    width += w;
  }
  if (start < cps.size()) lines.push_back(Encode(cps, start, cps.size()));
  // No lone CJK character on a last line: it takes one more along.
  if (lines.size() >= 2) {
    std::vector<char32_t> last, prev;
    DecodeUtf8(lines.back(), &last);
    DecodeUtf8(lines[lines.size() - 2], &prev);
    if (last.size() == 1 && IsWide(last[0]) && prev.size() >= 3 && IsWide(prev.back()) &&
        !NoBreakBefore(prev.back()) && !NoBreakAfter(prev[prev.size() - 2])) {
      last.insert(last.begin(), prev.back());
      prev.pop_back();
      lines[lines.size() - 2] = Encode(prev, 0, prev.size());
      lines.back() = Encode(last, 0, last.size());
    }
  }
  return lines;
}

// ---------------------------------------------------------------------------
// Hazard statement table.

// "H225", "H360", "H300+H310+H330": H, three digits, up to two letters
// (H360FD style); up to three joined by '+'.
bool WellFormedHazardCode(absl::string_view code) {
  if (code.empty()) return false;
  std::vector<absl::string_view> parts = absl::StrSplit(code, '+');
  if (parts.size() > 3) return false;
  for (absl::string_view part : parts) {
    if (part.size() < 4 || part.size() > 6 || part[0] != 'H') return false;
    for (size_t i = 1; i < part.size(); ++i) {
      const auto c = static_cast<unsigned char>(part[i]);
      if (i <= 3 ? !absl::ascii_isdigit(c) : !absl::ascii_isalpha(c)) return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// Fixed texts.

struct Pictogram {
  absl::string_view code;
  absl::string_view caption;
};
constexpr Pictogram kPictograms[] = {
    {"GHS01", "爆炸物"},   {"GHS02", "易燃"},     {"GHS03", "氧化性"},
    {"GHS04", "加压气体"}, {"GHS05", "腐蚀性"},   {"GHS06", "急性毒性"},
    {"GHS07", "有害"},     {"GHS08", "健康危害"}, {"GHS09", "环境危害"},
};

constexpr absl::string_view kControlFlags[] = {"剧毒", "易制爆", "易制毒", "重点监管", "高危"};

// ---------------------------------------------------------------------------
// Validation: InvalidArgument "<field>: <rule>".

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

absl::Status CheckText(absl::string_view field, absl::string_view value, bool required) {
  if (value.empty()) return required ? Invalid(field, "is required") : absl::OkStatus();
  std::vector<char32_t> cps;
  if (!DecodeUtf8(value, &cps)) return Invalid(field, "is not valid UTF-8");
  for (char32_t c : cps) {
    if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0) || c == 0xFFFE || c == 0xFFFF) {
      return Invalid(field, "contains a control character");
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const PrintableLabel& l) {
  const v1::Product& p = l.product;
  struct Field {
    absl::string_view name;
    const std::string& value;
    bool required;
  };
  const Field fields[] = {
      {"product.name_zh", p.name_zh(), true},
      {"product.name_en", p.name_en(), false},
      {"product.cas", p.cas(), false},
      {"product.hazard_class", p.hazard_class(), false},
      {"product.packing_group", p.packing_group(), false},
      {"product.emergency_phone", p.emergency_phone(), true},
      {"supplier.name", l.supplier.name(), true},
      {"supplier.address", l.supplier.address(), true},
      {"url", l.url, true},
      {"code", l.code, true},
      {"batch", l.batch, true},
      {"quantity", l.quantity, true},
  };
  for (const Field& f : fields) {
    if (absl::Status s = CheckText(f.name, f.value, f.required); !s.ok()) return s;
  }
  if (p.un_number().size() != 4 ||
      !std::all_of(p.un_number().begin(), p.un_number().end(),
                   [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); })) {
    return Invalid("product.un_number", "is required: 4 digits, e.g. 1942");
  }
  for (int i = 0; i < p.ghs_pictograms_size(); ++i) {
    const std::string& g = p.ghs_pictograms(i);
    const bool known = std::any_of(std::begin(kPictograms), std::end(kPictograms),
                                   [&](const Pictogram& k) { return k.code == g; });
    if (!known) {
      return Invalid(
          absl::StrCat("product.ghs_pictograms[", i, "]"),
          absl::StrCat("unknown pictogram code '", absl::CHexEscape(g), "' (GHS01 to GHS09)"));
    }
    for (int j = 0; j < i; ++j) {
      if (p.ghs_pictograms(j) == g) {
        return Invalid(absl::StrCat("product.ghs_pictograms[", i, "]"), "is listed twice");
      }
    }
  }
  if (!v1::SignalWord_IsValid(p.signal_word())) {
    return Invalid("product.signal_word", "must be DANGER (危险), WARNING (警告) or unspecified");
  }
  for (int i = 0; i < p.hazard_statements_size(); ++i) {
    if (!WellFormedHazardCode(p.hazard_statements(i))) {
      return Invalid(absl::StrCat("product.hazard_statements[", i, "]"),
                     absl::StrCat("'", absl::CHexEscape(p.hazard_statements(i)),
                                  "' must be a GHS hazard statement code such as H225 or "
                                  "H300+H330"));
    }
  }
  for (int i = 0; i < p.precautionary_statements_size(); ++i) {
    if (!ids::IsPrecautionaryStatementCode(p.precautionary_statements(i))) {
      return Invalid(absl::StrCat("product.precautionary_statements[", i, "]"),
                     absl::StrCat("'", absl::CHexEscape(p.precautionary_statements(i)),
                                  "' must be a GHS precautionary statement code such as P210 "
                                  "or P301+P310"));
    }
  }
  for (int i = 0; i < p.control_flags_size(); ++i) {
    const std::string& f = p.control_flags(i);
    if (std::find(std::begin(kControlFlags), std::end(kControlFlags), f) ==
        std::end(kControlFlags)) {
      return Invalid(absl::StrCat("product.control_flags[", i, "]"),
                     absl::StrCat("unknown control flag '", absl::CHexEscape(f),
                                  "' (known: 剧毒, 易制爆, 易制毒, 重点监管, 高危)"));
    }
    for (int j = 0; j < i; ++j) {
      if (p.control_flags(j) == f) {
        return Invalid(absl::StrCat("product.control_flags[", i, "]"), "is listed twice");
      }
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// The page: a display list in millimetres, drawn by the SVG and PNG backends.

struct Color {
  uint8_t r, g, b;
  std::string Hex() const { return absl::StrFormat("#%02x%02x%02x", r, g, b); }
};
constexpr Color kBlack{0, 0, 0};
constexpr Color kWhite{255, 255, 255};
constexpr Color kRed{0xD7, 0x00, 0x0F};
constexpr Color kGrey{0x55, 0x55, 0x55};

enum class Anchor { kStart, kMiddle, kEnd };

struct TextOp {
  double x, baseline, size;
  std::string text;
  bool bold = false;
  Color color = kBlack;
  Anchor anchor = Anchor::kStart;
};
struct RectOp {  // filled
  double x, y, w, h;
  Color fill;
};
struct FrameOp {  // an outline drawn inside the rectangle
  double x, y, w, h, stroke;
  Color color;
};
struct DiamondOp {   // a square on its point: white inside, a border inside its
                     // edge
  double cx, cy, r;  // r: centre to corner
  double border;     // measured across the edge
  Color color;
};
struct ImageOp {  // a PNG drawn in the square of side `side` centred at (cx, cy)
  double cx, cy, side;
  absl::string_view png;  // compiled-in data (render/pictograms.h)
};
struct QrOp {
  double x = 0, y = 0;  // top left of the quiet zone
  int quiet = 0;
  QrSymbol symbol;
};

struct Page {
  std::vector<RectOp> rects;
  std::vector<FrameOp> frames;
  std::vector<DiamondOp> diamonds;
  std::vector<ImageOp> images;
  std::vector<TextOp> texts;
  QrOp qr;
  double qr_module = 0.5;  // mm
  std::string title;
};

constexpr double kPageW = kPrintableLabelWidthMm, kPageH = kPrintableLabelHeightMm;
constexpr double kFrameInset = 3, kFrameStroke = 0.5;
constexpr double kLeft = 6, kRight = kPageW - 6, kTop = 6, kBottom = kPageH - 6;
constexpr double kWidth = kRight - kLeft;
constexpr double kAscent = 0.88;      // baseline below a line's top, in ems
constexpr double kLinePitch = 1.25;   // line to line, in ems
constexpr double kPictogramMax = 24;  // diamond width (corner to corner), mm
constexpr double kSignalSize = 8;
constexpr int kQuietZone = 4;

struct Paragraph {
  std::vector<std::string> lines;
  double size = 0;
};

// The largest of `sizes` at which `text` wraps into at most `max_lines`.
absl::StatusOr<Paragraph> Fit(absl::string_view field, absl::string_view text,
                              const std::vector<double>& sizes, bool bold, double width,
                              size_t max_lines, bool break_after_dot = false) {
  for (double size : sizes) {
    std::vector<std::string> lines = Wrap(text, size, bold, width, break_after_dot);
    if (lines.size() <= max_lines) return Paragraph{std::move(lines), size};
  }
  return Invalid(field, absl::StrCat("is too long to fit the label (at most ", max_lines,
                                     max_lines == 1 ? " line)" : " lines)"));
}

// Adds the lines of `p` from top `y`; returns the y below them.
double Emit(Page* page, const Paragraph& p, double x, double y, Anchor anchor, bool bold,
            Color color = kBlack) {
  for (const std::string& line : p.lines) {
    page->texts.push_back({x, y + kAscent * p.size, p.size, line, bold, color, anchor});
    y += kLinePitch * p.size;
  }
  return y;
}

// Pictograms (one row of up to five, else two rows; at most `max_d` mm
// corner to corner) and the signal word, from top `y`; returns the y below.
double PictogramsAndSignalWord(Page* page, const v1::Product& p, double y, double max_d) {
  const double centre = kPageW / 2;
  const int n = p.ghs_pictograms_size();
  if (n > 0) {
    constexpr double kGap = 2, kRowGap = 1.5;
    const int per_row = n <= 5 ? n : (n + 1) / 2;
    const double d = std::min(max_d, (kWidth - (per_row - 1) * kGap) / per_row);
    y += 2;
    for (int i = 0; i < n; ++i) {
      const int row = i / per_row, col = i % per_row;
      const int in_row = std::min(per_row, n - row * per_row);
      const double row_w = in_row * d + (in_row - 1) * kGap;
      const double cx = centre - row_w / 2 + col * (d + kGap) + d / 2;
      const double cy = y + row * (d + kRowGap) + d / 2;
      const std::string& code = p.ghs_pictograms(i);
      // The real symbol (GHS, as GB 15258 asks); a drawn diamond with the
      // code and a caption only for a code without a picture (none of the
      // nine valid codes).
      if (std::optional<absl::string_view> png = GhsPictogramPng(code)) {
        page->images.push_back({cx, cy, d, *png});
        continue;
      }
      page->diamonds.push_back({cx, cy, d / 2, 0.05 * d, kRed});
      absl::string_view caption;
      for (const Pictogram& k : kPictograms) {
        if (k.code == code) caption = k.caption;
      }
      page->texts.push_back({cx, cy - 0.01 * d, 0.13 * d, code, true, kBlack, Anchor::kMiddle});
      page->texts.push_back(
          {cx, cy + 0.14 * d, 0.105 * d, std::string(caption), false, kBlack, Anchor::kMiddle});
    }
    const int rows = (n + per_row - 1) / per_row;
    y += rows * d + (rows - 1) * kRowGap;
  }
  if (p.signal_word() == v1::DANGER || p.signal_word() == v1::WARNING) {
    y += 1;
    page->texts.push_back({centre, y + kAscent * kSignalSize, kSignalSize,
                           p.signal_word() == v1::DANGER ? "危险" : "警告", true, kBlack,
                           Anchor::kMiddle});
    y += kLinePitch * kSignalSize;
  }
  return y;
}

// A titled list of statements: each code in bold with its text in a
// hanging indent.
struct StatementList {
  std::string title;
  std::vector<std::pair<std::string, std::string>> items;  // code, text ("" for none)
};

// The product's hazard statements (Chinese texts) and precautionary
// statements (Chinese texts where `tables` have them, else the English: no
// Chinese P texts are shipped, see reference/reference_tables.h;
// `precaution_texts` false prints their codes alone, on one wrapped line).
std::vector<StatementList> StatementLists(const v1::Product& p,
                                          const reference::ReferenceTables& tables,
                                          bool precaution_texts) {
  std::vector<StatementList> lists;
  if (!p.hazard_statements().empty()) {
    StatementList& h = lists.emplace_back();
    h.title = "危险性说明";
    for (const std::string& code : p.hazard_statements()) {
      h.items.emplace_back(code,
                           tables.StatementText(code, reference::Language::kChinese).value_or(""));
    }
  }
  if (!p.precautionary_statements().empty()) {
    StatementList& list = lists.emplace_back();
    list.title = "防范说明";
    if (!precaution_texts) {
      list.items.emplace_back(absl::StrJoin(p.precautionary_statements(), " "), "");
    } else {
      for (const std::string& code : p.precautionary_statements()) {
        std::optional<std::string> text =
            tables.StatementText(code, reference::Language::kChinese);
        if (!text) text = tables.StatementText(code, reference::Language::kEnglish);
        list.items.emplace_back(code, text.value_or(""));
      }
    }
  }
  return lists;
}

// `lists` (each its title in bold, then each code in bold with its text in a
// hanging indent, in `columns` columns filled top to bottom) and the SDS
// reminder, at text size `size`, from top `y`; returns the y below.
double Statements(Page* page, const std::vector<StatementList>& lists, double y, double size,
                  int columns) {
  const double pitch = kLinePitch * size, col_gap = 4;
  const double col_w = (kWidth - (columns - 1) * col_gap) / columns;
  struct Entry {
    std::string code;
    double indent = 0;
    bool text_below = false;  // a long code: its text starts on the next line
    std::vector<std::string> lines;
    size_t rows() const { return lines.size() + (text_below || lines.empty() ? 1 : 0); }
  };
  for (const StatementList& list : lists) {
    std::vector<Entry> entries;
    for (const auto& [code, text] : list.items) {
      Entry e;
      e.code = code;
      e.indent = TextWidthMm(code, size, true) + 0.4 * size;
      if (!text.empty()) {
        // A combined code (P305+P351+P338) is wide: its text goes below it.
        if (e.indent > 0.3 * col_w || absl::StrContains(code, '+')) {
          e.indent = 2 * size, e.text_below = true;
        }
        e.lines = Wrap(text, size, false, col_w - e.indent);
      } else if (e.indent > col_w) {
        // Codes alone, more than a line of them: wrapped, as text.
        e.lines = Wrap(code, size, true, col_w);
        e.code.clear();
        e.indent = 0;
      }
      entries.push_back(std::move(e));
    }
    y = Emit(page, Paragraph{{list.title}, size}, kLeft, y, Anchor::kStart, true);
    // Column breaks: the split that makes the longest column shortest.
    std::vector<size_t> starts = {0};
    if (columns == 2 && entries.size() > 1) {
      double total = 0;
      for (const Entry& e : entries) total += e.rows() * pitch;
      size_t best = 1;
      double best_h = total, before = 0;
      for (size_t k = 1; k < entries.size(); ++k) {
        before += entries[k - 1].rows() * pitch;
        const double h = std::max(before, total - before);
        if (h < best_h) best_h = h, best = k;
      }
      starts.push_back(best);
    }
    starts.push_back(entries.size());
    double bottom = y;
    for (size_t c = 0; c + 1 < starts.size(); ++c) {
      const double x = kLeft + c * (col_w + col_gap);
      double cy = y;
      for (size_t i = starts[c]; i < starts[c + 1]; ++i) {
        const Entry& e = entries[i];
        if (!e.code.empty()) {
          page->texts.push_back({x, cy + kAscent * size, size, e.code, true, kBlack,
                                 Anchor::kStart});
          if (e.lines.empty() || e.text_below) cy += pitch;
        }
        cy = Emit(page, Paragraph{e.lines, size}, x + e.indent, cy, Anchor::kStart,
                  e.code.empty());
      }
      bottom = std::max(bottom, cy);
    }
    y = bottom + 0.3 * size;
  }
  return Emit(page, Paragraph{{"请参阅化学品安全技术说明书"}, size}, kLeft, y, Anchor::kStart,
              false, kGrey);
}

absl::StatusOr<Page> Layout(const PrintableLabel& l, double qr_module) {
  const v1::Product& p = l.product;
  Page base;
  base.qr_module = qr_module;
  base.title = absl::StrCat("化学品安全标签 ", p.name_zh(), " ", l.code);
  base.frames.push_back({kFrameInset, kFrameInset, kPageW - 2 * kFrameInset,
                         kPageH - 2 * kFrameInset, kFrameStroke, kBlack});
  const double centre = kPageW / 2;
  double y = kTop;

  // Product identifier.
  absl::StatusOr<Paragraph> name_zh =
      Fit("product.name_zh", p.name_zh(), {6.5, 5.5, 4.5, 4.0}, true, kWidth, 2);
  if (!name_zh.ok()) return name_zh.status();
  y = Emit(&base, *name_zh, centre, y, Anchor::kMiddle, true);
  if (!p.name_en().empty()) {
    absl::StatusOr<Paragraph> name_en =
        Fit("product.name_en", p.name_en(), {3.4, 3.0, 2.6}, false, kWidth, 2);
    if (!name_en.ok()) return name_en.status();
    y = Emit(&base, *name_en, centre, y, Anchor::kMiddle, false);
  }
  std::vector<std::string> ids;
  if (!p.cas().empty()) ids.push_back(absl::StrCat("CAS号 ", p.cas()));
  ids.push_back(absl::StrCat("UN号 ", p.un_number()));
  if (!p.hazard_class().empty()) ids.push_back(absl::StrCat("危险货物类别 ", p.hazard_class()));
  if (!p.packing_group().empty()) ids.push_back(absl::StrCat("包装类别 ", p.packing_group()));
  absl::StatusOr<Paragraph> id_line =
      Fit("product identifiers (cas, un_number, hazard_class, packing_group)",
          absl::StrJoin(ids, "   "), {3.2, 2.8}, false, kWidth, 2);
  if (!id_line.ok()) return id_line.status();
  y = Emit(&base, *id_line, centre, y + 0.5, Anchor::kMiddle, false);

  // Control flags: white on black boxes (剧毒 white on red).
  if (p.control_flags_size() > 0) {
    constexpr double kFlagSize = 3.2, kPad = 1.2, kGap = 2;
    const double box_h = kFlagSize * 1.45;
    double total = -kGap;
    for (const std::string& f : p.control_flags()) {
      total += TextWidthMm(f, kFlagSize, true) + 2 * kPad + kGap;
    }
    double x = centre - total / 2;
    y += 1;
    for (const std::string& f : p.control_flags()) {
      const double w = TextWidthMm(f, kFlagSize, true) + 2 * kPad;
      base.rects.push_back({x, y, w, box_h, f == "剧毒" ? kRed : kBlack});
      base.texts.push_back({x + w / 2, y + (box_h - kFlagSize) / 2 + kAscent * kFlagSize, kFlagSize,
                            f, true, kWhite, Anchor::kMiddle});
      x += w + kGap;
    }
    y += box_h;
  }
  const double identity_bottom = y;

  // Bottom block, bottom up: QR code with its code under it on the right;
  // supplier, emergency phone, batch, date and quantity on the left.
  absl::StatusOr<QrSymbol> qr = EncodeQr(l.url, QrErrorCorrection::kM);
  if (!qr.ok()) return Invalid("url", qr.status().message());
  const double qr_side = (qr->size + 2 * kQuietZone) * qr_module;
  if (qr_side > 45) return Invalid("url", "is too long: its QR code would not fit the label");
  absl::StatusOr<Paragraph> code_lines = Fit("code", l.code, {2.4, 2.1, 1.8}, false, qr_side, 3,
                                             /*break_after_dot=*/true);
  if (!code_lines.ok()) return code_lines.status();
  const double right_h = qr_side + 0.3 + code_lines->lines.size() * kLinePitch * code_lines->size;

  const double left_w = kWidth - qr_side - 3;
  struct Item {
    absl::string_view field, label;
    std::string value;
    bool bold;
    size_t max_lines;
  };
  const Item items[] = {
      {"supplier.name", "供应商：", l.supplier.name(), false, 3},
      {"supplier.address", "地址：", l.supplier.address(), false, 3},
      {"product.emergency_phone", "应急咨询电话：", p.emergency_phone(), true, 2},
      {"batch", "批号：", l.batch, false, 2},
      {"production_date", "生产日期：", absl::FormatCivilTime(l.production_date), false, 1},
      {"quantity", "净含量：", l.quantity, false, 2},
  };
  std::vector<std::pair<Paragraph, bool>> left;
  double left_h = 0;
  for (const Item& item : items) {
    absl::StatusOr<Paragraph> para =
        Fit(item.field, absl::StrCat(item.label, item.value),
            item.bold ? std::vector<double>{3.2, 2.8, 2.5} : std::vector<double>{2.8, 2.5},
            item.bold, left_w, item.max_lines);
    if (!para.ok()) return para.status();
    left_h += para->lines.size() * kLinePitch * para->size + 0.6;
    left.emplace_back(*std::move(para), item.bold);
  }
  const double bottom_h = std::max(left_h, right_h);
  const double bottom_top = kBottom - bottom_h;
  base.rects.push_back({kLeft, bottom_top - 1.8, kWidth, 0.3, kBlack});
  double ly = bottom_top;
  for (const auto& [para, bold] : left) {
    ly = Emit(&base, para, kLeft, ly, Anchor::kStart, bold) + 0.6;
  }
  const double qr_x = kRight - qr_side;
  base.qr = {qr_x, bottom_top, kQuietZone, *std::move(qr)};
  Emit(&base, *code_lines, qr_x + qr_side / 2, bottom_top + qr_side + 0.3, Anchor::kMiddle, false);

  // Pictograms, signal word, hazard statements and the SDS reminder in what
  // is left: the first of these that fits, large text before large
  // pictograms, one column before two.
  struct Try {
    double pictogram, text;
    int columns;
  };
  std::vector<Try> tries;
  for (double pictogram : {kPictogramMax, 19.0, 15.0}) {
    for (double text : {3.0, 2.8, 2.6}) {
      for (int columns : {1, 2}) tries.push_back({pictogram, text, columns});
    }
  }
  for (double text : {2.4, 2.2}) {
    for (int columns : {1, 2}) tries.push_back({15.0, text, columns});
  }
  const double limit = bottom_top - 3;
  // The precautionary statements with their texts if they fit at any size,
  // else their codes alone.
  for (bool precaution_texts : {true, false}) {
    const std::vector<StatementList> lists = StatementLists(
        p, l.statement_texts != nullptr ? *l.statement_texts : reference::ShippedReferenceTables(),
        precaution_texts);
    for (const Try& t : tries) {
      Page page = base;
      double ty = PictogramsAndSignalWord(&page, p, identity_bottom, t.pictogram);
      ty += 1.5;
      page.rects.push_back({kLeft, ty, kWidth, 0.3, kBlack});
      ty = Statements(&page, lists, ty + 1.5, t.text, t.columns);
      if (ty <= limit) return page;
    }
    if (p.precautionary_statements().empty()) break;
  }
  return Invalid("product.hazard_statements",
                 absl::StrCat(p.hazard_statements_size(),
                              " statements do not fit the label with its other content"));
}

// ---------------------------------------------------------------------------
// SVG.

std::string Num(double v) {
  std::string s = absl::StrFormat("%.3f", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

std::string XmlEscape(absl::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string ToSvg(const Page& page) {
  std::string svg = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" "
      "xmlns:xlink=\"http://www.w3.org/1999/xlink\" version=\"1.1\" width=\"",
      Num(kPageW), "mm\" height=\"", Num(kPageH), "mm\" viewBox=\"0 0 ", Num(kPageW), " ",
      Num(kPageH),
      "\" font-family=\"'WenQuanYi Micro Hei', 'Noto Sans CJK SC', "
      "sans-serif\" "
      "xml:space=\"preserve\" style=\"white-space:pre\">\n<title>",
      XmlEscape(page.title), "</title>\n<rect width=\"", Num(kPageW), "\" height=\"", Num(kPageH),
      "\" fill=\"#fff\"/>\n");
  for (const RectOp& r : page.rects) {
    absl::StrAppend(&svg, "<rect x=\"", Num(r.x), "\" y=\"", Num(r.y), "\" width=\"", Num(r.w),
                    "\" height=\"", Num(r.h), "\" fill=\"", r.fill.Hex(), "\"/>\n");
  }
  for (const FrameOp& f : page.frames) {  // SVG strokes straddle the path
    absl::StrAppend(&svg, "<rect x=\"", Num(f.x + f.stroke / 2), "\" y=\"", Num(f.y + f.stroke / 2),
                    "\" width=\"", Num(f.w - f.stroke), "\" height=\"", Num(f.h - f.stroke),
                    "\" fill=\"none\" stroke=\"", f.color.Hex(), "\" stroke-width=\"",
                    Num(f.stroke), "\"/>\n");
  }
  for (const DiamondOp& d : page.diamonds) {
    const double r = d.r - d.border / 2 * std::sqrt(2.0);  // the stroke's centre line
    absl::StrAppend(&svg, "<path d=\"M", Num(d.cx), " ", Num(d.cy - r), "L", Num(d.cx + r), " ",
                    Num(d.cy), "L", Num(d.cx), " ", Num(d.cy + r), "L", Num(d.cx - r), " ",
                    Num(d.cy), "Z\" fill=\"#fff\" stroke=\"", d.color.Hex(), "\" stroke-width=\"",
                    Num(d.border), "\" stroke-linejoin=\"miter\"/>\n");
  }
  for (const ImageOp& im : page.images) {
    absl::StrAppend(&svg, "<image x=\"", Num(im.cx - im.side / 2), "\" y=\"",
                    Num(im.cy - im.side / 2), "\" width=\"", Num(im.side), "\" height=\"",
                    Num(im.side), "\" xlink:href=\"data:image/png;base64,", absl::Base64Escape(im.png),
                    "\"/>\n");
  }
  for (const TextOp& t : page.texts) {
    absl::StrAppend(&svg, "<text x=\"", Num(t.x), "\" y=\"", Num(t.baseline), "\" font-size=\"",
                    Num(t.size), "\"");
    if (t.bold) svg += " font-weight=\"bold\"";
    if (t.anchor == Anchor::kMiddle) svg += " text-anchor=\"middle\"";
    if (t.anchor == Anchor::kEnd) svg += " text-anchor=\"end\"";
    if (t.color.r != 0 || t.color.g != 0 || t.color.b != 0) {
      absl::StrAppend(&svg, " fill=\"", t.color.Hex(), "\"");
    }
    absl::StrAppend(&svg, ">", XmlEscape(t.text), "</text>\n");
  }
  // The QR code in module units: one path of dark modules, row runs.
  const QrOp& q = page.qr;
  const int side = q.symbol.size + 2 * q.quiet;
  std::string path;
  for (int y = 0; y < q.symbol.size; ++y) {
    for (int x = 0; x < q.symbol.size;) {
      if (!q.symbol.dark(x, y)) {
        ++x;
        continue;
      }
      int run = 1;
      while (x + run < q.symbol.size && q.symbol.dark(x + run, y)) ++run;
      absl::StrAppend(&path, "M", q.quiet + x, " ", q.quiet + y, "h", run, "v1h-", run, "z");
      x += run;
    }
  }
  absl::StrAppend(&svg, "<g transform=\"translate(", Num(q.x), " ", Num(q.y), ") scale(",
                  Num(page.qr_module), ")\" shape-rendering=\"crispEdges\"><rect width=\"", side,
                  "\" height=\"", side, "\" fill=\"#fff\"/><path fill=\"#000\" d=\"", path,
                  "\"/></g>\n</svg>\n");
  return svg;
}

// ---------------------------------------------------------------------------
// PNG: an RGB canvas, FreeType for text.

class Canvas {
 public:
  Canvas(int width, int height, double px_per_mm)
      : width_(width),
        height_(height),
        scale_(px_per_mm),
        rgb_(static_cast<size_t>(width) * height * 3, 255) {}

  int width() const { return width_; }
  int height() const { return height_; }
  double scale() const { return scale_; }

  void Blend(int x, int y, Color c, double alpha) {
    if (x < 0 || y < 0 || x >= width_ || y >= height_ || alpha <= 0) return;
    if (alpha > 1) alpha = 1;
    uint8_t* p = &rgb_[(static_cast<size_t>(y) * width_ + x) * 3];
    p[0] = static_cast<uint8_t>(std::lround(p[0] * (1 - alpha) + c.r * alpha));
    p[1] = static_cast<uint8_t>(std::lround(p[1] * (1 - alpha) + c.g * alpha));
    p[2] = static_cast<uint8_t>(std::lround(p[2] * (1 - alpha) + c.b * alpha));
  }

  // Pixel rectangle [x0, x1) x [y0, y1), clipped.
  void FillPx(int x0, int y0, int x1, int y1, Color c) {
    x0 = std::max(x0, 0), y0 = std::max(y0, 0);
    x1 = std::min(x1, width_), y1 = std::min(y1, height_);
    for (int y = y0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) {
        uint8_t* p = &rgb_[(static_cast<size_t>(y) * width_ + x) * 3];
        p[0] = c.r, p[1] = c.g, p[2] = c.b;
      }
    }
  }

  int Px(double mm) const { return static_cast<int>(std::lround(mm * scale_)); }

  void FillMm(double x, double y, double w, double h, Color c) {
    // At least one pixel thick, so hairline rules survive low resolutions.
    const int x0 = Px(x), y0 = Px(y);
    FillPx(x0, y0, std::max(Px(x + w), x0 + 1), std::max(Px(y + h), y0 + 1), c);
  }

  void Diamond(const DiamondOp& d) {
    const double cx = d.cx * scale_, cy = d.cy * scale_, r = d.r * scale_;
    const double inner = r - d.border * scale_ * std::sqrt(2.0);
    constexpr int kSub = 4;
    for (int y = static_cast<int>(cy - r) - 1; y <= static_cast<int>(cy + r) + 1; ++y) {
      for (int x = static_cast<int>(cx - r) - 1; x <= static_cast<int>(cx + r) + 1; ++x) {
        int border = 0, inside = 0;
        for (int sy = 0; sy < kSub; ++sy) {
          for (int sx = 0; sx < kSub; ++sx) {
            const double l1 =
                std::abs(x + (sx + 0.5) / kSub - cx) + std::abs(y + (sy + 0.5) / kSub - cy);
            if (l1 <= inner) {
              ++inside;
            } else if (l1 <= r) {
              ++border;
            }
          }
        }
        // The page under a diamond is white, so only the border needs blending.
        if (border > 0) Blend(x, y, d.color, border / double(kSub * kSub));
      }
    }
  }

  // Draws `png` into the square of side `side` mm centred at (cx, cy) mm:
  // each pixel the average of the picture's pixels it covers (the pictures
  // are 720 px, larger than any print of them), over what is there.
  absl::Status Image(const ImageOp& op) {
    int w = 0, h = 0, channels = 0;
    unsigned char* rgba =
        stbi_load_from_memory(reinterpret_cast<const unsigned char*>(op.png.data()),
                              static_cast<int>(op.png.size()), &w, &h, &channels, 4);
    if (rgba == nullptr) return absl::InternalError("a compiled-in pictogram does not decode");
    const double x0 = (op.cx - op.side / 2) * scale_, y0 = (op.cy - op.side / 2) * scale_;
    const double side = op.side * scale_;
    const double sx = w / side, sy = h / side;  // source pixels per target pixel
    for (int ty = static_cast<int>(std::floor(y0)); ty < static_cast<int>(std::ceil(y0 + side));
         ++ty) {
      for (int tx = static_cast<int>(std::floor(x0));
           tx < static_cast<int>(std::ceil(x0 + side)); ++tx) {
        const int u0 = std::max(0, static_cast<int>((tx - x0) * sx));
        const int u1 = std::min(w, std::max(u0 + 1, static_cast<int>((tx + 1 - x0) * sx)));
        const int v0 = std::max(0, static_cast<int>((ty - y0) * sy));
        const int v1 = std::min(h, std::max(v0 + 1, static_cast<int>((ty + 1 - y0) * sy)));
        if (u0 >= u1 || v0 >= v1) continue;
        double r = 0, g = 0, b = 0, a = 0;
        for (int v = v0; v < v1; ++v) {
          for (int u = u0; u < u1; ++u) {
            const unsigned char* px = &rgba[(static_cast<size_t>(v) * w + u) * 4];
            const double alpha = px[3] / 255.0;
            r += px[0] * alpha, g += px[1] * alpha, b += px[2] * alpha, a += alpha;
          }
        }
        if (a <= 0) continue;
        const double n = static_cast<double>(u1 - u0) * (v1 - v0);
        const Color c{static_cast<uint8_t>(std::lround(r / a)),
                      static_cast<uint8_t>(std::lround(g / a)),
                      static_cast<uint8_t>(std::lround(b / a))};
        Blend(tx, ty, c, a / n);
      }
    }
    stbi_image_free(rgba);
    return absl::OkStatus();
  }

  std::string TakeScanlines() {
    const size_t row = static_cast<size_t>(width_) * 3;
    std::string raw;
    raw.reserve((row + 1) * height_);
    for (int y = 0; y < height_; ++y) {
      raw.push_back('\0');  // filter: none
      raw.append(reinterpret_cast<const char*>(&rgb_[y * row]), row);
    }
    return raw;
  }

 private:
  int width_, height_;
  double scale_;
  std::vector<uint8_t> rgb_;
};

// One FreeType library and face per thread, kept between calls (FreeType
// objects are not thread-safe; opening a CJK font costs more than a label).
struct FontCache {
  FT_Library library = nullptr;
  FT_Face face = nullptr;
  std::string path;
  ~FontCache() { Reset(); }
  void Reset() {
    if (face != nullptr) FT_Done_Face(face);
    if (library != nullptr) FT_Done_FreeType(library);
    face = nullptr, library = nullptr;
    path.clear();
  }
};

// Opens `path` into `cache`: the collection's first face that is not a
// monospace variant, preferring a Simplified Chinese one ("... SC"). False if
// the file does not open or has no Chinese glyphs.
bool OpenFont(const std::string& path, FontCache* cache) {
  cache->Reset();
  if (FT_Init_FreeType(&cache->library) != 0) return false;
  FT_Face first = nullptr;
  if (FT_New_Face(cache->library, path.c_str(), 0, &first) != 0) {
    cache->Reset();
    return false;
  }
  long chosen = 0;
  int best = -1;
  for (long i = 0; i < first->num_faces; ++i) {
    FT_Face f = nullptr;
    if (FT_New_Face(cache->library, path.c_str(), i, &f) != 0) continue;
    const std::string family = f->family_name != nullptr ? f->family_name : "";
    const int score =
        (absl::StrContains(family, "Mono") ? 0 : 2) + (absl::StrContains(family, " SC") ? 1 : 0);
    if (score > best) best = score, chosen = i;
    FT_Done_Face(f);
  }
  FT_Done_Face(first);
  if (FT_New_Face(cache->library, path.c_str(), chosen, &cache->face) != 0 ||
      FT_Get_Char_Index(cache->face, 0x5371 /* 危 */) == 0) {
    cache->Reset();
    return false;
  }
  cache->path = path;
  return true;
}

absl::StatusOr<FT_Face> Font(const std::vector<std::string>& font_files) {
  thread_local FontCache cache;
  for (const std::string& path : font_files) {
    if (cache.face != nullptr && cache.path == path) return cache.face;
    if (OpenFont(path, &cache)) return cache.face;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("printable label: no usable CJK font for PNG rendering (tried ",
                   absl::StrJoin(font_files, ", "),
                   "): install the Debian package fonts-wqy-microhei "
                   "(tools/install-deps.sh)"));
}

absl::Status DrawText(FT_Face face, const TextOp& t, Canvas* canvas) {
  const double size_px = t.size * canvas->scale();
  if (FT_Set_Char_Size(face, 0, static_cast<FT_F26Dot6>(std::lround(size_px * 64)), 72, 72) != 0) {
    return absl::InternalError("printable label: FreeType cannot set the text size");
  }
  std::vector<char32_t> cps;
  DecodeUtf8(t.text, &cps);
  // Synthetic bold: outlines grown by em/22, advances by as much (the width
  // model's kBoldWidthFactor allows for it).
  const FT_Pos embolden = t.bold ? static_cast<FT_Pos>(std::lround(size_px * 64 / 22)) : 0;
  std::vector<FT_UInt> glyphs;
  double width = 0;  // pixels, unhinted advances
  for (char32_t c : cps) {
    const FT_UInt g = FT_Get_Char_Index(face, c);
    glyphs.push_back(g);
    FT_Fixed advance = 0;
    FT_Get_Advance(face, g, FT_LOAD_NO_HINTING, &advance);
    width += advance / 65536.0 + embolden / 64.0;
  }
  double pen = t.x * canvas->scale();
  if (t.anchor == Anchor::kMiddle) pen -= width / 2;
  if (t.anchor == Anchor::kEnd) pen -= width;
  const int baseline = static_cast<int>(std::lround(t.baseline * canvas->scale()));
  for (FT_UInt g : glyphs) {
    const double origin = std::floor(pen);
    FT_Vector delta{static_cast<FT_Pos>(std::lround((pen - origin) * 64)), 0};
    FT_Set_Transform(face, nullptr, &delta);
    if (FT_Load_Glyph(face, g, FT_LOAD_NO_BITMAP | FT_LOAD_TARGET_LIGHT) == 0) {
      FT_GlyphSlot slot = face->glyph;
      if (embolden > 0 && slot->format == FT_GLYPH_FORMAT_OUTLINE) {
        FT_Outline_Embolden(&slot->outline, embolden);
      }
      if (FT_Render_Glyph(slot, FT_RENDER_MODE_NORMAL) == 0) {
        const FT_Bitmap& bm = slot->bitmap;
        const int x0 = static_cast<int>(origin) + slot->bitmap_left;
        const int y0 = baseline - slot->bitmap_top;
        for (unsigned row = 0; row < bm.rows; ++row) {
          for (unsigned col = 0; col < bm.width; ++col) {
            const uint8_t a = bm.buffer[static_cast<long>(row) * bm.pitch + col];
            if (a != 0)
              canvas->Blend(x0 + static_cast<int>(col), y0 + static_cast<int>(row), t.color,
                            a / 255.0);
          }
        }
      }
      pen += slot->linearHoriAdvance / 65536.0 + embolden / 64.0;
    }
  }
  FT_Set_Transform(face, nullptr, nullptr);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ToPng(const Page& page, int dpi, int module_px, FT_Face face) {
  const double scale = dpi / 25.4;
  Canvas canvas(static_cast<int>(std::lround(kPageW * scale)),
                static_cast<int>(std::lround(kPageH * scale)), scale);
  for (const RectOp& r : page.rects) canvas.FillMm(r.x, r.y, r.w, r.h, r.fill);
  for (const FrameOp& f : page.frames) {
    canvas.FillMm(f.x, f.y, f.w, f.stroke, f.color);
    canvas.FillMm(f.x, f.y + f.h - f.stroke, f.w, f.stroke, f.color);
    canvas.FillMm(f.x, f.y, f.stroke, f.h, f.color);
    canvas.FillMm(f.x + f.w - f.stroke, f.y, f.stroke, f.h, f.color);
  }
  for (const DiamondOp& d : page.diamonds) canvas.Diamond(d);
  for (const ImageOp& im : page.images) {
    if (absl::Status s = canvas.Image(im); !s.ok()) return s;
  }
  for (const TextOp& t : page.texts) {
    if (absl::Status s = DrawText(face, t, &canvas); !s.ok()) return s;
  }
  // The QR code on whole pixels: a white quiet zone, then dark modules.
  const QrOp& q = page.qr;
  const int x0 = canvas.Px(q.x), y0 = canvas.Px(q.y);
  const int side = (q.symbol.size + 2 * q.quiet) * module_px;
  canvas.FillPx(x0, y0, x0 + side, y0 + side, kWhite);
  for (int my = 0; my < q.symbol.size; ++my) {
    for (int mx = 0; mx < q.symbol.size; ++mx) {
      if (!q.symbol.dark(mx, my)) continue;
      const int px = x0 + (q.quiet + mx) * module_px, py = y0 + (q.quiet + my) * module_px;
      canvas.FillPx(px, py, px + module_px, py + module_px, kBlack);
    }
  }
  return internal::WritePng(canvas.width(), canvas.height(), internal::PngPixels::kRgb8,
                            canvas.TakeScanlines(), dpi);
}

}  // namespace

const std::vector<HazardStatementText>& AllHazardStatements() {
  return reference::HazardStatementRows();
}

std::optional<HazardStatementText> FindHazardStatement(absl::string_view code) {
  for (const HazardStatementText& h : reference::HazardStatementRows()) {
    if (h.code == code) return h;
  }
  return std::nullopt;
}

const std::vector<std::string>& DefaultLabelFontFiles() {
  static const auto* files = new std::vector<std::string>{
      "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",          // fonts-wqy-microhei
      "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",            // fonts-wqy-zenhei
      "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  // fonts-noto-cjk
  };
  return *files;
}

absl::StatusOr<std::string> RenderLabelSvg(const PrintableLabel& label) {
  if (absl::Status s = Validate(label); !s.ok()) return s;
  absl::StatusOr<Page> page = Layout(label, /*qr_module=*/0.5);
  if (!page.ok()) return page.status();
  return ToSvg(*page);
}

absl::StatusOr<std::string> RenderLabelPng(const PrintableLabel& label, int dpi) {
  return RenderLabelPng(label, dpi, DefaultLabelFontFiles());
}

absl::StatusOr<std::string> RenderLabelPng(const PrintableLabel& label, int dpi,
                                           const std::vector<std::string>& font_files) {
  if (dpi < 100 || dpi > 1200) return Invalid("dpi", absl::StrCat(dpi, " is not within 100-1200"));
  if (absl::Status s = Validate(label); !s.ok()) return s;
  // QR modules: whole pixels, at least 0.5 mm.
  const int module_px = static_cast<int>(std::ceil(0.5 * dpi / 25.4 - 1e-9));
  absl::StatusOr<Page> page = Layout(label, module_px * 25.4 / dpi);
  if (!page.ok()) return page.status();
  absl::StatusOr<FT_Face> face = Font(font_files);
  if (!face.ok()) return face.status();
  return ToPng(*page, dpi, module_px, *face);
}

}  // namespace chemledger::render
