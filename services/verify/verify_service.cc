#include "services/verify/verify_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
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

bool VerifyServiceImpl::TakeAllowance(const label::Scanner& scanner,
                                      const grpc::ServerContextBase& context, size_t cost) {
  return scanner.registered()
             ? signed_->Take(scanner.actor()->public_key(), static_cast<double>(cost), absl::Now())
             : anonymous_->Take(ClientAddress(context.peer()), static_cast<double>(cost),
                                absl::Now());
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
  label::Scanner scanner = label::Scanner::Anyone();
  if (context->client_metadata().count(read_auth::kKeyIdHeader) > 0) {
    // Credentials given must hold: a caller that meant to sign is told why
    // not, rather than answered as anyone.
    absl::StatusOr<v1::Actor> actor =
        reads_->Authenticate(*snapshot, *context, api::kVerifyMethod, request_bytes);
    if (!actor.ok()) return ToGrpcStatus(actor.status());
    scanner = label::Scanner::Actor(*std::move(actor));
  }
  const size_t cost = CostOf(*request);
  const double burst = scanner.registered() ? signed_->burst() : anonymous_->burst();
  if (static_cast<double>(cost) > burst) {
    // More than the burst: no wait would let it through.
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("urls, images: this call costs ", cost, " (a URL 1, an image ", kImageCost,
                     "); ", scanner.registered() ? "a signed" : "an anonymous",
                     " call costs at most ", burst,
                     scanner.registered() ? ": split it"
                                          : ": split it, or sign the call as a registered actor"));
  }
  if (!TakeAllowance(scanner, *context, cost)) {
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat(scanner.registered()
                         ? absl::StrCat("this actor's verifications are limited (", signed_->rate(),
                                        " codes a second, bursts of ", signed_->burst(), ")")
                         : "anonymous verification is limited per client address",
                     ": retry in a few seconds, ask for fewer codes at once",
                     scanner.registered() ? ""
                                          : ", or sign the call as a "
                                            "registered actor"));
  }
  // The codes the images hold beyond what the images paid for, charged to
  // the same allowance once they are read.
  const auto charge = [&](size_t extra) {
    if (extra == 0 || TakeAllowance(scanner, *context, extra)) return absl::OkStatus();
    return absl::ResourceExhaustedError(
        absl::StrCat("images: they hold ", extra,
                     " codes more than their cost paid for (an image pays for ", kImageCost,
                     "; each code more costs 1), over this caller's limit: nothing was verified; "
                     "retry in a few seconds, or send fewer images at once"));
  };
  // One call's images read at a time per caller (its key, or its address).
  const std::string photo_caller = scanner.registered()
                                       ? absl::StrCat("key:", scanner.actor()->public_key())
                                       : ClientAddress(context->peer());
  absl::StatusOr<v1::VerifyResponse> verified =
      verify::Verify(*snapshot, *request, api::TodayInChina(), scanner, charge, photo_caller);
  if (!verified.ok()) return ToGrpcStatus(verified.status());
  *response = *std::move(verified);
  if (!scanner.registered() && public_scans_ != nullptr) {
    const std::string client = ClientAddress(context->peer());
    for (const v1::Verification& v : response->verifications()) {
      if (v.has_label()) public_scans_->Scanned(v.url(), v.label(), client, "verify");
    }
  }
  return grpc::Status::OK;
}

}  // namespace chemledger::verify
