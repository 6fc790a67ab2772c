// LabelService (proto/chemledger/v1/label_service.proto): the gRPC adapter
// over label issuance (issuance.h) and the trust list (crypto/trust_list.h).
//
// IssueLabels records the issuance first (durable before any response), then
// signs and streams the labels in messages of up to kLabelsPerMessage. If the
// client goes away mid-stream, nothing is lost: a retry of the same signed
// request streams the same labels again.
//
// GetTrustList and ResolveLabel are open: anyone holding a package may check
// it. ResolveLabel (label_resolution.h) shows, for a label the log accounts
// for, an anonymous caller the product and the supplier's name and address,
// and a caller with read credentials (read_access.h) the full enterprise
// record (licences, blacklist reason); any other label gets its verdict alone.
//
// Thread-safety: safe for gRPC's concurrent handlers. Everything passed to
// the constructor must outlive the service.

#ifndef CHEMLEDGER_SERVICES_LABEL_LABEL_SERVICE_H_
#define CHEMLEDGER_SERVICES_LABEL_LABEL_SERVICE_H_

#include <algorithm>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "api/wire.h"
#include "chemledger/v1/label_service.grpc.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/trust_list.h"
#include "journal/ledger_client.h"
#include "services/common/bounded_slots.h"
#include "services/common/call_executor.h"
#include "services/common/rate_limiter.h"
#include "services/common/worker_pool.h"
#include "services/label/issuance.h"
#include "services/label/public_scan_sink.h"
#include "services/label/scan_admission.h"
#include "services/label/trust_list_publisher.h"
#include "services/notary/notary.h"
#include "services/registry/read_access.h"

namespace chemledger::label {

using api::kLabelsPerMessage;
using api::kResolveLabelMethod;
// IssueLabels calls streaming at once, in all and for one enterprise (so
// that one cannot take every place); more are refused with
// RESOURCE_EXHAUSTED (the client retries the same signed request later). A
// call takes its place once its credentials are checked: a caller that
// cannot show it is an actor of the enterprise takes none.
inline constexpr int kMaxConcurrentIssuances = 4;
inline constexpr int kMaxConcurrentIssuancesPerEnterprise = 2;

// ResolveLabel is a raw method: read credentials, when it carries them, are
// checked over the request's bytes as received (raw_unary.h).
using LabelServiceBase =
    v1::LabelService::WithRawCallbackMethod_ResolveLabel<v1::LabelService::Service>;

class LabelServiceImpl final : public LabelServiceBase {
 public:
  // `notary` signs the exported trust list (the platform's note key);
  // `reads` checks read credentials.
  // `public_scans` (may be null: none recorded) is told of each anonymous
  // ResolveLabel (public_scan_sink.h). `anonymous_scans` limits anonymous
  // ResolveLabel calls per client address, `signed_scans` signed ones per
  // actor key (null: the service's own, kAnonymousScansPerSecond and
  // kSignedScansPerSecond); not owned.
  LabelServiceImpl(LabelIssuer* issuer, journal::LedgerClient* ledger,
                   const notary::LedgerNotary* notary, registry::ReadAuthenticator* reads,
                   PublicScanSink* public_scans = nullptr, RateLimiter* anonymous_scans = nullptr,
                   RateLimiter* signed_scans = nullptr)
      : issuer_(issuer),
        ledger_(ledger),
        notary_(notary),
        reads_(reads),
        public_scans_(public_scans),
        admission_(reads, anonymous_scans != nullptr ? anonymous_scans : &own_anonymous_,
                   signed_scans != nullptr ? signed_scans : &own_signed_) {}

  grpc::Status IssueLabels(grpc::ServerContext* context, const v1::SignedEnvelope* request,
                           grpc::ServerWriter<v1::IssueLabelsResponse>* writer) override;
  grpc::Status GetTrustList(grpc::ServerContext* context, const v1::GetTrustListRequest* request,
                            v1::TrustListResponse* response) override;
  grpc::ServerUnaryReactor* ResolveLabel(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;

  // Issuances streaming now (at most kMaxConcurrentIssuances), for the
  // metrics.
  int issuances_in_progress() const { return issuances_.held(); }

 private:
  grpc::Status ServeResolveLabel(grpc::ServerContextBase* context,
                                 const v1::ResolveLabelRequest* request,
                                 absl::string_view request_bytes,
                                 v1::ResolveLabelResponse* response);

  LabelIssuer* const issuer_;
  journal::LedgerClient* const ledger_;
  const notary::LedgerNotary* const notary_;
  registry::ReadAuthenticator* const reads_;
  PublicScanSink* const public_scans_;
  // Anonymous ResolveLabel calls, per client address: the process's
  // allowance shared with its other anonymous entry points when one was
  // given, else its own.
  RateLimiter own_anonymous_ = AnonymousScanAllowance();
  // Signed ResolveLabel calls, per actor key.
  RateLimiter own_signed_{kSignedScansPerSecond, kSignedScanBurst};
  // Who a ResolveLabel call is from, and whether its allowance holds it.
  const ScanAdmission admission_;
  // The issuances streaming, in all and per enterprise.
  BoundedSlots issuances_{kMaxConcurrentIssuances, {kMaxConcurrentIssuancesPerEnterprise}};
  // The trust list GetTrustList serves, signed again only when it changes.
  TrustListPublisher trust_list_{notary_};
  // Signs the labels in chunks, a few messages ahead of the one written.
  WorkerPool signing_pool_{
      static_cast<int>(std::max(2u, std::thread::hardware_concurrency())), 0, "label-sign"};
  // Runs the raw reads' handlers (raw_unary.h).
  CallExecutor read_executor_{8, 1024, "label-read"};
};

}  // namespace chemledger::label

#endif  // CHEMLEDGER_SERVICES_LABEL_LABEL_SERVICE_H_
