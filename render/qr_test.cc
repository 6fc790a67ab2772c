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
#include "render/qr_testing.h"
#include "tests/subprocess.h"
#include "zlib.h"

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
  const std::string path = chemledger::testing::FreshTempDir("qr_zbar") + "/label.png";
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

namespace {

std::string Segment(int marker, const std::string& payload) {
  const size_t length = payload.size() + 2;
  return std::string{'\xff', static_cast<char>(marker), static_cast<char>(length >> 8),
                     static_cast<char>(length & 0xff)} +
         payload;
}

}  // namespace

// A JPEG whose Huffman table declares 2,040 codes (255 of each length 9 to
// 16; a table holds at most 256), its values laid out to overwrite the
// table's own bounds: Debian's stb_image (the snapshot of 2022-09-08, before
// stb_image 2.28's checks) wrote them past its 256-byte array and crashed the
// process reading it. One anonymous upload of these 2.3 KB was enough to stop
// a server. It is refused now, and the process goes on.
TEST(QrReadTest, AJpegWithAnOverlongHuffmanTableIsRefused) {
  std::string values(2040, '\0');
  const auto put = [&](size_t offset, uint32_t v) {
    for (int i = 0; i < 4; ++i) values[offset - 1024 + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  for (int k = 0; k < 18; ++k) put(1540 + 4 * k, k >= 10 ? 0xffffffffu : 0u);
  for (int k = 0; k < 17; ++k) put(1612 + 4 * k, 0x3fff0000u);
  const std::string dc_counts("\x00\x01\x05\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00", 16);
  std::string dc_values;
  for (char v = 0; v < 12; ++v) dc_values += v;
  std::string ac_counts(8, '\0');
  ac_counts += std::string(8, '\xff');
  std::string jpeg("\xff\xd8", 2);
  jpeg += Segment(0xdb, std::string(1, '\0') + std::string(64, '\x01'));
  jpeg += Segment(0xc4, std::string(1, '\0') + dc_counts + dc_values);
  jpeg += Segment(0xc4, std::string(1, '\x10') + ac_counts + values);
  jpeg += Segment(0xc0, std::string("\x08\x00\x08\x00\x08\x01\x01\x11\x00", 9));
  jpeg += Segment(0xda, std::string("\x01\x01\x00\x00\x3f\x00", 6));
  jpeg += '\x3f';
  for (int i = 0; i < 64; ++i) jpeg += std::string("\xff\x00", 2);
  jpeg += std::string("\xff\xd9", 2);
  ASSERT_EQ(jpeg.size(), 2319u);  // as the security review's proof of concept
  absl::StatusOr<std::vector<std::string>> read = ReadQrCodes(jpeg);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument) << read.status();
}

// Hostile images: other formats, and a header claiming a size too big to
// decode, are refused before anything is decoded.
TEST(QrReadTest, OnlyPngAndJpegOfBoundedSizeAreRead) {
  EXPECT_EQ(ReadQrCodes("GIF89a\x01\x00\x01\x00").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadQrCodes("BM\x00\x00\x00\x00").status().code(),
            absl::StatusCode::kInvalidArgument);
  // A PNG whose header says 5000 x 5000 pixels (25 megapixels).
  const std::string huge = testing::PngHeaderOfSize(5000, 5000);
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

std::string Deflated(const std::string& bytes) {
  uLongf size = compressBound(static_cast<uLong>(bytes.size()));
  std::string out(size, '\0');
  EXPECT_EQ(
      compress(reinterpret_cast<Bytef*>(&out[0]), &size,
               reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uLong>(bytes.size())),
      Z_OK);
  out.resize(size);
  return out;
}

// A PNG's header is read by hand, not by libpng, which would inflate every
// compressed text chunk before the pixels as it read the header (a few
// kilobytes that inflate to gigabytes, in the server's own process): a PNG
// of more than eight such chunks is refused without inflating any, one with
// a few is read, and a header that is not first or whose checksum is wrong
// is refused.
TEST(QrReadTest, APngsHeaderIsReadWithoutInflatingItsTextChunks) {
  const std::string url = "HTTPS://CL.EXAMPLE.CN/L/TEXT-CHUNKS";
  const std::string png = *QrToPng(*EncodeQr(url));
  // A text chunk that inflates to 1 MB: keyword, a zero byte, the method (0).
  const std::string text = testing::PngChunk(
      "zTXt", std::string("Comment\0\0", 9) + Deflated(std::string(1 << 20, 'A')));
  ASSERT_LT(text.size(), 2000u);
  const std::string few = testing::WithChunksAfterHeader(png, text + text + text);
  absl::StatusOr<std::vector<std::string>> read = ReadQrCodes(few);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, std::vector<std::string>{url});

  std::string bomb;
  for (int i = 0; i < 600; ++i) bomb += text;
  EXPECT_TRUE(
      CheckQrImage(testing::WithChunksAfterHeader(png, bomb.substr(0, 8 * text.size()))).ok());
  for (const std::string& chunks : {bomb, bomb.substr(0, 9 * text.size())}) {
    const absl::Status refused = CheckQrImage(testing::WithChunksAfterHeader(png, chunks));
    EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
    EXPECT_NE(refused.message().find("more than 8 text or colour-profile chunks"),
              std::string::npos)
        << refused;
  }
  // iCCP and iTXt count as well.
  std::string profiles;
  for (int i = 0; i < 5; ++i) {
    profiles += testing::PngChunk("iCCP", std::string("icc\0\0", 5) + Deflated("profile"));
    profiles += testing::PngChunk("iTXt", std::string("XML\0\1\0\0\0", 8) + Deflated("<x/>"));
  }
  EXPECT_EQ(CheckQrImage(testing::WithChunksAfterHeader(png, profiles)).code(),
            absl::StatusCode::kInvalidArgument);

  // The header must come first.
  const std::string text_first = std::string("\x89PNG\r\n\x1a\n", 8) + text + png.substr(8);
  EXPECT_EQ(CheckQrImage(text_first).code(), absl::StatusCode::kInvalidArgument);
  // And its checksum must hold.
  std::string bad_crc = png;
  bad_crc[29] = static_cast<char>(bad_crc[29] ^ 1);
  const absl::Status crc = CheckQrImage(bad_crc);
  EXPECT_EQ(crc.code(), absl::StatusCode::kInvalidArgument) << crc;
  EXPECT_NE(crc.message().find("CRC"), std::string::npos) << crc;
}

}  // namespace chemledger::render
