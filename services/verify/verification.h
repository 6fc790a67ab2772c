// What a scan is worth: the verdicts of label URLs, waybill-code URLs and
// photos holding them, for VerifyService (proto/chemledger/v1/
// verify_service.proto). Each code gets what LabelService.ResolveLabel or
// WaybillService.ResolveWaybillCode answer for it (label_resolution.h,
// waybill_code_resolution.h); this adds the dispatch between the two, the
// reading of images and the bounds of one call.
//
// Pure functions of a state snapshot; thread-safe.

#ifndef CHEMLEDGER_SERVICES_VERIFY_VERIFICATION_H_
#define CHEMLEDGER_SERVICES_VERIFY_VERIFICATION_H_

#include <cstddef>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "api/wire.h"
#include "chemledger/v1/verify_service.pb.h"
#include "render/qr_photos.h"
#include "services/label/label_resolution.h"
#include "storage/store.h"

namespace chemledger::verify {

inline constexpr int kMaxUrlsPerCall = 1000;
inline constexpr int kMaxImagesPerCall = 16;
// Below gRPC's 4 MiB message limit, with room for the URLs.
inline constexpr size_t kMaxImageBytesPerCall = 3 << 20;

// The most codes one image may hold: a photo of a pallet holds dozens; a
// picture made to hold hundreds (each resolved against the log) is refused.
inline constexpr int kMaxCodesPerImage = static_cast<int>(api::kVerifyMaxCodesPerImage);

// INVALID_ARGUMENT naming the field when `request` is over the bounds above
// (checked before a rate limit is charged, so a request that can never be
// answered costs nothing and is told why, not to retry).
absl::Status CheckBounds(const v1::VerifyRequest& request);

// What `request` costs an anonymous caller's rate limit: one per URL and
// kImageCost per image (reading a photo costs about that much).
inline constexpr size_t kImageCost = api::kVerifyImageCost;
size_t CostOf(const v1::VerifyRequest& request);

// What the codes read from a call's images cost beyond what CostOf charged
// for the images: a code is 1, as a URL is, and an image's kImageCost pays
// for its first kImageCost codes.
size_t CostOfCodesRead(size_t images, size_t codes_read);

// What a call is told when its caller's allowance refused `extra`
// (CostOfCodesRead) with `charged` (as label::ScanAdmission::Charge says
// it): INVALID_ARGUMENT when no wait would let it through (more than the
// allowance's burst: send fewer images), RESOURCE_EXHAUSTED otherwise
// (retry shortly). Either way nothing was verified.
absl::Status RefusalOfCodesRead(size_t extra, const absl::Status& charged);

// Verifies every URL of `request`, then every code read from its images,
// against `state` as of `today` (China day), as `scanner`. Once the images
// are read, and before anything is verified, `charge(extra)` is called with
// CostOfCodesRead (0 included); a status it returns other than OK ends the
// call with that status. INVALID_ARGUMENT naming the field when the request
// is over the bounds above (CheckBounds) or an image holds more than
// kMaxCodesPerImage codes. The images are read by render::ReadQrPhotos for
// `photo_caller` (one call's images read at a time per caller, and per
// network for anyone's calls): INVALID_ARGUMENT "images: not read within
// …" when they took longer than their time, RESOURCE_EXHAUSTED "images: …"
// when the caller (or its network) has a call being read or no worker it
// may take came free. Otherwise errors only when `state`
// cannot be read.
absl::StatusOr<v1::VerifyResponse> Verify(
    const storage::StateReader& state, const v1::VerifyRequest& request, absl::CivilDay today,
    const label::Scanner& scanner,
    absl::FunctionRef<absl::Status(size_t extra)> charge = [](size_t) { return absl::OkStatus(); },
    const render::QrPhotoCaller& photo_caller = {});

}  // namespace chemledger::verify

#endif  // CHEMLEDGER_SERVICES_VERIFY_VERIFICATION_H_
