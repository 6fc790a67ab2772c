// LedgerService (proto/chemledger/v1/ledger_service.proto): the gRPC adapter
// over the ledger core (ledger.h) and the log's checkpoints and proofs.
//
// Thread-safety: safe for gRPC's concurrent handlers. Everything passed to
// the constructor must outlive the service.

#ifndef CHEMLEDGER_SERVICES_LEDGER_LEDGER_SERVICE_H_
#define CHEMLEDGER_SERVICES_LEDGER_LEDGER_SERVICE_H_

#include <map>
#include <optional>
#include <string>

#include "api/wire.h"
#include "services/common/call_executor.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "crypto/checkpoint.h"
#include "services/common/stream_batches.h"
#include "services/registry/read_access.h"
#include "services/registry/stream_gate.h"
#include "journal/ledger_client.h"
#include "reference/reference_tables.h"
#include "services/ledger/witness_cosignatures.h"
#include "services/ledger/ledger.h"
#include "services/ledger/ledger_reads.h"
#include "services/ledger/log_proofs.h"

namespace chemledger::ledger {

// AppendStream appends at most this many queued events as one batch, and
// stops reading ahead at kMaxQueuedEvents (besides which a stream holds up
// to three batches: being checked, waiting, being answered; stream_batches.h).
inline constexpr size_t kMaxBatchEvents = 512;
inline constexpr size_t kMaxQueuedEvents = 4096;
// AppendBatches reads at most this many messages ahead of their answers.
inline constexpr size_t kMaxQueuedEventBatches = 8;
inline constexpr size_t kMaxQueuedBytes = 16 << 20;
// Append streams (AppendStream and AppendBatches): how many may be open at
// once, in all and per enterprise (more are refused with RESOURCE_EXHAUSTED,
// so streams cannot take every handler thread, nor one enterprise every
// stream), and when an idle or unread stream is dropped.
struct AppendStreamOptions {
  int max_open = 16;
  int max_per_enterprise = 4;
  int max_per_actor = 2;
  StreamTimeouts timeouts;
};
// Most events one EventBatch may carry.
using api::kMaxEventsPerBatchMessage;

using api::kAppendBatchesMethod;
using api::kAppendStreamMethod;
using api::kGetEventMethod;
using api::kGetHistoryMethod;
using api::kListScanSignalsMethod;
using api::kListStockMethod;
using api::kGetSiteLoadMethod;
using api::kListSiteFlagsMethod;
using api::kAddCheckpointCosignatureMethod;

// GetEvent, GetHistory, ListStock, ListScanSignals, GetSiteLoad and
// ListSiteFlags are raw methods: their
// read credentials are checked over the request's bytes as received
// (raw_unary.h).
using LedgerServiceBase = v1::LedgerService::WithRawCallbackMethod_GetEvent<
    v1::LedgerService::WithRawCallbackMethod_GetHistory<
        v1::LedgerService::WithRawCallbackMethod_ListStock<
            v1::LedgerService::WithRawCallbackMethod_ListScanSignals<
                v1::LedgerService::WithRawCallbackMethod_GetSiteLoad<
                    v1::LedgerService::WithRawCallbackMethod_ListSiteFlags<
                        v1::LedgerService::WithRawCallbackMethod_AddCheckpointCosignature<
                            v1::LedgerService::Service>>>>>>>;

class LedgerServiceImpl final : public LedgerServiceBase {
 public:
  // `checkpoint_signer` signs checkpoints; its name is the log's origin.
  // `reads` checks read credentials. `tables` holds the segregation table
  // GetSiteLoad assesses against. `cosignatures` keeps the witnesses'
  // co-signatures (null: in this object's memory only).
  LedgerServiceImpl(Ledger* ledger, journal::LedgerClient* client,
                    const crypto::NoteSigner* checkpoint_signer, registry::ReadAuthenticator* reads,
                    AppendStreamOptions stream_options = {},
                    const reference::ReferenceTables* tables =
                        &reference::ShippedReferenceTables(),
                    WitnessCosignatures* cosignatures = nullptr)
      : ledger_(ledger),
        reads_core_(tables),
        client_(client),
        signer_(checkpoint_signer),
        reads_(reads),
        own_cosignatures_(cosignatures ? nullptr : *WitnessCosignatures::Open("")),
        cosignatures_(cosignatures ? cosignatures : own_cosignatures_.get()),
        stream_options_(stream_options),
        streams_(reads, stream_options.max_open, stream_options.max_per_enterprise,
                 stream_options.max_per_actor),
        checkpoint_notes_(checkpoint_signer) {}

  grpc::Status Append(grpc::ServerContext* context, const v1::SignedEnvelope* request,
                      v1::AppendResponse* response) override;
  grpc::Status AppendStream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::AppendResult, v1::SignedEnvelope>* stream) override;
  grpc::Status AppendBatches(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::EventBatchResult, v1::EventBatch>* stream) override;
  grpc::ServerUnaryReactor* GetEvent(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetHistory(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListStock(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListScanSignals(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetSiteLoad(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListSiteFlags(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* AddCheckpointCosignature(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) override;
  grpc::Status GetCheckpoint(grpc::ServerContext* context, const v1::GetCheckpointRequest* request,
                             v1::Checkpoint* response) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* context,
                                 const v1::GetInclusionProofRequest* request,
                                 v1::InclusionProof* response) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* context,
                                   const v1::GetConsistencyProofRequest* request,
                                   v1::ConsistencyProof* response) override;

  // The submission streams open, for the metrics.
  const registry::StreamGate& streams() const { return streams_; }

 private:
  // What both event streams do with the signed events they carry.
  registry::SignedWriteSteps<v1::AppendResult> WriteSteps();
  // Serves a raw read: checks the call's read credentials for `method`
  // over the request's bytes as received, tells the caller the log size,
  // and answers with `read` (one of LedgerReads's) at that snapshot.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* ServeRead(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response, absl::string_view method,
      absl::StatusOr<Response> (LedgerReads::*read)(const storage::Snapshot&, const v1::Actor&,
                                                    const Request&) const);
  grpc::Status ServeAddCheckpointCosignature(grpc::ServerContextBase* context,
                                             const v1::AddCheckpointCosignatureRequest* request,
                                             absl::string_view request_bytes,
                                             v1::AddCheckpointCosignatureResponse* response);
  Ledger* const ledger_;
  const LedgerReads reads_core_;
  journal::LedgerClient* const client_;
  const crypto::NoteSigner* const signer_;
  registry::ReadAuthenticator* const reads_;

  // Witnesses' co-signatures.
  std::unique_ptr<WitnessCosignatures> own_cosignatures_;
  WitnessCosignatures* const cosignatures_;
  const AppendStreamOptions stream_options_;
  registry::StreamGate streams_;
  // Runs the raw reads' handlers (raw_unary.h).
  CallExecutor read_executor_{8, 1024, "ledger-read"};
  // The checkpoint notes GetCheckpoint signed last.
  SignedCheckpointNotes checkpoint_notes_;
};

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_LEDGER_SERVICE_H_
