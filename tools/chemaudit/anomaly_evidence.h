// What `chemaudit anomalies --prove` checks of each anomaly's evidence
// before proving it in the log: that the entry the server gave is the entry
// the anomaly says it is (docs/audit.md, "Proving an anomaly").
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_TOOLS_CHEMAUDIT_ANOMALY_EVIDENCE_H_
#define CHEMLEDGER_TOOLS_CHEMAUDIT_ANOMALY_EVIDENCE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "chemledger/v1/audit_service.pb.h"
#include "crypto/sha256.h"

namespace chemledger::chemaudit {

// OK when `entry` (the bytes of a chemledger.v1.LogEntry the server gave as
// `a`'s evidence) is the entry `a` says it is: a recorded refusal of its
// code and kind (when the anomaly shows one) by its signer's key; an
// observation (OBSERVING) or a public scan of its code; the loss report
// (LOSS_REPORT) of its code; its major hazard alert. DataLoss saying which
// entry differs otherwise (overdue shipments have no entry: DataLoss).
absl::Status EvidenceIsOf(const v1::Anomaly& a, const std::string& entry);

// OK when the request inside `refusal_entry` (a refusal's log entry, at log
// index `refused_at`) carries a signature that verifies with the key the
// log entry `registration_entry` (at `registered_at`, before it) registered
// for its signer: a registry request adding the actor (add_actor) of
// `enterprise` ("" for an actor of none: a platform administrator, a
// regulator, a responder, a park gate), or the genesis entry (log index 0)
// for the first administrator; and when the request names no deployment
// other than `deployment` (request_binding.h: another deployment's request
// is never this one's to record). The key is read from the log's own entry
// (proved by the caller with the rest), not from the server's word, so a
// refusal proves who asked for what. DataLoss saying what does not hold
// otherwise.
absl::Status RefusedRequestIsSignedBy(const std::string& refusal_entry, uint64_t refused_at,
                                      const std::string& registration_entry, uint64_t registered_at,
                                      absl::string_view enterprise, absl::string_view deployment);

// Adds the leaf hash of `entry`, at log index `index`, to the entries to
// prove; DataLoss when another entry was given for that index (an honest
// log has one entry an index: of two given, one would go unproved).
absl::Status AddLeaf(uint64_t index, const std::string& entry,
                     std::map<uint64_t, crypto::Sha256Digest>* leaves);

}  // namespace chemledger::chemaudit

#endif  // CHEMLEDGER_TOOLS_CHEMAUDIT_ANOMALY_EVIDENCE_H_
