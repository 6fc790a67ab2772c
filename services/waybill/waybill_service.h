// WaybillService (proto/chemledger/v1/waybill_service.proto): the gRPC adapter
// over the waybill book (waybills.h), its reads (waybill_reads.h) and the
// resolution of waybill codes (waybill_code_resolution.h).
//
// Thread-safety: safe for gRPC's concurrent handlers. The book and registry
// must outlive the service.

#ifndef CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_SERVICE_H_
#define CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_SERVICE_H_

#include "api/wire.h"
#include "chemledger/v1/waybill_service.grpc.pb.h"
#include "journal/ledger_client.h"
#include "services/common/call_executor.h"
#include "services/common/rate_limiter.h"
#include "services/common/stream_batches.h"
#include "services/registry/read_access.h"
#include "services/registry/stream_gate.h"
#include "services/waybill/waybill_reads.h"
#include "services/waybill/waybills.h"

namespace chemledger::waybill {

// SubmitStream applies at most this many queued waybill requests as one batch
// (one durable write), and stops reading ahead at kMaxQueuedWaybills (besides
// which a stream holds up to three batches: being checked, waiting, being
// answered; stream_batches.h).
inline constexpr size_t kMaxBatchWaybills = 256;
inline constexpr size_t kMaxQueuedWaybills = 2048;
inline constexpr size_t kMaxQueuedBytes = 16 << 20;
// SubmitBatches reads at most this many messages ahead of their answers.
inline constexpr size_t kMaxQueuedWaybillBatches = 8;
// Submit streams: how many may be open at once, in all and per enterprise
// (more are refused with RESOURCE_EXHAUSTED), and when an idle or unread
// stream is dropped.
struct SubmitStreamOptions {
  int max_open = 16;
  int max_per_enterprise = 4;
  int max_per_actor = 1;
  StreamTimeouts timeouts;
};

using api::kGetWaybillMethod;
using api::kListVehiclesInParkMethod;
using api::kListWaybillsMethod;
using api::kMaxWaybillsPerBatchMessage;
using api::kSubmitBatchesMethod;
using api::kSubmitStreamMethod;

// GetWaybill, ListWaybills and ListVehiclesInPark are raw methods: their
// read credentials are checked over the request's bytes as received
// (raw_unary.h).
using WaybillServiceBase = v1::WaybillService::WithRawCallbackMethod_GetWaybill<
    v1::WaybillService::WithRawCallbackMethod_ListWaybills<
        v1::WaybillService::WithRawCallbackMethod_ListVehiclesInPark<
            v1::WaybillService::Service>>>;

class WaybillServiceImpl final : public WaybillServiceBase {
 public:
  // `reads` checks read credentials; it must outlive the service.
  // `anonymous_scans`: the allowance per client address that anonymous
  // ResolveWaybillCode calls share with the process's other anonymous entry
  // points (rate_limiter.h); null: the service keeps its own.
  WaybillServiceImpl(WaybillBook* book, journal::LedgerClient* ledger,
                     registry::ReadAuthenticator* reads, SubmitStreamOptions stream_options = {},
                     RateLimiter* anonymous_scans = nullptr)
      : book_(book),
        ledger_(ledger),
        reads_(reads),
        stream_options_(stream_options),
        streams_(reads, stream_options.max_open, stream_options.max_per_enterprise,
                 stream_options.max_per_actor),
        anonymous_(anonymous_scans != nullptr ? anonymous_scans : &own_anonymous_) {}

  grpc::Status Submit(grpc::ServerContext* context, const v1::SignedEnvelope* request,
                      v1::WaybillResult* response) override;
  grpc::Status SubmitStream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::WaybillResult, v1::SignedEnvelope>* stream) override;
  grpc::Status SubmitBatches(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::WaybillBatchResult, v1::WaybillBatch>* stream) override;
  grpc::ServerUnaryReactor* GetWaybill(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListWaybills(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListVehiclesInPark(grpc::CallbackServerContext* context,
                                               const grpc::ByteBuffer* request,
                                               grpc::ByteBuffer* response) override;
  // Open to anyone (waybill_code_resolution.h).
  grpc::Status ResolveWaybillCode(grpc::ServerContext* context,
                                  const v1::ResolveWaybillCodeRequest* request,
                                  v1::ResolveWaybillCodeResponse* response) override;

  // The submission streams open, for the metrics.
  const registry::StreamGate& streams() const { return streams_; }

 private:
  // What both waybill streams do with the signed requests they carry.
  registry::SignedWriteSteps<v1::WaybillResult> WriteSteps();
  grpc::Status ServeListWaybills(grpc::ServerContextBase* context,
                                 const v1::ListWaybillsRequest* request,
                                 absl::string_view request_bytes,
                                 v1::ListWaybillsResponse* response);

  WaybillBook* const book_;
  journal::LedgerClient* const ledger_;
  registry::ReadAuthenticator* const reads_;
  const WaybillReads reads_core_{book_};
  const SubmitStreamOptions stream_options_;
  registry::StreamGate streams_;
  // Anonymous resolutions of waybill codes, per client address.
  RateLimiter own_anonymous_ = AnonymousScanAllowance();
  RateLimiter* const anonymous_;
  // Runs the raw reads' handlers (raw_unary.h).
  CallExecutor read_executor_{8, 1024, "waybill-read"};
};

}  // namespace chemledger::waybill

#endif  // CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_SERVICE_H_
