#include "render/qr_testing.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "render/png.h"
#include "render/qr.h"
#include "zlib.h"

namespace chemledger::render::testing {

std::string PhotoSlowToRead(int width) {
  constexpr int kModule = 3, kGap = 4, kCell = 7 * kModule + kGap;
  std::string rows;
  for (int y = 0; y < width; ++y) {
    rows.push_back('\0');  // filter: none
    for (int x = 0; x < width; ++x) {
      const int cx = x % kCell, cy = y % kCell;
      bool black = false;
      if (cx < 7 * kModule && cy < 7 * kModule && x - cx + 7 * kModule <= width &&
          y - cy + 7 * kModule <= width) {
        const int d = std::max(std::abs(cx / kModule - 3), std::abs(cy / kModule - 3));
        black = d == 3 || d <= 1;
      }
      rows.push_back(black ? '\0' : '\xff');
    }
  }
  return *internal::WritePng(width, width, internal::PngPixels::kGrey8, std::move(rows));
}

std::string PhotoOfCodes(const std::vector<std::string>& texts) {
  std::vector<QrSymbol> symbols;
  for (const std::string& text : texts) symbols.push_back(*EncodeQr(text));
  const int cell = symbols[0].size + 24;
  const int columns = 4, rows = (static_cast<int>(symbols.size()) + columns - 1) / columns;
  QrSymbol sheet;
  sheet.size = cell * std::max(columns, rows);
  sheet.modules.assign(static_cast<size_t>(sheet.size) * sheet.size, false);
  for (size_t i = 0; i < symbols.size(); ++i) {
    const int column = static_cast<int>(i % columns), row = static_cast<int>(i / columns);
    const int left = column * cell + 5 + (row * 7) % 13, top = row * cell + 5 + (column * 5) % 11;
    for (int y = 0; y < symbols[i].size; ++y) {
      for (int x = 0; x < symbols[i].size; ++x) {
        sheet.modules[static_cast<size_t>(top + y) * sheet.size + left + x] = symbols[i].dark(x, y);
      }
    }
  }
  return *QrToPng(sheet, 3, 4);
}

namespace {

std::string BigEndian32(uint32_t v) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
  return out;
}

}  // namespace

std::string PngChunk(const std::string& type, const std::string& data) {
  const std::string typed = type + data;
  const uLong crc =
      crc32(0, reinterpret_cast<const Bytef*>(typed.data()), static_cast<uInt>(typed.size()));
  return BigEndian32(static_cast<uint32_t>(data.size())) + typed +
         BigEndian32(static_cast<uint32_t>(crc));
}

std::string PngHeaderOfSize(uint32_t width, uint32_t height) {
  return std::string("\x89PNG\r\n\x1a\n", 8) +
         PngChunk("IHDR", BigEndian32(width) + BigEndian32(height) +
                              std::string("\x08\x00\x00\x00\x00", 5)) +
         PngChunk("IDAT", "") + PngChunk("IEND", "");
}

std::string WithChunksAfterHeader(const std::string& png, const std::string& chunks) {
  constexpr size_t kHeaderEnd = 8 + 4 + 4 + 13 + 4;  // signature and IHDR
  return png.substr(0, kHeaderEnd) + chunks + png.substr(kHeaderEnd);
}

}  // namespace chemledger::render::testing
