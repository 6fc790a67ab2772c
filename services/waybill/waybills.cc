#include "services/waybill/waybills.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/common/envelope.h"
#include "services/common/log_replay.h"
#include "services/registry/catalogue.h"
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

}  // namespace

absl::StatusOr<std::unique_ptr<WaybillBook>> WaybillBook::Open(storage::Log* log,
                                                               registry::Registry* registry) {
  std::unique_ptr<WaybillBook> book(new WaybillBook(log, registry));
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
          book->Commit(request, i);
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
  absl::MutexLock write(&write_mu_);
  // 1. Verify, then parse.
  absl::StatusOr<v1::Actor> signer = absl::UnknownError("not checked");
  (void)registry_->WithView([&](const registry::Registry::View& view) {
    signer = view.VerifySigner(envelope, kWaybillContext);
    return absl::OkStatus();
  });
  if (!signer.ok()) return signer.status();
  v1::WaybillRequest request;
  if (!request.ParseFromString(envelope.payload())) {
    return absl::InvalidArgumentError("envelope.payload: not a WaybillRequest");
  }
  if (request.request_id().empty() || request.request_id().size() > 128) {
    return absl::InvalidArgumentError("request.request_id: 1 to 128 characters are required");
  }
  const ledger::Ledger* ledger = nullptr;
  {
    absl::MutexLock lock(&index_mu_);
    if (auto it = requests_.find(request.request_id()); it != requests_.end()) {
      if (it->second.second == envelope.payload()) return WaybillReceipt{it->second.first, true};
      return absl::AlreadyExistsError(absl::StrCat(
          "request.request_id: '", request.request_id(), "' was already used for another request"));
    }
    ledger = ledger_;
  }
  // 2. The codes: in the consignor's custody and able to move (the ledger's
  //    own lock only; checked again when each is shipped).
  if (const v1::Waybill* w = NewContent(request); w != nullptr && ledger != nullptr) {
    for (int l = 0; l < w->goods_size(); ++l) {
      for (int c = 0; c < w->goods(l).codes_size(); ++c) {
        const std::string field = absl::StrCat("waybill.goods[", l, "].codes[", c, "]");
        const std::string& code = w->goods(l).codes(c);
        std::optional<ledger::CodeState> state = ledger->Find(code);
        if (!state) return absl::NotFoundError(absl::StrCat(field, ": ", code, " is not in the ledger"));
        if (state->custodian != w->consignor().uscc()) {
          return Precondition(field, absl::StrCat(code, " is in the custody of ", state->custodian,
                                                  ", not of the consignor"));
        }
        if (state->status != ledger::CodeStatus::kActive || !state->parent.empty()) {
          return Precondition(field, absl::StrCat(code, " cannot be shipped: it is ",
                                                  ledger::CodeStatusName(state->status),
                                                  state->parent.empty() ? "" : " and packed on " + state->parent));
        }
      }
    }
  }
  // 3. Everything else under the registry's lock, and the append.
  v1::LogEntry entry = registry::MakeLogEntry(envelope);
  absl::StatusOr<uint64_t> index = registry_->AppendChecked(
      [&](const registry::Registry::View& view) -> absl::StatusOr<std::string> {
        absl::StatusOr<v1::Actor> actor = view.ActiveSigner(*crypto::KeyId::Parse(
            envelope.signatures(0).key_id()));
        if (!actor.ok()) return actor.status();
        absl::MutexLock lock(&index_mu_);
        if (absl::Status s = Check(view, *actor, request); !s.ok()) return s;
        return entry.SerializeAsString();
      });
  if (!index.ok()) return index.status();
  absl::MutexLock lock(&index_mu_);
  Commit(request, *index);
  requests_[request.request_id()] = {*index, envelope.payload()};
  return WaybillReceipt{*index, false};
}

absl::Status WaybillBook::Check(const registry::Registry::View& view, const v1::Actor& actor,
                                const v1::WaybillRequest& request) const {
  const std::string number = NumberOf(request);
  if (request.change_case() == v1::WaybillRequest::CHANGE_NOT_SET) {
    return absl::InvalidArgumentError("request.change: no change given");
  }
  auto existing = waybills_.find(number);
  // The carrier: named by the new content, or by the waybill on record.
  const v1::Waybill* content = NewContent(request);
  if (content == nullptr && existing == waybills_.end()) {
    return absl::NotFoundError(absl::StrCat("waybill_number: no waybill '", number, "'"));
  }
  const std::string carrier = content ? content->carrier_uscc() : existing->second.waybill.carrier_uscc();
  if ((actor.role() != v1::ENTERPRISE_ADMIN && actor.role() != v1::ENTERPRISE_OPERATOR) ||
      actor.enterprise_uscc() != carrier) {
    return absl::PermissionDeniedError(absl::StrCat(
        "envelope.signatures[0].key_id: actor '", actor.name(), "' may not change waybills of ",
        carrier, ": only the carrier's actors may"));
  }

  switch (request.change_case()) {
    case v1::WaybillRequest::kSubmit:
    case v1::WaybillRequest::kAmend: {
      const v1::Waybill& w = *content;
      if (absl::Status s = ValidateWaybill(w); !s.ok()) return s;
      if (request.has_submit() && existing != waybills_.end()) {
        return absl::AlreadyExistsError(
            absl::StrCat("waybill.waybill_number: '", number, "' is already taken"));
      }
      if (request.has_amend()) {
        if (existing == waybills_.end()) {
          return absl::NotFoundError(absl::StrCat("waybill.waybill_number: no waybill '", number, "'"));
        }
        if (existing->second.status != v1::OPEN || !existing->second.shipped.empty()) {
          return Precondition("waybill.waybill_number",
                              absl::StrCat("'", number, "' can only be amended while open and nothing on it has shipped"));
        }
        if (existing->second.waybill.carrier_uscc() != w.carrier_uscc()) {
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
          if (auto open = open_by_code_.find(code);
              open != open_by_code_.end() && open->second != number) {
            return Precondition(field, absl::StrCat(code, " is already on open waybill ", open->second));
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
      const v1::WaybillStatus status = existing->second.status;
      if (status != v1::OPEN && status != v1::DEPARTED) {
        return Precondition("cancel.waybill_number",
                            absl::StrCat("'", number, "' is ", v1::WaybillStatus_Name(status)));
      }
      if (!existing->second.received.empty()) {
        return Precondition("cancel.waybill_number",
                            absl::StrCat("'", number, "' has receipts; it closes when the rest is received"));
      }
      if (request.cancel().reason().empty()) {
        return absl::InvalidArgumentError("cancel.reason: is required");
      }
      return absl::OkStatus();
    }
    case v1::WaybillRequest::kDepart:
      if (existing->second.status != v1::OPEN) {
        return Precondition("depart.waybill_number",
                            absl::StrCat("'", number, "' is ", v1::WaybillStatus_Name(existing->second.status)));
      }
      return absl::OkStatus();
    case v1::WaybillRequest::kArrive:
      if (existing->second.status != v1::DEPARTED) {
        return Precondition("arrive.waybill_number",
                            absl::StrCat("'", number, "' is ", v1::WaybillStatus_Name(existing->second.status),
                                         ", not departed"));
      }
      return absl::OkStatus();
    case v1::WaybillRequest::CHANGE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("request.change: no change given");
}

void WaybillBook::Commit(const v1::WaybillRequest& request, uint64_t log_index) {
  const std::string number = NumberOf(request);
  if (const v1::Waybill* w = NewContent(request)) {
    WaybillState& state = waybills_[number];
    for (const std::string& code : CodesOf(state.waybill)) open_by_code_.erase(code);  // amend
    state.waybill = *w;
    state.status = v1::OPEN;
    state.log_index = log_index;
    for (const std::string& code : CodesOf(*w)) open_by_code_[code] = number;
    return;
  }
  WaybillState& state = waybills_.at(number);
  state.log_index = log_index;
  if (request.has_cancel()) {
    state.status = v1::CANCELLED;
    for (const std::string& code : CodesOf(state.waybill)) open_by_code_.erase(code);
  } else if (request.has_depart()) {
    state.status = v1::DEPARTED;
  } else if (request.has_arrive()) {
    state.status = v1::ARRIVED;
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
