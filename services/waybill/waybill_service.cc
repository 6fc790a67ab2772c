#include "services/waybill/waybill_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/china_time.h"
#include "services/common/grpc_status.h"
#include "services/common/incoming_call.h"
#include "services/common/raw_unary.h"
#include "services/common/snapshot_metadata.h"
#include "services/common/stream_batches.h"
#include "services/registry/credentialed_read.h"
#include "services/registry/read_access.h"
#include "services/waybill/waybill_code_resolution.h"

namespace chemledger::waybill {
namespace {

v1::WaybillResult ResultOf(const absl::StatusOr<WaybillReceipt>& receipt) {
  v1::WaybillResult result;
  if (receipt.ok()) {
    result.set_log_index(receipt->log_index);
    result.set_replayed(receipt->replayed);
    result.set_waybill_code(receipt->waybill_code);
  } else {
    const absl::Status reported = PublicStatus(receipt.status());
    result.set_code(static_cast<int>(reported.code()));
    result.set_message(std::string(reported.message()));
  }
  return result;
}

std::vector<v1::WaybillResult> ResultsOf(
    const std::vector<absl::StatusOr<WaybillReceipt>>& receipts) {
  std::vector<v1::WaybillResult> results;
  results.reserve(receipts.size());
  for (const absl::StatusOr<WaybillReceipt>& receipt : receipts)
    results.push_back(ResultOf(receipt));
  return results;
}

}  // namespace

grpc::Status WaybillServiceImpl::Submit(grpc::ServerContext* context,
                                        const v1::SignedEnvelope* request,
                                        v1::WaybillResult* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  absl::StatusOr<WaybillReceipt> receipt = book_->Apply(*request);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  *response = ResultOf(receipt);
  return grpc::Status::OK;
}

registry::SignedWriteSteps<v1::WaybillResult> WaybillServiceImpl::WriteSteps() {
  return {[this](std::shared_ptr<const storage::Snapshot> at,
                 absl::Span<const v1::SignedEnvelope* const> admitted) {
            return book_->VerifyBatch(std::move(at), admitted);
          },
          [this](const registry::VerifiedBatch& admitted) {
            return ResultsOf(book_->ApplyVerified(admitted));
          },
          [](const absl::Status& refused) { return ResultOf(refused); }};
}

grpc::Status WaybillServiceImpl::SubmitStream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::WaybillResult, v1::SignedEnvelope>* stream) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  registry::StreamGate::Ticket ticket =
      streams_.Enter(*ledger_->Latest(), *context, kSubmitStreamMethod);
  if (!ticket.ok()) return ToGrpcStatus(ticket.status());
  StreamBatchLimits limits{kMaxBatchWaybills, kMaxQueuedWaybills, kMaxQueuedBytes};
  limits.timeouts = stream_options_.timeouts;
  return registry::AnswerSignedStream<v1::WaybillResult>(context, stream, limits, ticket, *ledger_,
                                                         WriteSteps());
}

grpc::Status WaybillServiceImpl::SubmitBatches(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::WaybillBatchResult, v1::WaybillBatch>* stream) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  registry::StreamGate::Ticket ticket =
      streams_.Enter(*ledger_->Latest(), *context, kSubmitBatchesMethod);
  if (!ticket.ok()) return ToGrpcStatus(ticket.status());
  StreamBatchLimits limits{1, kMaxQueuedWaybillBatches, kMaxQueuedBytes};
  limits.timeouts = stream_options_.timeouts;
  return registry::AnswerSignedBatches<v1::WaybillBatch, v1::WaybillBatchResult, v1::WaybillResult>(
      context, stream, limits, ticket, *ledger_,
      {"requests", kMaxWaybillsPerBatchMessage, &v1::WaybillBatch::requests,
       &v1::WaybillBatch::mutable_requests},
      WriteSteps());
}

grpc::Status WaybillServiceImpl::ResolveWaybillCode(grpc::ServerContext* context,
                                                    const v1::ResolveWaybillCodeRequest* request,
                                                    v1::ResolveWaybillCodeResponse* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  if (grpc::Status s = CheckRequestFieldsKnown(*request); !s.ok()) return s;
  // Open to anyone, as a label scan is, and limited alike.
  if (!anonymous_->Take(ClientAddress(context->peer()), 1, absl::Now())) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "waybill code resolutions are limited per client address: retry in a few "
                        "seconds");
  }
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  TellServedAt(context, *snapshot);
  absl::StatusOr<v1::ResolveWaybillCodeResponse> resolved =
      waybill::ResolveWaybillCode(*snapshot, request->url(), api::TodayInChina());
  if (!resolved.ok()) return ToGrpcStatus(resolved.status());
  *response = *std::move(resolved);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* WaybillServiceImpl::GetWaybill(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return registry::ServeCredentialedRead(context, request, response, read_executor_, *reads_,
                                         *ledger_, kGetWaybillMethod, reads_core_,
                                         &WaybillReads::GetWaybill);
}

grpc::ServerUnaryReactor* WaybillServiceImpl::ListVehiclesInPark(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return registry::ServeCredentialedRead(context, request, response, read_executor_, *reads_,
                                         *ledger_, kListVehiclesInParkMethod, reads_core_,
                                         &WaybillReads::ListVehiclesInPark);
}

grpc::ServerUnaryReactor* WaybillServiceImpl::ListWaybills(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::ListWaybillsRequest, v1::ListWaybillsResponse>(
      context, request, response, read_executor_,
      [this, context](const v1::ListWaybillsRequest* r, absl::string_view bytes,
                      v1::ListWaybillsResponse* out) {
        return ServeListWaybills(context, r, bytes, out);
      });
}

grpc::Status WaybillServiceImpl::ServeListWaybills(grpc::ServerContextBase* context,
                                                   const v1::ListWaybillsRequest* request,
                                                   absl::string_view request_bytes,
                                                   v1::ListWaybillsResponse* response) {
  // Who reads is checked against the latest registry (a key revoked since
  // the first page reads no more), whatever snapshot the pages come from.
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, kListWaybillsMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  // Later pages are read at the first page's snapshot.
  WaybillListPosition position;
  if (!request->page_token().empty()) {
    absl::StatusOr<WaybillListPosition> opened = OpenListWaybillsToken(request->page_token());
    if (!opened.ok()) return ToGrpcStatus(opened.status());
    position = *std::move(opened);
    absl::StatusOr<std::shared_ptr<const storage::Snapshot>> at = ledger_->At(position.log_size);
    if (!at.ok()) {
      return ToGrpcStatus(absl::Status(at.status().code(),
                                       absl::StrCat("page_token: ", at.status().message())));
    }
    snapshot = *std::move(at);
  }
  TellServedAt(context, *snapshot);
  absl::StatusOr<WaybillReads::ListWaybillsPage> page =
      reads_core_.ListWaybills(*snapshot, *reader, *request, position.after);
  if (!page.ok()) return ToGrpcStatus(page.status());
  *response = std::move(page->response);
  if (!page->resume_after.empty()) {
    ledger_->Keep(snapshot);
    response->set_next_page_token(
        ListWaybillsToken({snapshot->size(), std::move(page->resume_after)}));
  }
  return grpc::Status::OK;
}

}  // namespace chemledger::waybill
