#include "services/audit/history_bundle.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/keys.h"
#include "crypto/merkle.h"
#include "google/protobuf/reflection.h"
#include "services/common/envelope.h"
#include "services/ledger/code_state.h"
#include "services/registry/registry_state.h"

namespace chemledger::audit {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::StatusOr<v1::ProvenEntry> Prove(const storage::Snapshot& snapshot, uint64_t index) {
  v1::ProvenEntry proven;
  proven.set_log_index(index);
  absl::StatusOr<std::string> entry = snapshot.Entry(index);
  if (!entry.ok()) return entry.status();
  proven.set_entry_bytes(*std::move(entry));
  absl::StatusOr<std::vector<crypto::Sha256Digest>> proof =
      snapshot.InclusionProof(index, snapshot.size());
  if (!proof.ok()) return proof.status();
  for (const crypto::Sha256Digest& h : *proof) proven.add_inclusion_proof(h.ToBytes());
  return proven;
}

// Fields the bundle format does not define, at any depth: a verifier that
// skipped them would accept a bundle with an entry hidden in one.
bool HasUnknownFields(const google::protobuf::Message& m) {
  const google::protobuf::Reflection* r = m.GetReflection();
  if (!r->GetUnknownFields(m).empty()) return true;
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        if (HasUnknownFields(r->GetRepeatedMessage(m, f, i))) return true;
      }
    } else if (HasUnknownFields(r->GetMessage(m, f))) {
      return true;
    }
  }
  return false;
}

// The leaf hash of `e`, after checking its inclusion proof to `checkpoint`.
absl::StatusOr<crypto::Sha256Digest> CheckIncluded(const std::string& field,
                                                   const v1::ProvenEntry& e,
                                                   const crypto::Checkpoint& checkpoint) {
  if (e.log_index() >= checkpoint.size) {
    return Invalid(absl::StrCat(field, ".log_index"),
                   absl::StrCat(e.log_index(), " is not in the checkpoint's tree of ",
                                checkpoint.size));
  }
  std::vector<crypto::Sha256Digest> proof;
  for (int i = 0; i < e.inclusion_proof_size(); ++i) {
    absl::StatusOr<crypto::Sha256Digest> h = crypto::Sha256Digest::FromBytes(e.inclusion_proof(i));
    if (!h.ok()) return Invalid(absl::StrCat(field, ".inclusion_proof[", i, "]"), "not 32 bytes");
    proof.push_back(*h);
  }
  const crypto::Sha256Digest leaf = crypto::HashLeaf(e.entry_bytes());
  if (absl::Status s =
          crypto::VerifyInclusion(e.log_index(), checkpoint.size, leaf, proof, checkpoint.root_hash);
      !s.ok()) {
    return Invalid(absl::StrCat(field, ".inclusion_proof"),
                   absl::StrCat("does not prove entry ", e.log_index(),
                                " into the checkpoint: ", s.message()));
  }
  return leaf;
}

// The entry `e` of a list in log order (after *previous_index unless
// `first`), proved into `checkpoint` and parsed into `entry`; its leaf hash.
absl::StatusOr<crypto::Sha256Digest> OpenInOrder(const std::string& field, const v1::ProvenEntry& e,
                                                 const crypto::Checkpoint& checkpoint, bool first,
                                                 uint64_t* previous_index, v1::LogEntry* entry) {
  if (!first && e.log_index() <= *previous_index) {
    return Invalid(absl::StrCat(field, ".log_index"), "not in log order");
  }
  *previous_index = e.log_index();
  absl::StatusOr<crypto::Sha256Digest> leaf = CheckIncluded(field, e, checkpoint);
  if (!leaf.ok()) return leaf.status();
  if (!entry->ParseFromString(e.entry_bytes())) return Invalid(field, "not a LogEntry");
  return leaf;
}

struct KnownKey {
  crypto::VerifyingKey key;
  v1::Actor actor;
  uint64_t registered_at = 0;
};
using KnownKeys = std::map<std::string, KnownKey>;  // by key id

// Checks registration entry `entry` at `index` and adds the key it
// registers to `keys`: the genesis entry (index 0 only), signed by the first
// administrator it names; or a RegistryRequest adding an actor, signed by a
// key registered before it with the right to add that actor (a platform
// administrator; for an enterprise's actors, also that enterprise's admin).
absl::Status AddRegistration(const std::string& field, const v1::LogEntry& entry, uint64_t index,
                             KnownKeys* keys) {
  const v1::SignedEnvelope& envelope = entry.envelope();
  v1::Actor actor;
  if (envelope.payload_type() == api::kGenesisContext.payload_type()) {
    v1::Genesis genesis;
    if (index != 0 || !genesis.ParseFromString(envelope.payload())) {
      return Invalid(field, "a genesis entry anywhere but at log index 0");
    }
    actor = genesis.first_admin();
    absl::StatusOr<crypto::VerifyingKey> key = crypto::VerifyingKey::FromBytes(actor.public_key());
    if (!key.ok()) return Invalid(field, "the registered public key is not 32 bytes");
    const envelope::KeyLookup self = [&](const crypto::KeyId& id)
        -> absl::StatusOr<crypto::VerifyingKey> {
      if (id != key->key_id()) return absl::NotFoundError("the genesis entry is not self-signed");
      return *key;
    };
    absl::StatusOr<crypto::KeyId> signer = envelope::Verify(envelope, api::kGenesisContext, self);
    if (!signer.ok()) return Invalid(absl::StrCat(field, ".envelope"), signer.status().message());
    keys->insert_or_assign(key->key_id().ToString(), KnownKey{*key, actor, index});
    return absl::OkStatus();
  }
  if (envelope.payload_type() != api::kRegistryContext.payload_type()) {
    return Invalid(field, absl::StrCat("an entry of type '", envelope.payload_type(),
                                       "' registers no key"));
  }
  v1::RegistryRequest request;
  if (!request.ParseFromString(envelope.payload()) || !request.has_add_actor()) {
    return Invalid(field, "a registry entry that adds no actor");
  }
  actor = request.add_actor();
  const KnownKey* registrar = nullptr;
  const envelope::KeyLookup earlier = [&](const crypto::KeyId& id)
      -> absl::StatusOr<crypto::VerifyingKey> {
    auto it = keys->find(id.ToString());
    if (it == keys->end() || it->second.registered_at >= index) {
      return absl::NotFoundError(
          absl::StrCat("key ", id.ToString(), " is not registered before it in the bundle"));
    }
    registrar = &it->second;
    return it->second.key;
  };
  absl::StatusOr<crypto::KeyId> signer = envelope::Verify(envelope, api::kRegistryContext, earlier);
  if (!signer.ok()) return Invalid(absl::StrCat(field, ".envelope"), signer.status().message());
  const bool may_add =
      registrar->actor.role() == v1::PLATFORM_ADMIN ||
      (registrar->actor.role() == v1::ENTERPRISE_ADMIN && registry::IsEnterpriseRole(actor.role()) &&
       registrar->actor.enterprise_uscc() == actor.enterprise_uscc());
  if (!may_add) {
    return Invalid(field, absl::StrCat("signed by '", registrar->actor.name(),
                                       "', who may not add this actor"));
  }
  absl::StatusOr<crypto::VerifyingKey> key = crypto::VerifyingKey::FromBytes(actor.public_key());
  if (!key.ok()) return Invalid(field, "the registered public key is not 32 bytes");
  keys->insert_or_assign(key->key_id().ToString(), KnownKey{*key, actor, index});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::HistoryBundle> BuildHistoryBundle(const storage::Snapshot& snapshot,
                                                     const crypto::NoteSigner& signer,
                                                     absl::string_view code,
                                                     uint64_t consistency_from) {
  if (consistency_from > snapshot.size()) {
    return Invalid("consistency_from_size",
                   absl::StrCat(consistency_from, " is beyond the log's size ", snapshot.size()));
  }
  absl::StatusOr<std::optional<ledger::CodeState>> known = ledger::FindCode(snapshot, code);
  if (!known.ok()) return known.status();
  if (!*known) return absl::NotFoundError(absl::StrCat("code: ", code, " is not in the ledger"));
  absl::StatusOr<std::vector<uint64_t>> indexes = ledger::History(snapshot, code);
  if (!indexes.ok()) return indexes.status();

  v1::HistoryBundle bundle;
  bundle.set_format(kHistoryBundleFormat);
  bundle.set_code(std::string(code));
  std::set<uint64_t> registrations;
  for (uint64_t index : *indexes) {
    absl::StatusOr<v1::ProvenEntry> proven = Prove(snapshot, index);
    if (!proven.ok()) return proven.status();
    v1::LogEntry entry;
    if (!entry.ParseFromString(proven->entry_bytes()) || entry.envelope().signatures_size() != 1) {
      return absl::DataLossError(absl::StrCat("log entry ", index, " is not a signed event"));
    }
    absl::StatusOr<crypto::KeyId> key_id =
        crypto::KeyId::Parse(entry.envelope().signatures(0).key_id());
    if (!key_id.ok()) return absl::DataLossError(absl::StrCat("log entry ", index, ": bad key id"));
    absl::StatusOr<std::optional<state::ActorRecord>> actor = registry::FindActor(snapshot, *key_id);
    if (!actor.ok()) return actor.status();
    if (!*actor) {
      return absl::DataLossError(absl::StrCat("log entry ", index, ": its signer is not registered"));
    }
    registrations.insert((*actor)->added_at());
    *bundle.add_events() = *std::move(proven);
  }
  // And who registered those keys, back to the genesis entry: a verifier
  // checks each registration's signature by a key registered before it.
  std::vector<uint64_t> to_visit(registrations.begin(), registrations.end());
  while (!to_visit.empty()) {
    const uint64_t index = to_visit.back();
    to_visit.pop_back();
    if (index == 0) continue;  // the genesis entry signs itself
    absl::StatusOr<std::string> bytes = snapshot.Entry(index);
    if (!bytes.ok()) return bytes.status();
    v1::LogEntry entry;
    if (!entry.ParseFromString(*bytes) || entry.envelope().signatures_size() != 1) {
      return absl::DataLossError(absl::StrCat("log entry ", index, " is not a signed registration"));
    }
    absl::StatusOr<crypto::KeyId> registrar =
        crypto::KeyId::Parse(entry.envelope().signatures(0).key_id());
    if (!registrar.ok()) return absl::DataLossError(absl::StrCat("log entry ", index, ": bad key id"));
    absl::StatusOr<std::optional<state::ActorRecord>> actor = registry::FindActor(snapshot, *registrar);
    if (!actor.ok()) return actor.status();
    if (!*actor) return absl::DataLossError(absl::StrCat("log entry ", index, ": unknown registrar"));
    if (registrations.insert((*actor)->added_at()).second) to_visit.push_back((*actor)->added_at());
  }
  for (uint64_t index : registrations) {
    absl::StatusOr<v1::ProvenEntry> proven = Prove(snapshot, index);
    if (!proven.ok()) return proven.status();
    *bundle.add_signer_registrations() = *std::move(proven);
  }
  crypto::Checkpoint checkpoint;
  checkpoint.origin = signer.name();
  checkpoint.size = snapshot.size();
  checkpoint.root_hash = snapshot.root();
  absl::StatusOr<std::string> note = signer.SignCheckpoint(checkpoint);
  if (!note.ok()) return note.status();
  v1::Checkpoint* out = bundle.mutable_checkpoint();
  out->set_origin(checkpoint.origin);
  out->set_tree_size(checkpoint.size);
  out->set_root_hash(checkpoint.root_hash.ToBytes());
  out->set_signed_note(*std::move(note));
  if (consistency_from > 0) {
    absl::StatusOr<std::vector<crypto::Sha256Digest>> proof =
        snapshot.ConsistencyProof(consistency_from, snapshot.size());
    if (!proof.ok()) return proof.status();
    bundle.set_consistency_from_size(consistency_from);
    for (const crypto::Sha256Digest& h : *proof) bundle.add_consistency_proof(h.ToBytes());
  }
  return bundle;
}

absl::StatusOr<VerifiedHistory> VerifyHistoryBundle(const v1::HistoryBundle& bundle,
                                                    const crypto::NoteVerifier& note_key,
                                                    const std::optional<crypto::Checkpoint>& kept) {
  if (bundle.format() != kHistoryBundleFormat) {
    return Invalid("format", absl::StrCat("'", bundle.format(), "', expected '",
                                          kHistoryBundleFormat, "'"));
  }
  if (HasUnknownFields(bundle)) {
    return Invalid("bundle", "holds fields the format does not define");
  }
  // The checkpoint: signed by the pinned key; the copies agree with it.
  absl::StatusOr<crypto::Checkpoint> checkpoint =
      crypto::OpenCheckpoint(bundle.checkpoint().signed_note(), note_key.name(), note_key);
  if (!checkpoint.ok()) {
    return Invalid("checkpoint.signed_note", checkpoint.status().message());
  }
  if (bundle.checkpoint().origin() != checkpoint->origin ||
      bundle.checkpoint().tree_size() != checkpoint->size ||
      bundle.checkpoint().root_hash() != checkpoint->root_hash.ToBytes()) {
    return Invalid("checkpoint", "origin, tree_size or root_hash differs from the signed note");
  }
  if (bundle.code().empty()) return Invalid("code", "is empty");
  if (bundle.events_size() == 0) return Invalid("events", "a history of no events proves nothing");

  // The signers' keys, each from an entry in the log, each registration
  // signed by a key registered before it, back to the genesis entry.
  KnownKeys keys;
  uint64_t previous_index = 0;
  for (int i = 0; i < bundle.signer_registrations_size(); ++i) {
    const std::string field = absl::StrCat("signer_registrations[", i, "]");
    const v1::ProvenEntry& e = bundle.signer_registrations(i);
    v1::LogEntry entry;
    absl::StatusOr<crypto::Sha256Digest> leaf =
        OpenInOrder(field, e, *checkpoint, i == 0, &previous_index, &entry);
    if (!leaf.ok()) return leaf.status();
    if (absl::Status s = AddRegistration(field, entry, e.log_index(), &keys); !s.ok()) return s;
  }

  // The events: each signed by a key registered before it, naming the code,
  // chained to the one before.
  std::optional<crypto::Sha256Digest> previous_leaf;
  std::set<std::string> event_ids;   // "<scope>/<event id>", as the ledger keeps them unique
  std::string parent;                // the pallet the code is on, by this history
  std::set<std::string> signers;     // key ids that signed events
  for (int i = 0; i < bundle.events_size(); ++i) {
    const std::string field = absl::StrCat("events[", i, "]");
    const v1::ProvenEntry& e = bundle.events(i);
    v1::LogEntry entry;
    absl::StatusOr<crypto::Sha256Digest> leaf =
        OpenInOrder(field, e, *checkpoint, i == 0, &previous_index, &entry);
    if (!leaf.ok()) return leaf.status();
    const KnownKey* signer_key = nullptr;
    const envelope::KeyLookup lookup =
        [&](const crypto::KeyId& id) -> absl::StatusOr<crypto::VerifyingKey> {
      auto it = keys.find(id.ToString());
      if (it == keys.end()) {
        return absl::NotFoundError(
            absl::StrCat("key ", id.ToString(), " is not among signer_registrations"));
      }
      signer_key = &it->second;
      return it->second.key;
    };
    absl::StatusOr<crypto::KeyId> signer = envelope::Verify(entry.envelope(), api::kEventContext, lookup);
    if (!signer.ok()) return Invalid(absl::StrCat(field, ".envelope"), signer.status().message());
    signers.insert(signer->ToString());
    if (signer_key->registered_at >= e.log_index()) {
      return Invalid(field, "signed by a key registered after it");
    }
    // What the signer said, and whether it could say it.
    v1::Event event;
    if (!event.ParseFromString(entry.envelope().payload())) {
      return Invalid(field, "the signed payload is not an Event");
    }
    const v1::Actor& who = signer_key->actor;
    const bool hold_or_recall = event.step() == v1::HOLDING || event.step() == v1::RELEASING ||
                                event.step() == v1::RECALLING;
    const bool regulator = who.role() == v1::REGULATOR && hold_or_recall;
    if (!regulator && !(registry::IsEnterpriseRole(who.role()) &&
                        who.enterprise_uscc() == event.location().enterprise_uscc())) {
      return Invalid(field, absl::StrCat("signed by '", who.name(), "', who may not record it for ",
                                         event.location().enterprise_uscc()));
    }
    const std::string scope = regulator ? "" : event.location().enterprise_uscc();
    if (!event_ids.insert(absl::StrCat(scope, "/", event.event_id())).second) {
      return Invalid(field, absl::StrCat("event id '", event.event_id(), "' appears twice"));
    }
    // The signed event names the code, or the pallet it is on (by this
    // history), or corrects an event of this history.
    bool named = event.parent_code() == bundle.code() ||
                 std::find(event.codes().begin(), event.codes().end(), bundle.code()) !=
                     event.codes().end();
    for (const v1::RepackagingOutput& o : event.outputs()) named |= o.code() == bundle.code();
    if (!named && !parent.empty()) {
      named = event.parent_code() == parent ||
              std::find(event.codes().begin(), event.codes().end(), parent) != event.codes().end();
    }
    if (!named && event.step() == v1::ERROR_DECLARATION) {
      named = event_ids.count(absl::StrCat(scope, "/", event.corrects_event_id())) > 0;
    }
    if (!named) {
      return Invalid(field, absl::StrCat("the signed event does not name ", bundle.code(),
                                         " or the pallet it is on"));
    }
    const bool names_code =
        std::find(event.codes().begin(), event.codes().end(), bundle.code()) != event.codes().end();
    if (event.step() == v1::PACKING && names_code) parent = event.parent_code();
    if (event.step() == v1::UNPACKING && names_code) parent.clear();
    v1::EventLinks links;
    if (!links.ParseFromString(entry.assignment())) return Invalid(field, "assignment is not EventLinks");
    const v1::EventLinks::Link* link = nullptr;
    for (const v1::EventLinks::Link& l : links.links()) {
      if (l.code() == bundle.code()) link = &l;
    }
    if (link == nullptr) return Invalid(field, absl::StrCat("does not name ", bundle.code()));
    const std::string expected = previous_leaf ? previous_leaf->ToBytes() : std::string();
    if (link->previous_event_hash() != expected) {
      return Invalid(field, previous_leaf ? "does not link to the event before it"
                                          : "links to an event the bundle does not hold");
    }
    previous_leaf = *leaf;
  }

  // A kept checkpoint: this log extends it.
  VerifiedHistory verified;
  if (bundle.consistency_from_size() > 0 || bundle.consistency_proof_size() > 0) {
    if (!kept) {
      return Invalid("consistency_proof",
                     "the bundle proves consistency with a kept checkpoint; give that checkpoint");
    }
  }
  if (kept) {
    if (bundle.consistency_from_size() != kept->size) {
      return Invalid("consistency_from_size",
                     absl::StrCat("the bundle proves from size ", bundle.consistency_from_size(),
                                  ", the kept checkpoint is at ", kept->size));
    }
    std::vector<crypto::Sha256Digest> proof;
    for (int i = 0; i < bundle.consistency_proof_size(); ++i) {
      absl::StatusOr<crypto::Sha256Digest> h =
          crypto::Sha256Digest::FromBytes(bundle.consistency_proof(i));
      if (!h.ok()) return Invalid(absl::StrCat("consistency_proof[", i, "]"), "not 32 bytes");
      proof.push_back(*h);
    }
    if (absl::Status s = crypto::VerifyConsistency(kept->size, checkpoint->size, kept->root_hash,
                                                   checkpoint->root_hash, proof);
        !s.ok()) {
      return Invalid("consistency_proof",
                     absl::StrCat("the log is not an extension of the kept checkpoint: ",
                                  s.message()));
    }
    verified.consistent_with_kept = true;
  }
  verified.code = bundle.code();
  verified.tree_size = checkpoint->size;
  verified.events = static_cast<size_t>(bundle.events_size());
  verified.signers = signers.size();
  return verified;
}

}  // namespace chemledger::audit
