#include "services/ledger/ledger_service.h"

#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "crypto/merkle.h"
#include "services/common/grpc_status.h"
#include "services/registry/read_access.h"

namespace chemledger::ledger {
namespace {

void FillReceipt(const EventReceipt& receipt, v1::AppendResponse* out) {
  out->set_log_index(receipt.log_index);
  out->set_replayed(receipt.replayed);
  out->set_event_hash(receipt.event_hash.ToBytes());
}

grpc::Status Denied(absl::string_view what) {
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      absl::StrCat("read credentials: this actor may not read ", what,
                                   " (only regulators, and enterprises that held it)"));
}

}  // namespace

grpc::Status LedgerServiceImpl::Append(grpc::ServerContext*, const v1::SignedEnvelope* request,
                                       v1::AppendResponse* response) {
  absl::StatusOr<EventReceipt> receipt = ledger_->Append(*request);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  FillReceipt(*receipt, response);
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::AppendStream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::AppendResult, v1::SignedEnvelope>* stream) {
  // A reader thread queues what the client sends; this thread appends what
  // has queued up as one batch (one durable write), answers it in order, and
  // goes on. A client that sends ahead gets large batches; one that waits
  // for each answer gets batches of one.
  absl::Mutex mu;
  absl::CondVar changed;
  std::deque<v1::SignedEnvelope> queue;  // guarded by mu
  bool done = false;                     // guarded by mu
  bool stop = false;                     // guarded by mu
  std::thread reader([&] {
    v1::SignedEnvelope envelope;
    while (stream->Read(&envelope)) {
      absl::MutexLock lock(&mu);
      while (queue.size() >= kMaxQueuedEvents && !stop) changed.Wait(&mu);
      if (stop) break;
      queue.push_back(std::move(envelope));
      changed.SignalAll();
    }
    absl::MutexLock lock(&mu);
    done = true;
    changed.SignalAll();
  });
  bool client_gone = false;
  while (!client_gone) {
    std::vector<v1::SignedEnvelope> batch;
    {
      absl::MutexLock lock(&mu);
      while (queue.empty() && !done) changed.Wait(&mu);
      if (queue.empty()) break;  // the client closed its side
      while (!queue.empty() && batch.size() < kMaxBatchEvents) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      changed.SignalAll();
    }
    std::vector<absl::StatusOr<EventReceipt>> receipts = ledger_->AppendBatch(batch);
    for (absl::StatusOr<EventReceipt>& receipt : receipts) {
      v1::AppendResult result;
      if (receipt.ok()) {
        FillReceipt(*receipt, result.mutable_receipt());
      } else {
        result.set_code(static_cast<int>(receipt.status().code()));
        result.set_message(std::string(receipt.status().message()));
      }
      if (!stream->Write(result)) {
        client_gone = true;
        break;
      }
    }
  }
  if (client_gone) {
    context->TryCancel();
    absl::MutexLock lock(&mu);
    stop = true;
    queue.clear();
    changed.SignalAll();
  }
  reader.join();
  return grpc::Status::OK;
}

absl::Status LedgerServiceImpl::Record(uint64_t index, v1::EventRecord* out) const {
  absl::StatusOr<std::string> bytes = log_->Entry(index);
  if (!bytes.ok()) return bytes.status();
  out->set_log_index(index);
  if (!out->mutable_entry()->ParseFromString(*bytes)) {
    return absl::DataLossError(absl::StrCat("log entry ", index, " is not a LogEntry"));
  }
  out->set_event_hash(crypto::HashLeaf(*bytes).ToBytes());
  return absl::OkStatus();
}

grpc::Status LedgerServiceImpl::GetEvent(grpc::ServerContext* context,
                                         const v1::GetEventRequest* request,
                                         v1::EventRecord* response) {
  absl::StatusOr<v1::Actor> reader = registry::AuthenticateRead(*registry_, *context, kGetEventMethod);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  std::optional<uint64_t> index = ledger_->FindEvent(request->event_id());
  if (!index) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("event_id: no event '", request->event_id(), "'"));
  }
  if (absl::Status s = Record(*index, response); !s.ok()) return ToGrpcStatus(s);
  v1::EventLinks links;
  links.ParseFromString(response->entry().assignment());
  for (const auto& link : links.links()) {
    if (ledger_->MayRead(*reader, link.code())) return grpc::Status::OK;
  }
  response->Clear();
  return Denied(absl::StrCat("event '", request->event_id(), "'"));
}

grpc::Status LedgerServiceImpl::GetHistory(grpc::ServerContext* context,
                                           const v1::GetHistoryRequest* request,
                                           v1::History* response) {
  absl::StatusOr<v1::Actor> reader =
      registry::AuthenticateRead(*registry_, *context, kGetHistoryMethod);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  std::optional<CodeState> state = ledger_->Find(request->code());
  if (!state) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("code: '", request->code(), "' is not in the ledger"));
  }
  if (!ledger_->MayRead(*reader, request->code())) {
    return Denied(absl::StrCat("the history of ", request->code()));
  }
  response->set_code(state->code);
  response->set_status(std::string(CodeStatusName(state->status)));
  response->set_custodian(state->custodian);
  response->set_remaining_milli(state->remaining_milli);
  response->set_unit(state->unit);
  response->set_parent(state->parent);
  for (uint64_t index : state->history) {
    if (absl::Status s = Record(index, response->add_events()); !s.ok()) return ToGrpcStatus(s);
  }
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetCheckpoint(grpc::ServerContext*, const v1::GetCheckpointRequest*,
                                              v1::Checkpoint* response) {
  crypto::Checkpoint checkpoint;
  checkpoint.origin = signer_->name();
  checkpoint.size = log_->Size();
  absl::StatusOr<crypto::Sha256Digest> root = log_->Root(checkpoint.size);
  if (!root.ok()) return ToGrpcStatus(root.status());
  checkpoint.root_hash = *root;
  absl::StatusOr<std::string> note = signer_->SignCheckpoint(checkpoint);
  if (!note.ok()) return ToGrpcStatus(note.status());
  response->set_origin(checkpoint.origin);
  response->set_tree_size(checkpoint.size);
  response->set_root_hash(root->ToBytes());
  response->set_signed_note(*std::move(note));
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetInclusionProof(grpc::ServerContext*,
                                                  const v1::GetInclusionProofRequest* request,
                                                  v1::InclusionProof* response) {
  const uint64_t size = request->tree_size() == 0 ? log_->Size() : request->tree_size();
  absl::StatusOr<std::vector<crypto::Sha256Digest>> proof =
      log_->InclusionProof(request->leaf_index(), size);
  if (!proof.ok()) {
    return ToGrpcStatus(absl::Status(proof.status().code(),
                                     absl::StrCat("leaf_index, tree_size: ", proof.status().message())));
  }
  response->set_leaf_index(request->leaf_index());
  response->set_tree_size(size);
  for (const crypto::Sha256Digest& h : *proof) response->add_hashes(h.ToBytes());
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetConsistencyProof(grpc::ServerContext*,
                                                    const v1::GetConsistencyProofRequest* request,
                                                    v1::ConsistencyProof* response) {
  const uint64_t second = request->second_size() == 0 ? log_->Size() : request->second_size();
  absl::StatusOr<std::vector<crypto::Sha256Digest>> proof =
      log_->ConsistencyProof(request->first_size(), second);
  if (!proof.ok()) {
    return ToGrpcStatus(absl::Status(proof.status().code(),
                                     absl::StrCat("first_size, second_size: ", proof.status().message())));
  }
  response->set_first_size(request->first_size());
  response->set_second_size(second);
  for (const crypto::Sha256Digest& h : *proof) response->add_hashes(h.ToBytes());
  return grpc::Status::OK;
}

}  // namespace chemledger::ledger
