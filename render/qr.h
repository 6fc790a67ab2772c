// Part of render/, the package that renders labels and QR codes for printing
// and reads them back from images. It holds no server state: callers pass in
// what to draw (a signed URL, a label's fields) and get bytes back.
//
// QR codes for labels: encode a label URL to a QR symbol (ZXing-cpp), write it
// as SVG or PNG, and read QR codes back from PNG or JPEG images (several per
// image). Label URLs are upper case, so ZXing encodes them in alphanumeric
// mode; at error correction M a label of up to 244 characters needs QR version
// 9, within the version 10 limit docs/label-format.md promises.
//
// Thread-safety: pure functions; safe from any thread.

#ifndef CHEMLEDGER_RENDER_QR_H_
#define CHEMLEDGER_RENDER_QR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chemledger::render {

// A QR symbol: size x size modules, true = dark. Without quiet zone.
struct QrSymbol {
  int size = 0;
  std::vector<bool> modules;  // row-major
  bool dark(int x, int y) const { return modules[static_cast<size_t>(y) * size + x]; }
  int version() const { return (size - 17) / 4; }
};

enum class QrErrorCorrection { kL, kM, kQ, kH };

// Encodes `text` (InvalidArgument if empty or too long for any QR version).
absl::StatusOr<QrSymbol> EncodeQr(absl::string_view text,
                                  QrErrorCorrection ecc = QrErrorCorrection::kM);

// The symbol as an SVG document: one path of dark modules, `quiet_zone`
// modules of white around it (4 is the standard), `module_px` units per module.
std::string QrToSvg(const QrSymbol& qr, int module_px = 4, int quiet_zone = 4);

// The symbol as a 1-bit greyscale PNG file, `module_px` pixels per module
// (1-64), `quiet_zone` modules of white around it (0-64).
absl::StatusOr<std::string> QrToPng(const QrSymbol& qr, int module_px = 4, int quiet_zone = 4);

// The largest image ReadQrCodes reads, in pixels (a 16-megapixel photo).
inline constexpr int64_t kMaxQrImagePixels = 4096 * 4096;

// Every QR code found in a PNG or JPEG image (file bytes), each once, in the
// order found. Made for photos: where the codes found with ZXing's local
// (adaptive) binarizer cover under 40% of the image (a pallet's side holding
// several; a code far away) its global-histogram binarizer is tried, then
// four overlapping
// windows of three quarters of the image with both; a small photo (up to 1 MP) in which nothing is found is read again at
// twice its size. render/qr_camera_test.cc measures the decode rate on
// camera-like photos. InvalidArgument when the bytes are not a PNG or JPEG
// image (told by their signature), or one over kMaxQrImagePixels (told by
// its header, before it is decoded).
absl::StatusOr<std::vector<std::string>> ReadQrCodes(absl::string_view image_bytes);

// What ReadQrCodes refuses before decoding, checked alone (cheap: the
// signature, a JPEG's scan count and the header's size): InvalidArgument
// ("image: ...") for bytes it would not read.
absl::Status CheckQrImage(absl::string_view image_bytes);

}  // namespace chemledger::render

#endif  // CHEMLEDGER_RENDER_QR_H_
