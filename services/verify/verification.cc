#include "services/verify/verification.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "crypto/waybill_code.h"
#include "render/qr.h"
#include "render/qr_photos.h"
#include "services/label/issuance.h"
#include "services/waybill/waybill_code_resolution.h"

namespace chemledger::verify {
namespace {

absl::Status VerifyOne(const storage::StateReader& state, std::string url, int image,
                       const crypto::TrustList& trust, const label::Scanner& scanner,
                       v1::VerifyResponse* response) {
  v1::Verification* v = response->add_verifications();
  v->set_image(image);
  if (crypto::IsWaybillCodeUrl(url)) {
    absl::StatusOr<v1::ResolveWaybillCodeResponse> w =
        waybill::ResolveWaybillCode(state, url, trust);
    if (!w.ok()) return w.status();
    *v->mutable_waybill() = *std::move(w);
  } else {
    absl::StatusOr<v1::ResolveLabelResponse> l = label::ResolveLabel(state, url, trust, scanner);
    if (!l.ok()) return l.status();
    *v->mutable_label() = *std::move(l);
  }
  v->set_url(std::move(url));
  return absl::OkStatus();
}

}  // namespace

size_t CostOf(const v1::VerifyRequest& request) {
  return api::VerifyCallCost(static_cast<size_t>(request.urls_size()),
                             static_cast<size_t>(request.images_size()));
}

absl::Status CheckBounds(const v1::VerifyRequest& request) {
  if (request.urls_size() > kMaxUrlsPerCall) {
    return absl::InvalidArgumentError(
        absl::StrCat("urls: ", request.urls_size(), " in one call; at most ", kMaxUrlsPerCall));
  }
  if (request.images_size() > kMaxImagesPerCall) {
    return absl::InvalidArgumentError(absl::StrCat(
        "images: ", request.images_size(), " in one call; at most ", kMaxImagesPerCall));
  }
  size_t image_bytes = 0;
  for (const std::string& image : request.images()) image_bytes += image.size();
  if (image_bytes > kMaxImageBytesPerCall) {
    return absl::InvalidArgumentError(absl::StrCat("images: ", image_bytes,
                                                   " bytes in one call; at most ",
                                                   kMaxImageBytesPerCall));
  }
  // A PNG or JPEG of at most render::kMaxQrImagePixels, told from its
  // header: an image that is not is refused, not listed as holding no code.
  for (int i = 0; i < request.images_size(); ++i) {
    if (absl::Status s = render::CheckQrImage(request.images(i)); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("images[", i, "]: ", s.message()));
    }
  }
  return absl::OkStatus();
}

size_t CostOfCodesRead(size_t images, size_t codes_read) {
  const size_t paid = images * kImageCost;
  return codes_read > paid ? codes_read - paid : 0;
}

absl::Status RefusalOfCodesRead(size_t extra, const absl::Status& charged) {
  const std::string what =
      absl::StrCat("images: they hold ", extra, " codes more than their cost paid for (an image ",
                   "pays for ", kImageCost, "; each code more costs 1): ");
  if (absl::IsInvalidArgument(charged)) {  // more than the allowance ever holds
    return absl::InvalidArgumentError(
        absl::StrCat(what, charged.message(), "; nothing was verified: send fewer images at once"));
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      what,
      "over this caller's limit: nothing was verified; retry in a few seconds, or send "
      "fewer images at once"));
}

absl::StatusOr<v1::VerifyResponse> Verify(const storage::StateReader& state,
                                          const v1::VerifyRequest& request, absl::CivilDay today,
                                          const label::Scanner& scanner,
                                          absl::FunctionRef<absl::Status(size_t extra)> charge,
                                          const render::QrPhotoCaller& photo_caller) {
  if (absl::Status s = CheckBounds(request); !s.ok()) return s;
  // The images read first: what they hold is charged before anything is
  // verified (a photo of a hundred waybill codes is a hundred resolutions).
  // Read in a worker process with a time limit (render/qr_photos.h): an
  // image made to be slow to read holds no core for long.
  std::vector<std::vector<std::string>> read(request.images_size());
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> photos =
      render::ReadQrPhotos({request.images().begin(), request.images().end()}, photo_caller);
  if (!photos.ok()) {
    const absl::string_view why = absl::StripPrefix(photos.status().message(), "photos: ");
    // Not read in time: the same images would not be read in time again.
    if (absl::IsDeadlineExceeded(photos.status())) {
      return absl::InvalidArgumentError(absl::StrCat("images: ", why));
    }
    return absl::Status(photos.status().code(), absl::StrCat("images: ", why));
  }
  size_t codes_read = 0;
  for (int i = 0; i < request.images_size(); ++i) {
    // An image that does not decode, or holds no code, is reported as such.
    absl::StatusOr<std::vector<std::string>>& codes = (*photos)[i];
    if (!codes.ok()) continue;
    if (codes->size() > static_cast<size_t>(kMaxCodesPerImage)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "images[", i, "]: ", codes->size(), " codes in one image; at most ", kMaxCodesPerImage));
    }
    codes_read += codes->size();
    read[i] = *std::move(codes);
  }
  if (absl::Status s = charge(CostOfCodesRead(request.images_size(), codes_read)); !s.ok()) {
    return s;
  }
  // One trust list for every code of the call.
  absl::StatusOr<crypto::TrustList> trust = label::MakeTrustList(state, today);
  if (!trust.ok()) return trust.status();
  v1::VerifyResponse response;
  response.set_log_size(state.size());
  for (const std::string& url : request.urls()) {
    if (absl::Status s = VerifyOne(state, url, 0, *trust, scanner, &response); !s.ok()) return s;
  }
  for (int i = 0; i < request.images_size(); ++i) {
    if (read[i].empty()) {
      response.add_images_without_codes(i + 1);
      continue;
    }
    for (std::string& url : read[i]) {
      if (absl::Status s = VerifyOne(state, std::move(url), i + 1, *trust, scanner, &response);
          !s.ok()) {
        return s;
      }
    }
  }
  return response;
}

}  // namespace chemledger::verify
