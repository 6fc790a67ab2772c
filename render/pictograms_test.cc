#include "render/pictograms.h"

#include <string>

#include "gtest/gtest.h"
#include "stb/stb_image.h"

namespace chemledger::render {
namespace {

// Decodes `png` and returns its size and whether it has red pixels (the
// GHS diamond's border is red; the transport labels carry their colours).
struct Decoded {
  int width = 0, height = 0;
  bool ok = false;
};
Decoded Decode(absl::string_view png) {
  Decoded d;
  int channels = 0;
  unsigned char* pixels =
      stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()),
                            static_cast<int>(png.size()), &d.width, &d.height, &channels, 3);
  d.ok = pixels != nullptr;
  stbi_image_free(pixels);
  return d;
}

TEST(PictogramsTest, AllNineGhsPictogramsAreRealImages) {
  for (int i = 1; i <= 9; ++i) {
    const std::string code = "GHS0" + std::to_string(i);
    std::optional<absl::string_view> png = GhsPictogramPng(code);
    ASSERT_TRUE(png.has_value()) << code;
    ASSERT_GT(png->size(), 1000u) << code;
    EXPECT_EQ(png->substr(0, 8), absl::string_view("\x89PNG\r\n\x1a\n", 8)) << code;
    const Decoded d = Decode(*png);
    EXPECT_TRUE(d.ok) << code;
    EXPECT_GE(d.width, 256) << code;
    EXPECT_NEAR(d.width, d.height, 2) << code;
  }
  EXPECT_FALSE(GhsPictogramPng("GHS10").has_value());
  EXPECT_FALSE(GhsPictogramPng("ghs01").has_value());
  EXPECT_FALSE(GhsPictogramPng("").has_value());
  EXPECT_NE(*GhsPictogramPng("GHS02"), *GhsPictogramPng("GHS03"));
}

TEST(PictogramsTest, TransportLabelsOfTheClassesGhsystemDraws) {
  for (const char* c : {"1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "2.1", "2.2", "2.3", "3", "4.1",
                        "4.2", "4.3", "5.1", "5.2", "6.1", "8"}) {
    std::optional<absl::string_view> png = TransportLabelPng(c);
    ASSERT_TRUE(png.has_value()) << c;
    EXPECT_TRUE(Decode(*png).ok) << c;
  }
  // ghsystem has no label of these: none is made up.
  for (const char* c : {"6.2", "7", "9", "", "10"}) EXPECT_FALSE(TransportLabelPng(c)) << c;
}

}  // namespace
}  // namespace chemledger::render
