#include "services/audit/history_bundle.h"

#include "services/audit/bundle_checks.h"

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

using internal::AddRegistration;
using internal::CheckExtendsKept;
using internal::CheckSignedEvent;
using internal::HasUnknownFields;
using internal::Invalid;
using internal::KnownKeys;
using internal::OpenBundleCheckpoint;
using internal::ProofHashes;
using internal::SignerRegistrations;

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

// The leaf hash of `e`, after checking its inclusion proof to `checkpoint`.
absl::StatusOr<crypto::Sha256Digest> CheckIncluded(const std::string& field,
                                                   const v1::ProvenEntry& e,
                                                   const crypto::Checkpoint& checkpoint) {
  if (e.log_index() >= checkpoint.size) {
    return Invalid(absl::StrCat(field, ".log_index"),
                   absl::StrCat(e.log_index(), " is not in the checkpoint's tree of ",
                                checkpoint.size));
  }
  absl::StatusOr<std::vector<crypto::Sha256Digest>> proof =
      ProofHashes(absl::StrCat(field, ".inclusion_proof"), e.inclusion_proof());
  if (!proof.ok()) return proof.status();
  const crypto::Sha256Digest leaf = crypto::HashLeaf(e.entry_bytes());
  if (absl::Status s = crypto::VerifyInclusion(e.log_index(), checkpoint.size, leaf, *proof,
                                               checkpoint.root_hash);
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

}  // namespace

absl::StatusOr<v1::HistoryBundle> BuildHistoryBundle(const storage::Snapshot& snapshot,
                                                     const notary::LedgerNotary& notary,
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
  std::set<std::string> signers;
  for (uint64_t index : *indexes) {
    absl::StatusOr<v1::ProvenEntry> proven = Prove(snapshot, index);
    if (!proven.ok()) return proven.status();
    v1::LogEntry entry;
    if (!entry.ParseFromString(proven->entry_bytes()) || entry.envelope().signatures_size() != 1) {
      return absl::DataLossError(absl::StrCat("log entry ", index, " is not a signed event"));
    }
    signers.insert(entry.envelope().signatures(0).key_id());
    *bundle.add_events() = *std::move(proven);
  }
  // And who registered those keys, back to the genesis entry: a verifier
  // checks each registration's signature by a key registered before it.
  std::set<uint64_t> registrations;
  absl::StatusOr<std::vector<uint64_t>> chain = SignerRegistrations(snapshot, signers, &registrations);
  if (!chain.ok()) return chain.status();
  for (uint64_t index : registrations) {
    absl::StatusOr<v1::ProvenEntry> proven = Prove(snapshot, index);
    if (!proven.ok()) return proven.status();
    *bundle.add_signer_registrations() = *std::move(proven);
  }
  absl::StatusOr<v1::Checkpoint> checkpoint = internal::SignedCheckpointOf(snapshot, notary);
  if (!checkpoint.ok()) return checkpoint.status();
  *bundle.mutable_checkpoint() = *std::move(checkpoint);
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
      OpenBundleCheckpoint("checkpoint", bundle.checkpoint(), note_key);
  if (!checkpoint.ok()) return checkpoint.status();
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
    absl::StatusOr<internal::SignedEvent> signed_event =
        CheckSignedEvent(field, entry, e.log_index(), keys);
    if (!signed_event.ok()) return signed_event.status();
    const v1::Event& event = signed_event->event;
    signers.insert(signed_event->signer_key_id);
    const bool regulator = signed_event->by_regulator;
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
  absl::StatusOr<bool> extends_kept = CheckExtendsKept(
      "", kept, *checkpoint, bundle.consistency_from_size(), bundle.consistency_proof());
  if (!extends_kept.ok()) return extends_kept.status();
  verified.consistent_with_kept = *extends_kept;
  verified.code = bundle.code();
  verified.tree_size = checkpoint->size;
  verified.events = static_cast<size_t>(bundle.events_size());
  verified.signers = signers.size();
  return verified;
}

}  // namespace chemledger::audit
