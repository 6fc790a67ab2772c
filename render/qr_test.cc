#include "render/qr.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crypto/label.h"
#include "crypto/label_testing.h"
#include "crypto/sha256.h"
#include "gtest/gtest.h"
#include "tests/subprocess.h"

namespace chemledger::render {
namespace {

std::string LabelUrl(uint64_t serial) {
  return *crypto::MakeLabelUrl(crypto::testing::ExampleLabelClaims(serial),
                               crypto::testing::TestKey(7));
}

TEST(QrTest, LabelFitsVersion10AtM) {
  absl::StatusOr<QrSymbol> qr = EncodeQr(LabelUrl(17));
  ASSERT_TRUE(qr.ok()) << qr.status();
  EXPECT_LE(qr->version(), 10);
  // The longest label: 24-character resolver, 16-character product number...
  const std::string longest = absl::StrCat(
      "HTTPS://CHEMLEDGER.EXAMPLE.GOV.C/91350100M000100Y43.", std::string(16, 'P'), "/",
      std::string(20, 'B'), ".999999999/", std::string(144, 'A'));
  ASSERT_EQ(longest.size(), 244u);
  absl::StatusOr<QrSymbol> big = EncodeQr(longest);
  ASSERT_TRUE(big.ok());
  EXPECT_LE(big->version(), 10) << "version " << big->version();
}

TEST(QrTest, PngRoundTripThroughOurReader) {
  const std::string url = LabelUrl(3);
  absl::StatusOr<std::string> png = QrToPng(*EncodeQr(url));
  ASSERT_TRUE(png.ok()) << png.status();
  EXPECT_EQ(png->substr(1, 3), "PNG");
  absl::StatusOr<std::vector<std::string>> read = ReadQrCodes(*png);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0], url);
}

// An independent reader (zbarimg, Debian's zbar-tools) decodes our PNGs to the
// same URL.
TEST(QrTest, PngDecodesWithZbar) {
  ASSERT_EQ(std::system("command -v zbarimg >/dev/null 2>&1"), 0)
      << "zbarimg not installed: run tools/install-deps.sh (it installs zbar-tools)";
  const std::string url = LabelUrl(5);
  const std::string path = testing::FreshTempDir("qr_zbar") + "/label.png";
  {
    std::ofstream out(path, std::ios::binary);
    out << *QrToPng(*EncodeQr(url));
  }
  FILE* p = popen(absl::StrCat("zbarimg --quiet --raw '", path, "'").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) output.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << output;
  EXPECT_EQ(output, url + "\n");
}

TEST(QrTest, SvgHasOnePathOfDarkModules) {
  const QrSymbol qr = *EncodeQr("HTTPS://CL.EXAMPLE.CN/X");
  const std::string svg = QrToSvg(qr, 4, 4);
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find(absl::StrCat("viewBox=\"0 0 ", (qr.size + 8) * 4)), std::string::npos);
  EXPECT_NE(svg.find("<path fill=\"#000\" d=\"M"), std::string::npos);
}

TEST(QrTest, SeveralCodesInOneImage) {
  // Two symbols side by side in one greyscale PNG.
  const QrSymbol a = *EncodeQr(LabelUrl(1));
  const QrSymbol b = *EncodeQr(LabelUrl(2));
  ASSERT_EQ(a.size, b.size);
  QrSymbol both;
  both.size = a.size * 2 + 8;
  both.modules.assign(static_cast<size_t>(both.size) * both.size, false);
  for (int y = 0; y < a.size; ++y) {
    for (int x = 0; x < a.size; ++x) {
      both.modules[static_cast<size_t>(y + 4) * both.size + x] = a.dark(x, y);
      both.modules[static_cast<size_t>(y + 4) * both.size + x + a.size + 8] = b.dark(x, y);
    }
  }
  absl::StatusOr<std::vector<std::string>> read = ReadQrCodes(*QrToPng(both, 3, 4));
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_NE((*read)[0], (*read)[1]);
  for (const std::string& url : *read) {
    EXPECT_TRUE(url == LabelUrl(1) || url == LabelUrl(2)) << url;
  }
}

TEST(QrTest, NotAnImage) {
  absl::StatusOr<std::vector<std::string>> read = ReadQrCodes("definitely not a png");
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeQr("").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace

// Hostile images: other formats, and a header claiming a size too big to
// decode, are refused before anything is decoded.
TEST(QrReadTest, OnlyPngAndJpegOfBoundedSizeAreRead) {
  EXPECT_EQ(ReadQrCodes("GIF89a\x01\x00\x01\x00").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadQrCodes("BM\x00\x00\x00\x00").status().code(),
            absl::StatusCode::kInvalidArgument);
  // A PNG signature and an IHDR of 5000 x 5000 pixels (25 megapixels).
  std::string huge("\x89PNG\r\n\x1a\n", 8);
  huge += std::string("\x00\x00\x00\x0dIHDR", 8);
  huge += std::string("\x00\x00\x13\x88\x00\x00\x13\x88\x08\x00\x00\x00\x00", 13);
  huge += std::string("\x00\x00\x00\x00", 4);  // CRC, not checked for the header
  absl::StatusOr<std::vector<std::string>> refused = ReadQrCodes(huge);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_NE(refused.status().message().find("pixels"), std::string::npos) << refused.status();
  // A JPEG of many scans is refused before anything is decoded.
  std::string scans("\xff\xd8\xff\xe0", 4);
  for (int i = 0; i < 40; ++i) scans += std::string("\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00", 10);
  refused = ReadQrCodes(scans);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_NE(refused.status().message().find("scans"), std::string::npos) << refused.status();
}

}  // namespace chemledger::render
