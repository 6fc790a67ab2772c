// Internal to render/ (Bazel visibility keeps it there): writes PNG files
// (ISO/IEC 15948) from raw scanlines, for QR symbols (qr.cc) and printable
// labels (printable_label.cc).
//
// Thread-safety: WritePng may be called from any thread (each thread keeps
// its own deflate stream).

#ifndef CHEMLEDGER_RENDER_PNG_H_
#define CHEMLEDGER_RENDER_PNG_H_

#include <string>

#include "absl/status/statusor.h"

namespace chemledger::render::internal {

enum class PngPixels {
  kGrey1,  // 1 bit per pixel, 1 = white, 8 pixels per byte, most significant bit first
  kGrey8,  // 1 byte per pixel
  kRgb8,   // 3 bytes per pixel: red, green, blue
};

// Bytes per row of `width` pixels, without the filter byte.
size_t PngRowBytes(int width, PngPixels pixels);

// A PNG file of `width` x `height` pixels. `scanlines` holds `height` rows,
// each a filter-type byte (0, none) followed by PngRowBytes(width, pixels)
// bytes; it is consumed. `dpi` > 0 writes a pHYs chunk so the image prints at
// its intended size. InvalidArgument if the sizes do not match.
absl::StatusOr<std::string> WritePng(int width, int height, PngPixels pixels,
                                     std::string scanlines, int dpi = 0);

}  // namespace chemledger::render::internal

#endif  // CHEMLEDGER_RENDER_PNG_H_
