#include "services/waybill/waybills.h"

#include <algorithm>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "crypto/waybill_code.h"
#include "services/common/envelope.h"
#include "services/common/log_replay.h"
#include "services/registry/catalogue.h"
#include "services/registry/signers.h"
#include "services/waybill/validation.h"

namespace chemledger::waybill {
namespace {

absl::Status Precondition(absl::string_view field, absl::string_view rule) {
  return absl::FailedPreconditionError(absl::StrCat(field, ": ", rule));
}

// The waybill number a change is about.
std::string NumberOf(const v1::WaybillRequest& r) {
  switch (r.change_case()) {
    case v1::WaybillRequest::kSubmit: return r.submit().waybill_number();
    case v1::WaybillRequest::kAmend: return r.amend().waybill_number();
    case v1::WaybillRequest::kCancel: return r.cancel().waybill_number();
    case v1::WaybillRequest::kDepart: return r.depart().waybill_number();
    case v1::WaybillRequest::kArrive: return r.arrive().waybill_number();
    case v1::WaybillRequest::CHANGE_NOT_SET: break;
  }
  return "";
}

const v1::Waybill* NewContent(const v1::WaybillRequest& r) {
  if (r.has_submit()) return &r.submit();
  if (r.has_amend()) return &r.amend();
  return nullptr;
}

std::vector<std::string> CodesOf(const v1::Waybill& w) {
  std::vector<std::string> codes;
  for (const v1::GoodsLine& g : w.goods()) codes.insert(codes.end(), g.codes().begin(), g.codes().end());
  return codes;
}

absl::Status RequestIdTaken(const std::string& request_id) {
  return absl::AlreadyExistsError(absl::StrCat(
      "request.request_id: '", request_id, "' was already used for another request"));
}

// Each code of `w` is in the consignor's custody and can be shipped.
absl::Status CheckCustody(const ledger::Ledger& ledger, const v1::Waybill& w) {
  for (int l = 0; l < w.goods_size(); ++l) {
    for (int c = 0; c < w.goods(l).codes_size(); ++c) {
      const std::string field = absl::StrCat("waybill.goods[", l, "].codes[", c, "]");
      const std::string& code = w.goods(l).codes(c);
      std::optional<ledger::CodeState> state = ledger.Find(code);
      if (!state) return absl::NotFoundError(absl::StrCat(field, ": ", code, " is not in the ledger"));
      if (state->custodian != w.consignor().uscc()) {
        return Precondition(field, absl::StrCat(code, " is not in the custody of the consignor"));
      }
      if (state->status != ledger::CodeStatus::kActive || !state->parent.empty()) {
        return Precondition(field, absl::StrCat(code, " cannot be shipped: it is ",
                                                ledger::CodeStatusName(state->status),
                                                state->parent.empty() ? "" : " and packed on " + state->parent));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<WaybillBook>> WaybillBook::Open(storage::Log* log,
                                                               registry::Registry* registry,
                                                               label::LabelKeyring* label_keys) {
  std::unique_ptr<WaybillBook> book(new WaybillBook(log, registry, label_keys));
  absl::MutexLock lock(&book->index_mu_);
  absl::Status replayed = ReplayLog(
      *log, [&](uint64_t i, const v1::LogEntry& entry, const std::string&) -> absl::Status {
        book->index_mu_.AssertHeld();
        const std::string& type = entry.envelope().payload_type();
        if (type == kWaybillContext.payload_type()) {
          v1::WaybillRequest request;
          if (!request.ParseFromString(entry.envelope().payload())) {
            return absl::DataLossError(absl::StrCat("log entry ", i, " is not a waybill request"));
          }
          Pending change;
          book->Stage(request, i, &change);
          book->Merge(std::move(change));
          book->requests_[request.request_id()] = {i, crypto::Sha256(entry.envelope().payload())};
        } else if (type == ledger::kEventContext.payload_type()) {
          v1::Event event;
          if (event.ParseFromString(entry.envelope().payload())) book->NoteEvent(event);
        }
        return absl::OkStatus();
      });
  if (!replayed.ok()) return replayed;
  return book;
}

void WaybillBook::AttachLedger(const ledger::Ledger* ledger) {
  absl::MutexLock lock(&index_mu_);
  ledger_ = ledger;
}

absl::StatusOr<WaybillReceipt> WaybillBook::Apply(const v1::SignedEnvelope& envelope) {
  const v1::SignedEnvelope* one[] = {&envelope};
  return std::move(ApplyBatch(one)[0]);
}

std::vector<absl::StatusOr<WaybillReceipt>> WaybillBook::ApplyBatch(
    absl::Span<const v1::SignedEnvelope* const> envelopes) {
  const size_t n = envelopes.size();
  std::vector<absl::StatusOr<WaybillReceipt>> results(n, absl::UnknownError("not processed"));
  // 1. Outside the book's locks, so that the batches of several streams
  //    overlap: verify (on all cores), parse, and the field rules.
  std::vector<absl::StatusOr<envelope::ResolvedSignature>> signers =
      registry::VerifyActorSignatures(*registry_, envelopes, kWaybillContext,
                                      std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::optional<v1::WaybillRequest>> requests(n);
  const ledger::Ledger* ledger = nullptr;
  {
    absl::MutexLock lock(&index_mu_);
    ledger = ledger_;
  }
  for (size_t i = 0; i < n; ++i) {
    absl::Status refused = signers[i].status();
    v1::WaybillRequest request;
    if (!refused.ok()) {
    } else if (!request.ParseFromString(envelopes[i]->payload())) {
      refused = absl::InvalidArgumentError("envelope.payload: not a WaybillRequest");
    } else if (request.request_id().empty() || request.request_id().size() > 128) {
      refused = absl::InvalidArgumentError("request.request_id: 1 to 128 characters are required");
    } else if (request.change_case() == v1::WaybillRequest::CHANGE_NOT_SET) {
      refused = absl::InvalidArgumentError("request.change: no change given");
    } else if (const v1::Waybill* w = NewContent(request); w != nullptr) {
      refused = ValidateWaybill(*w);
    }
    if (refused.ok()) {
      requests[i] = std::move(request);
    } else {
      results[i] = refused;
    }
  }

  write_mu_.Lock();
  // 2. The codes of new content: in the consignor's custody and able to move
  //    (the ledger's own lock only; the ledger checks again when each
  //    ships). Not for a request id on record: a retry gets its original
  //    result, not a check against today's custody (only ApplyBatch, under
  //    write_mu_, adds ids). The refusal does not say who holds a code.
  if (ledger != nullptr) {
    for (size_t i = 0; i < n; ++i) {
      if (!requests[i]) continue;
      const v1::Waybill* w = NewContent(*requests[i]);
      if (w == nullptr) continue;
      {
        absl::MutexLock lock(&index_mu_);
        if (requests_.count(requests[i]->request_id()) > 0) continue;
      }
      if (absl::Status s = CheckCustody(*ledger, *w); !s.ok()) {
        results[i] = s;
        requests[i].reset();
      }
    }
  }

  // 3. Everything else in order, under the registry's lock, against the book
  //    as the batch's earlier requests leave it; then one write.
  struct Accepted {
    size_t i;
    std::string request_id;
  };
  std::vector<Accepted> accepted;
  std::map<std::string, size_t> batch_ids;         // request id -> position in `accepted`
  std::vector<std::pair<size_t, size_t>> repeats;  // (i, position in `accepted`)
  Pending pending;
  uint64_t expected_first = 0;  // the index the batch's first entry will get
  absl::StatusOr<uint64_t> first = registry_->AppendCheckedMany(
      [&](const registry::Registry::View& view) -> absl::StatusOr<std::vector<std::string>> {
        absl::MutexLock lock(&index_mu_);
        expected_first = log_->Size();
        std::vector<std::string> entries;
        size_t batch_bytes = 0;
        for (size_t i = 0; i < n; ++i) {
          if (!requests[i]) continue;
          const v1::WaybillRequest& request = *requests[i];
          const v1::SignedEnvelope& envelope = *envelopes[i];
          // The key may have been revoked since step 1.
          absl::StatusOr<v1::Actor> actor = view.ActiveSigner(signers[i]->key_id);
          if (!actor.ok()) {
            results[i] = actor.status();
            continue;
          }
          if (auto it = requests_.find(request.request_id()); it != requests_.end()) {
            if (it->second.second == crypto::Sha256(envelope.payload())) {
              results[i] = WaybillReceipt{it->second.first, true};
            } else {
              results[i] = RequestIdTaken(request.request_id());
            }
            continue;
          }
          if (auto it = batch_ids.find(request.request_id()); it != batch_ids.end()) {
            if (envelopes[accepted[it->second].i]->payload() == envelope.payload()) {
              repeats.emplace_back(i, it->second);
            } else {
              results[i] = RequestIdTaken(request.request_id());
            }
            continue;
          }
          if (absl::Status s = Check(view, *actor, request, pending); !s.ok()) {
            results[i] = s;
            continue;
          }
          std::string bytes = registry::MakeLogEntry(envelope).SerializeAsString();
          if (bytes.size() > kMaxWaybillEntryBytes) {
            results[i] = absl::InvalidArgumentError(absl::StrCat(
                "envelope.payload: the waybill's log entry would be ", bytes.size(),
                " bytes; at most ", kMaxWaybillEntryBytes));
            continue;
          }
          if (batch_bytes + bytes.size() > storage::Log::kMaxAppendBytes) {
            results[i] = absl::ResourceExhaustedError(
                "envelope: the batch is full; send this request again");
            continue;
          }
          batch_bytes += bytes.size();
          Stage(request, expected_first + accepted.size(), &pending);
          batch_ids[request.request_id()] = accepted.size();
          accepted.push_back(Accepted{i, request.request_id()});
          entries.push_back(std::move(bytes));
        }
        return entries;
      },
      [&](uint64_t first_index) {
        // Durable: the book changes before any later registry-checked write
        // (a ledger event that ships under these waybills).
        absl::MutexLock lock(&index_mu_);
        if (first_index != expected_first) {
          // Every append goes through the registry's lock, so this does not
          // happen; if it did, the staged indexes move with the entries.
          for (auto& [number, state] : pending.waybills) {
            state.log_index += first_index - expected_first;
            if (state.content_log_index >= expected_first) {
              state.content_log_index += first_index - expected_first;
            }
          }
        }
        Merge(std::move(pending));
        for (size_t j = 0; j < accepted.size(); ++j) {
          requests_[accepted[j].request_id] = {first_index + j,
                                               crypto::Sha256(envelopes[accepted[j].i]->payload())};
        }
      });
  for (size_t j = 0; j < accepted.size(); ++j) {
    if (first.ok()) {
      results[accepted[j].i] = WaybillReceipt{*first + j, false};
    } else {
      results[accepted[j].i] = first.status();
    }
  }
  for (const auto& [i, j] : repeats) {
    if (results[accepted[j].i].ok()) {
      results[i] = WaybillReceipt{results[accepted[j].i]->log_index, true};
    } else {
      results[i] = results[accepted[j].i].status();
    }
  }
  write_mu_.Unlock();

  // 4. The codes of submitted and amended waybills, for the carrier to
  //    print, outside the book's write lock.
  absl::StatusOr<const crypto::SigningKey*> key = absl::NotFoundError("not looked up");
  for (size_t i = 0; i < n; ++i) {
    if (!results[i].ok() || !requests[i] || NewContent(*requests[i]) == nullptr) continue;
    if (absl::IsNotFound(key.status())) key = CodeKey();
    if (!key.ok()) break;
    std::optional<WaybillState> state = Find(NumberOf(*requests[i]));
    if (!state) continue;
    absl::StatusOr<std::string> code = WaybillCode(*state, **key);
    if (code.ok()) results[i]->waybill_code = *std::move(code);
  }
  return results;
}

absl::StatusOr<const crypto::SigningKey*> WaybillBook::CodeKey() const {
  if (label_keys_ == nullptr) {
    return absl::FailedPreconditionError("this server holds no label keys to sign waybill codes");
  }
  absl::StatusOr<const crypto::SigningKey*> key = absl::UnknownError("not looked up");
  (void)registry_->WithView([&](const registry::Registry::View& view) {
    key = label::CurrentLabelKey(view, *label_keys_,
                                 absl::ToCivilDay(absl::Now(), absl::FixedTimeZone(8 * 3600)));
    return absl::OkStatus();
  });
  return key;
}

absl::StatusOr<std::string> WaybillBook::WaybillCode(const WaybillState& state,
                                                     const crypto::SigningKey& key) const {
  const absl::TimeZone china = absl::FixedTimeZone(8 * 3600);
  const v1::Waybill& w = state.waybill;
  crypto::WaybillCodeClaims c;
  c.resolver = registry_->resolver();
  c.waybill_number = w.waybill_number();
  c.revision = state.content_log_index;
  c.carrier_uscc = w.carrier_uscc();
  c.vehicle_plate = w.vehicle().plate();
  c.plate_colour = static_cast<uint8_t>(w.vehicle().plate_colour());
  c.trailer_plate = w.vehicle().trailer_plate();
  c.origin_region = w.origin().region_code();
  c.destination_region = w.destination().region_code();
  c.planned_departure =
      absl::ToCivilDay(absl::FromUnixSeconds(w.planned_departure().seconds()), china);
  c.planned_arrival = absl::ToCivilDay(absl::FromUnixSeconds(w.planned_arrival().seconds()), china);
  c.goods_lines = static_cast<uint32_t>(w.goods_size());
  for (int l = 0; l < w.goods_size() && c.goods.size() < crypto::kMaxWaybillCodeLines; ++l) {
    const v1::GoodsLine& g = w.goods(l);
    c.goods.push_back({g.un_number(), g.hazard_class(), g.packing_group(), g.quantity_milli(),
                       g.unit(), static_cast<uint32_t>(g.codes_size())});
  }
  return crypto::MakeWaybillCodeUrl(c, key);
}

const WaybillState* WaybillBook::FindWaybill(const Pending& pending,
                                             const std::string& number) const {
  if (auto it = pending.waybills.find(number); it != pending.waybills.end()) return &it->second;
  auto it = waybills_.find(number);
  return it == waybills_.end() ? nullptr : &it->second;
}

std::optional<std::string> WaybillBook::OpenWaybillOf(const Pending& pending,
                                                      const std::string& code) const {
  if (auto it = pending.open_by_code.find(code); it != pending.open_by_code.end()) return it->second;
  auto it = open_by_code_.find(code);
  if (it == open_by_code_.end()) return std::nullopt;
  return it->second;
}

absl::Status WaybillBook::Check(const registry::Registry::View& view, const v1::Actor& actor,
                                const v1::WaybillRequest& request, const Pending& pending) const {
  const std::string number = NumberOf(request);
  if (request.change_case() == v1::WaybillRequest::CHANGE_NOT_SET) {
    return absl::InvalidArgumentError("request.change: no change given");
  }
  const WaybillState* existing = FindWaybill(pending, number);
  // The carrier: named by the new content, or by the waybill on record.
  const v1::Waybill* content = NewContent(request);
  if (content == nullptr && existing == nullptr) {
    return absl::NotFoundError(absl::StrCat("waybill_number: no waybill '", number, "'"));
  }
  const std::string carrier = content ? content->carrier_uscc() : existing->waybill.carrier_uscc();
  if ((actor.role() != v1::ENTERPRISE_ADMIN && actor.role() != v1::ENTERPRISE_OPERATOR) ||
      actor.enterprise_uscc() != carrier) {
    return absl::PermissionDeniedError(absl::StrCat(
        "envelope.signatures[0].key_id: actor '", actor.name(), "' may not change waybills of ",
        carrier, ": only the carrier's actors may"));
  }

  switch (request.change_case()) {
    case v1::WaybillRequest::kSubmit:
    case v1::WaybillRequest::kAmend: {
      const v1::Waybill& w = *content;  // ValidateWaybill passed in ApplyBatch
      if (request.has_submit() && existing != nullptr) {
        return absl::AlreadyExistsError(
            absl::StrCat("waybill.waybill_number: '", number, "' is already taken"));
      }
      if (request.has_amend()) {
        if (existing == nullptr) {
          return absl::NotFoundError(absl::StrCat("waybill.waybill_number: no waybill '", number, "'"));
        }
        if (existing->status != v1::OPEN || !existing->shipped.empty()) {
          return Precondition("waybill.waybill_number",
                              absl::StrCat("'", number, "' can only be amended while open and nothing on it has shipped"));
        }
        if (existing->waybill.carrier_uscc() != w.carrier_uscc()) {
          return absl::InvalidArgumentError("waybill.carrier_uscc: an amendment cannot change the carrier");
        }
      }
      const registry::EnterpriseRecord* carrier_record = view.FindEnterprise(w.carrier_uscc());
      if (carrier_record == nullptr) {
        return absl::NotFoundError(absl::StrCat("waybill.carrier_uscc: ", w.carrier_uscc(), " is not registered"));
      }
      const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::FixedTimeZone(8 * 3600));
      if (!registry::HoldsLicence(carrier_record->enterprise, v1::ROAD_TRANSPORT, today)) {
        return absl::PermissionDeniedError(absl::StrCat(
            "waybill.carrier_uscc: ", w.carrier_uscc(),
            " holds no 道路运输经营许可证 (ROAD_TRANSPORT) valid today"));
      }
      for (auto [field, uscc] : {std::make_pair("waybill.consignor.uscc", &w.consignor().uscc()),
                                 std::make_pair("waybill.consignee.uscc", &w.consignee().uscc())}) {
        if (view.FindEnterprise(*uscc) == nullptr) {
          return absl::NotFoundError(absl::StrCat(field, ": ", *uscc, " is not registered"));
        }
      }
      bool toxic = false, precursor = false;
      std::set<std::string> seen;
      for (int l = 0; l < w.goods_size(); ++l) {
        const v1::GoodsLine& g = w.goods(l);
        for (int c = 0; c < g.codes_size(); ++c) {
          const std::string field = absl::StrCat("waybill.goods[", l, "].codes[", c, "]");
          const std::string& code = g.codes(c);
          if (!seen.insert(code).second) {
            return absl::InvalidArgumentError(absl::StrCat(field, ": ", code, " is listed twice"));
          }
          if (std::optional<std::string> open = OpenWaybillOf(pending, code); open && *open != number) {
            return Precondition(field, absl::StrCat(code, " is already on open waybill ", *open));
          }
          // A package code names its product: the line must match it.
          std::vector<std::string> parts = absl::StrSplit(code, '.');
          if (parts.size() == 4) {
            const v1::Product* product = view.FindProduct(parts[0], parts[1]);
            if (product == nullptr) {
              return absl::NotFoundError(absl::StrCat(field, ": ", code, " names no registered product"));
            }
            if (product->un_number() != g.un_number() || product->hazard_class() != g.hazard_class() ||
                product->packing_group() != g.packing_group()) {
              return absl::InvalidArgumentError(absl::StrCat(
                  "waybill.goods[", l, "]: UN ", g.un_number(), " class ", g.hazard_class(), " PG '",
                  g.packing_group(), "' does not match ", code, " (UN ", product->un_number(),
                  " class ", product->hazard_class(), " PG '", product->packing_group(), "')"));
            }
            for (const std::string& flag : product->control_flags()) {
              toxic |= flag == "剧毒";
              precursor |= flag == "易制毒";
            }
          }
        }
      }
      if (toxic && w.toxic_permit().empty()) {
        return absl::InvalidArgumentError(
            "waybill.toxic_permit: 剧毒 goods need their 剧毒化学品道路运输通行证 number");
      }
      if (precursor && w.precursor_permit().empty()) {
        return absl::InvalidArgumentError(
            "waybill.precursor_permit: 易制毒 goods need their transport permit or filing number");
      }
      return absl::OkStatus();
    }
    case v1::WaybillRequest::kCancel: {
      const v1::WaybillStatus status = existing->status;
      if (status != v1::OPEN && status != v1::DEPARTED) {
        return Precondition("cancel.waybill_number",
                            absl::StrCat("'", number, "' is ", v1::WaybillStatus_Name(status)));
      }
      if (!existing->received.empty()) {
        return Precondition("cancel.waybill_number",
                            absl::StrCat("'", number, "' has receipts; it closes when the rest is received"));
      }
      if (request.cancel().reason().empty()) {
        return absl::InvalidArgumentError("cancel.reason: is required");
      }
      return absl::OkStatus();
    }
    case v1::WaybillRequest::kDepart:
      if (existing->status != v1::OPEN) {
        return Precondition("depart.waybill_number",
                            absl::StrCat("'", number, "' is ", v1::WaybillStatus_Name(existing->status)));
      }
      return absl::OkStatus();
    case v1::WaybillRequest::kArrive:
      if (existing->status != v1::DEPARTED) {
        return Precondition("arrive.waybill_number",
                            absl::StrCat("'", number, "' is ", v1::WaybillStatus_Name(existing->status),
                                         ", not departed"));
      }
      return absl::OkStatus();
    case v1::WaybillRequest::CHANGE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("request.change: no change given");
}

void WaybillBook::Stage(const v1::WaybillRequest& request, uint64_t log_index,
                        Pending* pending) const {
  const std::string number = NumberOf(request);
  auto [it, added] = pending->waybills.try_emplace(number);
  WaybillState& state = it->second;
  if (added) {
    if (auto known = waybills_.find(number); known != waybills_.end()) state = known->second;
  }
  state.log_index = log_index;
  if (const v1::Waybill* w = NewContent(request)) {
    for (const std::string& code : CodesOf(state.waybill)) pending->open_by_code[code] = std::nullopt;  // amend
    state.waybill = *w;
    state.status = v1::OPEN;
    state.content_log_index = log_index;
    for (const std::string& code : CodesOf(*w)) pending->open_by_code[code] = number;
  } else if (request.has_cancel()) {
    state.status = v1::CANCELLED;
    for (const std::string& code : CodesOf(state.waybill)) pending->open_by_code[code] = std::nullopt;
  } else if (request.has_depart()) {
    state.status = v1::DEPARTED;
  } else if (request.has_arrive()) {
    state.status = v1::ARRIVED;
  }
}

void WaybillBook::Merge(Pending pending) {
  for (auto& [number, state] : pending.waybills) waybills_[number] = std::move(state);
  for (auto& [code, number] : pending.open_by_code) {
    if (number) {
      open_by_code_[code] = *std::move(number);
    } else {
      open_by_code_.erase(code);
    }
  }
}

void WaybillBook::NoteEvent(const v1::Event& event) {
  if (event.step() == v1::SHIPPING) {
    auto it = waybills_.find(event.waybill_id());
    if (it == waybills_.end()) return;
    for (const std::string& code : event.codes()) it->second.shipped.insert(code);
  } else if (event.step() == v1::RECEIVING) {
    for (const std::string& code : event.codes()) {
      auto open = open_by_code_.find(code);
      if (open == open_by_code_.end()) continue;
      WaybillState& state = waybills_.at(open->second);
      if (state.shipped.count(code) == 0) continue;  // received, but not under this waybill
      state.received.insert(code);
      open_by_code_.erase(open);
      const std::vector<std::string> all = CodesOf(state.waybill);
      if (state.received.size() == all.size()) state.status = v1::CLOSED;
    }
  }
}

void WaybillBook::OnLedgerEvent(const v1::Event& event) {
  absl::MutexLock lock(&index_mu_);
  NoteEvent(event);
}

std::optional<WaybillState> WaybillBook::Find(const std::string& waybill_number) const {
  absl::MutexLock lock(&index_mu_);
  auto it = waybills_.find(waybill_number);
  if (it == waybills_.end()) return std::nullopt;
  return it->second;
}

std::vector<WaybillState> WaybillBook::List(const std::string& after, size_t limit,
                                            const std::function<bool(const WaybillState&)>& keep,
                                            bool* more) const {
  absl::MutexLock lock(&index_mu_);
  std::vector<WaybillState> page;
  *more = false;
  for (auto it = waybills_.upper_bound(after); it != waybills_.end(); ++it) {
    if (!keep(it->second)) continue;
    if (page.size() == limit) {
      *more = true;
      break;
    }
    page.push_back(it->second);
  }
  return page;
}

ledger::WaybillCheck WaybillBook::ShippingCheck() {
  return [this](const std::string& waybill_id, const std::string& shipper,
                const std::string& consignee, const std::string& code) -> absl::Status {
    absl::MutexLock lock(&index_mu_);
    auto it = waybills_.find(waybill_id);
    if (it == waybills_.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("event.waybill_id: no waybill '", waybill_id, "'"));
    }
    const WaybillState& w = it->second;
    if (w.status != v1::OPEN && w.status != v1::DEPARTED) {
      return absl::FailedPreconditionError(absl::StrCat(
          "event.waybill_id: waybill '", waybill_id, "' is ", v1::WaybillStatus_Name(w.status)));
    }
    if (w.waybill.consignor().uscc() != shipper) {
      return absl::PermissionDeniedError(absl::StrCat(
          "event.waybill_id: waybill '", waybill_id, "' is for consignor ",
          w.waybill.consignor().uscc(), ", not ", shipper));
    }
    if (w.waybill.consignee().uscc() != consignee) {
      return absl::FailedPreconditionError(absl::StrCat(
          "event.consignee_uscc: waybill '", waybill_id, "' goes to ",
          w.waybill.consignee().uscc(), ", not ", consignee));
    }
    auto open = open_by_code_.find(code);
    if (open == open_by_code_.end() || open->second != waybill_id) {
      return absl::FailedPreconditionError(
          absl::StrCat("event.waybill_id: waybill '", waybill_id, "' does not list ", code));
    }
    return absl::OkStatus();
  };
}

}  // namespace chemledger::waybill
