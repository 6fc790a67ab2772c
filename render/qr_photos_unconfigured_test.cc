// ReadQrPhotos in a process that called neither ServeQrPhotoWorkerIfAsked
// nor ReadQrPhotosInCallingThread (a server that forgot to start workers):
// it reads nothing, rather than anyone's photos on the server's threads
// without a time limit or confinement.

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "render/qr.h"
#include "render/qr_photos.h"

namespace chemledger::render {
namespace {

TEST(QrPhotosUnconfiguredTest, PhotosAreNotReadInAProcessThatSetUpNoWayOfReadingThem) {
  absl::StatusOr<QrSymbol> code = EncodeQr("HTTPS://EXAMPLE.COM/ONE");
  ASSERT_TRUE(code.ok()) << code.status();
  absl::StatusOr<std::string> png = QrToPng(*code, 4, 4);
  ASSERT_TRUE(png.ok()) << png.status();
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> read =
      ReadQrPhotos({*png}, {"ipv4:192.0.2.7", "ipv4:192.0.2.0/24"});
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInternal) << read.status();
  EXPECT_TRUE(absl::StrContains(read.status().message(), "ServeQrPhotoWorkerIfAsked"))
      << read.status();
  // No photos: nothing to read, nothing refused.
  read = ReadQrPhotos({});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->empty());
  // Said on purpose (a test, a fuzzer): read in the calling thread.
  ReadQrPhotosInCallingThread();
  read = ReadQrPhotos({*png});
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 1u);
  ASSERT_TRUE((*read)[0].ok()) << (*read)[0].status();
  EXPECT_EQ(*(*read)[0], std::vector<std::string>{"HTTPS://EXAMPLE.COM/ONE"});
}

}  // namespace
}  // namespace chemledger::render
