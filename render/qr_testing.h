// Images for tests of the QR reader (testonly).

#ifndef CHEMLEDGER_RENDER_QR_TESTING_H_
#define CHEMLEDGER_RENDER_QR_TESTING_H_

#include <cstdint>
#include <string>
#include <vector>

namespace chemledger::render::testing {

// A width x width PNG tiled with QR finder patterns (7 x 7 modules of 3
// pixels, 4 pixels apart), a few kilobytes: ZXing's search for finder
// patterns is cubic in their number, so ReadQrCodes takes about a minute
// over one of 1024 pixels (render/qr_photos.h).
std::string PhotoSlowToRead(int width);

// `texts` as QR symbols in rows of four, in one PNG (3 pixels a module),
// each a little off the grid (symbols exactly in line make finder patterns
// of different symbols line up, and a reader pairs them wrongly), as on a
// real pallet. A reader finds most of them, not always all.
std::string PhotoOfCodes(const std::vector<std::string>& texts);

// A PNG chunk: its length, `type`, `data` and CRC.
std::string PngChunk(const std::string& type, const std::string& data);

// A PNG of `width` x `height` pixels (8-bit grey) in its header, and no
// pixels: an empty IDAT, then IEND.
std::string PngHeaderOfSize(uint32_t width, uint32_t height);

// `png` (a PNG file) with `chunks` (PngChunk's) put in after its header.
std::string WithChunksAfterHeader(const std::string& png, const std::string& chunks);

}  // namespace chemledger::render::testing

#endif  // CHEMLEDGER_RENDER_QR_TESTING_H_
