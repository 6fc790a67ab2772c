#include "render/qr_testing.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "render/png.h"

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

}  // namespace chemledger::render::testing
