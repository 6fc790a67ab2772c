// The lifecycle ledger's rules: every step of a package's life as a signed
// event (chemledger.v1.Event), as a state machine of the journal
// (journal/state_machine.h). The server enforces them, never the client.
//
// The rules (each refusal names the field):
//  - the signer is an admin or operator of the event's enterprise
//    (event.location.enterprise_uscc), registered, unrevoked, not
//    blacklisted; or, for a hold, its release or a recall only, a regulator
//    (the event's enterprise then names the custodian, or for a recall the
//    issuer, and its roles do not bound the step), from rules epoch 4 only
//    for an enterprise within the regulator's jurisdiction
//    (registry/oversight.h);
//  - a hold (HOLDING) is the custodian's (or a regulator's), lifted by its
//    release (RELEASING; a regulator's hold by a regulator only); while
//    held, a package (or a pallet holding it) is not shipped, consumed,
//    repackaged or disposed of; a recall (RECALLING) is the issuer's, for
//    good: a recalled package is not consumed or repackaged, and ships only
//    back to its issuer;
//  - an observation (OBSERVING, a scan at one of the enterprise's sites,
//    carriers included) changes nothing and may name any package the ledger
//    knows, in any state; one of a package that has ended, or that is in
//    another enterprise's custody and not on its way to the observer (nor
//    carried by it), is kept as a scan signal for the regulators
//    (ListScanSignals); an observation does not count as a code's latest
//    event for time order or error declarations; from rules epoch 13 an
//    observation of a code the observer neither holds, has held, is sent
//    nor carries carries the label the log issued for it (Event.label_urls),
//    refused alike whether the code exists or not; from rules epoch 14
//    every label an observation carries is one a label key of the ledger
//    signed (checked with the event's signature, before it is sequenced:
//    observation_labels.h);
//  - only the custodian stores, ships, consumes, repackages, packs or
//    disposes of a package; receipt by the consignee changes the custodian;
//  - shipping needs an open e-waybill of that consignor and consignee that
//    lists the package (or the aggregate it moves on);
//  - the remaining quantity never goes below zero; a repackaging's outputs
//    plus its declared loss equal what it took from its input;
//  - nothing happens after a terminal state (consumed, disposed, voided); a
//    packed child does not move alone; an aggregate cannot contain itself or
//    a code that already has a parent; aggregates nest at most kMaxNesting;
//  - the event time is not later than the record time plus the clock skew
//    allowed (5 minutes), and not before the code's previous event;
//  - the enterprise's roles bound the steps: commissioning by producers and
//    importers, consuming by users and producers, destroying by disposers
//    holding a hazardous-waste licence valid on the event date, nothing by a
//    carrier;
//  - an error declaration undoes an event that is still the latest of every
//    code it touched (and did not create it), declared by the enterprise that
//    recorded it;
//  - a repackaging's outputs are codes issued to the enterprise recording it
//    (a producer or importer); nothing is shipped to a blacklisted consignee
//    or to one that only carries (rules epoch 2);
//  - from rules epoch 16 an event sets no field that its step does not read
//    (quantity_milli: CONSUMING, REPACKAGING; outputs and
//    declared_loss_milli: REPACKAGING; parent_code: PACKING, UNPACKING;
//    consignee_uscc: SHIPPING; waybill_id: SHIPPING and RECEIVING, where it
//    names the open waybill each code travels on; manifest_id: DESTROYING;
//    corrects_event_id: ERROR_DECLARATION; reason: LOSS_REPORT, FOUND,
//    VOIDING, ERROR_DECLARATION, HOLDING, RELEASING, RECALLING; waste_code:
//    WASTE_DECLARING; label_urls: OBSERVING, from epoch 13);
//  - a refusal about a code the enterprise may not know about (never held,
//    not sent to it, not its own) says the same whether the code exists or
//    not and names no other party; the full reason rides along as a payload
//    (services/common/refusal.h).
// Each event joins the hash chain of every code it touches: its assignment
// (v1::EventLinks) names, per code, the leaf hash of the code's previous
// event.
//
// The rules are split by business step (one handler each, in the .cc) over
// a shared context of the codes the event touches.
//
// Thread-safety: stateless; thread-safe.

#ifndef CHEMLEDGER_SERVICES_LEDGER_LIFECYCLE_RULES_H_
#define CHEMLEDGER_SERVICES_LEDGER_LIFECYCLE_RULES_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "journal/state_machine.h"

namespace chemledger::ledger {

// How far in the future of its record time an event time may be.
inline constexpr absl::Duration kClockSkew = absl::Minutes(5);

// The rules epoch from which an event carrying a field its step does not
// read is refused.
inline constexpr uint32_t kStepFieldsRulesEpoch = 16;

class LifecycleRules final : public journal::StateMachine {
 public:
  absl::string_view name() const override { return "lifecycle"; }
  std::vector<std::string> OwnedPayloadTypes() const override;
  // "event/<event_id>".
  absl::StatusOr<std::optional<journal::RequestId>> RequestKey(
      const v1::SignedEnvelope& envelope) const override;
  // A retry's signer may still act.
  // Request ids are unique per enterprise, or per park for gate actors
  // (registry::SignerRequestScope).
  absl::StatusOr<std::string> RequestScope(const v1::SignedEnvelope& envelope,
                                           const storage::StateReader& state) const override;
  absl::Status CheckRetry(const v1::SignedEnvelope& envelope,
                          const storage::StateReader& state) const override;
  absl::Status Apply(const journal::EntryContext& entry, const storage::StateReader& state,
                     storage::StateWrites* changes) const override;
};

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_LIFECYCLE_RULES_H_
