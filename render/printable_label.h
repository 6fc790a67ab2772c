// Part of render/, the package that renders labels and QR codes for printing
// and reads them back from images. It holds no server state: callers pass in
// what to draw (a signed URL, a label's fields) and get bytes back.
//
// Printable package labels in the spirit of GB 15258 (化学品安全标签): one A6
// page (105 x 148 mm, portrait) with the product identifier (Chinese and
// English name, CAS, UN number, class, packing group), control flags (剧毒,
// 易制爆, ...), the GHS pictograms (the real symbols: render/pictograms.h),
// the signal word (危险/警告), the hazard statements with their Chinese
// text, the precautionary statements with their text (Chinese where the
// reference tables have it, else English), the SDS reminder, supplier,
// emergency phone
// (应急咨询电话), batch, production date, net quantity, and the package's
// signed QR code (crypto/label.h) with its human-readable code.
// docs/label-format.md ("Printable label") describes the layout.
//
// Two renderings of the same layout: SVG (self-contained text; the viewer's
// fonts draw the text) and PNG (rasterised here with FreeType and a CJK font
// from a Debian package, fonts-wqy-microhei by default). Statement texts
// come from the tables the label names (the texts in force on the server,
// as its scan pages show them), or from reference/reference_tables.h,
// compiled into the binary.
//
// Thread-safety: pure functions; safe from any thread (each thread keeps its
// own FreeType instance for PNG rendering).

#ifndef CHEMLEDGER_RENDER_PRINTABLE_LABEL_H_
#define CHEMLEDGER_RENDER_PRINTABLE_LABEL_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "chemledger/v1/registry.pb.h"
#include "reference/reference_tables.h"

namespace chemledger::render {

// Everything printed on a label. A plain value type.
struct PrintableLabel {
  // Printed: name_zh (required), name_en, cas, un_number (required, 4
  // digits), hazard_class, packing_group, ghs_pictograms (GHS01-GHS09),
  // signal_word, hazard_statements (H codes), control_flags (剧毒, 易制爆,
  // 易制毒, 重点监管, 高危), emergency_phone (required). Other fields are ignored.
  v1::Product product;
  // name and address, both required (供应商).
  v1::Enterprise supplier;
  std::string url;   // the signed label URL the QR code holds (crypto/label.h); required
  std::string code;  // the package's human-readable code, LabelClaims::Code(); required
  std::string batch;  // required
  absl::CivilDay production_date;
  std::string quantity;  // net quantity as printed, e.g. "25 kg" or "200 L"; required
  // Where the hazard and precautionary statements' texts come from (not
  // owned; null: the tables compiled in, ShippedReferenceTables()).
  const reference::ReferenceTables* statement_texts = nullptr;
};

// Page size in millimetres.
inline constexpr double kPrintableLabelWidthMm = 105;
inline constexpr double kPrintableLabelHeightMm = 148;

// The label as an SVG document in millimetre units. InvalidArgument naming
// the field ("product.name_zh: is required", "product.ghs_pictograms[2]:
// unknown pictogram code 'GHS10' ...", "product.hazard_statements: 14
// statements do not fit ...") when something is missing, malformed or does
// not fit.
absl::StatusOr<std::string> RenderLabelSvg(const PrintableLabel& label);

// The label as an 8-bit RGB PNG of 105 x 148 mm at `dpi` (100-1200; a pHYs
// chunk records it). QR modules are a whole number of pixels, at least 0.5
// mm. Errors as RenderLabelSvg, and InvalidArgument for `dpi`,
// FailedPrecondition naming the font package when no CJK font is installed.
absl::StatusOr<std::string> RenderLabelPng(const PrintableLabel& label, int dpi = 200);

// As above with the font files to try, in order (TrueType/OpenType, .ttc
// collections too); the first that opens and has Chinese glyphs is used.
absl::StatusOr<std::string> RenderLabelPng(const PrintableLabel& label, int dpi,
                                           const std::vector<std::string>& font_files);

// The font files RenderLabelPng tries by default: Debian's fonts-wqy-microhei,
// fonts-wqy-zenhei and fonts-noto-cjk.
const std::vector<std::string>& DefaultLabelFontFiles();

// A GHS hazard statement from the compiled-in table: code ("H225",
// "H300+H310"), zh (高度易燃液体和蒸气), en (Highly flammable liquid and vapour).
using HazardStatementText = reference::HazardStatementRow;

// The statement for `code`, or nullopt if the table does not have it.
std::optional<HazardStatementText> FindHazardStatement(absl::string_view code);

// Every statement in the table, in table order.
const std::vector<HazardStatementText>& AllHazardStatements();

}  // namespace chemledger::render

#endif  // CHEMLEDGER_RENDER_PRINTABLE_LABEL_H_
