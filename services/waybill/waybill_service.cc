#include "services/waybill/waybill_service.h"

#include "absl/strings/str_cat.h"
#include "services/common/grpc_status.h"
#include "services/registry/read_access.h"

namespace chemledger::waybill {
namespace {

v1::WaybillResult ResultOf(const absl::StatusOr<WaybillReceipt>& receipt) {
  v1::WaybillResult result;
  if (receipt.ok()) {
    result.set_log_index(receipt->log_index);
    result.set_replayed(receipt->replayed);
  } else {
    result.set_code(static_cast<int>(receipt.status().code()));
    result.set_message(std::string(receipt.status().message()));
  }
  return result;
}

}  // namespace

grpc::Status WaybillServiceImpl::Submit(grpc::ServerContext*, const v1::SignedEnvelope* request,
                                        v1::WaybillResult* response) {
  absl::StatusOr<WaybillReceipt> receipt = book_->Apply(*request);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  *response = ResultOf(receipt);
  return grpc::Status::OK;
}

grpc::Status WaybillServiceImpl::SubmitStream(
    grpc::ServerContext*, grpc::ServerReaderWriter<v1::WaybillResult, v1::SignedEnvelope>* stream) {
  v1::SignedEnvelope request;
  while (stream->Read(&request)) {
    if (!stream->Write(ResultOf(book_->Apply(request)))) break;
  }
  return grpc::Status::OK;
}

grpc::Status WaybillServiceImpl::GetWaybill(grpc::ServerContext* context,
                                            const v1::GetWaybillRequest* request,
                                            v1::WaybillRecord* response) {
  absl::StatusOr<v1::Actor> reader =
      registry::AuthenticateRead(*registry_, *context, kGetWaybillMethod);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  std::optional<WaybillState> state = book_->Find(request->waybill_number());
  const bool regulator =
      reader->role() == v1::REGULATOR || reader->role() == v1::PLATFORM_ADMIN;
  const bool party = state && (reader->enterprise_uscc() == state->waybill.carrier_uscc() ||
                               reader->enterprise_uscc() == state->waybill.consignor().uscc() ||
                               reader->enterprise_uscc() == state->waybill.consignee().uscc());
  if (!regulator && !party) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "read credentials: only the waybill's carrier, consignor, consignee or a "
                        "regulator may read it");
  }
  if (!state) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("waybill_number: no waybill '", request->waybill_number(), "'"));
  }
  *response->mutable_waybill() = state->waybill;
  response->set_status(state->status);
  response->set_log_index(state->log_index);
  for (const std::string& c : state->shipped) response->add_shipped(c);
  for (const std::string& c : state->received) response->add_received(c);
  return grpc::Status::OK;
}

}  // namespace chemledger::waybill
