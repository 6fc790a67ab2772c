// The lifecycle ledger, the personality behind LedgerService: it takes
// signed events (chemledger.v1.Event, proto/chemledger/v1/ledger.proto),
// verifies their signatures (and an observation's labels) in parallel, and
// submits them to the ledger,
// where LifecycleRules (lifecycle_rules.h, which lists the rules) checks
// each in order and links it into each code's hash chain. What the ledger
// knows of a code is read with code_state.h at a snapshot.
//
// Concurrent calls are grouped by the journal into one durable write (group
// commit): a unary Append waits for its own commit only.
//
// Thread-safety: thread-safe. The ledger client must outlive the Ledger.

#ifndef CHEMLEDGER_SERVICES_LEDGER_LEDGER_H_
#define CHEMLEDGER_SERVICES_LEDGER_LEDGER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/sha256.h"
#include "journal/ledger_client.h"
#include "journal/state_machine.h"
#include "services/ledger/code_state.h"
#include "services/registry/signers.h"

namespace chemledger::ledger {

struct EventReceipt {
  uint64_t log_index = 0;
  bool replayed = false;            // a retry of an accepted event
  crypto::Sha256Digest event_hash;  // the entry's RFC 6962 leaf hash
};

class Ledger {
 public:
  // `refusals` (may be null) is told of each event refused for breaking a
  // rule, to record it (registry/signers.h). `rules_epoch` must be the one
  // the journal writes entries under: from 14 an observation's labels are
  // checked with its signature (observation_labels.h), and the rules then
  // trust that check.
  explicit Ledger(journal::LedgerClient* ledger, registry::RefusalSink* refusals = nullptr,
                  size_t verify_threads = 2, uint32_t rules_epoch = journal::kCurrentRulesEpoch)
      : ledger_(ledger),
        refusals_(refusals),
        verify_threads_(verify_threads),
        rules_epoch_(rules_epoch) {}

  // Verifies, checks and records one event. Errors: InvalidArgument (a
  // malformed envelope or field), Unauthenticated, PermissionDenied (revoked
  // key, blacklisted enterprise, not the custodian, role not allowed),
  // FailedPrecondition (a rule of the package's state), NotFound (unknown
  // code or event), AlreadyExists (event id reused with other bytes).
  absl::StatusOr<EventReceipt> Append(const v1::SignedEnvelope& event);

  // Appends several events with one durable write: their signatures are
  // checked in parallel, then each is checked in order, on the state the
  // batch's earlier events leave. One result per event, in order, exactly
  // as Append would give it; a refused event does not stop the others.
  std::vector<absl::StatusOr<EventReceipt>> AppendBatch(
      absl::Span<const v1::SignedEnvelope* const> events);
  std::vector<absl::StatusOr<EventReceipt>> AppendBatch(
      absl::Span<const v1::SignedEnvelope> events);

  // AppendBatch in two steps, for a stream that checks its next batch while
  // the one before it commits: the signatures, at `snapshot` (VerifyBatch;
  // the envelopes must outlive the result), then the rules and the durable
  // write (AppendVerified).
  registry::VerifiedBatch VerifyBatch(std::shared_ptr<const storage::Snapshot> snapshot,
                                      absl::Span<const v1::SignedEnvelope* const> events);
  std::vector<absl::StatusOr<EventReceipt>> AppendVerified(const registry::VerifiedBatch& batch);

 private:
  journal::LedgerClient* const ledger_;
  registry::RefusalSink* const refusals_;
  const size_t verify_threads_;
  const uint32_t rules_epoch_;
};

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_LEDGER_H_
