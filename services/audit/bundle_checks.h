// Checks shared by the bundles regulators verify offline (history_bundle.h,
// query_bundle.h): the registrations that vouch for the signers' keys, the
// events' signatures by those keys, and a strict reading of the bundle
// format. Internal to services/audit.
//
// Thread-safe: pure functions.

#ifndef CHEMLEDGER_SERVICES_AUDIT_BUNDLE_CHECKS_H_
#define CHEMLEDGER_SERVICES_AUDIT_BUNDLE_CHECKS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "services/notary/notary.h"
#include "storage/store.h"

namespace chemledger::audit::internal {

// InvalidArgument "<field>: <why>".
absl::Status Invalid(absl::string_view field, absl::string_view why);

// Whether `m` holds fields its format does not define, at any depth (a
// verifier that skipped them would accept a bundle with an entry hidden in
// one).
bool HasUnknownFields(const google::protobuf::Message& m);

// The hashes of a proof as a bundle carries them (`nodes`, 32 bytes each);
// InvalidArgument "<field>[i]: not 32 bytes".
absl::StatusOr<std::vector<crypto::Sha256Digest>> ProofHashes(
    absl::string_view field, const google::protobuf::RepeatedPtrField<std::string>& nodes);

// The bundle's checkpoint `carried` (at `field`: "checkpoint",
// "messages[0].header.checkpoint"), opened: its signed note verifies under
// `note_key`, whose name is the log's origin, and the copies beside the note
// (origin, tree_size, root_hash) agree with it.
absl::StatusOr<crypto::Checkpoint> OpenBundleCheckpoint(absl::string_view field,
                                                        const v1::Checkpoint& carried,
                                                        const crypto::NoteVerifier& note_key);

// Whether the log of `checkpoint` was shown to extend `kept`, the
// checkpoint the verifier kept from before, by the bundle's consistency
// proof (`proof` from `from_size`; their fields named with `prefix`, "" or
// "messages[0].header."): true when it was, false when no checkpoint was
// kept and the bundle proves none; InvalidArgument when the bundle proves
// consistency with no kept checkpoint given, from another size than the
// kept one's, or the proof does not hold.
absl::StatusOr<bool> CheckExtendsKept(absl::string_view prefix,
                                      const std::optional<crypto::Checkpoint>& kept,
                                      const crypto::Checkpoint& checkpoint, uint64_t from_size,
                                      const google::protobuf::RepeatedPtrField<std::string>& proof);

struct KnownKey {
  crypto::VerifyingKey key;
  v1::Actor actor;
  uint64_t registered_at = 0;
};
using KnownKeys = std::map<std::string, KnownKey>;  // by key id

// Checks registration entry `entry` at `index` and adds the key it
// registers to `keys`: the genesis entry (index 0 only), signed by the first
// administrator it names; or a RegistryRequest adding an actor, signed by a
// key registered before it (at a smaller log index, already in `keys`) with
// the right to add that actor (a platform administrator; for an
// enterprise's actors, also that enterprise's admin).
absl::Status AddRegistration(const std::string& field, const v1::LogEntry& entry, uint64_t index,
                             KnownKeys* keys);

// An event entry whose signature checked out.
struct SignedEvent {
  v1::Event event;
  std::string signer_key_id;
  bool by_regulator = false;  // a regulator's hold, release or recall
};

// Checks that event entry `entry` at `index` is signed (DSSE, the event
// context) by a key in `keys` registered before it, whose actor may record
// it: its enterprise's actors at its location, or a regulator holding,
// releasing or recalling.
absl::StatusOr<SignedEvent> CheckSignedEvent(const std::string& field, const v1::LogEntry& entry,
                                             uint64_t index, const KnownKeys& keys);

// The checkpoint of `snapshot`'s tree, signed by the ledger's note key
// (whose name is the log's origin), as bundles carry it.
absl::StatusOr<v1::Checkpoint> SignedCheckpointOf(const storage::Snapshot& snapshot,
                                                  const notary::LedgerNotary& notary);

// The log indexes of the entries that registered `key_ids` and the keys that
// registered those, back to the genesis entry, leaving out those already in
// `*known` (and adding the new ones to it); in log order.
absl::StatusOr<std::vector<uint64_t>> SignerRegistrations(const storage::StateReader& state,
                                                          const std::set<std::string>& key_ids,
                                                          std::set<uint64_t>* known);

}  // namespace chemledger::audit::internal

#endif  // CHEMLEDGER_SERVICES_AUDIT_BUNDLE_CHECKS_H_
