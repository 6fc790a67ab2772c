#include "services/verify/verify_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "render/qr_photos.h"
#include "services/common/grpc_read_auth.h"
#include "services/common/grpc_status.h"
#include "services/common/raw_unary.h"
#include "services/common/snapshot_metadata.h"
#include "services/verify/verification.h"

namespace chemledger::verify {

grpc::ServerUnaryReactor* VerifyServiceImpl::Verify(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* request,
                                                    grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::VerifyRequest, v1::VerifyResponse>(
      context, request, response, executor_,
      [this, context](const v1::VerifyRequest* r, absl::string_view bytes,
                      v1::VerifyResponse* out) { return ServeVerify(context, r, bytes, out); });
}

grpc::Status VerifyServiceImpl::ServeVerify(grpc::ServerContextBase* context,
                                            const v1::VerifyRequest* request,
                                            absl::string_view request_bytes,
                                            v1::VerifyResponse* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  TellServedAt(context, *snapshot);
  // A request that can never be answered is told why before it costs anything.
  if (absl::Status bounds = verify::CheckBounds(*request); !bounds.ok()) {
    return ToGrpcStatus(bounds);
  }
  const label::ScanCaller caller = label::ScanCallerOf(*context);
  absl::StatusOr<label::Scanner> scanner =
      admission_.Identify(*snapshot, caller, api::kVerifyMethod, request_bytes, absl::Now());
  if (!scanner.ok()) return ToGrpcStatus(scanner.status());
  const size_t cost = CostOf(*request);
  if (absl::Status charged =
          admission_.Charge(*scanner, caller, static_cast<double>(cost), absl::Now());
      !charged.ok()) {
    return grpc::Status(
        static_cast<grpc::StatusCode>(charged.code()),
        absl::StrCat("urls, images (a URL costs 1, an image ", kImageCost, "): ", charged.message(),
                     charged.code() == absl::StatusCode::kResourceExhausted
                         ? "; or ask for fewer codes at once"
                         : ""));
  }
  // The codes the images hold beyond what the images paid for, charged to
  // the same allowance once they are read.
  const auto charge = [&](size_t extra) {
    if (extra == 0) return absl::OkStatus();
    // A call whose images with their codes cost more than the allowance
    // ever holds is refused as such, though each part was within it.
    if (absl::Status whole =
            admission_.CheckWithinBurst(*scanner, static_cast<double>(cost + extra));
        !whole.ok()) {
      return verify::RefusalOfCodesRead(extra, whole);
    }
    absl::Status charged =
        admission_.Charge(*scanner, caller, static_cast<double>(extra), absl::Now());
    if (charged.ok()) return charged;
    return verify::RefusalOfCodesRead(extra, charged);
  };
  // One call's images read at a time per caller (its key, or its address
  // and network).
  render::QrPhotoCaller photo_caller;
  photo_caller.name = label::ScanAdmission::AllowanceHolder(*scanner, caller);
  photo_caller.registered = scanner->registered();
  if (!photo_caller.registered) photo_caller.network = ClientNetwork(caller.address);
  absl::StatusOr<v1::VerifyResponse> verified =
      verify::Verify(*snapshot, *request, api::TodayInChina(), *scanner, charge, photo_caller);
  if (!verified.ok()) return ToGrpcStatus(verified.status());
  *response = *std::move(verified);
  if (!scanner->registered() && public_scans_ != nullptr) {
    for (const v1::Verification& v : response->verifications()) {
      if (v.has_label()) public_scans_->Scanned(v.url(), v.label(), caller.address, "verify");
    }
  }
  return grpc::Status::OK;
}

}  // namespace chemledger::verify
