// Label QR codes as a phone camera sees them: ImageMagick (Debian's
// imagemagick) turns clean label PNGs into rotated, scaled,
// perspective-skewed, blurred, noisy, low-contrast and JPEG-compressed
// photos, and several labels in one photo; ReadQrCodes must find the codes.
// The decode rate of each kind is printed (and kept as a test property) and
// held to a floor.

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "crypto/label.h"
#include "crypto/label_testing.h"
#include "gtest/gtest.h"
#include "render/qr.h"
#include "tests/subprocess.h"

namespace chemledger::render {
namespace {

constexpr char kConvert[] = "/usr/bin/convert";  // Debian's imagemagick

std::string LabelUrl(uint64_t serial) {
  return *crypto::MakeLabelUrl(crypto::testing::ExampleLabelClaims(serial),
                               crypto::testing::TestKey(7));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs ImageMagick's convert with `args`; true when it succeeded.
bool Convert(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kConvert};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::Subprocess p;
  if (!p.Start(argv).ok()) return false;
  bool eof = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!eof && absl::Now() < deadline) p.ReadLines(deadline, &eof);
  absl::StatusOr<int> status = p.Wait();
  return status.ok() && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

// What a camera does to a picture, as convert arguments between the input
// and the output file (whose extension picks PNG or JPEG).
struct Distortion {
  std::string name;
  std::vector<std::string> args;
  std::string extension = "png";
  // How many of the 8 must be read; beyond-the-limit kinds are reported
  // only (0), to show where reading stops.
  int floor = 7;
};

std::vector<Distortion> Distortions() {
  // A phone held at an angle: the far side smaller (corners move inwards).
  const std::vector<std::string> perspective = {
      "-virtual-pixel", "white", "+distort", "Perspective",
      "0,0 30,20  %w,0 %[fx:w-10],0  0,%h 0,%[fx:h-40]  %w,%h %[fx:w-25],%[fx:h-5]"};
  std::vector<Distortion> d = {
      {"rotated 12 degrees", {"-background", "white", "-rotate", "12"}},
      {"rotated 90 degrees", {"-rotate", "90"}},
      {"upside down", {"-rotate", "180"}},
      {"scaled to 60% (2.4 px modules)", {"-filter", "Triangle", "-resize", "60%"}},
      {"scaled to 160%", {"-resize", "160%"}},
      {"perspective-skewed", perspective},
      {"blurred (sigma 1.5 px)", {"-blur", "0x1.5"}},
      {"noisy (Gaussian)", {"-attenuate", "0.8", "+noise", "Gaussian", "-colorspace", "Gray"}},
      {"low contrast (black 40%, white 70%)", {"+level", "40%,70%"}},
      {"JPEG quality 20", {"-quality", "20"}, "jpg"},
      {"dim and uneven light", {"(", "+clone", "-sparse-color", "Barycentric",
                                "0,0 gray40 %w,%h white", ")", "-compose", "Multiply",
                                "-composite"}},
  };
  // Everything at once, as a quick snapshot in a warehouse.
  std::vector<std::string> all = {"-background", "white", "-rotate", "8"};
  all.insert(all.end(), perspective.begin(), perspective.end());
  for (const char* a : {"-resize", "75%", "-blur", "0x0.8", "+level", "20%,85%", "-attenuate",
                        "0.4", "+noise", "Gaussian", "-colorspace", "Gray", "-quality", "50"}) {
    all.push_back(a);
  }
  d.push_back({"all at once (rotated, skewed, scaled, blurred, dull, noisy, JPEG 50)", all,
               "jpg"});
  // Beyond what a phone should send (reported, not held to a floor).
  d.push_back({"beyond: scaled to 40% (1.6 px modules)", {"-filter", "Triangle", "-resize", "40%"},
               "png", 0});
  d.push_back({"beyond: blurred (sigma 3 px)", {"-blur", "0x3"}, "png", 0});
  return d;
}

TEST(QrCameraTest, LabelsAsACameraSeesThemAreRead) {
  ASSERT_EQ(std::system(absl::StrCat(kConvert, " -version >/dev/null 2>&1").c_str()), 0)
      << kConvert << " not found: run tools/install-deps.sh (it installs imagemagick)";
  const std::string dir = testing::FreshTempDir("qr_camera");
  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  constexpr int kLabels = 8;
  std::vector<std::string> urls, clean;
  for (int i = 0; i < kLabels; ++i) {
    urls.push_back(LabelUrl(100 + i));
    clean.push_back(absl::StrCat(dir, "/label", i, ".png"));
    std::ofstream(clean.back(), std::ios::binary) << *QrToPng(*EncodeQr(urls.back()), 4, 4);
  }

  int read = 0, total = 0, total_held = 0;
  std::vector<std::string> report;
  for (const Distortion& d : Distortions()) {
    int ok = 0;
    for (int i = 0; i < kLabels; ++i) {
      const std::string out = absl::StrCat(dir, "/photo", total, ".", d.extension);
      // The same noise every run: the decode rate is a figure to compare.
      std::vector<std::string> args = {"-seed", absl::StrCat(1000 + i), clean[i]};
      args.insert(args.end(), d.args.begin(), d.args.end());
      args.push_back(out);
      ASSERT_TRUE(Convert(args)) << d.name << ": convert failed";
      const std::string photo = ReadFile(out);
      absl::StatusOr<std::vector<std::string>> codes = ReadQrCodes(photo);
      const bool found = codes.ok() && codes->size() == 1 && (*codes)[0] == urls[i];
      ok += found;
      ++total;
      if (outputs != nullptr && i == 0) {
        std::ofstream(absl::StrCat(outputs, "/", total - 1, ".", d.extension), std::ios::binary)
            << photo;
      }
    }
    report.push_back(absl::StrFormat("%-72s %d/%d", d.name, ok, kLabels));
    if (d.floor == 0) continue;
    read += ok;
    total_held += kLabels;
    // Each kind on its own: at least 7 of 8.
    EXPECT_GE(ok, d.floor) << d.name;
  }
  const double rate = static_cast<double>(read) / total_held;
  std::cout << "decode rate of label photos (the kinds held to a floor): " << read << "/"
            << total_held << " ("
            << absl::StrFormat("%.1f%%", 100 * rate) << ")\n"
            << absl::StrJoin(report, "\n") << "\n";
  ::testing::Test::RecordProperty("decode_rate", absl::StrFormat("%.3f", rate));
  // The floor over all kinds.
  EXPECT_GE(rate, 0.95);
}

TEST(QrCameraTest, SeveralLabelsInOnePhoto) {
  const std::string dir = testing::FreshTempDir("qr_camera_pallet");
  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  // Six labels on a pallet's side, two rows, photographed at an angle and
  // saved as a JPEG.
  std::vector<std::string> urls, files;
  for (int i = 0; i < 6; ++i) {
    urls.push_back(LabelUrl(200 + i));
    files.push_back(absl::StrCat(dir, "/l", i, ".png"));
    std::ofstream(files.back(), std::ios::binary) << *QrToPng(*EncodeQr(urls.back()), 4, 4);
  }
  const std::string photo = dir + "/pallet.jpg";
  ASSERT_TRUE(Convert({"(", files[0], files[1], files[2], "-bordercolor", "white", "-border", "20",
                       "+append", ")", "(", files[3], files[4], files[5], "-bordercolor", "white",
                       "-border", "20", "+append", ")", "-append", "-background", "white",
                       "-rotate", "6", "-resize", "80%", "-blur", "0x0.6", "-quality", "60",
                       photo}));
  const std::string bytes = ReadFile(photo);
  if (outputs != nullptr) std::ofstream(std::string(outputs) + "/pallet.jpg") << bytes;
  absl::StatusOr<std::vector<std::string>> codes = ReadQrCodes(bytes);
  ASSERT_TRUE(codes.ok()) << codes.status();
  std::vector<std::string> found = *codes, want = urls;
  std::sort(found.begin(), found.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(found, want) << "read " << found.size() << " of 6 labels in one photo";
}

}  // namespace
}  // namespace chemledger::render
