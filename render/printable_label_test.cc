#include "render/printable_label.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/label.h"
#include "crypto/label_testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "render/pictograms.h"
#include "render/qr.h"
#include "stb/stb_image.h"
#include "tests/subprocess.h"

namespace chemledger::render {
namespace {

using ::testing::HasSubstr;

// Like EXPECT_THAT(s, HasSubstr(x)), without printing all of a long SVG.
#define EXPECT_CONTAINS(s, x) EXPECT_TRUE(absl::StrContains(s, x)) << "missing: " << (x)
#define EXPECT_NOT_CONTAINS(s, x) EXPECT_FALSE(absl::StrContains(s, x)) << "present: " << (x)

// The docs' example package (ammonium nitrate, 25 kg) with a real signed URL.
PrintableLabel ExampleLabel() {
  const crypto::LabelClaims claims = crypto::testing::ExampleLabelClaims(17);
  PrintableLabel l;
  v1::Product& p = l.product;
  p.set_enterprise_uscc(claims.enterprise);
  p.set_product_number(claims.product);
  p.set_name_zh("硝酸铵[含可燃物≤0.2%]");
  p.set_name_en("Ammonium nitrate (not more than 0.2% combustible substances)");
  p.set_cas(claims.cas);
  p.set_un_number(claims.un_number);
  p.set_hazard_class("5.1");
  p.set_packing_group("III");
  p.add_ghs_pictograms("GHS03");
  p.add_ghs_pictograms("GHS07");
  p.set_signal_word(v1::WARNING);
  p.add_hazard_statements("H272");
  p.add_hazard_statements("H319");
  p.add_control_flags("易制爆");
  p.add_control_flags("重点监管");
  p.add_control_flags("高危");
  p.set_emergency_phone("0591-87654321");
  l.supplier.set_uscc(claims.enterprise);
  l.supplier.set_name("示例化工有限公司");
  l.supplier.set_address("福建省福州市示例区示例路1号");
  l.url = *crypto::MakeLabelUrl(claims, crypto::testing::TestKey(7));
  l.code = claims.Code();
  l.batch = claims.batch;
  l.production_date = claims.production_date;
  l.quantity = "25 kg";
  return l;
}

// A greyscale view of a PNG.
struct Grey {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;
  uint8_t at(int x, int y) const { return pixels[static_cast<size_t>(y) * width + x]; }
};

Grey Decode(const std::string& png) {
  Grey g;
  int channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> data(
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(png.data()),
                            static_cast<int>(png.size()), &g.width, &g.height, &channels, 1),
      &stbi_image_free);
  if (data == nullptr) return g;
  g.pixels.assign(data.get(), data.get() + static_cast<size_t>(g.width) * g.height);
  return g;
}

int DarkPixels(const Grey& g, int x0, int y0, int x1, int y1) {
  int n = 0;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) n += g.at(x, y) < 128;
  }
  return n;
}

std::string RunCommand(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return "popen failed";
  std::string output;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) output.append(buf, n);
  const int status = pclose(p);
  return status == 0 ? output : absl::StrCat("exit status ", status, ": ", output);
}

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  const std::string path = testing::FreshTempDir("printable_label") + "/" + name;
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  return path;
}

// Keeps a copy for people to look at (bazel-testlogs/.../test.outputs).
void KeepOutput(const std::string& name, const std::string& bytes) {
  if (const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR")) {
    std::ofstream(absl::StrCat(dir, "/", name), std::ios::binary) << bytes;
  }
}

TEST(PrintableLabelTest, SvgHasTheContent) {
  const PrintableLabel l = ExampleLabel();
  absl::StatusOr<std::string> svg = RenderLabelSvg(l);
  ASSERT_TRUE(svg.ok()) << svg.status();
  KeepOutput("example.svg", *svg);
  EXPECT_TRUE(absl::StartsWith(*svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "));
  EXPECT_TRUE(absl::EndsWith(*svg, "</svg>\n"));
  EXPECT_CONTAINS(*svg, "width=\"105mm\" height=\"148mm\" viewBox=\"0 0 105 148\"");
  EXPECT_CONTAINS(*svg, "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', sans-serif");
  for (const std::string& text : {
           std::string(">硝酸铵[含可燃物≤0.2%]<"),
           std::string("Ammonium nitrate"),
           std::string("CAS号 6484-52-2"),
           std::string("UN号 1942"),
           std::string("危险货物类别 5.1"),
           std::string("包装类别 III"),
           std::string(">警告<"),
           std::string(">易制爆<"),
           std::string(">重点监管<"),
           std::string(">高危<"),
           std::string(">H272<"),
           std::string(">可加剧燃烧；氧化剂<"),
           std::string(">H319<"),
           std::string(">造成严重眼刺激<"),
           std::string(">危险性说明<"),
           std::string("请参阅化学品安全技术说明书"),
           std::string(">应急咨询电话：0591-87654321<"),
           std::string("供应商：示例化工有限公司"),
           std::string("福建省福州市示例区示例路1号"),
           std::string(">批号：B2026112301<"),
           std::string(">生产日期：2026-11-23<"),
           std::string(">净含量：25 kg<"),
           std::string("91350100M000100Y43."),
           std::string("AN01.B2026112301.17"),
       }) {
    EXPECT_CONTAINS(*svg, text);
  }
  EXPECT_NOT_CONTAINS(*svg, ">危险<");  // the signal word is 警告
  // The two pictograms as the real symbols (ghsystem's pictures, embedded),
  // in the product's order; no drawn diamonds.
  const size_t oxidiser = svg->find(absl::Base64Escape(*GhsPictogramPng("GHS03")));
  const size_t harmful = svg->find(absl::Base64Escape(*GhsPictogramPng("GHS07")));
  ASSERT_NE(oxidiser, std::string::npos);
  ASSERT_NE(harmful, std::string::npos);
  EXPECT_LT(oxidiser, harmful);
  size_t images = 0;
  for (size_t at = svg->find("<image "); at != std::string::npos; at = svg->find("<image ", at + 1)) {
    ++images;
  }
  EXPECT_EQ(images, 2u);
  EXPECT_NOT_CONTAINS(*svg, "stroke=\"#d7000f\"");
}

TEST(PrintableLabelTest, SvgIsWellFormedXml) {
  PrintableLabel l = ExampleLabel();
  l.product.set_name_en("Acid & <Base> \"quoted\" 'single'");
  l.supplier.set_name("A&B <化工> 公司");
  absl::StatusOr<std::string> svg = RenderLabelSvg(l);
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_CONTAINS(*svg, "Acid &amp; &lt;Base&gt; &quot;quoted&quot; &apos;single&apos;");
  EXPECT_CONTAINS(*svg, "A&amp;B &lt;化工&gt; 公司");
  EXPECT_NOT_CONTAINS(*svg, "<Base>");
  EXPECT_NOT_CONTAINS(*svg, "<化工>");
  // A real XML parser (Debian's python3) accepts it and finds the title.
  const std::string path = WriteTemp("label.svg", *svg);
  const std::string out = RunCommand(
      absl::StrCat("/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; "
                   "r = E.parse(sys.argv[1]).getroot(); "
                   "print(r.tag, len(r.findall(\"{http://www.w3.org/2000/svg}text\")))' '",
                   path, "' 2>&1"));
  EXPECT_TRUE(absl::StartsWith(out, "{http://www.w3.org/2000/svg}svg ")) << out;
  int texts = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(out.substr(out.find(' ') + 1)), &texts))
      << out;
  EXPECT_GT(texts, 20);
}

// Rebuilds the QR modules from the SVG's path and decodes them: the SVG's
// code is the URL, at 0.5 mm a module.
TEST(PrintableLabelTest, SvgQrCodeDecodesToTheUrl) {
  const PrintableLabel l = ExampleLabel();
  const std::string svg = *RenderLabelSvg(l);
  const size_t g = svg.find(" scale(0.5)\" shape-rendering=\"crispEdges\"><rect width=\"");
  ASSERT_NE(g, std::string::npos);
  const size_t d = svg.find("<path fill=\"#000\" d=\"", g);
  ASSERT_NE(d, std::string::npos);
  const size_t end = svg.find('"', d + 21);
  const std::string path = svg.substr(d + 21, end - d - 21);
  const QrSymbol reference = *EncodeQr(l.url, QrErrorCorrection::kM);
  QrSymbol rebuilt;
  rebuilt.size = reference.size;
  rebuilt.modules.assign(reference.modules.size(), false);
  // Segments "M<x> <y>h<run>v1h-<run>z", coordinates including the 4-module
  // quiet zone.
  int segments = 0;
  for (size_t at = path.find('M'); at != std::string::npos; at = path.find('M', at + 1)) {
    int x = 0, y = 0, run = 0;
    ASSERT_EQ(std::sscanf(path.c_str() + at, "M%d %dh%dv1h-", &x, &y, &run), 3)
        << path.substr(at, 20);
    ASSERT_GE(x, 4);
    ASSERT_GE(y, 4);
    ASSERT_LE(x - 4 + run, rebuilt.size);
    ASSERT_LT(y - 4, rebuilt.size);
    for (int i = 0; i < run; ++i) {
      rebuilt.modules[static_cast<size_t>(y - 4) * rebuilt.size + x - 4 + i] = true;
    }
    ++segments;
  }
  EXPECT_GT(segments, 100);
  EXPECT_EQ(rebuilt.modules, reference.modules);
  absl::StatusOr<std::vector<std::string>> read = ReadQrCodes(*QrToPng(rebuilt, 4, 4));
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0], l.url);
}

TEST(PrintableLabelTest, PrecautionaryStatements) {
  PrintableLabel l = ExampleLabel();
  for (const char* code : {"P210", "P220", "P280", "P305+P351+P338", "P501"}) {
    l.product.add_precautionary_statements(code);
  }
  absl::StatusOr<std::string> svg = RenderLabelSvg(l);
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_CONTAINS(*svg, ">防范说明<");
  EXPECT_CONTAINS(*svg, ">P210<");
  EXPECT_CONTAINS(*svg, ">P305+P351+P338<");
  // No Chinese P texts are shipped: the English of the reference table.
  EXPECT_CONTAINS(*svg, "Keep away from heat/sparks/open flames/hot");
  absl::StatusOr<std::string> png = RenderLabelPng(l);
  ASSERT_TRUE(png.ok()) << png.status();
  KeepOutput("precautionary_statements.png", *png);

  // More than fit with their texts: the codes alone.
  PrintableLabel many = ExampleLabel();
  for (const char* code :
       {"P201", "P202", "P210", "P220", "P221", "P233", "P240", "P241", "P242", "P243", "P260",
        "P264", "P270", "P271", "P272", "P273", "P280", "P284", "P301+P310", "P302+P352",
        "P304+P340", "P305+P351+P338", "P308+P313", "P370+P378", "P403+P233", "P405", "P501"}) {
    many.product.add_precautionary_statements(code);
  }
  svg = RenderLabelSvg(many);
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_CONTAINS(*svg, ">防范说明<");
  EXPECT_CONTAINS(*svg, "P201 P202 P210");
  EXPECT_NOT_CONTAINS(*svg, "Keep away from heat");
  png = RenderLabelPng(many);
  ASSERT_TRUE(png.ok()) << png.status();
  KeepOutput("precautionary_codes_only.png", *png);

  PrintableLabel bad = ExampleLabel();
  bad.product.add_precautionary_statements("P21");
  absl::StatusOr<std::string> refused = RenderLabelSvg(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("product.precautionary_statements[0]"));
}

TEST(PrintableLabelTest, AllNinePictograms) {
  PrintableLabel l = ExampleLabel();
  l.product.clear_ghs_pictograms();
  for (int i = 1; i <= 9; ++i) l.product.add_ghs_pictograms(absl::StrCat("GHS0", i));
  l.product.set_signal_word(v1::DANGER);
  absl::StatusOr<std::string> svg = RenderLabelSvg(l);
  ASSERT_TRUE(svg.ok()) << svg.status();
  for (int i = 1; i <= 9; ++i) {
    EXPECT_CONTAINS(*svg, absl::Base64Escape(*GhsPictogramPng(absl::StrCat("GHS0", i))));
  }
  EXPECT_CONTAINS(*svg, ">危险<");
  absl::StatusOr<std::string> png = RenderLabelPng(l);
  ASSERT_TRUE(png.ok()) << png.status();
  KeepOutput("nine_pictograms.png", *png);
  absl::StatusOr<std::vector<std::string>> read = ReadQrCodes(*png);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, std::vector<std::string>{l.url});
}

TEST(PrintableLabelTest, PngDecodesToTheUrl) {
  const PrintableLabel l = ExampleLabel();
  for (int dpi : {200, 300}) {
    absl::StatusOr<std::string> png = RenderLabelPng(l, dpi);
    ASSERT_TRUE(png.ok()) << png.status();
    KeepOutput(absl::StrCat("example_", dpi, "dpi.png"), *png);
    EXPECT_EQ(png->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_CONTAINS(*png, "pHYs");
    const Grey g = Decode(*png);
    EXPECT_EQ(g.width, dpi == 200 ? 827 : 1240);
    EXPECT_EQ(g.height, dpi == 200 ? 1165 : 1748);
    absl::StatusOr<std::vector<std::string>> read = ReadQrCodes(*png);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(*read, std::vector<std::string>{l.url}) << dpi << " dpi";
  }
}

// An independent reader (zbarimg, Debian's zbar-tools) finds the same URL in
// the whole label.
TEST(PrintableLabelTest, PngDecodesWithZbar) {
  ASSERT_EQ(std::system("command -v zbarimg >/dev/null 2>&1"), 0)
      << "zbarimg not installed: run tools/install-deps.sh (it installs "
         "zbar-tools)";
  const PrintableLabel l = ExampleLabel();
  const std::string path = WriteTemp("label.png", *RenderLabelPng(l));
  EXPECT_EQ(RunCommand(absl::StrCat("zbarimg --quiet --raw '", path, "'")), l.url + "\n");
}

// The signal word is drawn, centred, large: 危险 and 警告 labels differ only
// there, and both have ink there.
TEST(PrintableLabelTest, SignalWordIsDrawn) {
  PrintableLabel l = ExampleLabel();
  l.product.set_signal_word(v1::DANGER);
  const Grey danger = Decode(*RenderLabelPng(l));
  l.product.set_signal_word(v1::WARNING);
  const Grey warning = Decode(*RenderLabelPng(l));
  ASSERT_EQ(danger.width, warning.width);
  ASSERT_EQ(danger.height, warning.height);
  int x0 = danger.width, y0 = danger.height, x1 = -1, y1 = -1;
  for (int y = 0; y < danger.height; ++y) {
    for (int x = 0; x < danger.width; ++x) {
      if (danger.at(x, y) != warning.at(x, y)) {
        x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
      }
    }
  }
  ASSERT_GE(x1, 0) << "危险 and 警告 render the same";
  const double px_per_mm = 200 / 25.4;
  // Two 8 mm characters, centred on the page, below the pictograms.
  EXPECT_NEAR((x0 + x1) / 2.0 / px_per_mm, 52.5, 2.0);
  EXPECT_GT((x1 - x0) / px_per_mm, 12);
  EXPECT_LT((x1 - x0) / px_per_mm, 19);
  EXPECT_GT((y1 - y0) / px_per_mm, 5);
  EXPECT_LT((y1 - y0) / px_per_mm, 9);
  const int area = (x1 - x0 + 1) * (y1 - y0 + 1);
  EXPECT_GT(DarkPixels(danger, x0, y0, x1 + 1, y1 + 1), area / 8);
  EXPECT_GT(DarkPixels(warning, x0, y0, x1 + 1, y1 + 1), area / 8);
}

TEST(PrintableLabelTest, HazardStatementsAreDrawn) {
  PrintableLabel with = ExampleLabel();
  PrintableLabel without = with;
  without.product.clear_hazard_statements();
  const Grey a = Decode(*RenderLabelPng(with));
  const Grey b = Decode(*RenderLabelPng(without));
  ASSERT_EQ(a.pixels.size(), b.pixels.size());
  EXPECT_NE(a.pixels, b.pixels);
  // Heading, two codes and two texts: clearly more ink.
  EXPECT_GT(DarkPixels(a, 0, 0, a.width, a.height), DarkPixels(b, 0, 0, b.width, b.height) + 2000);
  // The same label twice is the same file.
  EXPECT_EQ(*RenderLabelPng(with), *RenderLabelPng(with));
}

TEST(PrintableLabelTest, UnknownStatementCodePrintsTheCodeAlone) {
  PrintableLabel l = ExampleLabel();
  l.product.add_hazard_statements("H999");
  l.product.add_hazard_statements("H300+H310+H330");
  const std::string svg = *RenderLabelSvg(l);
  EXPECT_CONTAINS(svg, ">H999</text>");
  EXPECT_CONTAINS(svg, ">H300+H310+H330<");
  EXPECT_CONTAINS(svg, ">吞咽、皮肤接触或吸入致命<");
}

TEST(PrintableLabelTest, ManyStatementsShrinkThenRefuse) {
  PrintableLabel l = ExampleLabel();
  l.product.clear_hazard_statements();
  for (const char* h : {"H225", "H301", "H311", "H331", "H314", "H317", "H334", "H340", "H350",
                        "H360", "H370", "H372", "H410"}) {
    l.product.add_hazard_statements(h);
  }
  absl::StatusOr<std::string> svg = RenderLabelSvg(l);
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_CONTAINS(*svg, ">H372<");
  // Wrapped in its column, with no lone character on the last line.
  EXPECT_CONTAINS(*svg, ">长期或反复接触会对器官造成<");
  EXPECT_CONTAINS(*svg, ">损害<");
  absl::StatusOr<std::string> png = RenderLabelPng(l);
  ASSERT_TRUE(png.ok()) << png.status();
  KeepOutput("thirteen_statements.png", *png);
  EXPECT_EQ(*ReadQrCodes(*png), std::vector<std::string>{l.url});
  for (int i = 0; i < 40; ++i) l.product.add_hazard_statements("H410");
  absl::StatusOr<std::string> refused = RenderLabelSvg(l);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("product.hazard_statements"));
}

TEST(PrintableLabelTest, BadInputNamesTheField) {
  struct Case {
    const char* field;
    void (*change)(PrintableLabel*);
  };
  const Case cases[] = {
      {"product.name_zh: is required", [](PrintableLabel* l) { l->product.clear_name_zh(); }},
      {"url: is required", [](PrintableLabel* l) { l->url.clear(); }},
      {"code: is required", [](PrintableLabel* l) { l->code.clear(); }},
      {"batch: is required", [](PrintableLabel* l) { l->batch.clear(); }},
      {"quantity: is required", [](PrintableLabel* l) { l->quantity.clear(); }},
      {"supplier.name: is required", [](PrintableLabel* l) { l->supplier.clear_name(); }},
      {"supplier.address: is required", [](PrintableLabel* l) { l->supplier.clear_address(); }},
      {"product.emergency_phone: is required",
       [](PrintableLabel* l) { l->product.clear_emergency_phone(); }},
      {"product.un_number", [](PrintableLabel* l) { l->product.set_un_number("19a2"); }},
      {"product.ghs_pictograms[1]: unknown pictogram code 'GHS10'",
       [](PrintableLabel* l) { l->product.set_ghs_pictograms(1, "GHS10"); }},
      {"product.ghs_pictograms[1]: is listed twice",
       [](PrintableLabel* l) { l->product.set_ghs_pictograms(1, "GHS03"); }},
      {"product.hazard_statements[0]",
       [](PrintableLabel* l) { l->product.set_hazard_statements(0, "X225"); }},
      {"product.control_flags[1]: unknown control flag",
       [](PrintableLabel* l) { l->product.set_control_flags(1, "危险"); }},
      {"product.control_flags[2]: is listed twice",
       [](PrintableLabel* l) { l->product.set_control_flags(2, "易制爆"); }},
      {"product.hazard_statements[1]",
       [](PrintableLabel* l) { l->product.set_hazard_statements(1, "H300+H310+H330+H370"); }},
      {"product.signal_word",
       [](PrintableLabel* l) { l->product.set_signal_word(static_cast<v1::SignalWord>(7)); }},
      {"product.name_en: is not valid UTF-8",
       [](PrintableLabel* l) { l->product.set_name_en("bad \xff byte"); }},
      {"supplier.address: contains a control character",
       [](PrintableLabel* l) { l->supplier.set_address("line\nbreak"); }},
      {"product.name_zh: is too long",
       [](PrintableLabel* l) {
         std::string s;
         for (int i = 0; i < 60; ++i) s += "硝";
         l->product.set_name_zh(s);
       }},
      {"supplier.address: is too long",
       [](PrintableLabel* l) { l->supplier.set_address(std::string(300, 'A')); }},
  };
  for (const Case& c : cases) {
    PrintableLabel l = ExampleLabel();
    c.change(&l);
    absl::StatusOr<std::string> svg = RenderLabelSvg(l);
    EXPECT_EQ(svg.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_TRUE(absl::StartsWith(svg.status().message(), c.field))
        << "want " << c.field << ", got " << svg.status();
    absl::StatusOr<std::string> png = RenderLabelPng(l);
    EXPECT_EQ(png.status(), svg.status());
  }
  EXPECT_THAT(RenderLabelPng(ExampleLabel(), 50).status().message(), HasSubstr("dpi"));
  EXPECT_EQ(RenderLabelPng(ExampleLabel(), 5000).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PrintableLabelTest, MissingFontNamesThePackage) {
  absl::StatusOr<std::string> png =
      RenderLabelPng(ExampleLabel(), 200, {"/nonexistent/wqy-microhei.ttc"});
  EXPECT_EQ(png.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(png.status().message(), HasSubstr("fonts-wqy-microhei"));
  EXPECT_THAT(png.status().message(), HasSubstr("/nonexistent/wqy-microhei.ttc"));
  // Not a font at all.
  const std::string not_a_font = WriteTemp("font.ttc", "not a font");
  EXPECT_EQ(RenderLabelPng(ExampleLabel(), 200, {not_a_font}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // The default font is installed (tools/install-deps.sh), and the renderer
  // goes on to it after a missing one.
  EXPECT_TRUE(
      RenderLabelPng(ExampleLabel(), 200, {"/nonexistent/font.ttc", DefaultLabelFontFiles()[0]})
          .ok());
}

TEST(HazardStatementsTest, TableCoversTheGhsCodes) {
  const std::vector<HazardStatementText>& all = AllHazardStatements();
  EXPECT_GE(all.size(), 90u);
  for (const char* code :
       {"H200", "H201", "H202", "H203", "H204", "H205", "H220", "H221", "H222", "H223", "H224",
        "H225", "H226", "H227", "H228", "H229", "H230", "H231", "H240", "H241", "H242", "H250",
        "H251", "H252", "H260", "H261", "H270", "H271", "H272", "H280", "H281", "H290", "H300",
        "H301", "H302", "H303", "H304", "H305", "H310", "H311", "H312", "H313", "H314", "H315",
        "H316", "H317", "H318", "H319", "H320", "H330", "H331", "H332", "H333", "H334", "H335",
        "H336", "H340", "H341", "H350", "H351", "H360", "H361", "H362", "H370", "H371", "H372",
        "H373", "H400", "H401", "H402", "H410", "H411", "H412", "H413", "H420"}) {
    std::optional<HazardStatementText> h = FindHazardStatement(code);
    ASSERT_TRUE(h.has_value()) << code;
    EXPECT_EQ(h->code, code);
    EXPECT_FALSE(h->zh.empty()) << code;
    EXPECT_FALSE(h->en.empty()) << code;
  }
  EXPECT_EQ(FindHazardStatement("H225")->zh, "高度易燃液体和蒸气");
  EXPECT_EQ(FindHazardStatement("H225")->en, "Highly flammable liquid and vapour");
  EXPECT_EQ(FindHazardStatement("H300+H330")->zh, "吞咽或吸入致命");
  EXPECT_FALSE(FindHazardStatement("H999").has_value());
  EXPECT_FALSE(FindHazardStatement("code").has_value());  // the header is not a row
  for (size_t i = 0; i < all.size(); ++i) {
    for (size_t j = 0; j < i; ++j) EXPECT_NE(all[i].code, all[j].code);
  }
}

}  // namespace
}  // namespace chemledger::render
