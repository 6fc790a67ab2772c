// Who may hold a stream of writes open, and how many (LedgerService.
// AppendStream and AppendBatches, WaybillService.SubmitStream and
// SubmitBatches). A stream is
// opened with read credentials for its method in its metadata
// (services/common/read_auth.h), signed by an admin or operator of an
// enterprise; they are checked before the stream takes a slot, so a client
// that cannot sign takes none. At most `max_open` streams are open in all and
// `max_per_enterprise` per enterprise, so one enterprise cannot take them
// all, and `max_per_actor` per actor (the key that opened it), so one actor
// cannot take all of its enterprise's. The stream then refuses any envelope
// on it that is not signed by an actor of the stream's enterprise
// (SignedByStreamEnterprise). Limits are per server process.
//
// Also here: checking and answering a stream's batches (CheckStreamBatch,
// AnswerCheckedStreamBatch, and AnswerSignedStream, which serves a whole
// stream with them over services/common/stream_batches.h).
//
// Thread-safety: StreamGate is thread-safe; a Ticket is used by one thread at
// a time (its stream's checker). The gate must outlive its tickets.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_STREAM_GATE_H_
#define CHEMLEDGER_SERVICES_REGISTRY_STREAM_GATE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/sync_stream.h"
#include "journal/ledger_client.h"
#include "services/common/bounded_slots.h"
#include "services/common/stream_batches.h"
#include "services/registry/read_access.h"
#include "services/registry/signers.h"
#include "storage/store.h"

namespace chemledger::registry {

class StreamGate {
 public:
  // `reads` checks the credentials a stream opens with; it must outlive the
  // gate.
  StreamGate(ReadAuthenticator* reads, int max_open, int max_per_enterprise, int max_per_actor)
      : reads_(reads), slots_(max_open, {max_per_enterprise, max_per_actor}) {}
  StreamGate(const StreamGate&) = delete;
  StreamGate& operator=(const StreamGate&) = delete;

  // Streams open now, and the most that may be (metrics).
  int open() const { return slots_.held(); }
  int max_open() const { return slots_.max_total(); }

  // One open stream, for its life: its enterprise's slot, if entered.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept = default;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;

    bool ok() const { return status_.ok(); }
    // Why not: UNAUTHENTICATED (no or bad credentials), PERMISSION_DENIED
    // (not an enterprise's admin or operator), RESOURCE_EXHAUSTED.
    const absl::Status& status() const { return status_; }
    const std::string& enterprise() const { return enterprise_; }

    // Whether `envelope` may go on to the signature check: PERMISSION_DENIED
    // naming the signature when one registered actor of another enterprise
    // (as of `state`) signed it; OK for the stream enterprise's actors, and
    // for envelopes whose form or key the signature check refuses as a
    // single Submit's (InvalidArgument, Unauthenticated). Remembers the enterprise's signers it has
    // found (only those: the set stays as small as the enterprise's actors), so one thread at a
    // time calls it (a stream's checker).
    absl::Status SignedByStreamEnterprise(const storage::StateReader& state,
                                          const v1::SignedEnvelope& envelope);

   private:
    friend class StreamGate;
    Ticket(BoundedSlots::Slot slot, absl::Status status, std::string enterprise)
        : slot_(std::move(slot)), status_(std::move(status)), enterprise_(std::move(enterprise)) {}
    BoundedSlots::Slot slot_;  // taken when the stream is open
    absl::Status status_;
    std::string enterprise_;
    absl::flat_hash_set<std::string> own_signers_;  // key ids of the enterprise's actors
  };

  // Checks `context`'s credentials for `method` against the registry in
  // `state`, then takes a slot for the signer's enterprise if one is free.
  // The credentials are signed over no request bytes (read_auth.h).
  Ticket Enter(const storage::StateReader& state, const grpc::ServerContextBase& context,
               absl::string_view method);

 private:
  ReadAuthenticator* const reads_;
  // The streams open: in all, per enterprise, per actor (its public key).
  BoundedSlots slots_;
};

// A stream's batch checked ahead of its answer (CheckStreamBatch), while the
// batch before it commits: which envelopes the stream refuses (not signed by
// its enterprise) and the others' signers, verified. It owns the envelopes
// that `admitted` points at (moving it keeps them where they are; it cannot
// be copied).
struct CheckedStreamBatch {
  CheckedStreamBatch() = default;
  CheckedStreamBatch(CheckedStreamBatch&&) = default;
  CheckedStreamBatch& operator=(CheckedStreamBatch&&) = default;
  CheckedStreamBatch(const CheckedStreamBatch&) = delete;
  CheckedStreamBatch& operator=(const CheckedStreamBatch&) = delete;

  std::vector<v1::SignedEnvelope> envelopes;
  std::vector<absl::Status> admission;  // one per envelope: OK, or why the stream refuses it
  VerifiedBatch admitted;             // the admitted envelopes, in order
};

// Checks the signers of a stream's admitted envelopes at a snapshot (a
// personality's VerifyBatch).
using StreamBatchVerifier =
    absl::FunctionRef<VerifiedBatch(std::shared_ptr<const storage::Snapshot> snapshot,
                                    absl::Span<const v1::SignedEnvelope* const> admitted)>;

// Checks `envelopes`, from a stream of `ticket`'s, against the registry at
// `snapshot`, and has `verify` check the signers of those the stream admits
// at the same snapshot.
CheckedStreamBatch CheckStreamBatch(StreamGate::Ticket& ticket,
                                    std::shared_ptr<const storage::Snapshot> snapshot,
                                    std::vector<v1::SignedEnvelope> envelopes,
                                    StreamBatchVerifier verify);

// Answers a checked batch: `refused(why)` for each envelope the stream
// refused; the admitted ones go to `core` together, which returns one
// result each, in order.
template <typename Result>
std::vector<Result> AnswerCheckedStreamBatch(
    const CheckedStreamBatch& batch, absl::FunctionRef<Result(const absl::Status&)> refused,
    absl::FunctionRef<std::vector<Result>(const VerifiedBatch&)> core) {
  std::vector<Result> results;
  results.reserve(batch.envelopes.size());
  std::vector<Result> answered;
  if (!batch.admitted.envelopes.empty()) answered = core(batch.admitted);
  size_t next = 0;
  for (size_t i = 0; i < batch.envelopes.size(); ++i) {
    if (!batch.admission[i].ok()) {
      results.push_back(refused(batch.admission[i]));
    } else if (next < answered.size()) {
      results.push_back(std::move(answered[next++]));
    } else {
      results.push_back(refused(absl::InternalError("the request was not answered")));
    }
  }
  return results;
}

// What a personality does with the signed writes its streams carry, the
// same for both of its streams (a stream of requests, one answer each, and
// a stream of batch messages): Ledger's for events, WaybillBook's for
// waybills.
template <typename Result>
struct SignedWriteSteps {
  // Checks the signers of the envelopes a stream admits, at `snapshot`
  // (the personality's VerifyBatch).
  std::function<VerifiedBatch(std::shared_ptr<const storage::Snapshot> snapshot,
                              absl::Span<const v1::SignedEnvelope* const> admitted)>
      verify;
  // Submits the admitted envelopes together; one result each, in order.
  std::function<std::vector<Result>(const VerifiedBatch& admitted)> apply;
  // The answer to an envelope the stream refuses, saying why.
  std::function<Result(const absl::Status& why)> refused;
};

// Answers a stream of signed writes opened with `ticket` (AppendStream,
// SubmitStream) a batch at a time, each batch's gate and signers checked
// while the one before it commits (services/common/stream_batches.h), at
// `ledger`'s latest snapshot, with the personality's `steps`.
template <typename Result>
grpc::Status AnswerSignedStream(grpc::ServerContext* context,
                                grpc::ServerReaderWriter<Result, v1::SignedEnvelope>* stream,
                                const StreamBatchLimits& limits, StreamGate::Ticket& ticket,
                                journal::LedgerClient& ledger,
                                const SignedWriteSteps<Result>& steps) {
  return AnswerInBatches<v1::SignedEnvelope, CheckedStreamBatch, Result>(
      context, stream, limits,
      [&](std::vector<v1::SignedEnvelope> batch) {
        return CheckStreamBatch(ticket, ledger.Latest(), std::move(batch), steps.verify);
      },
      [&](CheckedStreamBatch& batch) {
        return AnswerCheckedStreamBatch<Result>(batch, steps.refused, steps.apply);
      });
}

// The signed writes a batch message carries (EventBatch.events,
// WaybillBatch.requests): the field's name, as refusals name it; the most
// one message may carry; its accessors.
template <typename Batch>
struct BatchRequests {
  const char* field;
  int max;
  const google::protobuf::RepeatedPtrField<v1::SignedEnvelope>& (Batch::*get)() const;
  google::protobuf::RepeatedPtrField<v1::SignedEnvelope>* (Batch::*take)();
};

// Answers a stream of batch messages of signed writes (AppendBatches,
// SubmitBatches) opened with `ticket`: each message is a batch of its own
// (one durable write), checked while the one before it commits, and
// answered with one `BatchResult` holding a result per request, in order
// (as AnswerSignedStream answers each), with the personality's `steps`. A message carrying more
// than `requests.max` ends the stream with INVALID_ARGUMENT naming the field, once the messages
// before it are answered.
template <typename Batch, typename BatchResult, typename Result>
grpc::Status AnswerSignedBatches(grpc::ServerContext* context,
                                 grpc::ServerReaderWriter<BatchResult, Batch>* stream,
                                 StreamBatchLimits limits, StreamGate::Ticket& ticket,
                                 journal::LedgerClient& ledger,
                                 const BatchRequests<Batch>& requests,
                                 const SignedWriteSteps<Result>& steps) {
  limits.max_batch = 1;  // a message is a batch
  return AnswerInBatches<Batch, CheckedStreamBatch, BatchResult>(
      context, stream, limits,
      [&](const Batch& batch) {
        const int n = (batch.*requests.get)().size();
        if (n <= requests.max) return grpc::Status::OK;
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat(requests.field, ": ", n, " ", requests.field,
                                         " in one batch; at most ", requests.max));
      },
      [&](std::vector<Batch> batches) {
        std::vector<v1::SignedEnvelope> envelopes;
        for (Batch& b : batches) {
          for (v1::SignedEnvelope& e : *(b.*requests.take)()) envelopes.push_back(std::move(e));
        }
        return CheckStreamBatch(ticket, ledger.Latest(), std::move(envelopes), steps.verify);
      },
      [&](CheckedStreamBatch& batch) {
        BatchResult out;
        for (Result& result : AnswerCheckedStreamBatch<Result>(batch, steps.refused, steps.apply)) {
          *out.add_results() = std::move(result);
        }
        return std::vector<BatchResult>{std::move(out)};
      });
}

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_STREAM_GATE_H_
