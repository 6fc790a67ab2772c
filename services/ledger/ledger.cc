#include "services/ledger/ledger.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "crypto/merkle.h"
#include "services/common/envelope.h"
#include "services/common/log_replay.h"
#include "services/common/identifiers.h"
#include "services/registry/signers.h"

namespace chemledger::ledger {

// What an event changes: the new state of every code it touches, and each
// touched code's link to its previous event.
struct Ledger::PendingChange {
  std::map<std::string, CodeState> states;
  v1::EventLinks links;
};

namespace {

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat("event.", field, ": ", rule));
}

absl::Status Precondition(absl::string_view field, absl::string_view rule) {
  return absl::FailedPreconditionError(absl::StrCat("event.", field, ": ", rule));
}

bool IsUpperAlnum(absl::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!(c >= 'A' && c <= 'Z') && !absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// A package code: "<USCC>.<PRODUCT>.<BATCH>.<SERIAL>".
struct PackageCode {
  std::string uscc, product, batch;
  uint64_t serial = 0;
};
std::optional<PackageCode> ParsePackageCode(absl::string_view code) {
  std::vector<std::string> parts = absl::StrSplit(code, '.');
  PackageCode p;
  if (parts.size() != 4 || !ids::ValidateUscc("code", parts[0]).ok() ||
      !IsUpperAlnum(parts[1], 16) || !IsUpperAlnum(parts[2], 20) ||
      !absl::SimpleAtoi(parts[3], &p.serial) || std::to_string(p.serial) != parts[3] ||
      p.serial == 0) {
    return std::nullopt;
  }
  p.uscc = parts[0];
  p.product = parts[1];
  p.batch = parts[2];
  return p;
}

// An aggregate (logistic unit) code: "<USCC>.LU.<ID>", ID 1-32 of A-Z 0-9.
bool IsAggregateCode(absl::string_view code) {
  std::vector<absl::string_view> parts = absl::StrSplit(code, '.');
  return parts.size() == 3 && ids::ValidateUscc("code", parts[0]).ok() && parts[1] == "LU" &&
         IsUpperAlnum(parts[2], 32);
}

absl::Time EventTime(const v1::Event& e) {
  return absl::FromUnixSeconds(e.event_time().seconds()) + absl::Nanoseconds(e.event_time().nanos());
}

bool IsTerminal(CodeStatus s) {
  return s == CodeStatus::kConsumed || s == CodeStatus::kDisposed || s == CodeStatus::kVoided;
}

}  // namespace

absl::string_view CodeStatusName(CodeStatus status) {
  switch (status) {
    case CodeStatus::kActive: return "active";
    case CodeStatus::kInTransit: return "in-transit";
    case CodeStatus::kConsumed: return "consumed";
    case CodeStatus::kDisposed: return "disposed";
    case CodeStatus::kVoided: return "voided";
    case CodeStatus::kLost: return "lost";
  }
  return "unknown";
}

WaybillCheck NoWaybillsYet() {
  return [](const std::string& waybill_id, const std::string&, const std::string&,
            const std::string& code) {
    return absl::FailedPreconditionError(absl::StrCat(
        "event.waybill_id: no open e-waybill '", waybill_id, "' lists ", code,
        " (e-waybills are not served by this deployment yet)"));
  };
}

absl::StatusOr<std::unique_ptr<Ledger>> Ledger::Open(storage::Log* log,
                                                     registry::Registry* registry,
                                                     const label::LabelIssuer* issuer,
                                                     LedgerOptions options) {
  std::unique_ptr<Ledger> ledger(new Ledger(log, registry, issuer, std::move(options)));
  absl::MutexLock lock(&ledger->mu_);
  absl::Status replayed = ReplayLog(
      *log, [&](uint64_t i, const v1::LogEntry& entry, const std::string& bytes) -> absl::Status {
        if (entry.envelope().payload_type() != kEventContext.payload_type()) return absl::OkStatus();
        v1::Event event;
        v1::EventLinks links;
        if (!event.ParseFromString(entry.envelope().payload()) ||
            !links.ParseFromString(entry.assignment())) {
          return absl::DataLossError(absl::StrCat("log entry ", i, " is not a ledger event"));
        }
        // Replay applies the state rules again (they held when it was accepted)
        // but not the ones that depend on who could sign then or on the clock.
        absl::StatusOr<PendingChange> change =
            ledger->Check(nullptr, event, absl::InfiniteFuture(), nullptr);
        if (!change.ok() || change->links.SerializeAsString() != links.SerializeAsString()) {
          return absl::DataLossError(absl::StrCat(
              "log entry ", i, " (event '", event.event_id(), "') does not replay: ",
              change.ok() ? "its chain links differ" : change.status().message()));
        }
        ledger->Commit(*change, event, i, crypto::HashLeaf(bytes));
        ledger->events_[event.event_id()] = {i, crypto::HashLeaf(bytes),
                                             event.location().enterprise_uscc()};
        return absl::OkStatus();
      });
  if (!replayed.ok()) return replayed;
  return ledger;
}

bool Ledger::SamePayload(uint64_t log_index, const v1::SignedEnvelope& envelope) const {
  absl::StatusOr<std::string> bytes = log_->Entry(log_index);
  v1::LogEntry entry;
  return bytes.ok() && entry.ParseFromString(*bytes) &&
         entry.envelope().payload() == envelope.payload();
}

const CodeState* Ledger::Known(const std::string& code, const BatchState* batch) const {
  if (batch != nullptr) {
    if (auto it = batch->overlay.find(code); it != batch->overlay.end()) return &it->second;
  }
  auto it = codes_.find(code);
  return it == codes_.end() ? nullptr : &it->second;
}

const CodeState* Ledger::BeforeLatest(const std::string& code, const BatchState* batch) const {
  if (batch != nullptr) {
    if (auto it = batch->before.find(code); it != batch->before.end()) {
      return it->second ? &*it->second : nullptr;
    }
  }
  auto it = before_latest_.find(code);
  return it == before_latest_.end() ? nullptr : &it->second;
}

// Concurrent Append calls are grouped, as LevelDB groups writers: each caller
// queues; the one at the front appends everything queued (up to
// kMaxGroupEvents) as one batch and hands each caller its result.
struct Ledger::Writer {
  const v1::SignedEnvelope* envelope;
  std::optional<absl::StatusOr<EventReceipt>> result;
};

absl::StatusOr<EventReceipt> Ledger::Append(const v1::SignedEnvelope& envelope) {
  Writer me{&envelope, std::nullopt};
  absl::MutexLock lock(&writers_mu_);
  writers_.push_back(&me);
  while (!me.result && writers_.front() != &me) writers_cv_.Wait(&writers_mu_);
  if (me.result) return *std::move(me.result);
  // The leader: take the group, append it without the queue's lock.
  std::vector<Writer*> group(writers_.begin(),
                             writers_.begin() + std::min(writers_.size(), kMaxGroupEvents));
  std::vector<const v1::SignedEnvelope*> envelopes;
  for (Writer* w : group) envelopes.push_back(w->envelope);
  writers_mu_.Unlock();
  std::vector<absl::StatusOr<EventReceipt>> results = AppendAll(envelopes);
  writers_mu_.Lock();
  for (size_t i = 0; i < group.size(); ++i) {
    group[i]->result = std::move(results[i]);
    writers_.pop_front();
  }
  writers_cv_.SignalAll();
  return *std::move(me.result);
}

std::vector<absl::StatusOr<EventReceipt>> Ledger::AppendBatch(
    absl::Span<const v1::SignedEnvelope> events) {
  std::vector<const v1::SignedEnvelope*> pointers;
  pointers.reserve(events.size());
  for (const v1::SignedEnvelope& e : events) pointers.push_back(&e);
  return AppendAll(pointers);
}

std::vector<absl::StatusOr<EventReceipt>> Ledger::AppendAll(
    const std::vector<const v1::SignedEnvelope*>& pointers) {
  struct Envelopes {
    const std::vector<const v1::SignedEnvelope*>& p;
    const v1::SignedEnvelope& operator[](size_t i) const { return *p[i]; }
  } envelopes{pointers};
  const size_t n = pointers.size();
  std::vector<absl::StatusOr<EventReceipt>> results(n, absl::UnknownError("not processed"));
  // 1. Find each signer's key in the registry's snapshot of active keys (no
  //    lock that a write holds through its fsync), then check the signatures
  //    outside any lock, on all cores. The signer is checked again under the
  //    registry's lock in step 2.
  std::vector<absl::StatusOr<envelope::ResolvedSignature>> signers =
      registry::VerifyActorSignatures(*registry_, pointers, kEventContext, options_.verify_threads);
  for (size_t i = 0; i < n; ++i) {
    if (!signers[i].ok()) results[i] = signers[i].status();
  }

  // 2. Check the verified events in order against the state (and the
  //    batch's earlier events), and append the accepted ones as one write.
  absl::MutexLock lock(&mu_);
  // What an accepted event leaves to do once the batch is durable.
  struct Touched {
    std::string code, custodian, owner;  // owner: the issuer of a package, "" for an aggregate
  };
  struct Accepted {
    size_t i;
    std::string event_id, enterprise;
    crypto::Sha256Digest hash;
    std::vector<Touched> touched;
    v1::Event event;  // for LedgerOptions::on_event
  };
  // The states the batch leaves, moved into the ledger once it is durable.
  BatchState batch;
  std::vector<Accepted> accepted;
  std::map<std::string, size_t> batch_ids;  // event id -> position in `accepted`
  std::vector<std::pair<size_t, size_t>> repeats;  // (i, position in `accepted`)
  absl::StatusOr<uint64_t> first = registry_->AppendCheckedMany(
      [&](const registry::Registry::View& view) -> absl::StatusOr<std::vector<std::string>> {
        mu_.AssertHeld();
        std::vector<std::string> entries;
        size_t batch_bytes = 0;
        for (size_t i = 0; i < n; ++i) {
          if (!signers[i].ok()) continue;
          const v1::SignedEnvelope& envelope = envelopes[i];
          // The key may have been revoked since step 1.
          absl::StatusOr<v1::Actor> actor = view.ActiveSigner(signers[i]->key_id);
          if (!actor.ok()) {
            results[i] = actor.status();
            continue;
          }
          v1::Event event;
          if (!event.ParseFromString(envelope.payload())) {
            results[i] = absl::InvalidArgumentError("envelope.payload: not an Event");
            continue;
          }
          if (event.event_id().empty() || event.event_id().size() > 128) {
            results[i] = Invalid("event_id", "1 to 128 characters are required");
            continue;
          }
          if (auto it = events_.find(event.event_id()); it != events_.end()) {
            results[i] = SamePayload(it->second.log_index, envelope)
                             ? absl::StatusOr<EventReceipt>(
                                   EventReceipt{it->second.log_index, true, it->second.hash})
                             : absl::AlreadyExistsError(absl::StrCat(
                                   "event.event_id: '", event.event_id(),
                                   "' was already used for another event"));
            continue;
          }
          if (auto it = batch_ids.find(event.event_id()); it != batch_ids.end()) {
            if (envelopes[accepted[it->second].i].payload() == envelope.payload()) {
              repeats.emplace_back(i, it->second);
            } else {
              results[i] = absl::AlreadyExistsError(absl::StrCat(
                  "event.event_id: '", event.event_id(), "' was already used for another event"));
            }
            continue;
          }
          const v1::Location& where = event.location();
          if ((actor->role() != v1::ENTERPRISE_ADMIN &&
               actor->role() != v1::ENTERPRISE_OPERATOR) ||
              actor->enterprise_uscc() != where.enterprise_uscc()) {
            results[i] = absl::PermissionDeniedError(absl::StrCat(
                "envelope.signatures[0].key_id: actor '", actor->name(), "' (",
                v1::ActorRole_Name(actor->role()), ") may not record events for enterprise '",
                where.enterprise_uscc(), "' (event.location.enterprise_uscc)"));
            continue;
          }
          v1::LogEntry entry = registry::MakeLogEntry(envelope);
          const absl::Time record_time = absl::FromUnixSeconds(entry.record_time().seconds());
          absl::StatusOr<PendingChange> change = Check(&view, event, record_time, &batch);
          if (!change.ok()) {
            results[i] = change.status();
            continue;
          }
          entry.set_assignment(change->links.SerializeAsString());
          std::string bytes = entry.SerializeAsString();
          if (bytes.size() > kMaxEventEntryBytes) {
            results[i] = absl::InvalidArgumentError(absl::StrCat(
                "envelope.payload: the event's log entry would be ", bytes.size(),
                " bytes; at most ", kMaxEventEntryBytes));
            continue;
          }
          if (batch_bytes + bytes.size() > storage::Log::kMaxAppendBytes) {
            results[i] = absl::ResourceExhaustedError(
                "envelope: the batch is full; send this event again");
            continue;
          }
          batch_bytes += bytes.size();
          const crypto::Sha256Digest hash = crypto::HashLeaf(bytes);
          const absl::Time when = EventTime(event);
          Accepted a{i, event.event_id(), event.location().enterprise_uscc(), hash, {}, {}};
          a.touched.reserve(change->states.size());
          for (auto& [code, state] : change->states) {
            a.touched.push_back(Touched{code, state.custodian, state.aggregate ? "" : state.enterprise});
            const CodeState* previous = Known(code, &batch);
            batch.before[code] =
                previous ? std::optional<CodeState>(*previous) : std::optional<CodeState>();
            CodeState& s = batch.overlay[code];
            s = std::move(state);
            s.last_event_time = when;
            s.last_event_hash = hash;
          }
          batch_ids[a.event_id] = accepted.size();
          if (options_.on_event) a.event = std::move(event);
          accepted.push_back(std::move(a));
          entries.push_back(std::move(bytes));
        }
        return entries;
      },
      [&](uint64_t) {
        // In log order with the other parts' writes (the waybill book's).
        if (!options_.on_event) return;
        for (const Accepted& a : accepted) options_.on_event(a.event);
      });
  for (size_t j = 0; j < accepted.size(); ++j) {
    Accepted& a = accepted[j];
    if (!first.ok()) {
      results[a.i] = first.status();
      continue;
    }
    const uint64_t index = *first + j;
    for (const Touched& t : a.touched) {
      histories_[t.code].push_back(index);
      std::set<std::string>& custodians = custodians_[t.code];
      custodians.insert(t.custodian);
      if (!t.owner.empty()) custodians.insert(t.owner);
    }
    events_[a.event_id] = {index, a.hash, std::move(a.enterprise)};
    results[a.i] = EventReceipt{index, false, a.hash};
  }
  if (first.ok()) {
    for (auto& [code, before] : batch.before) {
      if (before) {
        before_latest_[code] = *std::move(before);
      } else {
        before_latest_.erase(code);
      }
    }
    for (auto& [code, state] : batch.overlay) codes_[code] = std::move(state);
  }
  for (const auto& [i, j] : repeats) {
    if (results[accepted[j].i].ok()) {
      EventReceipt receipt = *results[accepted[j].i];
      receipt.replayed = true;
      results[i] = receipt;
    } else {
      results[i] = results[accepted[j].i].status();
    }
  }
  return results;
}

absl::StatusOr<Ledger::PendingChange> Ledger::Check(
    const registry::Registry::View* view, const v1::Event& e, absl::Time record_time,
    const BatchState* batch) const {
  PendingChange change;
  const std::string& who = e.location().enterprise_uscc();
  if (e.step() == v1::BUSINESS_STEP_UNSPECIFIED || !v1::BusinessStep_IsValid(e.step())) {
    return Invalid("step", "is not a known business step");
  }
  const std::string step = v1::BusinessStep_Name(e.step());
  if (absl::Status s = ids::ValidateUscc("event.location.enterprise_uscc", who); !s.ok()) return s;
  if (e.location().site().empty() || e.location().site().size() > 64) {
    return Invalid("location.site", "1 to 64 characters are required");
  }
  if (!e.has_event_time()) return Invalid("event_time", "is required");
  if (e.event_time_offset_minutes() < -14 * 60 || e.event_time_offset_minutes() > 14 * 60) {
    return Invalid("event_time_offset_minutes", "must be -840 to 840");
  }
  const absl::Time when = EventTime(e);
  const absl::TimeZone local = absl::FixedTimeZone(e.event_time_offset_minutes() * 60);
  if (view != nullptr && when > record_time + options_.clock_skew) {
    return Precondition("event_time", absl::StrCat(absl::FormatTime(when, local), " is in the future (the server's clock says ",
                                                   absl::FormatTime(record_time, local), ")"));
  }
  if (e.codes_size() > kMaxCodesPerEvent) {
    return Invalid("codes", absl::StrCat("at most ", kMaxCodesPerEvent, " codes per event"));
  }
  std::set<std::string> named;
  for (int i = 0; i < e.codes_size(); ++i) {
    if (!named.insert(e.codes(i)).second) {
      return Invalid(absl::StrCat("codes[", i, "]"), absl::StrCat("'", e.codes(i), "' is named twice"));
    }
  }

  // The enterprise's roles bound what it may record.
  if (view != nullptr) {
    const registry::EnterpriseRecord* record = view->FindEnterprise(who);
    if (record == nullptr) {
      return absl::NotFoundError(absl::StrCat("event.location.enterprise_uscc: enterprise ", who,
                                              " is not registered"));
    }
    const v1::Enterprise& ent = record->enterprise;
    const auto refuse = [&](absl::string_view needs) {
      return absl::PermissionDeniedError(absl::StrCat(
          "event.step: enterprise ", who, " may not record ", step, ": ", needs));
    };
    const bool only_carrier = ent.roles_size() > 0 &&
                              std::all_of(ent.roles().begin(), ent.roles().end(),
                                          [](int r) { return r == v1::CARRIER; });
    if (only_carrier) return refuse("a carrier records transport on e-waybills, not package events");
    if (e.step() == v1::COMMISSIONING && !registry::HasRole(ent, v1::PRODUCER) && !registry::HasRole(ent, v1::IMPORTER)) {
      return refuse("only producers and importers commission packages");
    }
    if (e.step() == v1::CONSUMING && !registry::HasRole(ent, v1::USER) && !registry::HasRole(ent, v1::PRODUCER)) {
      return refuse("only users and producers consume");
    }
    if (e.step() == v1::DESTROYING) {
      if (!registry::HasRole(ent, v1::DISPOSER)) return refuse("only licensed disposers destroy packages");
      // Licences are dated in China Standard Time, whatever offset the event gives.
      const absl::CivilDay day = absl::ToCivilDay(when, absl::FixedTimeZone(8 * 3600));
      if (!registry::HoldsLicence(ent, v1::HAZARDOUS_WASTE, day)) {
        return refuse(absl::StrCat("it holds no 危险废物经营许可证 (HAZARDOUS_WASTE) valid on ",
                                   absl::FormatCivilTime(day)));
      }
    }
  }

  // Working copies of the states the event touches.
  const auto state_of = [&](const std::string& code) -> CodeState* {
    mu_.AssertHeld();
    if (auto it = change.states.find(code); it != change.states.end()) return &it->second;
    const CodeState* known = Known(code, batch);
    if (known == nullptr) return nullptr;
    return &change.states.emplace(code, *known).first->second;
  };
  // A named code the enterprise holds, that may move: known, not terminal,
  // not packed on an aggregate, in its custody.
  const auto held = [&](int i, bool allow_lost = false) -> absl::StatusOr<CodeState*> {
    const std::string field = absl::StrCat("codes[", i, "]");
    CodeState* s = state_of(e.codes(i));
    if (s == nullptr) {
      return absl::NotFoundError(absl::StrCat("event.", field, ": ", e.codes(i),
                                              " is not in the ledger (commission it first)"));
    }
    if (IsTerminal(s->status)) {
      return Precondition(field, absl::StrCat(s->code, " is ", CodeStatusName(s->status),
                                              ": nothing happens to it any more"));
    }
    if (!s->parent.empty()) {
      return Precondition(field, absl::StrCat(s->code, " is packed on ", s->parent,
                                              ": it moves with it, or is unpacked first"));
    }
    if (s->custodian != who) {
      return absl::PermissionDeniedError(absl::StrCat("event.", field, ": ", s->code,
                                                      " is in the custody of ", s->custodian,
                                                      ", not of ", who));
    }
    if (s->status == CodeStatus::kInTransit) {
      return Precondition(field, absl::StrCat(s->code, " is in transit to ", s->consignee));
    }
    if (s->status == CodeStatus::kLost && !allow_lost) {
      return Precondition(field, absl::StrCat(s->code, " is reported lost"));
    }
    return s;
  };
  // Everything packed (directly or not) on `code`, walked without recursion
  // (nesting is bounded by kMaxNesting, the event's size by kMaxTouchedCodes).
  const auto descendants = [&](const std::string& code, std::vector<CodeState*>* out) {
    std::vector<std::string> pending = {code};
    while (!pending.empty()) {
      CodeState* s = state_of(pending.back());
      pending.pop_back();
      if (s == nullptr) continue;
      const std::set<std::string> children = s->children;
      for (const std::string& child : children) {
        if (CodeState* c = state_of(child)) out->push_back(c);
        pending.push_back(child);
      }
    }
  };
  // How many levels are packed under `code` (0 for a package).
  const auto height = [&](const std::string& code) {
    int levels = 0;
    std::vector<std::pair<std::string, int>> pending = {{code, 0}};
    while (!pending.empty()) {
      auto [c, depth] = pending.back();
      pending.pop_back();
      levels = std::max(levels, depth);
      const CodeState* s = Known(c, batch);
      if (auto it = change.states.find(c); it != change.states.end()) s = &it->second;
      if (s == nullptr) continue;
      for (const std::string& child : s->children) pending.emplace_back(child, depth + 1);
    }
    return levels;
  };
  const auto require = [&](absl::string_view field, bool ok, absl::string_view rule) {
    return ok ? absl::OkStatus() : Invalid(field, rule);
  };

  switch (e.step()) {
    case v1::COMMISSIONING: {
      if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
      for (int i = 0; i < e.codes_size(); ++i) {
        const std::string field = absl::StrCat("codes[", i, "]");
        std::optional<PackageCode> p = ParsePackageCode(e.codes(i));
        if (!p) {
          return Invalid(field, absl::StrCat("'", e.codes(i),
                                             "' is not a package code <USCC>.<PRODUCT>.<BATCH>.<SERIAL>"));
        }
        if (p->uscc != who) {
          return absl::PermissionDeniedError(absl::StrCat(
              "event.", field, ": ", e.codes(i), " was issued to ", p->uscc, ", not to ", who));
        }
        if (Known(e.codes(i), batch) != nullptr) {
          return Precondition(field, absl::StrCat(e.codes(i), " was already commissioned"));
        }
        std::optional<label::IssuanceRecord> issued =
            issuer_->FindIssuance(p->uscc, p->product, p->batch, p->serial);
        if (!issued) {
          return absl::NotFoundError(absl::StrCat("event.", field, ": ", e.codes(i),
                                                  " was never issued (LabelService)"));
        }
        CodeState s;
        s.code = e.codes(i);
        s.enterprise = p->uscc;
        s.product = p->product;
        s.unit = issued->claims.unit;
        s.remaining_milli = issued->claims.quantity_milli;
        s.custodian = who;
        change.states.emplace(s.code, s);
      }
      break;
    }
    case v1::STORING:
    case v1::SHIPPING: {
      if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
      const bool shipping = e.step() == v1::SHIPPING;
      if (shipping) {
        if (absl::Status s = ids::ValidateUscc("event.consignee_uscc", e.consignee_uscc()); !s.ok()) {
          return s;
        }
        if (e.consignee_uscc() == who) return Invalid("consignee_uscc", "is the shipper itself");
        if (view != nullptr && view->FindEnterprise(e.consignee_uscc()) == nullptr) {
          return absl::NotFoundError(absl::StrCat("event.consignee_uscc: enterprise ",
                                                  e.consignee_uscc(), " is not registered"));
        }
        if (absl::Status s = require("waybill_id", !e.waybill_id().empty(), "is required to ship");
            !s.ok()) {
          return s;
        }
      }
      for (int i = 0; i < e.codes_size(); ++i) {
        absl::StatusOr<CodeState*> s = held(i);
        if (!s.ok()) return s.status();
        // The waybill lists what is shipped: packages, or the pallets
        // they are packed on.
        if (shipping && view != nullptr) {
          if (absl::Status w = options_.waybills(e.waybill_id(), who, e.consignee_uscc(), (*s)->code);
              !w.ok()) {
            return w;
          }
        }
        std::vector<CodeState*> moved = {*s};
        descendants((*s)->code, &moved);
        for (CodeState* m : moved) {
          if (shipping) {
            m->status = CodeStatus::kInTransit;
            m->consignee = e.consignee_uscc();
          }
        }
      }
      break;
    }
    case v1::RECEIVING: {
      if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
      for (int i = 0; i < e.codes_size(); ++i) {
        const std::string field = absl::StrCat("codes[", i, "]");
        CodeState* s = state_of(e.codes(i));
        if (s == nullptr) {
          return absl::NotFoundError(absl::StrCat("event.", field, ": ", e.codes(i), " is not in the ledger"));
        }
        if (!s->parent.empty()) {
          return Precondition(field, absl::StrCat(s->code, " is packed on ", s->parent, ": receive that"));
        }
        if (s->status != CodeStatus::kInTransit) {
          return Precondition(field, absl::StrCat(s->code, " is not in transit (it is ",
                                                  CodeStatusName(s->status), ")"));
        }
        if (s->consignee != who) {
          return absl::PermissionDeniedError(absl::StrCat(
              "event.", field, ": ", s->code, " is consigned to ", s->consignee, ", not to ", who));
        }
        std::vector<CodeState*> moved = {s};
        descendants(s->code, &moved);
        for (CodeState* m : moved) {
          m->status = CodeStatus::kActive;
          m->consignee.clear();
          m->custodian = who;
        }
      }
      break;
    }
    case v1::CONSUMING:
    case v1::REPACKAGING: {
      if (e.codes_size() != 1) return Invalid("codes", "exactly one package is required");
      absl::StatusOr<CodeState*> in = held(0);
      if (!in.ok()) return in.status();
      CodeState* input = *in;
      if (input->aggregate) return Invalid("codes[0]", "is an aggregate: unpack it first");
      if (e.quantity_milli() == 0) return Invalid("quantity_milli", "must be more than 0");
      if (e.quantity_milli() > input->remaining_milli) {
        return Precondition("quantity_milli",
                            absl::StrCat(e.quantity_milli(), " is more than the ",
                                         input->remaining_milli, " thousandths of ", input->unit,
                                         " left in ", input->code));
      }
      if (e.step() == v1::REPACKAGING) {
        if (e.outputs_size() == 0) return Invalid("outputs", "at least one new code is required");
        if (e.declared_loss_milli() > e.quantity_milli()) {
          return Precondition("declared_loss_milli",
                              absl::StrCat(e.declared_loss_milli(), " is more than the ",
                                           e.quantity_milli(), " taken from ", input->code));
        }
        uint64_t total = e.declared_loss_milli();
        for (int i = 0; i < e.outputs_size(); ++i) {
          const std::string field = absl::StrCat("outputs[", i, "].code");
          const v1::RepackagingOutput& out = e.outputs(i);
          std::optional<PackageCode> p = ParsePackageCode(out.code());
          std::optional<PackageCode> in_code = ParsePackageCode(input->code);
          if (!p) return Invalid(field, absl::StrCat("'", out.code(), "' is not a package code"));
          if (in_code && (p->uscc != in_code->uscc || p->product != in_code->product)) {
            return Invalid(field, absl::StrCat(out.code(), " is not a code of the same product as ",
                                               input->code));
          }
          if (Known(out.code(), batch) != nullptr || change.states.count(out.code())) {
            return Precondition(field, absl::StrCat(out.code(), " is already in use"));
          }
          std::optional<label::IssuanceRecord> issued =
              issuer_->FindIssuance(p->uscc, p->product, p->batch, p->serial);
          if (!issued) {
            return absl::NotFoundError(absl::StrCat("event.", field, ": ", out.code(),
                                                    " was never issued (LabelService)"));
          }
          const std::string quantity_field = absl::StrCat("outputs[", i, "].quantity_milli");
          if (out.quantity_milli() == 0) return Invalid(quantity_field, "must be more than 0");
          if (issued->claims.unit != input->unit) {
            return Invalid(field, absl::StrCat(out.code(), "'s label is in ", issued->claims.unit,
                                               ", the input in ", input->unit));
          }
          if (out.quantity_milli() > issued->claims.quantity_milli) {
            return Precondition(quantity_field,
                                absl::StrCat(out.quantity_milli(), " is more than the ",
                                             issued->claims.quantity_milli, " its label states"));
          }
          // Checked before adding, so the sum cannot wrap around.
          if (out.quantity_milli() > e.quantity_milli() - total) {
            return Precondition("outputs", absl::StrCat("the outputs and declared loss add up to "
                                                        "more than the ", e.quantity_milli(),
                                                        " taken from ", input->code));
          }
          total += out.quantity_milli();
          CodeState s;
          s.code = out.code();
          s.enterprise = p->uscc;
          s.product = p->product;
          s.unit = input->unit;
          s.remaining_milli = out.quantity_milli();
          s.custodian = who;
          change.states.emplace(s.code, s);
        }
        if (total != e.quantity_milli()) {
          return Precondition("outputs", absl::StrCat(
              "the outputs and declared loss add up to ", total, " thousandths, not the ",
              e.quantity_milli(), " taken from ", input->code));
        }
        input = state_of(e.codes(0));  // emplace may have moved nothing, but re-find to be safe
      } else if (e.outputs_size() > 0 || e.declared_loss_milli() > 0) {
        return Invalid("outputs", "only a repackaging has outputs");
      }
      input->remaining_milli -= e.quantity_milli();
      if (input->remaining_milli == 0) input->status = CodeStatus::kConsumed;
      break;
    }
    case v1::PACKING:
    case v1::UNPACKING: {
      const std::string& parent_code = e.parent_code();
      if (!IsAggregateCode(parent_code)) {
        return Invalid("parent_code", absl::StrCat("'", parent_code, "' is not an aggregate code <USCC>.LU.<ID>"));
      }
      if (e.codes_size() == 0) return Invalid("codes", "at least one child code is required");
      CodeState* parent = state_of(parent_code);
      if (e.step() == v1::PACKING) {
        if (parent == nullptr) {
          if (parent_code.substr(0, 18) != who) {
            return absl::PermissionDeniedError(absl::StrCat(
                "event.parent_code: ", parent_code, " is not a code of ", who));
          }
          CodeState s;
          s.code = parent_code;
          s.aggregate = true;
          s.enterprise = who;
          s.custodian = who;
          parent = &change.states.emplace(parent_code, s).first->second;
        } else {
          if (IsTerminal(parent->status) || parent->status != CodeStatus::kActive ||
              parent->custodian != who) {
            return Precondition("parent_code", absl::StrCat(parent_code, " is not an active aggregate in the custody of ", who));
          }
        }
        // The parent's ancestors: packing one of them onto it would make a cycle.
        std::set<std::string> ancestors = {parent_code};
        for (const CodeState* a = parent; !a->parent.empty();) {
          ancestors.insert(a->parent);
          a = state_of(a->parent);
          if (a == nullptr) break;
        }
        for (int i = 0; i < e.codes_size(); ++i) {
          const std::string field = absl::StrCat("codes[", i, "]");
          if (ancestors.count(e.codes(i))) {
            return Precondition(field, absl::StrCat(e.codes(i), " cannot be packed on ", parent_code,
                                                    ": an aggregate cannot contain itself"));
          }
          // ancestors.size() levels above the child, height(child) below it.
          if (static_cast<int>(ancestors.size()) + height(e.codes(i)) > kMaxNesting) {
            return Precondition(field, absl::StrCat("packing ", e.codes(i), " on ", parent_code,
                                                    " would nest aggregates more than ",
                                                    kMaxNesting, " deep"));
          }
          absl::StatusOr<CodeState*> child = held(i);
          if (!child.ok()) return child.status();
          parent = state_of(parent_code);
          (*child)->parent = parent_code;
          parent->children.insert((*child)->code);
        }
      } else {
        if (parent == nullptr) {
          return absl::NotFoundError(absl::StrCat("event.parent_code: ", parent_code, " is not in the ledger"));
        }
        if (parent->custodian != who || parent->status != CodeStatus::kActive) {
          return absl::PermissionDeniedError(absl::StrCat(
              "event.parent_code: ", parent_code, " is not active in the custody of ", who));
        }
        for (int i = 0; i < e.codes_size(); ++i) {
          const std::string field = absl::StrCat("codes[", i, "]");
          if (!parent->children.count(e.codes(i))) {
            return Precondition(field, absl::StrCat(e.codes(i), " is not packed on ", parent_code));
          }
          CodeState* child = state_of(e.codes(i));
          parent = state_of(parent_code);
          child->parent.clear();
          parent->children.erase(e.codes(i));
        }
      }
      break;
    }
    case v1::DESTROYING: {
      if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
      if (absl::Status s = require("manifest_id", !e.manifest_id().empty(),
                                   "the 危险废物转移联单 number is required");
          !s.ok()) {
        return s;
      }
      for (int i = 0; i < e.codes_size(); ++i) {
        absl::StatusOr<CodeState*> s = held(i);
        if (!s.ok()) return s.status();
        if ((*s)->aggregate) return Invalid(absl::StrCat("codes[", i, "]"), "is an aggregate: unpack it first");
        (*s)->status = CodeStatus::kDisposed;
        (*s)->remaining_milli = 0;
      }
      break;
    }
    case v1::LOSS_REPORT:
    case v1::FOUND: {
      if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
      if (absl::Status s = require("reason", !e.reason().empty(), "is required"); !s.ok()) return s;
      const bool found = e.step() == v1::FOUND;
      for (int i = 0; i < e.codes_size(); ++i) {
        const std::string field = absl::StrCat("codes[", i, "]");
        CodeState* s = state_of(e.codes(i));
        if (s == nullptr) {
          return absl::NotFoundError(absl::StrCat("event.", field, ": ", e.codes(i), " is not in the ledger"));
        }
        // Lost in transit is the shipper's report: custody had not changed.
        if (s->custodian != who) {
          return absl::PermissionDeniedError(absl::StrCat("event.", field, ": ", s->code,
                                                          " is in the custody of ", s->custodian,
                                                          ", not of ", who));
        }
        if (!s->parent.empty()) {
          return Precondition(field, absl::StrCat(s->code, " is packed on ", s->parent));
        }
        if (found ? s->status != CodeStatus::kLost
                  : (s->status != CodeStatus::kActive && s->status != CodeStatus::kInTransit)) {
          return Precondition(field, absl::StrCat(s->code, " is ", CodeStatusName(s->status)));
        }
        std::vector<CodeState*> moved = {s};
        descendants(s->code, &moved);
        for (CodeState* m : moved) {
          m->status = found ? CodeStatus::kActive : CodeStatus::kLost;
          m->consignee.clear();
        }
      }
      break;
    }
    case v1::VOIDING: {
      if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
      if (absl::Status s = require("reason", !e.reason().empty(), "is required"); !s.ok()) return s;
      for (int i = 0; i < e.codes_size(); ++i) {
        const std::string field = absl::StrCat("codes[", i, "]");
        std::optional<PackageCode> p = ParsePackageCode(e.codes(i));
        if (!p) return Invalid(field, absl::StrCat("'", e.codes(i), "' is not a package code"));
        if (p->uscc != who) {
          return absl::PermissionDeniedError(absl::StrCat("event.", field, ": only its issuer ",
                                                          p->uscc, " may void ", e.codes(i)));
        }
        if (!issuer_->FindIssuance(p->uscc, p->product, p->batch, p->serial)) {
          return absl::NotFoundError(absl::StrCat("event.", field, ": ", e.codes(i), " was never issued"));
        }
        CodeState* s = state_of(e.codes(i));
        if (s == nullptr) {
          CodeState fresh;
          fresh.code = e.codes(i);
          fresh.enterprise = p->uscc;
          fresh.product = p->product;
          fresh.custodian = who;
          s = &change.states.emplace(fresh.code, fresh).first->second;
        } else {
          absl::StatusOr<CodeState*> h = held(i);
          if (!h.ok()) return h.status();
        }
        s->status = CodeStatus::kVoided;
        s->remaining_milli = 0;
      }
      break;
    }
    case v1::ERROR_DECLARATION: {
      if (absl::Status s = require("reason", !e.reason().empty(), "is required"); !s.ok()) return s;
      auto original = events_.find(e.corrects_event_id());
      if (original == events_.end()) {
        return absl::NotFoundError(absl::StrCat("event.corrects_event_id: no event '",
                                                e.corrects_event_id(), "'"));
      }
      if (original->second.enterprise != who) {
        return absl::PermissionDeniedError(absl::StrCat(
            "event.corrects_event_id: event '", e.corrects_event_id(), "' was recorded by ",
            original->second.enterprise, "; only it may declare it wrong"));
      }
      // The declaration joins the chains of exactly the codes the wrong event
      // touched, so it shows in their histories; it changes no state.
      absl::StatusOr<std::string> bytes = log_->Entry(original->second.log_index);
      v1::LogEntry logged;
      v1::EventLinks links;
      if (!bytes.ok() || !logged.ParseFromString(*bytes) ||
          !links.ParseFromString(logged.assignment())) {
        return absl::DataLossError(absl::StrCat("event '", e.corrects_event_id(),
                                                "' cannot be read from the log"));
      }
      std::set<std::string> touched;
      for (const auto& link : links.links()) touched.insert(link.code());
      if (e.codes_size() > 0 && std::set<std::string>(e.codes().begin(), e.codes().end()) != touched) {
        return Invalid("codes", "must be empty or exactly the corrected event's codes");
      }
      // The wrong event is undone: each code it touched goes back to the
      // state before it. That needs it to be each code's latest event, and
      // not the one that created the code (void that instead).
      for (const std::string& code : touched) {
        CodeState* now = state_of(code);
        if (now == nullptr || now->last_event_hash != original->second.hash) {
          return Precondition("corrects_event_id",
                              absl::StrCat(code, " has had events since '", e.corrects_event_id(),
                                           "': declare those wrong first"));
        }
        const CodeState* before = BeforeLatest(code, batch);
        if (before == nullptr) {
          return Precondition("corrects_event_id",
                              absl::StrCat("'", e.corrects_event_id(), "' created ", code,
                                           ": void the code instead"));
        }
        const absl::Time last_time = now->last_event_time;
        const std::optional<crypto::Sha256Digest> last_hash = now->last_event_hash;
        *now = *before;
        now->last_event_time = last_time;  // the chain goes on from the wrong event
        now->last_event_hash = last_hash;
      }
      break;
    }
    default:
      return Invalid("step", "is not a known business step");
  }

  if (change.states.size() > static_cast<size_t>(kMaxTouchedCodes)) {
    return Invalid("codes", absl::StrCat("the event would touch ", change.states.size(),
                                         " codes (aggregates' contents included); at most ",
                                         kMaxTouchedCodes));
  }
  // Time order and chain links for every code the event touches.
  for (auto& [code, s] : change.states) {
    if (when < s.last_event_time) {
      return Precondition("event_time", absl::StrCat(absl::FormatTime(when, local), " is before ",
                                                     code, "'s previous event at ",
                                                     absl::FormatTime(s.last_event_time, local)));
    }
    v1::EventLinks::Link* link = change.links.add_links();
    link->set_code(code);
    if (s.last_event_hash) link->set_previous_event_hash(s.last_event_hash->ToBytes());
  }
  return change;
}

void Ledger::Commit(const PendingChange& change, const v1::Event& event, uint64_t log_index,
                    const crypto::Sha256Digest& event_hash) {
  const absl::Time when = EventTime(event);
  for (const auto& [code, state] : change.states) {
    if (auto old = codes_.find(code); old != codes_.end()) {
      before_latest_[code] = old->second;
    } else {
      before_latest_.erase(code);
    }
    CodeState& s = codes_[code];
    s = state;
    s.last_event_time = when;
    s.last_event_hash = event_hash;
    // History and past custodians are kept apart from the state, which
    // checks copy: they only grow.
    histories_[code].push_back(log_index);
    std::set<std::string>& custodians = custodians_[code];
    custodians.insert(s.custodian);
    if (!s.aggregate) custodians.insert(s.enterprise);
  }
}

bool Ledger::MayRead(const v1::Actor& reader, const std::string& code) const {
  if (reader.role() == v1::REGULATOR || reader.role() == v1::PLATFORM_ADMIN) return true;
  absl::MutexLock lock(&mu_);
  auto it = custodians_.find(code);
  return it != custodians_.end() && !reader.enterprise_uscc().empty() &&
         it->second.count(reader.enterprise_uscc()) > 0;
}

std::optional<CodeState> Ledger::Find(const std::string& code) const {
  absl::MutexLock lock(&mu_);
  auto it = codes_.find(code);
  if (it == codes_.end()) return std::nullopt;
  CodeState state = it->second;
  if (auto h = histories_.find(code); h != histories_.end()) state.history = h->second;
  if (auto c = custodians_.find(code); c != custodians_.end()) state.custodians = c->second;
  return state;
}

std::optional<Ledger::EventInfo> Ledger::FindEvent(const std::string& event_id) const {
  absl::MutexLock lock(&mu_);
  auto it = events_.find(event_id);
  if (it == events_.end()) return std::nullopt;
  return EventInfo{it->second.log_index, it->second.enterprise};
}

}  // namespace chemledger::ledger
