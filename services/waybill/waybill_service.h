// WaybillService (proto/chemledger/v1/waybill_service.proto): the gRPC adapter
// over the waybill book (waybills.h).
//
// Thread-safety: safe for gRPC's concurrent handlers. The book and registry
// must outlive the service.

#ifndef CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_SERVICE_H_
#define CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_SERVICE_H_

#include "api/wire.h"
#include "chemledger/v1/waybill_service.grpc.pb.h"
#include "services/common/stream_batches.h"
#include "journal/ledger_client.h"
#include "services/waybill/waybills.h"

namespace chemledger::waybill {

// SubmitStream applies at most this many queued waybill requests as one batch
// (one durable write), and stops reading ahead at kMaxQueuedWaybills.
inline constexpr size_t kMaxBatchWaybills = 256;
inline constexpr size_t kMaxQueuedWaybills = 2048;
inline constexpr size_t kMaxQueuedBytes = 16 << 20;
// Submit streams open at once; more are refused with RESOURCE_EXHAUSTED.
inline constexpr int kMaxConcurrentStreams = 8;

using api::kGetWaybillMethod;
using api::kListWaybillsMethod;

class WaybillServiceImpl final : public v1::WaybillService::Service {
 public:
  WaybillServiceImpl(WaybillBook* book, journal::LedgerClient* ledger)
      : book_(book), ledger_(ledger) {}

  grpc::Status Submit(grpc::ServerContext* context, const v1::SignedEnvelope* request,
                      v1::WaybillResult* response) override;
  grpc::Status SubmitStream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::WaybillResult, v1::SignedEnvelope>* stream) override;
  grpc::Status GetWaybill(grpc::ServerContext* context, const v1::GetWaybillRequest* request,
                          v1::WaybillRecord* response) override;
  grpc::Status ListWaybills(grpc::ServerContext* context, const v1::ListWaybillsRequest* request,
                            v1::ListWaybillsResponse* response) override;
  // Open to anyone (waybill_code_resolution.h).
  grpc::Status ResolveWaybillCode(grpc::ServerContext* context,
                                  const v1::ResolveWaybillCodeRequest* request,
                                  v1::ResolveWaybillCodeResponse* response) override;

 private:
  WaybillBook* const book_;
  journal::LedgerClient* const ledger_;
  StreamLimiter streams_{kMaxConcurrentStreams};
};

}  // namespace chemledger::waybill

#endif  // CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_SERVICE_H_
