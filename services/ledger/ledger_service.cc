#include "services/ledger/ledger_service.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "chemledger/v1/ledger.pb.h"
#include "crypto/merkle.h"
#include "services/common/grpc_status.h"
#include "services/common/incoming_call.h"
#include "services/common/raw_unary.h"
#include "services/common/snapshot_metadata.h"
#include "services/common/stream_batches.h"
#include "services/ledger/log_proofs.h"
#include "services/registry/credentialed_read.h"
#include "services/registry/read_access.h"
#include "services/registry/registry_state.h"

namespace chemledger::ledger {
namespace {

void FillReceipt(const EventReceipt& receipt, v1::AppendResponse* out) {
  out->set_log_index(receipt.log_index);
  out->set_replayed(receipt.replayed);
  out->set_event_hash(receipt.event_hash.ToBytes());
}

v1::AppendResult ResultOf(const absl::StatusOr<EventReceipt>& receipt) {
  v1::AppendResult result;
  if (receipt.ok()) {
    FillReceipt(*receipt, result.mutable_receipt());
  } else {
    const absl::Status reported = PublicStatus(receipt.status());
    result.set_code(static_cast<int>(reported.code()));
    result.set_message(std::string(reported.message()));
  }
  return result;
}

std::vector<v1::AppendResult> ResultsOf(const std::vector<absl::StatusOr<EventReceipt>>& receipts) {
  std::vector<v1::AppendResult> results;
  results.reserve(receipts.size());
  for (const absl::StatusOr<EventReceipt>& receipt : receipts) results.push_back(ResultOf(receipt));
  return results;
}

}  // namespace

grpc::Status LedgerServiceImpl::Append(grpc::ServerContext* context,
                                       const v1::SignedEnvelope* request,
                                       v1::AppendResponse* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  absl::StatusOr<EventReceipt> receipt = ledger_->Append(*request);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  FillReceipt(*receipt, response);
  return grpc::Status::OK;
}

registry::SignedWriteSteps<v1::AppendResult> LedgerServiceImpl::WriteSteps() {
  return {[this](std::shared_ptr<const storage::Snapshot> at,
                 absl::Span<const v1::SignedEnvelope* const> admitted) {
            return ledger_->VerifyBatch(std::move(at), admitted);
          },
          [this](const registry::VerifiedBatch& admitted) {
            return ResultsOf(ledger_->AppendVerified(admitted));
          },
          [](const absl::Status& refused) { return ResultOf(refused); }};
}

grpc::Status LedgerServiceImpl::AppendStream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::AppendResult, v1::SignedEnvelope>* stream) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  registry::StreamGate::Ticket ticket =
      streams_.Enter(*client_->Latest(), *context, kAppendStreamMethod);
  if (!ticket.ok()) return ToGrpcStatus(ticket.status());
  StreamBatchLimits limits{kMaxBatchEvents, kMaxQueuedEvents, kMaxQueuedBytes};
  limits.timeouts = stream_options_.timeouts;
  return registry::AnswerSignedStream<v1::AppendResult>(context, stream, limits, ticket, *client_,
                                                        WriteSteps());
}

grpc::Status LedgerServiceImpl::AppendBatches(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::EventBatchResult, v1::EventBatch>* stream) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  registry::StreamGate::Ticket ticket =
      streams_.Enter(*client_->Latest(), *context, kAppendBatchesMethod);
  if (!ticket.ok()) return ToGrpcStatus(ticket.status());
  StreamBatchLimits limits{1, kMaxQueuedEventBatches, kMaxQueuedBytes};
  limits.timeouts = stream_options_.timeouts;
  return registry::AnswerSignedBatches<v1::EventBatch, v1::EventBatchResult, v1::AppendResult>(
      context, stream, limits, ticket, *client_,
      {"events", kMaxEventsPerBatchMessage, &v1::EventBatch::events,
       &v1::EventBatch::mutable_events},
      WriteSteps());
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* LedgerServiceImpl::ServeRead(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response, absl::string_view method,
    absl::StatusOr<Response> (LedgerReads::*read)(const storage::Snapshot&, const v1::Actor&,
                                                  const Request&) const) {
  return registry::ServeCredentialedRead(context, request, response, read_executor_, *reads_,
                                         *client_, method, reads_core_, read);
}

grpc::ServerUnaryReactor* LedgerServiceImpl::GetEvent(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kGetEventMethod, &LedgerReads::GetEvent);
}

grpc::ServerUnaryReactor* LedgerServiceImpl::GetHistory(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kGetHistoryMethod, &LedgerReads::GetHistory);
}

grpc::ServerUnaryReactor* LedgerServiceImpl::ListStock(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kListStockMethod, &LedgerReads::ListStock);
}

grpc::ServerUnaryReactor* LedgerServiceImpl::ListScanSignals(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kListScanSignalsMethod, &LedgerReads::ListScanSignals);
}

grpc::ServerUnaryReactor* LedgerServiceImpl::GetSiteLoad(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kGetSiteLoadMethod, &LedgerReads::GetSiteLoad);
}

grpc::ServerUnaryReactor* LedgerServiceImpl::ListSiteFlags(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  return ServeRead(context, request, response, kListSiteFlagsMethod, &LedgerReads::ListSiteFlags);
}

grpc::ServerUnaryReactor* LedgerServiceImpl::AddCheckpointCosignature(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::AddCheckpointCosignatureRequest, v1::AddCheckpointCosignatureResponse>(
      context, request, response, read_executor_,
      [this, context](const v1::AddCheckpointCosignatureRequest* r, absl::string_view bytes,
                      v1::AddCheckpointCosignatureResponse* out) {
        return ServeAddCheckpointCosignature(context, r, bytes, out);
      });
}

grpc::Status LedgerServiceImpl::ServeAddCheckpointCosignature(
    grpc::ServerContextBase* context, const v1::AddCheckpointCosignatureRequest* request,
    absl::string_view request_bytes, v1::AddCheckpointCosignatureResponse* response) {
  absl::StatusOr<registry::ReadAuthenticator::Reading> reading =
      reads_->BeginRead(*client_, *context, kAddCheckpointCosignatureMethod, request_bytes);
  if (!reading.ok()) return ToGrpcStatus(reading.status());
  absl::StatusOr<v1::AddCheckpointCosignatureResponse> added = AddCosignature(
      *reading->snapshot, reading->reader, signer_->verifier(), *request, *cosignatures_);
  if (!added.ok()) return ToGrpcStatus(added.status());
  *response = *std::move(added);
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetCheckpoint(grpc::ServerContext* context,
                                              const v1::GetCheckpointRequest* request,
                                              v1::Checkpoint* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  if (grpc::Status s = CheckRequestFieldsKnown(*request); !s.ok()) return s;
  if (client_->ReadsOnly()) {
    // A replica whose database no longer extends the log it served signs
    // nothing more of it.
    if (absl::Status health = client_->Healthy(); health.code() == absl::StatusCode::kDataLoss) {
      return ToGrpcStatus(health);
    }
  }
  std::shared_ptr<const storage::Snapshot> snapshot = client_->Latest();
  TellServedAt(context, *snapshot);
  absl::StatusOr<CheckpointToSign> to_sign =
      CheckpointFor(*snapshot, signer_->name(), *cosignatures_, *request);
  if (!to_sign.ok()) return ToGrpcStatus(to_sign.status());
  const crypto::Checkpoint& checkpoint = to_sign->checkpoint;
  absl::StatusOr<std::string> note = checkpoint_notes_.NoteFor(checkpoint);
  if (!note.ok()) return ToGrpcStatus(note.status());
  // Ed25519 signs the same text the same way: the witnesses' lines were made
  // over exactly this note.
  absl::StrAppend(&*note, to_sign->witness_lines);
  response->set_origin(checkpoint.origin);
  response->set_tree_size(checkpoint.size);
  response->set_root_hash(checkpoint.root_hash.ToBytes());
  response->set_signed_note(*std::move(note));
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetInclusionProof(grpc::ServerContext* context,
                                                  const v1::GetInclusionProofRequest* request,
                                                  v1::InclusionProof* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  if (grpc::Status s = CheckRequestFieldsKnown(*request); !s.ok()) return s;
  std::shared_ptr<const storage::Snapshot> snapshot = client_->Latest();
  TellServedAt(context, *snapshot);
  absl::StatusOr<v1::InclusionProof> proof = InclusionProofOf(*snapshot, *request);
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  *response = *std::move(proof);
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetConsistencyProof(grpc::ServerContext* context,
                                                    const v1::GetConsistencyProofRequest* request,
                                                    v1::ConsistencyProof* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  if (grpc::Status s = CheckRequestFieldsKnown(*request); !s.ok()) return s;
  std::shared_ptr<const storage::Snapshot> snapshot = client_->Latest();
  TellServedAt(context, *snapshot);
  absl::StatusOr<v1::ConsistencyProof> proof = ConsistencyProofOf(*snapshot, *request);
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  *response = *std::move(proof);
  return grpc::Status::OK;
}

}  // namespace chemledger::ledger
