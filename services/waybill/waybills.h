// The e-waybill book, the personality behind WaybillService: carriers'
// 电子运单 as signed requests (submit, amend, cancel, depart, arrive). The
// book verifies their signatures in parallel and submits them to the ledger,
// where WaybillRules (waybill_rules.h, which lists the rules) checks each in
// order against the state as the requests before it leave it; the ledger's
// shipping and receipt follow the waybills there too (lifecycle_rules.h).
// A submitted or amended waybill gets its code (电子运单二维码,
// crypto/waybill_code.h), signed with the platform's current label key,
// which only the process holding the label keys can sign.
//
// Thread-safety: thread-safe. The ledger client and keyring must outlive
// the book.

#ifndef CHEMLEDGER_SERVICES_WAYBILL_WAYBILLS_H_
#define CHEMLEDGER_SERVICES_WAYBILL_WAYBILLS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/keys.h"
#include "crypto/waybill_code.h"
#include "journal/ledger_client.h"
#include "services/label/label_keyring.h"
#include "services/registry/signers.h"
#include "services/waybill/waybill_state.h"

namespace chemledger::waybill {

struct WaybillReceipt {
  uint64_t log_index = 0;
  bool replayed = false;
  // For a submission, amendment or consent, the waybill's code (电子运单二维码,
  // a crypto/waybill_code.h URL) as the waybill stands now; empty while it is
  // pending, for other changes, or when the book has no label keys.
  std::string waybill_code;
};

class WaybillBook {
 public:
  // Waybill codes are signed with the platform's current label key from
  // `label_keys` (none are made when it is null).
  // `clock` says what day it is (which label key is current); empty: the
  // real clock.
  // `refusals` (may be null) is told of each request refused for breaking
  // a rule, to record it (registry/signers.h).
  WaybillBook(journal::LedgerClient* ledger, label::LabelKeyring* label_keys,
              std::function<absl::Time()> clock = nullptr,
              registry::RefusalSink* refusals = nullptr, size_t verify_threads = 2)
      : ledger_(ledger),
        label_keys_(label_keys),
        clock_(clock ? std::move(clock) : [] { return absl::Now(); }),
        refusals_(refusals),
        verify_threads_(verify_threads) {}

  // Verifies, checks and records one signed WaybillRequest. Errors name the
  // field: InvalidArgument, Unauthenticated, PermissionDenied (not the
  // carrier's actor, carrier without a valid licence, blacklisted),
  // NotFound, AlreadyExists (waybill number taken; request id reused),
  // FailedPrecondition (a code on another open waybill or not shippable,
  // missing permit, a change the waybill's status does not allow).
  absl::StatusOr<WaybillReceipt> Apply(const v1::SignedEnvelope& request);

  // Apply for many requests, with one durable write for all those accepted:
  // one result per request, in order, each request checked against the book
  // as the ones before it leave it (a waybill submitted early in the batch
  // can be departed later in it).
  std::vector<absl::StatusOr<WaybillReceipt>> ApplyBatch(
      absl::Span<const v1::SignedEnvelope* const> requests);

  // ApplyBatch in two steps, for a stream that checks its next batch while
  // the one before it commits: the signatures, at `snapshot` (VerifyBatch;
  // the envelopes must outlive the result), then the rules and the durable
  // write (ApplyVerified).
  registry::VerifiedBatch VerifyBatch(std::shared_ptr<const storage::Snapshot> snapshot,
                                      absl::Span<const v1::SignedEnvelope* const> requests);
  std::vector<absl::StatusOr<WaybillReceipt>> ApplyVerified(const registry::VerifiedBatch& batch);

  // The key waybill codes are signed with now: the platform's current label
  // key (label::CurrentLabelKey). FailedPrecondition when there is none.
  absl::StatusOr<const crypto::SigningKey*> CodeKey(const storage::StateReader& state) const;

 private:
  journal::LedgerClient* const ledger_;
  label::LabelKeyring* const label_keys_;  // may be null
  const std::function<absl::Time()> clock_;
  registry::RefusalSink* const refusals_;
  const size_t verify_threads_;
};

// What the code of `content` (a waybill's content, submitted or amended at
// log index `revision`) states, with the deployment's resolver from `state`.
absl::StatusOr<crypto::WaybillCodeClaims> WaybillCodeClaimsOf(const storage::StateReader& state,
                                                              const v1::Waybill& content,
                                                              uint64_t revision);

// The waybill's code (电子运单二维码) for `waybill`: its content and revision,
// the deployment's resolver (from `state`), signed with `key`.
// FailedPrecondition for a pending, cancelled or closed waybill: it has no
// valid code (yet, or any more), and none is handed out.
absl::StatusOr<std::string> WaybillCode(const storage::StateReader& state,
                                        const WaybillState& waybill,
                                        const crypto::SigningKey& key);

}  // namespace chemledger::waybill

#endif  // CHEMLEDGER_SERVICES_WAYBILL_WAYBILLS_H_
