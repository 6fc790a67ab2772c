#include "services/audit/query_bundle.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/merkle.h"
#include "crypto/sha256.h"
#include "crypto/trust_list.h"
#include "services/audit/audit_scope.h"
#include "services/audit/bundle_checks.h"
#include "services/audit/event_query.h"
#include "services/audit/reconciliation.h"
#include "services/audit/reconciliation_check.h"
#include "services/label/issuance.h"
#include "services/registry/oversight.h"

namespace chemledger::audit {
namespace {

using internal::CheckExtendsKept;
using internal::Invalid;
using internal::OpenBundleCheckpoint;
using internal::ProofHashes;

constexpr uint64_t kMaxPartBytes = 64 << 20;
// Entry bytes in an events part, about (one event may go past it).
constexpr size_t kEventsPartBytes = 4 << 20;

std::string Framed(const std::string& bytes) { return FramedPart(bytes); }

// Fills `nodes` and `entries` with the entries at `indexes` (read from
// `snapshot`, whose bytes are in `bytes` when given) and their inclusion
// proofs, each proof's hashes once in `nodes`.
absl::Status ProveEntries(const storage::Snapshot& snapshot, const std::vector<uint64_t>& indexes,
                          std::vector<std::string> bytes,
                          google::protobuf::RepeatedPtrField<std::string>* nodes,
                          google::protobuf::RepeatedPtrField<v1::CompactProvenEntry>* entries) {
  absl::StatusOr<std::vector<std::vector<crypto::Sha256Digest>>> proofs =
      snapshot.InclusionProofs(indexes, snapshot.size());
  if (!proofs.ok()) return proofs.status();
  absl::flat_hash_map<crypto::Sha256Digest, uint32_t> numbered;
  for (size_t i = 0; i < indexes.size(); ++i) {
    v1::CompactProvenEntry* e = entries->Add();
    e->set_log_index(indexes[i]);
    if (i < bytes.size()) {
      e->set_entry_bytes(std::move(bytes[i]));
    } else {
      absl::StatusOr<std::string> entry = snapshot.Entry(indexes[i]);
      if (!entry.ok()) return entry.status();
      e->set_entry_bytes(*std::move(entry));
    }
    for (const crypto::Sha256Digest& h : (*proofs)[i]) {
      auto [it, added] = numbered.try_emplace(h, static_cast<uint32_t>(nodes->size()));
      if (added) nodes->Add(h.ToBytes());
      e->add_inclusion_proof(it->second);
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string FramedPart(const std::string& serialized_part) {
  std::string out;
  uint64_t n = serialized_part.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  out += serialized_part;
  return out;
}

absl::StatusOr<std::optional<std::string>> ReadFramedPart(std::istream& in) {
  uint64_t size = 0;
  int shift = 0;
  for (int i = 0;; ++i) {
    const int c = in.get();
    if (c == std::char_traits<char>::eof()) {
      if (i == 0) return std::nullopt;
      return absl::InvalidArgumentError("bundle: a part's length is cut short");
    }
    // Minimal and within 64 bits, so that one length has one encoding.
    if (shift > 63 || (shift == 63 && (c & 0x7e)) || (i > 0 && c == 0)) {
      return absl::InvalidArgumentError("bundle: a part's length is not a minimal varint");
    }
    size |= static_cast<uint64_t>(c & 0x7f) << shift;
    shift += 7;
    if (!(c & 0x80)) break;
  }
  if (size > kMaxPartBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle: a part of ", size, " bytes (at most ", kMaxPartBytes, ")"));
  }
  std::string part(size, '\0');
  if (!in.read(part.data(), static_cast<std::streamsize>(size))) {
    return absl::InvalidArgumentError("bundle: a part is cut short");
  }
  return part;
}

absl::Status ExportQueryBundle(const storage::Snapshot& snapshot, const v1::Actor& reader,
                               const notary::LedgerNotary& notary, absl::CivilDay today,
                               const v1::ExportEventsRequest& request,
                               const std::function<bool(const v1::QueryBundlePart&)>& emit) {
  if (!registry::HasOversightRole(reader)) {
    return absl::PermissionDeniedError(
        "ExportEvents is for regulators and platform administrators");
  }
  // A bundle holds its events whole (docs/audit.md).
  if (registry::DepartmentReads(reader, registry::RecordKind::kPackages) != registry::Reads::kAll) {
    return absl::PermissionDeniedError(absl::StrCat(
        "a bundle holds its events whole, and ", registry::DepartmentText(reader),
        " reads only part of them: use QueryEvents"));
  }
  const v1::EventQuery& q = request.query();
  if (request.with_reconciliation() &&
      (q.step() != v1::BUSINESS_STEP_UNSPECIFIED || !q.site().empty() ||
       !q.waybill_number().empty() || !q.waybill_carrier_uscc().empty() ||
       !q.un_number().empty())) {
    return Invalid("with_reconciliation",
                   "a reconciliation counts every movement of the goods in the place and period: "
                   "leave the query's step, site, waybill and un_number empty");
  }
  if (request.consistency_from_size() > snapshot.size()) {
    return Invalid("consistency_from_size",
                   absl::StrCat(request.consistency_from_size(), " is beyond the log's size ",
                                snapshot.size()));
  }
  crypto::Sha256Hasher digest;
  uint64_t events = 0, registrations = 0;
  const auto send = [&](const v1::QueryBundlePart& part) -> absl::Status {
    std::string bytes;
    if (!part.SerializeToString(&bytes)) return absl::InternalError("cannot serialize a part");
    digest.Update(Framed(bytes));
    if (!emit(part)) return absl::CancelledError("the receiver of the bundle went away");
    return absl::OkStatus();
  };

  // The header.
  v1::QueryBundlePart header_part;
  v1::QueryBundleHeader* header = header_part.mutable_header();
  header->set_format(kQueryBundleFormat);
  *header->mutable_query() = request.query();
  header->mutable_query()->clear_page_size();
  header->mutable_query()->clear_page_token();
  *header->mutable_exported_by() = reader;
  absl::StatusOr<v1::Checkpoint> checkpoint = internal::SignedCheckpointOf(snapshot, notary);
  if (!checkpoint.ok()) return checkpoint.status();
  *header->mutable_checkpoint() = *std::move(checkpoint);
  if (request.consistency_from_size() > 0) {
    absl::StatusOr<std::vector<crypto::Sha256Digest>> proof =
        snapshot.ConsistencyProof(request.consistency_from_size(), snapshot.size());
    if (!proof.ok()) return proof.status();
    header->set_consistency_from_size(request.consistency_from_size());
    for (const crypto::Sha256Digest& h : *proof) header->add_consistency_proof(h.ToBytes());
  }
  absl::StatusOr<std::string> trust_note = notary.SignTrustList(snapshot, today);
  if (!trust_note.ok()) return trust_note.status();
  header->set_trust_list(*std::move(trust_note));

  // The first page checks the query before anything is sent.
  std::optional<ledger::EventPosition> after;
  absl::StatusOr<EventQueryPage> page =
      QueryEvents(snapshot, reader, request.query(), after, kQueryBundleChunk);
  if (!page.ok()) return page.status();
  if (absl::Status s = send(header_part); !s.ok()) return s;

  registry::OversightMemo oversees(snapshot, reader);
  std::set<std::string> signers_sent;
  std::set<uint64_t> registrations_sent;
  // Sends the events gathered (after the registrations their new signers
  // need) and starts a new part.
  const auto flush = [&](std::vector<uint64_t>* indexes, std::vector<std::string>* bytes,
                         std::set<std::string>* new_signers) -> absl::Status {
    if (indexes->empty()) return absl::OkStatus();
    if (!new_signers->empty()) {
      absl::StatusOr<std::vector<uint64_t>> chain =
          internal::SignerRegistrations(snapshot, *new_signers, &registrations_sent);
      if (!chain.ok()) return chain.status();
      signers_sent.insert(new_signers->begin(), new_signers->end());
      new_signers->clear();
      if (!chain->empty()) {
        v1::QueryBundlePart part;
        v1::QueryBundleRegistrations* r = part.mutable_registrations();
        if (absl::Status s =
                ProveEntries(snapshot, *chain, {}, r->mutable_nodes(), r->mutable_entries());
            !s.ok()) {
          return s;
        }
        registrations += chain->size();
        if (absl::Status s = send(part); !s.ok()) return s;
      }
    }
    v1::QueryBundlePart part;
    v1::QueryBundleEvents* e = part.mutable_events();
    if (absl::Status s = ProveEntries(snapshot, *indexes, std::move(*bytes), e->mutable_nodes(),
                                      e->mutable_entries());
        !s.ok()) {
      return s;
    }
    events += indexes->size();
    indexes->clear();
    bytes->clear();
    return send(part);
  };
  while (true) {
    std::vector<uint64_t> indexes;
    std::vector<std::string> bytes;
    std::set<std::string> new_signers;
    size_t part_bytes = 0;
    for (const ledger::EventPosition& at : page->events) {
      absl::StatusOr<std::string> entry_bytes = snapshot.Entry(at.log_index);
      if (!entry_bytes.ok()) return entry_bytes.status();
      v1::LogEntry entry;
      v1::Event event;
      if (!entry.ParseFromString(*entry_bytes) || entry.envelope().signatures_size() != 1 ||
          !event.ParseFromString(entry.envelope().payload())) {
        return absl::DataLossError(absl::StrCat("log entry ", at.log_index,
                                                " is not a signed event"));
      }
      // The query lists only what the reader oversees; a bundle holds its
      // events whole, so this is checked again here.
      if (!registry::OverseesEverything(reader)) {
        absl::StatusOr<bool> covered = oversees.Enterprise(event.location().enterprise_uscc());
        if (!covered.ok()) return covered.status();
        if (!*covered) {
          return absl::PermissionDeniedError(absl::StrCat(
              "the query finds events recorded outside your jurisdiction (",
              registry::JurisdictionText(reader), "), which a bundle would hold whole: narrow "
              "it by enterprise, region or park"));
        }
      }
      const std::string& key_id = entry.envelope().signatures(0).key_id();
      if (!signers_sent.count(key_id)) new_signers.insert(key_id);
      indexes.push_back(at.log_index);
      part_bytes += entry_bytes->size();
      bytes.push_back(*std::move(entry_bytes));
      if (part_bytes >= kEventsPartBytes) {
        if (absl::Status s = flush(&indexes, &bytes, &new_signers); !s.ok()) return s;
        part_bytes = 0;
      }
    }
    if (absl::Status s = flush(&indexes, &bytes, &new_signers); !s.ok()) return s;
    if (!page->next) break;
    after = page->next;
    page = QueryEvents(snapshot, reader, request.query(), after, kQueryBundleChunk);
    if (!page.ok()) return page.status();
  }

  if (request.with_reconciliation()) {
    v1::QueryBundlePart part;
    absl::StatusOr<v1::Reconciliation> reconciliation =
        Reconcile(snapshot, reader, ReconcileRequestOf(request.query()));
    if (!reconciliation.ok()) return reconciliation.status();
    *part.mutable_reconciliation() = *std::move(reconciliation);
    if (absl::Status s = send(part); !s.ok()) return s;
  }

  v1::QueryBundlePart trailer;
  trailer.mutable_trailer()->set_events(events);
  trailer.mutable_trailer()->set_registrations(registrations);
  trailer.mutable_trailer()->set_parts_digest(digest.Finish().ToBytes());
  if (!emit(trailer)) return absl::CancelledError("the receiver of the bundle went away");
  return absl::OkStatus();
}

// ---- Verifying ----

struct QueryBundleVerifier::State {
  const crypto::NoteVerifier note_key;
  const std::optional<crypto::Checkpoint> kept;
  const std::function<void(uint64_t, const std::string&)> on_event;
  crypto::Sha256Hasher digest;
  int parts = 0;
  bool ended = false;
  std::optional<crypto::Checkpoint> checkpoint;
  v1::EventQuery query;
  std::optional<absl::Time> from, to;
  internal::KnownKeys keys;
  std::set<uint64_t> registered;
  std::set<std::string> signers;
  std::optional<ledger::EventPosition> previous;
  VerifiedQuery verified;

  absl::Status Header(const std::string& field, const v1::QueryBundleHeader& h);
  // The entries of a registrations or events part: each proved into the
  // checkpoint with the part's node table; their LogEntries.
  absl::StatusOr<std::vector<v1::LogEntry>> Prove(
      const std::string& field, const google::protobuf::RepeatedPtrField<std::string>& nodes,
      const google::protobuf::RepeatedPtrField<v1::CompactProvenEntry>& entries);
  absl::Status Event(const std::string& field, const v1::CompactProvenEntry& e,
                     const v1::LogEntry& entry);
};

QueryBundleVerifier::QueryBundleVerifier(const crypto::NoteVerifier& note_key,
                                         std::optional<crypto::Checkpoint> kept,
                                         std::function<void(uint64_t, const std::string&)> on_event)
    : state_(new State{note_key, std::move(kept), std::move(on_event)}) {}

QueryBundleVerifier::~QueryBundleVerifier() = default;

absl::Status QueryBundleVerifier::State::Header(const std::string& field,
                                                const v1::QueryBundleHeader& h) {
  if (h.format() != kQueryBundleFormat) {
    return Invalid(absl::StrCat(field, ".format"),
                   absl::StrCat("'", h.format(), "', expected '", kQueryBundleFormat, "'"));
  }
  absl::StatusOr<crypto::Checkpoint> opened =
      OpenBundleCheckpoint(absl::StrCat(field, ".checkpoint"), h.checkpoint(), note_key);
  if (!opened.ok()) return opened.status();
  checkpoint = *opened;
  absl::StatusOr<bool> extends_kept =
      CheckExtendsKept(absl::StrCat(field, "."), kept, *checkpoint, h.consistency_from_size(),
                       h.consistency_proof());
  if (!extends_kept.ok()) return extends_kept.status();
  verified.consistent_with_kept = *extends_kept;
  absl::StatusOr<crypto::TrustList> trust = crypto::OpenTrustList(h.trust_list(), note_key);
  if (!trust.ok()) return Invalid(absl::StrCat(field, ".trust_list"), trust.status().message());
  query = h.query();
  if (query.has_from()) {
    absl::StatusOr<absl::Time> t = PeriodBound(query.from(), "query.from");
    if (!t.ok()) return Invalid(absl::StrCat(field, ".query.from"), t.status().message());
    from = *t;
  }
  if (query.has_to()) {
    absl::StatusOr<absl::Time> t = PeriodBound(query.to(), "query.to");
    if (!t.ok()) return Invalid(absl::StrCat(field, ".query.to"), t.status().message());
    to = *t;
  }
  verified.query = query;
  verified.exported_by = h.exported_by();
  verified.tree_size = checkpoint->size;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::LogEntry>> QueryBundleVerifier::State::Prove(
    const std::string& field, const google::protobuf::RepeatedPtrField<std::string>& nodes,
    const google::protobuf::RepeatedPtrField<v1::CompactProvenEntry>& entries) {
  absl::StatusOr<std::vector<crypto::Sha256Digest>> hashes =
      ProofHashes(absl::StrCat(field, ".nodes"), nodes);
  if (!hashes.ok()) return hashes.status();
  const std::vector<crypto::Sha256Digest>& table = *hashes;
  if (entries.empty()) return Invalid(absl::StrCat(field, ".entries"), "none");
  std::vector<v1::LogEntry> out;
  for (int i = 0; i < entries.size(); ++i) {
    const std::string at = absl::StrCat(field, ".entries[", i, "]");
    const v1::CompactProvenEntry& e = entries.Get(i);
    if (e.log_index() >= checkpoint->size) {
      return Invalid(absl::StrCat(at, ".log_index"),
                     absl::StrCat(e.log_index(), " is not in the checkpoint's tree of ",
                                  checkpoint->size));
    }
    std::vector<crypto::Sha256Digest> proof;
    for (uint32_t n : e.inclusion_proof()) {
      if (n >= table.size()) {
        return Invalid(absl::StrCat(at, ".inclusion_proof"),
                       absl::StrCat("names node ", n, " of a table of ", table.size()));
      }
      proof.push_back(table[n]);
    }
    if (absl::Status s = crypto::VerifyInclusion(e.log_index(), checkpoint->size,
                                                 crypto::HashLeaf(e.entry_bytes()), proof,
                                                 checkpoint->root_hash);
        !s.ok()) {
      return Invalid(absl::StrCat(at, ".inclusion_proof"),
                     absl::StrCat("does not prove entry ", e.log_index(),
                                  " into the checkpoint: ", s.message()));
    }
    v1::LogEntry entry;
    if (!entry.ParseFromString(e.entry_bytes())) return Invalid(at, "not a LogEntry");
    out.push_back(std::move(entry));
  }
  return out;
}

absl::Status QueryBundleVerifier::State::Event(const std::string& field,
                                               const v1::CompactProvenEntry& e,
                                               const v1::LogEntry& entry) {
  absl::StatusOr<internal::SignedEvent> signed_event =
      internal::CheckSignedEvent(field, entry, e.log_index(), keys);
  if (!signed_event.ok()) return signed_event.status();
  signers.insert(signed_event->signer_key_id);
  const v1::Event& event = signed_event->event;
  // In the query's order.
  const absl::Time time = absl::FromUnixSeconds(event.event_time().seconds()) +
                          absl::Nanoseconds(event.event_time().nanos());
  const ledger::EventPosition position{absl::ToUnixMicros(time), e.log_index()};
  if (previous && !(*previous < position)) {
    return Invalid(field, "not in the query's order (event time, then log index)");
  }
  previous = position;
  // What the query asks, where the event shows it.
  const auto mismatch = [&](absl::string_view what) {
    return Invalid(field, absl::StrCat("the event does not match the query's ", what));
  };
  if (query.step() != v1::BUSINESS_STEP_UNSPECIFIED && event.step() != query.step()) {
    return mismatch("step");
  }
  if (!query.enterprise_uscc().empty() &&
      event.location().enterprise_uscc() != query.enterprise_uscc()) {
    return mismatch("enterprise_uscc");
  }
  if (!query.site().empty() && event.location().site() != query.site()) return mismatch("site");
  if ((from && time < *from) || (to && time >= *to)) return mismatch("period (from, to)");
  if (on_event) on_event(e.log_index(), e.entry_bytes());
  return absl::OkStatus();
}

absl::Status QueryBundleVerifier::Add(const std::string& serialized_part) {
  State& s = *state_;
  const std::string field = absl::StrCat("part ", s.parts);
  if (s.ended) return Invalid(field, "follows the trailer");
  v1::QueryBundlePart part;
  if (!part.ParseFromString(serialized_part)) return Invalid(field, "not a QueryBundlePart");
  if (internal::HasUnknownFields(part)) {
    return Invalid(field, "holds fields the format does not define");
  }
  const bool first = s.parts++ == 0;
  if (first != part.has_header()) {
    return Invalid(field, first ? "the bundle does not start with its header"
                                : "a second header");
  }
  if (part.has_trailer()) {
    const v1::QueryBundleTrailer& t = part.trailer();
    if (t.events() != s.verified.events || t.registrations() != s.verified.registrations) {
      return Invalid(absl::StrCat(field, ".trailer"),
                     absl::StrCat("counts ", t.events(), " events and ", t.registrations(),
                                  " registrations; the bundle holds ", s.verified.events, " and ",
                                  s.verified.registrations));
    }
    if (t.parts_digest() != s.digest.Finish().ToBytes()) {
      return Invalid(absl::StrCat(field, ".trailer.parts_digest"),
                     "differs from the parts before it");
    }
    s.ended = true;
    return absl::OkStatus();
  }
  s.digest.Update(Framed(serialized_part));
  switch (part.part_case()) {
    case v1::QueryBundlePart::kHeader:
      return s.Header(absl::StrCat(field, ".header"), part.header());
    case v1::QueryBundlePart::kRegistrations: {
      const std::string at = absl::StrCat(field, ".registrations");
      absl::StatusOr<std::vector<v1::LogEntry>> entries =
          s.Prove(at, part.registrations().nodes(), part.registrations().entries());
      if (!entries.ok()) return entries.status();
      for (size_t i = 0; i < entries->size(); ++i) {
        const v1::CompactProvenEntry& e = part.registrations().entries(static_cast<int>(i));
        const std::string entry_field = absl::StrCat(at, ".entries[", i, "]");
        if (!s.registered.insert(e.log_index()).second) {
          return Invalid(entry_field, "a registration given twice");
        }
        if (absl::Status st =
                internal::AddRegistration(entry_field, (*entries)[i], e.log_index(), &s.keys);
            !st.ok()) {
          return st;
        }
        ++s.verified.registrations;
      }
      return absl::OkStatus();
    }
    case v1::QueryBundlePart::kEvents: {
      const std::string at = absl::StrCat(field, ".events");
      if (s.verified.reconciled) return Invalid(at, "events after the reconciliation");
      absl::StatusOr<std::vector<v1::LogEntry>> entries =
          s.Prove(at, part.events().nodes(), part.events().entries());
      if (!entries.ok()) return entries.status();
      for (size_t i = 0; i < entries->size(); ++i) {
        if (absl::Status st = s.Event(absl::StrCat(at, ".entries[", i, "]"),
                                      part.events().entries(static_cast<int>(i)), (*entries)[i]);
            !st.ok()) {
          return st;
        }
        ++s.verified.events;
      }
      return absl::OkStatus();
    }
    case v1::QueryBundlePart::kReconciliation: {
      const std::string at = absl::StrCat(field, ".reconciliation");
      if (s.verified.reconciled) return Invalid(at, "a second reconciliation");
      if (part.reconciliation().log_size() != s.checkpoint->size) {
        return Invalid(absl::StrCat(at, ".log_size"),
                       absl::StrCat(part.reconciliation().log_size(),
                                    ", not the checkpoint's size ", s.checkpoint->size));
      }
      if (absl::Status st = CheckReconciliationIsOfQuery(at, part.reconciliation(), s.query);
          !st.ok()) {
        return st;
      }
      if (absl::Status st = CheckReconciliationAddsUp(at, part.reconciliation()); !st.ok()) {
        return st;
      }
      s.verified.reconciled = true;
      s.verified.reconciliation = part.reconciliation();
      return absl::OkStatus();
    }
    default:
      return Invalid(field, "an empty part");
  }
}

absl::StatusOr<VerifiedQuery> QueryBundleVerifier::Finish() const {
  if (state_->parts == 0) return Invalid("bundle", "empty");
  if (!state_->ended) return Invalid("bundle", "ends before its trailer (cut short)");
  VerifiedQuery out = state_->verified;
  out.signers = state_->signers.size();
  return out;
}

}  // namespace chemledger::audit
