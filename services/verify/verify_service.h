// VerifyService (proto/chemledger/v1/verify_service.proto): the gRPC adapter
// over verification.h. Verify is a raw method: read credentials, when a call
// carries them, are checked over the request's bytes as received
// (raw_unary.h); calls without them are rate-limited per client address
// (rate_limiter.h).
//
// Thread-safety: safe for gRPC's concurrent handlers. Everything passed to
// the constructor must outlive the service.

#ifndef CHEMLEDGER_SERVICES_VERIFY_VERIFY_SERVICE_H_
#define CHEMLEDGER_SERVICES_VERIFY_VERIFY_SERVICE_H_

#include "api/wire.h"
#include "chemledger/v1/verify_service.grpc.pb.h"
#include "journal/ledger_client.h"
#include "services/common/call_executor.h"
#include "services/common/rate_limiter.h"
#include "services/label/label_resolution.h"
#include "services/label/public_scan_sink.h"
#include "services/label/scan_admission.h"
#include "services/registry/read_access.h"

namespace chemledger::verify {

// Anonymous calls: codes a second and the burst, per client address; signed
// calls, per actor (far more, but bounded: one actor cannot take the
// service's threads from everyone).
struct VerifyOptions {
  double anonymous_rate = kAnonymousScansPerSecond;
  double anonymous_burst = kAnonymousScanBurst;
  double signed_rate = kSignedScansPerSecond;
  double signed_burst = kSignedScanBurst;
  // Told of each label an anonymous call verified (label/public_scan_sink.h);
  // not owned; null: none recorded.
  label::PublicScanSink* public_scans = nullptr;
  // The allowance per client address that anonymous calls share with the
  // process's other anonymous entry points (rate_limiter.h); not owned. Its
  // own rate and burst apply, and anonymous_rate and anonymous_burst are
  // not used. Null: the service keeps its own, of those.
  RateLimiter* anonymous_scans = nullptr;
  // The same for signed calls, per actor key, shared with the process's
  // other signed scans (ResolveLabel); signed_rate and signed_burst then
  // not used. Null: the service keeps its own, of those.
  RateLimiter* signed_scans = nullptr;
};

using VerifyServiceBase = v1::VerifyService::WithRawCallbackMethod_Verify<v1::VerifyService::Service>;

class VerifyServiceImpl final : public VerifyServiceBase {
 public:
  VerifyServiceImpl(journal::LedgerClient* ledger, registry::ReadAuthenticator* reads,
                    VerifyOptions options = {})
      : ledger_(ledger),
        own_anonymous_(AnonymousScanAllowance(options.anonymous_rate, options.anonymous_burst)),
        own_signed_(options.signed_rate, options.signed_burst),
        admission_(reads,
                   options.anonymous_scans != nullptr ? options.anonymous_scans : &own_anonymous_,
                   options.signed_scans != nullptr ? options.signed_scans : &own_signed_),
        public_scans_(options.public_scans) {}

  grpc::ServerUnaryReactor* Verify(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;

 private:
  grpc::Status ServeVerify(grpc::ServerContextBase* context, const v1::VerifyRequest* request,
                           absl::string_view request_bytes, v1::VerifyResponse* response);

  journal::LedgerClient* const ledger_;
  RateLimiter own_anonymous_;
  RateLimiter own_signed_;
  // Who a call is from, and whether its allowance holds it.
  const label::ScanAdmission admission_;
  label::PublicScanSink* const public_scans_;
  // Runs the handlers (raw_unary.h): reading photos takes CPU.
  CallExecutor executor_{4, 256, "verify"};
};

}  // namespace chemledger::verify

#endif  // CHEMLEDGER_SERVICES_VERIFY_VERIFY_SERVICE_H_
