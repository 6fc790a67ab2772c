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

grpc::Status LedgerServiceImpl::AppendStream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::AppendResult, v1::SignedEnvelope>* stream) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  registry::StreamGate::Ticket ticket =
      streams_.Enter(*client_->Latest(), *context, kAppendStreamMethod);
  if (!ticket.ok()) return ToGrpcStatus(ticket.status());
  StreamBatchLimits limits{kMaxBatchEvents, kMaxQueuedEvents, kMaxQueuedBytes};
  limits.timeouts = stream_options_.timeouts;
  return registry::AnswerSignedStream<v1::AppendResult>(
      context, stream, limits, ticket, *client_,
      [&](std::shared_ptr<const storage::Snapshot> at,
          absl::Span<const v1::SignedEnvelope* const> admitted) {
        return ledger_->VerifyBatch(std::move(at), admitted);
      },
      [&](const registry::VerifiedBatch& admitted) {
        return ResultsOf(ledger_->AppendVerified(admitted));
      },
      [](const absl::Status& refused) { return ResultOf(refused); });
}

grpc::Status LedgerServiceImpl::AppendBatches(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::EventBatchResult, v1::EventBatch>* stream) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  registry::StreamGate::Ticket ticket =
      streams_.Enter(*client_->Latest(), *context, kAppendBatchesMethod);
  if (!ticket.ok()) return ToGrpcStatus(ticket.status());
  // Each message is a batch of its own (one durable write), checked while
  // the one before it commits.
  StreamBatchLimits limits{1, kMaxQueuedEventBatches, kMaxQueuedBytes};
  limits.timeouts = stream_options_.timeouts;
  return AnswerInBatches<v1::EventBatch, registry::CheckedStreamBatch, v1::EventBatchResult>(
      context, stream, limits,
      [](const v1::EventBatch& batch) {
        if (batch.events_size() <= kMaxEventsPerBatchMessage) return grpc::Status::OK;
        return grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            absl::StrCat("events: ", batch.events_size(), " events in one batch; at most ",
                         kMaxEventsPerBatchMessage));
      },
      [&](std::vector<v1::EventBatch> batches) {
        std::vector<v1::SignedEnvelope> events;
        for (v1::EventBatch& b : batches) {
          for (v1::SignedEnvelope& e : *b.mutable_events()) events.push_back(std::move(e));
        }
        return registry::CheckStreamBatch(
            ticket, client_->Latest(), std::move(events),
            [&](std::shared_ptr<const storage::Snapshot> at,
                absl::Span<const v1::SignedEnvelope* const> admitted) {
              return ledger_->VerifyBatch(std::move(at), admitted);
            });
      },
      [&](registry::CheckedStreamBatch& batch) {
        v1::EventBatchResult out;
        for (v1::AppendResult& result : registry::AnswerCheckedStreamBatch<v1::AppendResult>(
                 batch, [](const absl::Status& refused) { return ResultOf(refused); },
                 [&](const registry::VerifiedBatch& admitted) {
                   return ResultsOf(ledger_->AppendVerified(admitted));
                 })) {
          *out.add_results() = std::move(result);
        }
        return std::vector<v1::EventBatchResult>{std::move(out)};
      });
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* LedgerServiceImpl::ServeRead(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response, absl::string_view method,
    absl::StatusOr<Response> (LedgerReads::*read)(const storage::Snapshot&, const v1::Actor&,
                                                  const Request&) const) {
  return ServeRawUnary<Request, Response>(
      context, request, response, read_executor_,
      [this, context, method, read](const Request* r, absl::string_view bytes, Response* out) {
        absl::StatusOr<Reading> reading = BeginRead(context, method, bytes);
        if (!reading.ok()) return ToGrpcStatus(reading.status());
        absl::StatusOr<Response> answer = (reads_core_.*read)(*reading->snapshot, reading->reader, *r);
        if (!answer.ok()) return ToGrpcStatus(answer.status());
        *out = *std::move(answer);
        return grpc::Status::OK;
      });
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

absl::StatusOr<LedgerServiceImpl::Reading> LedgerServiceImpl::BeginRead(
    grpc::ServerContextBase* context, absl::string_view method, absl::string_view request_bytes) {
  Reading reading{client_->Latest(), {}};
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*reading.snapshot, *context, method, request_bytes);
  if (!reader.ok()) return reader.status();
  reading.reader = *std::move(reader);
  TellServedAt(context, *reading.snapshot);
  return reading;
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
  absl::StatusOr<Reading> reading = BeginRead(context, kAddCheckpointCosignatureMethod, request_bytes);
  if (!reading.ok()) return ToGrpcStatus(reading.status());
  const v1::Actor& witness = reading->reader;
  if (witness.role() != v1::REGULATOR) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "witnesses are regulators");
  }
  // This log's checkpoint, of a size and root this log has.
  absl::StatusOr<crypto::Checkpoint> checkpoint =
      crypto::OpenCheckpoint(request->cosigned_note(), signer_->name(), signer_->verifier());
  if (!checkpoint.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("cosigned_note: ", checkpoint.status().message()));
  }
  const storage::Snapshot& snapshot = *reading->snapshot;
  if (checkpoint->size > snapshot.size()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "cosigned_note: a size beyond this log's");
  }
  absl::StatusOr<crypto::Sha256Digest> root = snapshot.Root(checkpoint->size);
  if (!root.ok()) return ToGrpcStatus(root.status());
  if (*root != checkpoint->root_hash) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "cosigned_note: not this log's root at that size");
  }
  // Co-signed by the caller's key, as "witness/<key id>".
  absl::StatusOr<crypto::VerifyingKey> key = crypto::VerifyingKey::FromBytes(witness.public_key());
  if (!key.ok()) return ToGrpcStatus(key.status());
  const std::string name = absl::StrCat("witness/", key->key_id().ToString());
  absl::StatusOr<crypto::NoteVerifier> verifier = crypto::NoteVerifier::Create(name, *key);
  if (!verifier.ok()) return ToGrpcStatus(verifier.status());
  if (absl::StatusOr<std::string> opened = crypto::OpenNote(request->cosigned_note(), *verifier);
      !opened.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("cosigned_note: no signature line of ", name, ": ",
                                     opened.status().message()));
  }
  const std::string marker = absl::StrCat("\xe2\x80\x94 ", name, " ");
  const size_t at = request->cosigned_note().find(marker);
  const size_t end = request->cosigned_note().find('\n', at);
  if (at == std::string::npos || end == std::string::npos) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "cosigned_note: malformed line");
  }
  absl::StatusOr<int> witnesses =
      cosignatures_->Add(key->key_id().ToString(), checkpoint->size, checkpoint->root_hash,
                         request->cosigned_note().substr(at, end + 1 - at));
  if (!witnesses.ok()) return ToGrpcStatus(witnesses.status());
  response->set_tree_size(checkpoint->size);
  response->set_witnesses(*witnesses);
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetCheckpoint(grpc::ServerContext* context,
                                              const v1::GetCheckpointRequest* request,
                                              v1::Checkpoint* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  std::shared_ptr<const storage::Snapshot> snapshot = client_->Latest();
  TellServedAt(context, *snapshot);
  crypto::Checkpoint checkpoint;
  checkpoint.origin = signer_->name();
  checkpoint.size = snapshot->size();
  checkpoint.root_hash = snapshot->root();
  std::string lines;  // the witnesses' signature lines
  if (request->with_cosignatures()) {
    const int min_witnesses = static_cast<int>(
        std::min<uint32_t>(std::max<uint32_t>(request->min_cosignatures(), 1), 1000));
    if (request->witness_key_ids_size() > 100) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "witness_key_ids: at most 100");
    }
    const std::set<std::string> only(request->witness_key_ids().begin(),
                                     request->witness_key_ids().end());
    std::optional<WitnessCosignatures::Cosigned> newest =
        cosignatures_->Newest(min_witnesses, only);
    if (!newest) {
      return grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          min_witnesses == 1
              ? std::string("no witness has co-signed a checkpoint yet")
              : absl::StrCat("no checkpoint kept is co-signed by ", min_witnesses,
                             only.empty() ? " witnesses" : " of the witnesses asked for"));
    }
    // Only a checkpoint of this log is signed again: co-signatures kept for
    // another (a store restored from a backup behind them) are not served.
    absl::StatusOr<crypto::Sha256Digest> root =
        newest->size <= snapshot->size() ? snapshot->Root(newest->size)
                                         : absl::OutOfRangeError("beyond the log");
    if (!root.ok() || *root != newest->root) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("the witnesses' co-signatures kept (of size ", newest->size,
                                       ") are not of this log: move DATA/witness-cosignatures "
                                       "away; the witnesses' next round hands in new ones"));
    }
    checkpoint.size = newest->size;
    checkpoint.root_hash = newest->root;
    lines = std::move(newest->lines);
  }
  std::optional<std::string> note;
  {
    absl::MutexLock lock(&checkpoint_mu_);
    if (signed_checkpoint_ && signed_checkpoint_->size == checkpoint.size &&
        signed_checkpoint_->root == checkpoint.root_hash) {
      note = signed_checkpoint_->note;
    }
  }
  if (!note) {
    absl::StatusOr<std::string> signed_note = signer_->SignCheckpoint(checkpoint);
    if (!signed_note.ok()) return ToGrpcStatus(signed_note.status());
    note = *signed_note;
    absl::MutexLock lock(&checkpoint_mu_);
    signed_checkpoint_ = SignedCheckpoint{checkpoint.size, checkpoint.root_hash, *signed_note};
  }
  // Ed25519 signs the same text the same way: the witnesses' lines were made
  // over exactly this note.
  absl::StrAppend(&*note, lines);
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
  std::shared_ptr<const storage::Snapshot> snapshot = client_->Latest();
  TellServedAt(context, *snapshot);
  const uint64_t size = request->tree_size() == 0 ? snapshot->size() : request->tree_size();
  absl::StatusOr<std::vector<crypto::Sha256Digest>> proof =
      snapshot->InclusionProof(request->leaf_index(), size);
  if (!proof.ok()) {
    return ToGrpcStatus(absl::Status(proof.status().code(),
                                     absl::StrCat("leaf_index, tree_size: ", proof.status().message())));
  }
  response->set_leaf_index(request->leaf_index());
  response->set_tree_size(size);
  for (const crypto::Sha256Digest& h : *proof) response->add_hashes(h.ToBytes());
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetConsistencyProof(grpc::ServerContext* context,
                                                    const v1::GetConsistencyProofRequest* request,
                                                    v1::ConsistencyProof* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  std::shared_ptr<const storage::Snapshot> snapshot = client_->Latest();
  TellServedAt(context, *snapshot);
  const uint64_t second = request->second_size() == 0 ? snapshot->size() : request->second_size();
  absl::StatusOr<std::vector<crypto::Sha256Digest>> proof =
      snapshot->ConsistencyProof(request->first_size(), second);
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
