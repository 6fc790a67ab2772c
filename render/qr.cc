#include "render/qr.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#define ZX_USE_UTF8 1
#include <ZXing/BarcodeFormat.h>
#include <ZXing/BitMatrix.h>
#include <ZXing/DecodeHints.h>
#include <ZXing/MultiFormatWriter.h>
#include <ZXing/ReadBarcode.h>
#include <png.h>
#include <turbojpeg.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "render/png.h"
#include "zlib.h"

namespace chemledger::render {
namespace {

// ZXing-cpp 1.4 maps MultiFormatWriter::setEccLevel 0-8 onto L/M/Q/H in
// pairs: 0-2 L, 3-4 M, 5-6 Q, 7-8 H.
int ZxingEccLevel(QrErrorCorrection ecc) {
  switch (ecc) {
    case QrErrorCorrection::kL: return 1;
    case QrErrorCorrection::kM: return 4;
    case QrErrorCorrection::kQ: return 6;
    case QrErrorCorrection::kH: return 8;
  }
  return 4;
}

// Windows smaller than this (pixels a side) hold no readable label code.
constexpr int kMinQuarterPixels = 120;

// Photos no larger than a quarter of this are read at twice the size when
// nothing is found in them.
constexpr int64_t kMaxUpscaledPixels = 4'000'000;

// `image` (width x height, one byte a pixel) at twice the size, bilinear.
std::vector<uint8_t> Doubled(const uint8_t* image, int width, int height) {
  std::vector<uint8_t> out(static_cast<size_t>(4) * width * height);
  for (int y = 0; y < 2 * height; ++y) {
    const double sy = std::max(0.0, (y + 0.5) / 2 - 0.5);
    const int y0 = std::min(static_cast<int>(sy), height - 1), y1 = std::min(y0 + 1, height - 1);
    const double fy = sy - y0;
    for (int x = 0; x < 2 * width; ++x) {
      const double sx = std::max(0.0, (x + 0.5) / 2 - 0.5);
      const int x0 = std::min(static_cast<int>(sx), width - 1), x1 = std::min(x0 + 1, width - 1);
      const double fx = sx - x0;
      const auto at = [&](int xx, int yy) { return image[static_cast<size_t>(yy) * width + xx]; };
      const double v = (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) +
                       (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
      out[static_cast<size_t>(y) * 2 * width + x] = static_cast<uint8_t>(std::lround(v));
    }
  }
  return out;
}

double QuadrilateralArea(const ZXing::Position& p) {
  // The shoelace formula over the four corners.
  double twice = 0;
  for (int i = 0; i < 4; ++i) {
    const auto& a = p[i];
    const auto& b = p[(i + 1) % 4];
    twice += static_cast<double>(a.x) * b.y - static_cast<double>(b.x) * a.y;
  }
  return std::abs(twice) / 2;
}

}  // namespace

absl::StatusOr<QrSymbol> EncodeQr(absl::string_view text, QrErrorCorrection ecc) {
  if (text.empty()) return absl::InvalidArgumentError("qr: nothing to encode");
  ZXing::BitMatrix matrix;
  try {
    ZXing::MultiFormatWriter writer(ZXing::BarcodeFormat::QRCode);
    writer.setMargin(0).setEccLevel(ZxingEccLevel(ecc));
    matrix = writer.encode(std::string(text), 0, 0);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("qr: cannot encode ", text.size(), " characters: ", e.what()));
  }
  QrSymbol qr;
  qr.size = matrix.width();
  qr.modules.resize(static_cast<size_t>(qr.size) * qr.size);
  for (int y = 0; y < qr.size; ++y) {
    for (int x = 0; x < qr.size; ++x) qr.modules[static_cast<size_t>(y) * qr.size + x] = matrix.get(x, y);
  }
  return qr;
}

std::string QrToSvg(const QrSymbol& qr, int module_px, int quiet_zone) {
  const int side = (qr.size + 2 * quiet_zone) * module_px;
  std::string path;
  for (int y = 0; y < qr.size; ++y) {
    for (int x = 0; x < qr.size;) {
      if (!qr.dark(x, y)) {
        ++x;
        continue;
      }
      int run = 1;
      while (x + run < qr.size && qr.dark(x + run, y)) ++run;
      absl::StrAppend(&path, "M", (quiet_zone + x) * module_px, " ",
                      (quiet_zone + y) * module_px, "h", run * module_px, "v", module_px, "h-",
                      run * module_px, "z");
      x += run;
    }
  }
  return absl::StrCat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ", side, " ", side,
      "\" width=\"", side, "\" height=\"", side, "\" shape-rendering=\"crispEdges\">",
      "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path fill=\"#000\" d=\"", path,
      "\"/></svg>\n");
}

// A 1-bit greyscale PNG written directly (PNG spec, ISO/IEC 15948): eight
// times fewer bytes to deflate than 8-bit pixels, which makes rendering about
// as fast as encoding the symbol.
absl::StatusOr<std::string> QrToPng(const QrSymbol& qr, int module_px, int quiet_zone) {
  if (module_px < 1 || module_px > 64 || quiet_zone < 0 || quiet_zone > 64) {
    return absl::InvalidArgumentError("qr: module size must be 1-64 pixels, quiet zone 0-64");
  }
  const int side = (qr.size + 2 * quiet_zone) * module_px;
  const size_t row_bytes = 1 + internal::PngRowBytes(side, internal::PngPixels::kGrey1);
  std::string raw(row_bytes * side, '\0');
  // Each module row is packed once and repeated module_px times.
  for (int my = -quiet_zone; my < qr.size + quiet_zone; ++my) {
    const int first_py = (my + quiet_zone) * module_px;
    uint8_t* row = reinterpret_cast<uint8_t*>(&raw[row_bytes * first_py]) + 1;  // filter 0
    for (int mx = -quiet_zone; mx < qr.size + quiet_zone; ++mx) {
      const bool dark = my >= 0 && my < qr.size && mx >= 0 && mx < qr.size && qr.dark(mx, my);
      if (dark) continue;
      for (int px = (mx + quiet_zone) * module_px, end = px + module_px; px < end; ++px) {
        row[px / 8] |= static_cast<uint8_t>(0x80 >> (px % 8));  // 1 = white
      }
    }
    for (int copy = 1; copy < module_px; ++copy) {
      std::memcpy(&raw[row_bytes * (first_py + copy)], &raw[row_bytes * first_py], row_bytes);
    }
  }
  return internal::WritePng(side, side, internal::PngPixels::kGrey1, std::move(raw));
}

namespace {

// Photos come from anyone (the staff app's uploads, VerifyService's
// anonymous images): they are read with libpng's and libjpeg-turbo's
// decoders, which Debian keeps patched, not with stb_image (whose Debian
// snapshot predates its fixes for crafted JPEG Huffman tables).

absl::Status Unreadable(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("image: not a PNG or JPEG image we can read (", why, ")"));
}

struct TurboJpeg {
  tjhandle handle = tjInitDecompress();
  ~TurboJpeg() {
    if (handle != nullptr) tjDestroy(handle);
  }
};

struct PngImage {
  png_image image;
  PngImage() {
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
  }
  ~PngImage() { png_image_free(&image); }
};

uint32_t BigEndian32(absl::string_view bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[at + i]);
  return v;
}

// The most chunks of a PNG that libpng inflates or keeps while it reads the
// header: each zTXt, iTXt or iCCP chunk may inflate to 8 MB, and libpng
// bounds only their number (to 1000). A phone's or camera's PNG has a
// colour profile and a few text chunks.
constexpr int kMaxPngChunksInflated = 8;

// A PNG's width and height, read from its header (IHDR, which must come
// first, with its checksum) by hand, without libpng: libpng reads every
// chunk before the pixels as it reads the header, inflating compressed text
// (a few kilobytes that inflate to gigabytes), which the server's own
// process must not do with a stranger's bytes. The chunks are walked by
// their lengths alone (nothing inflated) and refused when more than
// kMaxPngChunksInflated would be inflated; the rest is for the reader, in a
// worker process with bounded memory and time (qr_photos.h).
absl::Status PngSize(absl::string_view bytes, int* width, int* height) {
  constexpr size_t kSignature = 8, kHeaderEnd = kSignature + 4 + 4 + 13 + 4;
  if (bytes.size() < kHeaderEnd || BigEndian32(bytes, kSignature) != 13 ||
      bytes.substr(kSignature + 4, 4) != "IHDR") {
    return Unreadable("its first chunk is not a 13-byte IHDR");
  }
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(bytes.data() + kSignature + 4), 17);
  if (static_cast<uint32_t>(crc) != BigEndian32(bytes, kSignature + 4 + 4 + 13)) {
    return Unreadable("IHDR: CRC error");
  }
  const uint32_t w = BigEndian32(bytes, 16), h = BigEndian32(bytes, 20);
  // (PNG allows up to 2^31 - 1; anything over 2^30 is refused as too big.)
  *width = static_cast<int>(std::min<uint32_t>(w, 1u << 30));
  *height = static_cast<int>(std::min<uint32_t>(h, 1u << 30));
  int inflated = 0;
  for (size_t at = kSignature; bytes.size() - at >= 12;) {
    const uint64_t length = BigEndian32(bytes, at);
    const absl::string_view type = bytes.substr(at + 4, 4);
    if (type == "IEND") break;
    if ((type == "zTXt" || type == "iTXt" || type == "iCCP") &&
        ++inflated > kMaxPngChunksInflated) {
      return absl::InvalidArgumentError(
          absl::StrCat("image: a PNG of more than ", kMaxPngChunksInflated,
                       " text or colour-profile chunks (zTXt, iTXt, iCCP) is not read"));
    }
    if (length > bytes.size() - at - 12) break;  // cut short: the reader says so
    at += 12 + length;
  }
  return absl::OkStatus();
}

// The width and height from the image's header.
absl::Status ImageSize(absl::string_view bytes, bool png, int* width, int* height) {
  if (png) return PngSize(bytes, width, height);
  TurboJpeg j;
  if (j.handle == nullptr) return absl::InternalError("image: libjpeg-turbo did not start");
  int subsampling = 0, colourspace = 0;
  if (tjDecompressHeader3(j.handle, reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<unsigned long>(bytes.size()), width, height, &subsampling,
                          &colourspace) != 0) {
    return Unreadable(tjGetErrorStr2(j.handle));
  }
  return absl::OkStatus();
}

// 8-bit greyscale pixels, width × height, rows without padding (an image
// CheckQrImage passed).
absl::StatusOr<std::vector<uint8_t>> DecodeGrey(absl::string_view bytes, int* width,
                                                int* height) {
  if (absl::StartsWith(bytes, "\x89PNG")) {
    PngImage p;
    if (!png_image_begin_read_from_memory(&p.image, bytes.data(), bytes.size())) {
      return Unreadable(p.image.message);
    }
    p.image.format = PNG_FORMAT_GRAY;
    std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(p.image));
    // Transparent parts are read as on white paper.
    png_color white{255, 255, 255};
    if (!png_image_finish_read(&p.image, &white, pixels.data(), 0, nullptr)) {
      return Unreadable(p.image.message);
    }
    *width = static_cast<int>(p.image.width);
    *height = static_cast<int>(p.image.height);
    return pixels;
  }
  TurboJpeg j;
  if (j.handle == nullptr) return absl::InternalError("image: libjpeg-turbo did not start");
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto size = static_cast<unsigned long>(bytes.size());
  int subsampling = 0, colourspace = 0;
  if (tjDecompressHeader3(j.handle, data, size, width, height, &subsampling, &colourspace) != 0) {
    return Unreadable(tjGetErrorStr2(j.handle));
  }
  std::vector<uint8_t> pixels(static_cast<size_t>(*width) * static_cast<size_t>(*height));
  // A photo with a damaged stretch still decodes (a warning); an error, or
  // a progressive JPEG of an unreasonable number of scans, does not.
  if (tjDecompress2(j.handle, data, size, pixels.data(), *width, 0, *height, TJPF_GRAY,
                    TJFLAG_LIMITSCANS) != 0 &&
      tjGetErrorCode(j.handle) != TJERR_WARNING) {
    return Unreadable(tjGetErrorStr2(j.handle));
  }
  return pixels;
}

}  // namespace

absl::Status CheckQrImage(absl::string_view image_bytes) {
  // PNG or JPEG only, by their signatures, and no bigger than
  // kMaxQrImagePixels once decoded, checked from the header before anything
  // is decoded.
  const bool png = absl::StartsWith(image_bytes, "\x89PNG\r\n\x1a\n");
  const bool jpeg = absl::StartsWith(image_bytes, "\xff\xd8\xff");
  if (!png && !jpeg) return absl::InvalidArgumentError("image: not a PNG or JPEG image");
  // A progressive JPEG is decoded a scan at a time, each over the whole
  // image: a few kilobytes of tiny scans would cost minutes. A camera's has
  // about ten. (0xFF 0xDA starts a scan: inside scan data every 0xFF is
  // followed by 0x00 or a restart marker, so the count is exact but for
  // embedded thumbnails.)
  if (jpeg) {
    constexpr size_t kMaxJpegScans = 32;
    size_t scans = 0;
    for (size_t at = image_bytes.find("\xff\xda"); at != absl::string_view::npos;
         at = image_bytes.find("\xff\xda", at + 2)) {
      if (++scans > kMaxJpegScans) {
        return absl::InvalidArgumentError(
            absl::StrCat("image: a JPEG of more than ", kMaxJpegScans, " scans is not read"));
      }
    }
  }
  int width = 0, height = 0;
  if (absl::Status s = ImageSize(image_bytes, png, &width, &height); !s.ok()) return s;
  if (width <= 0 || height <= 0 ||
      static_cast<int64_t>(width) * height > static_cast<int64_t>(kMaxQrImagePixels)) {
    return absl::InvalidArgumentError(absl::StrCat("image: ", width, " x ", height,
                                                   " pixels; at most ", kMaxQrImagePixels,
                                                   " pixels are read"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ReadQrCodes(absl::string_view image_bytes) {
  if (absl::Status s = CheckQrImage(image_bytes); !s.ok()) return s;
  int width = 0, height = 0;
  absl::StatusOr<std::vector<uint8_t>> pixels = DecodeGrey(image_bytes, &width, &height);
  if (!pixels.ok()) return pixels.status();
  // ZXing's two adaptive binarizers see different photos well (uneven
  // light, noise). The whole image is read with the first; while the codes
  // found cover little of it (under 40%: a pallet's side may hold more
  // codes than ZXing finds at once) or none was found, with the second; then
  // the image's four overlapping three-quarter windows with both. Codes are
  // reported once each, in the order first found.
  std::vector<std::string> texts;
  double covered = 0;  // pixels inside the codes found
  const auto read = [&](const uint8_t* image, int stride, int x, int y, int w, int h,
                        ZXing::Binarizer binarizer) {
    ZXing::DecodeHints hints;
    hints.setFormats(ZXing::BarcodeFormat::QRCode);
    hints.setTryHarder(true);
    hints.setTryRotate(true);
    hints.setBinarizer(binarizer);
    hints.setMaxNumberOfSymbols(255);
    const ZXing::ImageView view(image + static_cast<size_t>(y) * stride + x, w, h,
                                ZXing::ImageFormat::Lum, stride);
    for (const ZXing::Result& r : ZXing::ReadBarcodes(view, hints)) {
      if (!r.isValid()) continue;
      std::string text = r.text();
      if (std::find(texts.begin(), texts.end(), text) != texts.end()) continue;
      texts.push_back(std::move(text));
      covered += QuadrilateralArea(r.position());
    }
  };
  const auto more_may_be_there = [&] { return texts.empty() || covered < 0.4 * width * height; };
  constexpr ZXing::Binarizer kBinarizers[] = {ZXing::Binarizer::LocalAverage,
                                              ZXing::Binarizer::GlobalHistogram};
  read(pixels->data(), width, 0, 0, width, height, kBinarizers[0]);
  if (more_may_be_there()) read(pixels->data(), width, 0, 0, width, height, kBinarizers[1]);
  if (more_may_be_there()) {
    const int w = width / 2 + width / 4, h = height / 2 + height / 4;  // three quarters
    if (w >= kMinQuarterPixels && h >= kMinQuarterPixels) {
      for (const auto& [x, y] : {std::pair<int, int>{0, 0},
                                 {width - w, 0},
                                 {0, height - h},
                                 {width - w, height - h}}) {
        for (const ZXing::Binarizer b : kBinarizers) read(pixels->data(), width, x, y, w, h, b);
      }
    }
  }
  // Nothing yet in a small photo: modules of 2-3 blurred pixels, which
  // ZXing reads better twice the size.
  if (texts.empty() && static_cast<int64_t>(width) * height <= kMaxUpscaledPixels / 4) {
    const std::vector<uint8_t> doubled = Doubled(pixels->data(), width, height);
    for (const ZXing::Binarizer b : kBinarizers) {
      read(doubled.data(), 2 * width, 0, 0, 2 * width, 2 * height, b);
    }
  }
  return texts;
}

}  // namespace chemledger::render
