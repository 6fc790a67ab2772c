// Images for tests of the QR reader (testonly).

#ifndef CHEMLEDGER_RENDER_QR_TESTING_H_
#define CHEMLEDGER_RENDER_QR_TESTING_H_

#include <string>

namespace chemledger::render::testing {

// A width x width PNG tiled with QR finder patterns (7 x 7 modules of 3
// pixels, 4 pixels apart), a few kilobytes: ZXing's search for finder
// patterns is cubic in their number, so ReadQrCodes takes about a minute
// over one of 1024 pixels (render/qr_photos.h).
std::string PhotoSlowToRead(int width);

}  // namespace chemledger::render::testing

#endif  // CHEMLEDGER_RENDER_QR_TESTING_H_
