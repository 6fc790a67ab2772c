// The labels an observation carries (chemledger.v1.Event.label_urls), as
// far as they are checked without the ledger's order: that a label key of
// this ledger signed each. From rules epoch 14 an observation that carries
// a label no such key signed is refused (PermissionDenied, marked
// FORGED_LABEL for the regulators' anomaly list). The lifecycle ledger
// checks this beside the event's own signature, on the verify threads and
// before the event is sequenced (Ledger::VerifyBatch), so the sequencer only
// reads what needs its order (the log's issuance of the label, the key's
// revocation: LifecycleRules); LifecycleRules checks it itself when it
// applies a logged entry again (`chemledgerd check`).
//
// Pure functions over a storage::StateReader; thread-safe as the reader is.

#ifndef CHEMLEDGER_SERVICES_LEDGER_OBSERVATION_LABELS_H_
#define CHEMLEDGER_SERVICES_LEDGER_OBSERVATION_LABELS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "services/registry/signers.h"
#include "storage/store.h"

namespace chemledger::ledger {

// The rules epoch from which an observation's labels are all checked.
inline constexpr uint32_t kLabelSignaturesRulesEpoch = 14;

// Whether `payload` (a serialized chemledger.v1.Event) carries labels, told
// without parsing it; false for bytes that are not an event.
bool CarriesLabels(absl::string_view payload);

// How many labels `event` gives (non-empty label_urls): what
// api::kMaxLabelsPerObservation bounds from rules epoch 14.
int LabelsGiven(const v1::Event& event);

// OK if every label the observation `event` carries is signed by a label key
// registered in `state` (revoked ones included: whether the log issued it
// before the revocation is the rules' to read); otherwise PermissionDenied
// "event.label_urls[i]: not a label this ledger issued" for the first that
// is not, marked FORGED_LABEL (services/common/refusal.h). Only what the
// rules' form checks let through is looked at (an observation of at most
// api::kMaxCodesPerEvent codes with one label per code, at most
// api::kMaxLabelsPerObservation of them given): empty labels, unreadable
// ones and labels of another code are the rules' to refuse
// (InvalidArgument), as is an event of more. Any other step: OK.
absl::Status CheckLabelSignatures(const storage::StateReader& state, const v1::Event& event);

// CheckLabelSignatures on the event `envelope` carries; OK for one whose
// payload carries no labels or is not an event (the rules refuse that).
absl::Status CheckObservationLabels(const storage::StateReader& state,
                                    const v1::SignedEnvelope& envelope);

// What is checked of an event beside its signature, before it is sequenced
// (registry::SignedBatchOptions::content_check), by every path that submits
// events to a journal writing entries of `rules_epoch`: CheckObservationLabels
// from kLabelSignaturesRulesEpoch, nothing before.
registry::ContentCheck EventContentCheck(uint32_t rules_epoch);

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_OBSERVATION_LABELS_H_
