#include "render/png.h"

#include <cmath>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "zlib.h"

namespace chemledger::render::internal {
namespace {

void PutBigEndian32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

void AppendPngChunk(std::string* png, const char type[4], const std::string& data) {
  PutBigEndian32(png, static_cast<uint32_t>(data.size()));
  const size_t start = png->size();
  png->append(type, 4);
  png->append(data);
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(png->data() + start),
                          static_cast<uInt>(png->size() - start));
  PutBigEndian32(png, static_cast<uint32_t>(crc));
}

}  // namespace

size_t PngRowBytes(int width, PngPixels pixels) {
  const size_t w = width < 0 ? 0 : static_cast<size_t>(width);
  switch (pixels) {
    case PngPixels::kGrey1: return (w + 7) / 8;
    case PngPixels::kGrey8: return w;
    case PngPixels::kRgb8: return 3 * w;
  }
  return 0;
}

absl::StatusOr<std::string> WritePng(int width, int height, PngPixels pixels,
                                     std::string scanlines, int dpi) {
  if (width < 1 || height < 1 || width > 65535 || height > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("png: ", width, " x ", height, " pixels is out of range"));
  }
  if (scanlines.size() != (1 + PngRowBytes(width, pixels)) * static_cast<size_t>(height)) {
    return absl::InvalidArgumentError("png: scanline bytes do not match the image size");
  }
  // One deflate stream per thread, reset between images: setting a stream up
  // costs more than compressing a QR code.
  struct Deflater {
    z_stream stream{};
    bool ready = deflateInit(&stream, Z_BEST_SPEED) == Z_OK;
    ~Deflater() {
      if (ready) deflateEnd(&stream);
    }
  };
  thread_local Deflater deflater;
  if (!deflater.ready || deflateReset(&deflater.stream) != Z_OK) {
    return absl::InternalError("png: cannot set up compression");
  }
  std::string deflated(deflateBound(&deflater.stream, static_cast<uLong>(scanlines.size())),
                       '\0');
  deflater.stream.next_in = reinterpret_cast<Bytef*>(&scanlines[0]);
  deflater.stream.avail_in = static_cast<uInt>(scanlines.size());
  deflater.stream.next_out = reinterpret_cast<Bytef*>(&deflated[0]);
  deflater.stream.avail_out = static_cast<uInt>(deflated.size());
  if (deflate(&deflater.stream, Z_FINISH) != Z_STREAM_END) {
    return absl::InternalError("png: compression failed");
  }
  deflated.resize(deflated.size() - deflater.stream.avail_out);

  std::string header;
  PutBigEndian32(&header, static_cast<uint32_t>(width));
  PutBigEndian32(&header, static_cast<uint32_t>(height));
  switch (pixels) {  // bit depth, colour type; then deflate, no filter, no interlace
    case PngPixels::kGrey1: header += std::string("\x01\x00", 2); break;
    case PngPixels::kGrey8: header += std::string("\x08\x00", 2); break;
    case PngPixels::kRgb8: header += std::string("\x08\x02", 2); break;
  }
  header += std::string("\x00\x00\x00", 3);
  std::string png("\x89PNG\r\n\x1a\n", 8);
  AppendPngChunk(&png, "IHDR", header);
  if (dpi > 0) {
    const auto per_metre = static_cast<uint32_t>(std::lround(dpi / 0.0254));
    std::string phys;
    PutBigEndian32(&phys, per_metre);
    PutBigEndian32(&phys, per_metre);
    phys.push_back('\x01');  // unit: metre
    AppendPngChunk(&png, "pHYs", phys);
  }
  AppendPngChunk(&png, "IDAT", deflated);
  AppendPngChunk(&png, "IEND", "");
  return png;
}

}  // namespace chemledger::render::internal
