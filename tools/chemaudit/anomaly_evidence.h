// What `chemaudit anomalies --prove` checks of each anomaly's evidence
// before proving it in the log: that the entry the server gave is the entry
// the anomaly says it is (docs/audit.md, "Proving an anomaly"), and, for a
// refused request, that its signature verifies with the key the log
// registered; AnomalyEvidenceChecker does so page by page and keeps the
// entries to prove.
//
// The functions are pure and thread-safe; an AnomalyEvidenceChecker is used
// from one thread.

#ifndef CHEMLEDGER_TOOLS_CHEMAUDIT_ANOMALY_EVIDENCE_H_
#define CHEMLEDGER_TOOLS_CHEMAUDIT_ANOMALY_EVIDENCE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/registry_service.pb.h"
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

// Whether `revocation_entry` (the log's entry at `revoked_at`) revokes the
// key `key_id` (16 hex digits), registered at `registered_at`: a registry
// request revoking it (revoke_key) after its registration. The server's
// record of a revocation is its word; this makes it the log's. DataLoss
// saying what does not hold otherwise.
absl::Status RevocationIsOf(const std::string& revocation_entry, uint64_t revoked_at,
                            absl::string_view key_id, uint64_t registered_at);

// Adds the leaf hash of `entry`, at log index `index`, to the entries to
// prove; DataLoss when another entry was given for that index (an honest
// log has one entry an index: of two given, one would go unproved).
absl::Status AddLeaf(uint64_t index, const std::string& entry,
                     std::map<uint64_t, crypto::Sha256Digest>* leaves);

// The pages of a listing with evidence (ListAnomalies, with_evidence),
// checked as they come: each anomaly's entry is what it says (EvidenceIsOf)
// and its leaf hash is kept to prove; a refused request's signature
// verifies with the key its signer's registration entry holds
// (RefusedRequestIsSignedBy), and that entry is kept to prove too, with the
// key's revocation when it came before the refusal (said: a revoked key may
// be in other hands). An anomaly that came without its entry (an
// enterprise's beyond what the reader oversees) is noted, not proved.
class AnomalyEvidenceChecker {
 public:
  // The log record of a signer's key by key id (GetActorKey).
  using KeyLookup = std::function<absl::StatusOr<v1::ActorKeyRecord>(const std::string& key_id)>;

  // `deployment`: the log's origin, which refused requests must not name
  // another than. `key_of` is asked once per key.
  AnomalyEvidenceChecker(std::string deployment, KeyLookup key_of)
      : deployment_(std::move(deployment)), key_of_(std::move(key_of)) {}

  // Checks `page`'s evidence; the first failure (DataLoss naming the entry,
  // or the key lookup's error naming the refusal's log index).
  absl::Status AddPage(const v1::Anomalies& page);

  // The entries to prove, by log index.
  const std::map<uint64_t, crypto::Sha256Digest>& leaves() const { return leaves_; }
  // The log indexes of anomalies that came without their entry, in order.
  const std::vector<uint64_t>& without_entry() const { return without_entry_; }
  // How many refused requests' signatures verified.
  int signatures_checked() const { return signatures_checked_; }
  // The key ids that signed a refused request after their revocation.
  const std::set<std::string>& revoked_signers() const { return revoked_signers_; }

 private:
  absl::Status CheckRefusal(const v1::Anomaly& a, const std::string& entry);

  const std::string deployment_;
  const KeyLookup key_of_;
  std::map<std::string, v1::ActorKeyRecord> signer_keys_;  // by key id
  std::map<uint64_t, crypto::Sha256Digest> leaves_;
  std::vector<uint64_t> without_entry_;
  int signatures_checked_ = 0;
  std::set<std::string> revoked_signers_;
};

}  // namespace chemledger::chemaudit

#endif  // CHEMLEDGER_TOOLS_CHEMAUDIT_ANOMALY_EVIDENCE_H_
