#include "services/audit/bundle_checks.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "crypto/merkle.h"
#include "google/protobuf/reflection.h"
#include "services/common/envelope.h"
#include "services/registry/registry_state.h"

namespace chemledger::audit::internal {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
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

absl::StatusOr<std::vector<crypto::Sha256Digest>> ProofHashes(
    absl::string_view field, const google::protobuf::RepeatedPtrField<std::string>& nodes) {
  std::vector<crypto::Sha256Digest> hashes;  // grown as they check (a bundle may lie)
  for (int i = 0; i < nodes.size(); ++i) {
    absl::StatusOr<crypto::Sha256Digest> h = crypto::Sha256Digest::FromBytes(nodes.Get(i));
    if (!h.ok()) return Invalid(absl::StrCat(field, "[", i, "]"), "not 32 bytes");
    hashes.push_back(*h);
  }
  return hashes;
}

absl::StatusOr<crypto::Checkpoint> OpenBundleCheckpoint(absl::string_view field,
                                                        const v1::Checkpoint& carried,
                                                        const crypto::NoteVerifier& note_key) {
  absl::StatusOr<crypto::Checkpoint> opened =
      crypto::OpenCheckpoint(carried.signed_note(), note_key.name(), note_key);
  if (!opened.ok()) return Invalid(absl::StrCat(field, ".signed_note"), opened.status().message());
  if (carried.origin() != opened->origin || carried.tree_size() != opened->size ||
      carried.root_hash() != opened->root_hash.ToBytes()) {
    return Invalid(field, "origin, tree_size or root_hash differs from the signed note");
  }
  return opened;
}

absl::StatusOr<bool> CheckExtendsKept(
    absl::string_view prefix, const std::optional<crypto::Checkpoint>& kept,
    const crypto::Checkpoint& checkpoint, uint64_t from_size,
    const google::protobuf::RepeatedPtrField<std::string>& proof) {
  if (!kept) {
    if (from_size > 0 || !proof.empty()) {
      return Invalid(absl::StrCat(prefix, "consistency_proof"),
                     "the bundle proves consistency with a kept checkpoint; give that checkpoint");
    }
    return false;
  }
  if (from_size != kept->size) {
    return Invalid(absl::StrCat(prefix, "consistency_from_size"),
                   absl::StrCat("the bundle proves from size ", from_size,
                                ", the kept checkpoint is at ", kept->size));
  }
  absl::StatusOr<std::vector<crypto::Sha256Digest>> hashes =
      ProofHashes(absl::StrCat(prefix, "consistency_proof"), proof);
  if (!hashes.ok()) return hashes.status();
  if (absl::Status s = crypto::VerifyConsistency(kept->size, checkpoint.size, kept->root_hash,
                                                 checkpoint.root_hash, *hashes);
      !s.ok()) {
    return Invalid(
        absl::StrCat(prefix, "consistency_proof"),
        absl::StrCat("the log is not an extension of the kept checkpoint: ", s.message()));
  }
  return true;
}

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
  if (!registry::ParseLoggedRegistryRequest(envelope.payload(), entry.rules_epoch(), &request) ||
      !request.has_add_actor()) {
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


absl::StatusOr<SignedEvent> CheckSignedEvent(const std::string& field, const v1::LogEntry& entry,
                                             uint64_t index, const KnownKeys& keys) {
  const KnownKey* signer_key = nullptr;
  const envelope::KeyLookup lookup =
      [&](const crypto::KeyId& id) -> absl::StatusOr<crypto::VerifyingKey> {
    auto it = keys.find(id.ToString());
    if (it == keys.end()) {
      return absl::NotFoundError(
          absl::StrCat("key ", id.ToString(), " is not among the bundle's registrations"));
    }
    signer_key = &it->second;
    return it->second.key;
  };
  absl::StatusOr<crypto::KeyId> signer = envelope::Verify(entry.envelope(), api::kEventContext, lookup);
  if (!signer.ok()) return Invalid(absl::StrCat(field, ".envelope"), signer.status().message());
  if (signer_key->registered_at >= index) {
    return Invalid(field, "signed by a key registered after it");
  }
  // What the signer said, and whether it could say it.
  SignedEvent out;
  if (!out.event.ParseFromString(entry.envelope().payload())) {
    return Invalid(field, "the signed payload is not an Event");
  }
  const v1::Event& event = out.event;
  const v1::Actor& who = signer_key->actor;
  const bool hold_or_recall = event.step() == v1::HOLDING || event.step() == v1::RELEASING ||
                              event.step() == v1::RECALLING;
  out.by_regulator = who.role() == v1::REGULATOR && hold_or_recall;
  if (!out.by_regulator && !(registry::IsEnterpriseRole(who.role()) &&
                             who.enterprise_uscc() == event.location().enterprise_uscc())) {
    return Invalid(field, absl::StrCat("signed by '", who.name(), "', who may not record it for ",
                                       event.location().enterprise_uscc()));
  }
  out.signer_key_id = signer->ToString();
  return out;
}

absl::StatusOr<v1::Checkpoint> SignedCheckpointOf(const storage::Snapshot& snapshot,
                                                  const notary::LedgerNotary& notary) {
  absl::StatusOr<std::string> note = notary.SignCheckpoint(snapshot);
  if (!note.ok()) return note.status();
  v1::Checkpoint out;
  out.set_origin(notary.verifier().name());
  out.set_tree_size(snapshot.size());
  out.set_root_hash(snapshot.root().ToBytes());
  out.set_signed_note(*std::move(note));
  return out;
}

absl::StatusOr<std::vector<uint64_t>> SignerRegistrations(const storage::StateReader& state,
                                                          const std::set<std::string>& key_ids,
                                                          std::set<uint64_t>* known) {
  std::set<uint64_t> found;
  std::vector<uint64_t> to_visit;
  const auto add = [&](uint64_t index) {
    if (known->insert(index).second) {
      found.insert(index);
      to_visit.push_back(index);
    }
  };
  for (const std::string& id : key_ids) {
    absl::StatusOr<crypto::KeyId> key_id = crypto::KeyId::Parse(id);
    if (!key_id.ok()) return absl::DataLossError(absl::StrCat("a signer's key id '", id, "' is bad"));
    absl::StatusOr<std::optional<state::ActorRecord>> actor = registry::FindActor(state, *key_id);
    if (!actor.ok()) return actor.status();
    if (!*actor) return absl::DataLossError(absl::StrCat("key ", id, " is not registered"));
    add((*actor)->added_at());
  }
  while (!to_visit.empty()) {
    const uint64_t index = to_visit.back();
    to_visit.pop_back();
    if (index == 0) continue;  // the genesis entry signs itself
    absl::StatusOr<std::string> bytes = state.Entry(index);
    if (!bytes.ok()) return bytes.status();
    v1::LogEntry entry;
    if (!entry.ParseFromString(*bytes) || entry.envelope().signatures_size() != 1) {
      return absl::DataLossError(absl::StrCat("log entry ", index, " is not a signed registration"));
    }
    absl::StatusOr<crypto::KeyId> registrar =
        crypto::KeyId::Parse(entry.envelope().signatures(0).key_id());
    if (!registrar.ok()) return absl::DataLossError(absl::StrCat("log entry ", index, ": bad key id"));
    absl::StatusOr<std::optional<state::ActorRecord>> actor = registry::FindActor(state, *registrar);
    if (!actor.ok()) return actor.status();
    if (!*actor) return absl::DataLossError(absl::StrCat("log entry ", index, ": unknown registrar"));
    add((*actor)->added_at());
  }
  return std::vector<uint64_t>(found.begin(), found.end());
}

}  // namespace chemledger::audit::internal
