#include "services/ledger/lifecycle_rules.h"

#include <algorithm>
#include <initializer_list>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chemledger/state/state.pb.h"
#include "chemledger/v1/ledger.pb.h"
#include "crypto/label.h"
#include "services/common/identifiers.h"
#include "services/common/package_code.h"
#include "services/common/refusal.h"
#include "services/common/status_macros.h"
#include "services/common/text_length.h"
#include "services/label/issuance_state.h"
#include "services/ledger/code_state.h"
#include "services/ledger/event_index.h"
#include "services/ledger/observation_labels.h"
#include "services/ledger/quantity_flows.h"
#include "services/ledger/site_load.h"
#include "services/registry/oversight.h"
#include "services/registry/registry_rules.h"
#include "services/registry/registry_state.h"
#include "services/waybill/validation.h"
#include "services/waybill/waybill_state.h"

namespace chemledger::ledger {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat("event.", field, ": ", rule));
}

absl::Status Precondition(absl::string_view field, absl::string_view rule) {
  return absl::FailedPreconditionError(absl::StrCat("event.", field, ": ", rule));
}

absl::Time EventTime(const v1::Event& e) {
  return absl::FromUnixSeconds(e.event_time().seconds()) + absl::Nanoseconds(e.event_time().nanos());
}

std::string Field(int i) { return absl::StrCat("codes[", i, "]"); }

// Refused once `c` has ended (consumed, disposed of, voided).
absl::Status NotEnded(const std::string& field, const CodeState& c) {
  if (!IsTerminal(c.status)) return absl::OkStatus();
  return WithRefusalKind(Precondition(field, absl::StrCat(c.code, " is ", CodeStatusName(c.status),
                                                          ": nothing happens to it any more")),
                         "AFTER_TERMINAL_STATE");
}

// Whether `carrier` carries `c` (in transit) now: the open waybill that
// lists it, or the pallet it is packed on, is `carrier`'s.
absl::StatusOr<bool> CarriedBy(const storage::StateReader& state, const CodeState& c,
                               const std::string& carrier);

// From rules epoch 13: the most codes of one observation whose scan a label
// must prove (a signature check each, in the sequencer).
constexpr int kMaxLabelProofs = api::kMaxLabelProofsPerObservation;

// What one event does to the codes it touches: the shared context of the
// step handlers. Working copies of the touched codes' states live in
// `touched` (stable addresses); `before` keeps each touched code's state
// before the event (nullopt: the event creates it).
class Step {
 public:
  Step(const journal::EntryContext& entry, const storage::StateReader& state, const v1::Event& e)
      : entry(entry), state(state), e(e), who(e.location().enterprise_uscc()) {}

  const journal::EntryContext& entry;
  const storage::StateReader& state;
  const v1::Event& e;
  const std::string& who;
  bool by_regulator = false;  // signed by a regulator (holds and recalls only)
  bool regulator_reads_everything = false;  // ... whose oversight has no bounds
  absl::Time when;
  std::optional<registry::EnterpriseRecord> enterprise;  // the event's enterprise
  std::optional<registry::EnterpriseRecord> consignee;   // a shipment's

  std::map<std::string, CodeState> touched;
  std::map<std::string, std::optional<CodeState>> before;
  // A shipment: the ref of the waybill its codes are on (CheckWaybill).
  std::string shipment_waybill;
  // A receipt: the ref of the open waybill its (first) code came on.
  std::string receipt_waybill;
  // A shipment: the 危险废物转移联单 number and waste code its waybill
  // names, if any.
  std::string shipment_manifest;
  std::string shipment_waste_code;
  // An observation's scans its history cannot explain: code and record.
  std::vector<std::pair<std::string, state::ScanSignalRecord>> scan_signals;
  // An observation's latest sighting of each code (rules epoch 10).
  std::vector<std::pair<std::string, state::LastSeenRecord>> last_seen;
  // An observation's codes that its label must prove the scan of (rules
  // epoch 13: the observer neither holds, has held, is sent nor carries
  // them), by index; decided in CheckEvent.
  std::vector<bool> needs_label;

  // The working copy of `code`'s state; null when the ledger does not know it.
  absl::StatusOr<CodeState*> StateOf(const std::string& code) {
    if (auto it = touched.find(code); it != touched.end()) return &it->second;
    absl::StatusOr<std::optional<CodeState>> known = FindCode(state, code);
    if (!known.ok()) return known.status();
    if (!*known) return nullptr;
    before.emplace(code, **known);
    return &touched.emplace(code, **std::move(known)).first->second;
  }

  // The working copy of named code `i`; NotFound when the ledger does not
  // know it.
  absl::StatusOr<CodeState*> InLedger(int i) {
    CL_ASSIGN_OR_RETURN(CodeState * c, StateOf(e.codes(i)));
    if (c == nullptr) {
      return absl::NotFoundError(absl::StrCat("event.", Field(i), ": ", e.codes(i),
                                              " is not in the ledger"));
    }
    return c;
  }

  // Named code `i`, known and in the custody of the event's enterprise.
  absl::StatusOr<CodeState*> InCustody(int i) {
    CL_ASSIGN_OR_RETURN(CodeState * c, InLedger(i));
    if (c->custodian != who) {
      return absl::PermissionDeniedError(absl::StrCat("event.", Field(i), ": ", c->code,
                                                      " is in the custody of ", c->custodian,
                                                      ", not of ", who));
    }
    return c;
  }

  // Whether `code` is known to the ledger or made by this event.
  absl::StatusOr<bool> Known(const std::string& code) {
    if (touched.count(code)) return true;
    absl::StatusOr<std::optional<std::string>> bytes = state.Get(internal::CodeKey(code));
    if (!bytes.ok()) return bytes.status();
    return bytes->has_value();
  }

  // Whether the event's enterprise may learn anything about `code` from a
  // refusal: a code of its own (issued to it, or its aggregate), a code it
  // holds or has held (MayRead), or one on its way to it. Read from the state
  // before this event.
  // A malformed code names nothing to know about.
  absl::StatusOr<bool> MayKnow(const std::string& code) {
    if (!ids::PackageCode::Parse(code) && !ids::IsAggregateCode(code)) return true;
    if (ids::EnterpriseOfCode(code) == who) return true;
    CL_ASSIGN_OR_RETURN(bool held, HasHeld(state, code, who));
    if (held) return true;
    CL_ASSIGN_OR_RETURN(std::optional<CodeState> c, FindCode(state, code));
    if (!c.has_value() || c->status != CodeStatus::kInTransit) return false;
    if (c->consignee == who) return true;
    // From rules epoch 13 the carrier of the load (the open waybill that
    // lists it or its pallet is its) knows what it carries.
    if (entry.rules_epoch < 13) return false;
    return CarriedBy(state, *c, who);
  }

  // How a refusal names the aggregate `code` is packed on: by its code if
  // the enterprise may know it, else as "an aggregate" (another enterprise's
  // pallet code tells where its goods are).
  std::string ParentOf(const CodeState& code) {
    absl::StatusOr<bool> may_know = MayKnow(code.parent);
    return may_know.ok() && *may_know ? code.parent : "an aggregate";
  }

  // A code this event creates.
  CodeState* Create(CodeState s) {
    before[s.code] = std::nullopt;
    const std::string code = s.code;
    return &touched.insert_or_assign(code, std::move(s)).first->second;
  }

  // Named code `i`, which the enterprise holds and which may move: known,
  // not terminal, not packed on an aggregate, in its custody.
  absl::StatusOr<CodeState*> Held(int i, bool allow_lost = false) {
    const std::string field = Field(i);
    CL_ASSIGN_OR_RETURN(CodeState * s, StateOf(e.codes(i)));
    if (s == nullptr) {
      return absl::NotFoundError(absl::StrCat("event.", field, ": ", e.codes(i),
                                              " is not in the ledger (commission it first)"));
    }
    CL_RETURN_IF_ERROR(NotEnded(field, *s));
    if (!s->parent.empty()) {
      return Precondition(field, absl::StrCat(s->code, " is packed on ", ParentOf(*s),
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
  }

  // Everything packed (directly or not) on `code`, walked without recursion
  // (nesting is bounded by kMaxNesting, the event's size by kMaxTouchedCodes).
  absl::Status Descendants(const std::string& code, std::vector<CodeState*>* out) {
    std::vector<std::string> pending = {code};
    while (!pending.empty()) {
      CL_ASSIGN_OR_RETURN(CodeState * s, StateOf(pending.back()));
      pending.pop_back();
      if (s == nullptr) continue;
      const std::set<std::string> children = s->children;
      for (const std::string& child : children) {
        CL_ASSIGN_OR_RETURN(CodeState * c, StateOf(child));
        if (c != nullptr) out->push_back(c);
        pending.push_back(child);
      }
      if (touched.size() > static_cast<size_t>(kMaxTouchedCodes)) break;
    }
    return absl::OkStatus();
  }

  // How many levels are packed under `code` (0 for a package). Reads only:
  // what is packed under a child does not join the event.
  absl::StatusOr<int> Height(const std::string& code) {
    int levels = 0;
    std::vector<std::pair<std::string, int>> pending = {{code, 0}};
    while (!pending.empty()) {
      auto [c, depth] = pending.back();
      pending.pop_back();
      levels = std::max(levels, depth);
      if (depth > kMaxNesting) break;
      std::set<std::string> children;
      if (auto it = touched.find(c); it != touched.end()) {
        children = it->second.children;
      } else {
        CL_ASSIGN_OR_RETURN(std::optional<CodeState> known, FindCode(state, c));
        if (!known) continue;
        children = std::move(known->children);
      }
      for (const std::string& child : children) pending.emplace_back(child, depth + 1);
    }
    return levels;
  }
};

absl::Status Require(absl::string_view field, bool ok, absl::string_view rule) {
  return ok ? absl::OkStatus() : Invalid(field, rule);
}

// Refused while any of `codes` is on hold (HOLDING until RELEASING).
absl::Status NotHeld(const std::string& field, const std::vector<CodeState*>& codes) {
  for (const CodeState* c : codes) {
    if (c->on_hold) {
      return Precondition(field, absl::StrCat(c->code, " is on hold (封存): released first"));
    }
  }
  return absl::OkStatus();
}

// From rules epoch 9, refused while a waybill holds `code` for its trip (it
// lists it, OPEN, or DEPARTED and the code may still ship under it: until
// the arrival, which releases what never shipped): what the waybill states
// (products, quantities, the codes themselves) must stay what ships, so
// using, splitting, packing, voiding or disposing of a listed package waits
// for the waybill to be amended or cancelled, or to arrive.
absl::Status NotHeldForAWaybill(Step& s, const std::string& field, const std::string& code) {
  if (s.entry.rules_epoch < 9) return absl::OkStatus();
  CL_ASSIGN_OR_RETURN(std::optional<waybill::WaybillHolder> holder,
                      waybill::WaybillHolderOf(s.state, code));
  if (!holder) return absl::OkStatus();
  return Precondition(
      field,
      absl::StrCat(code, " is on open waybill ", waybill::NumberOfRef(holder->ref), " of ",
                   waybill::CarrierOfRef(holder->ref), " (", v1::WaybillStatus_Name(holder->status),
                   "): what it states must stay what ships, so the waybill is amended or "
                   "cancelled first, or arrives without it"));
}

// From rules epoch 10, NotHeldForAWaybill for `code` and every aggregate it
// is packed on, to the top: a waybill that lists a pallet states all that
// is on it, at any depth, so nothing below it is packed, unpacked or
// corrected either. (Before epoch 10: `code` alone, as NotHeldForAWaybill.)
absl::Status NotHeldForAWaybillWithin(Step& s, const std::string& field, const std::string& code) {
  CL_RETURN_IF_ERROR(NotHeldForAWaybill(s, field, code));
  if (s.entry.rules_epoch < 10) return absl::OkStatus();
  CL_ASSIGN_OR_RETURN(CodeState * c, s.StateOf(code));
  for (int depth = 0; c != nullptr && !c->parent.empty() && depth < kMaxNesting; ++depth) {
    const std::string parent = c->parent;
    CL_RETURN_IF_ERROR(NotHeldForAWaybill(s, field, parent));
    CL_ASSIGN_OR_RETURN(c, s.StateOf(parent));
  }
  return absl::OkStatus();
}

// From rules epoch 10, refused while `code` or an aggregate it is packed on
// is on hold (封存): a sealed pallet is not opened or added to, and a held
// package is not packed anywhere.
absl::Status NotSealed(Step& s, const std::string& field, const std::string& code) {
  if (s.entry.rules_epoch < 10) return absl::OkStatus();
  CL_ASSIGN_OR_RETURN(CodeState * c, s.StateOf(code));
  for (int depth = 0; c != nullptr && depth <= kMaxNesting; ++depth) {
    if (c->on_hold) {
      return Precondition(field, c->code == code
                                     ? absl::StrCat(code, " is on hold (封存): released first")
                                     : absl::StrCat(code, " is packed on ", c->code,
                                                    ", which is on hold (封存): released first"));
    }
    if (c->parent.empty()) break;
    CL_ASSIGN_OR_RETURN(c, s.StateOf(c->parent));
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------ step handlers

absl::Status Commissioning(Step& s) {
  const v1::Event& e = s.e;
  if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
  for (int i = 0; i < e.codes_size(); ++i) {
    const std::string field = Field(i);
    std::optional<ids::PackageCode> p = ids::PackageCode::Parse(e.codes(i));
    if (!p) {
      return Invalid(field, absl::StrCat("'", e.codes(i),
                                         "' is not a package code <USCC>.<PRODUCT>.<BATCH>.<SERIAL>"));
    }
    if (p->uscc != s.who) {
      return absl::PermissionDeniedError(absl::StrCat(
          "event.", field, ": ", e.codes(i), " was issued to ", p->uscc, ", not to ", s.who));
    }
    CL_ASSIGN_OR_RETURN(bool known, s.Known(e.codes(i)));
    if (known) return Precondition(field, absl::StrCat(e.codes(i), " was already commissioned"));
    CL_ASSIGN_OR_RETURN(std::optional<label::IssuanceRecord> issued,
                        label::FindIssuance(s.state, p->uscc, p->product, p->batch, p->serial));
    if (!issued) {
      return absl::NotFoundError(absl::StrCat("event.", field, ": ", e.codes(i),
                                              " was never issued (LabelService)"));
    }
    CodeState c;
    c.code = e.codes(i);
    c.enterprise = p->uscc;
    c.product = p->product;
    c.unit = issued->claims.unit;
    c.remaining_milli = issued->claims.quantity_milli;
    c.custodian = s.who;
    s.Create(std::move(c));
  }
  return absl::OkStatus();
}

// Whether a shipment of `code` is covered by an open e-waybill of this
// consignor and consignee that lists it.
absl::Status CheckWaybill(Step& s, const std::string& code) {
  const v1::Event& e = s.e;
  // The waybill a code ships under is the open one that lists it (numbers
  // are unique per carrier, so the number alone does not name it): its
  // number must be the event's, its consignor the shipper, and every code of
  // the event must be on the same one.
  CL_ASSIGN_OR_RETURN(std::optional<waybill::WaybillState> w,
                      waybill::OpenShipmentWaybill(s.state, e.waybill_id(), s.who, code));
  if (!w) {
    // Not listed on an open waybill of that number: say why, as far as the
    // shipper's own waybills of that number tell (another's are none of its
    // business).
    CL_ASSIGN_OR_RETURN(std::vector<waybill::WaybillState> numbered,
                        waybill::WaybillsNumbered(s.state, e.waybill_id()));
    for (waybill::WaybillState& candidate : numbered) {
      if (candidate.waybill.consignor().uscc() != s.who) continue;
      if (candidate.status != v1::OPEN && candidate.status != v1::DEPARTED) {
        return absl::FailedPreconditionError(
            absl::StrCat("event.waybill_id: waybill '", e.waybill_id(), "' is ",
                         v1::WaybillStatus_Name(candidate.status)));
      }
      return absl::FailedPreconditionError(
          absl::StrCat("event.waybill_id: waybill '", e.waybill_id(), "' does not list ", code));
    }
    return absl::NotFoundError(absl::StrCat("event.waybill_id: ", s.who,
                                            " is the consignor of no waybill '", e.waybill_id(),
                                            "'"));
  }
  const std::string ref = waybill::WaybillRef(w->waybill.carrier_uscc(), e.waybill_id());
  const bool first = s.shipment_waybill.empty();  // the event's first code
  if (!s.shipment_waybill.empty() && s.shipment_waybill != ref) {
    return absl::FailedPreconditionError(absl::StrCat(
        "event.codes: the codes are on different carriers' waybills numbered '", e.waybill_id(),
        "': ship each waybill's codes in an event of their own"));
  }
  s.shipment_waybill = ref;
  s.shipment_manifest = w->waybill.waste_manifest();
  s.shipment_waste_code = w->waybill.waste_code();
  if (w->status != v1::OPEN && w->status != v1::DEPARTED) {
    return absl::FailedPreconditionError(absl::StrCat("event.waybill_id: waybill '", e.waybill_id(),
                                                      "' is ", v1::WaybillStatus_Name(w->status)));
  }
  if (w->waybill.consignee().uscc() != e.consignee_uscc()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "event.consignee_uscc: waybill '", e.waybill_id(), "' goes to ",
        w->waybill.consignee().uscc(), ", not ", e.consignee_uscc()));
  }
  if (s.entry.rules_epoch >= 9 && first) {
    // A carrier blacklisted since the waybill opened takes no goods.
    CL_ASSIGN_OR_RETURN(std::optional<registry::EnterpriseRecord> carrier,
                        registry::FindEnterprise(s.state, w->waybill.carrier_uscc()));
    if (carrier && carrier->blacklist_reason) {
      return absl::PermissionDeniedError(absl::StrCat(
          "event.waybill_id: waybill '", e.waybill_id(), "' is carried by ",
          w->waybill.carrier_uscc(), ", which is blacklisted: no goods are handed to it"));
    }
    // From epoch 19 its licence is checked again at loading, on the day the
    // shipment is recorded: a waybill may open months before it leaves, and
    // a licence may expire or be revoked (RegistryRequest.change_licence)
    // meanwhile.
    if (s.entry.rules_epoch >= 19 && carrier &&
        !registry::HoldsLicence(carrier->enterprise, v1::ROAD_TRANSPORT,
                                registry::ChinaDay(s.entry.record_time))) {
      return absl::PermissionDeniedError(absl::StrCat(
          "event.waybill_id: waybill '", e.waybill_id(), "' is carried by ",
          w->waybill.carrier_uscc(),
          ", which holds no 道路运输经营许可证 (ROAD_TRANSPORT) valid today: no goods are "
          "handed to it"));
    }
  }
  return absl::OkStatus();
}

absl::Status StoringOrShipping(Step& s) {
  const v1::Event& e = s.e;
  if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
  const bool shipping = e.step() == v1::SHIPPING;
  if (shipping) {
    CL_RETURN_IF_ERROR(ids::ValidateUscc("event.consignee_uscc", e.consignee_uscc()));
    if (e.consignee_uscc() == s.who) return Invalid("consignee_uscc", "is the shipper itself");
    CL_ASSIGN_OR_RETURN(s.consignee, registry::FindEnterprise(s.state, e.consignee_uscc()));
    const std::optional<registry::EnterpriseRecord>& consignee = s.consignee;
    if (!consignee) {
      return absl::NotFoundError(absl::StrCat("event.consignee_uscc: enterprise ",
                                              e.consignee_uscc(), " is not registered"));
    }
    if (s.entry.rules_epoch >= 2) {
      CL_RETURN_IF_ERROR(registry::CheckMayReceiveGoods(*consignee, "event.consignee_uscc"));
    }
    CL_RETURN_IF_ERROR(Require("waybill_id", !e.waybill_id().empty(), "is required to ship"));
  }
  for (int i = 0; i < e.codes_size(); ++i) {
    CL_ASSIGN_OR_RETURN(CodeState * c, s.Held(i));
    // The waybill lists what is shipped: packages, or the pallets they are
    // packed on.
    if (shipping) CL_RETURN_IF_ERROR(CheckWaybill(s, c->code));
    std::vector<CodeState*> moved = {c};
    CL_RETURN_IF_ERROR(s.Descendants(c->code, &moved));
    if (shipping) {
      CL_RETURN_IF_ERROR(NotHeld(Field(i), moved));
      // A recalled package goes back to its supplier, nowhere else.
      for (const CodeState* m : moved) {
        if (m->recalled && ids::EnterpriseOfCode(m->code) != e.consignee_uscc()) {
          return Precondition(Field(i), absl::StrCat(m->code, " is recalled: it ships back to ",
                                                     ids::EnterpriseOfCode(m->code), " only"));
        }
      }
    }
    if (shipping) {
      // Declared waste goes to a licensed disposer, under a transfer
      // manifest, and nowhere else (谁产生、谁处置).
      for (const CodeState* m : moved) {
        // (Declared waste exists from rules epoch 5 only.)
        if (!m->waste || s.entry.rules_epoch < 5) continue;
        const absl::CivilDay day = registry::ChinaDay(s.when);
        if (!registry::HasRole(s.consignee->enterprise, v1::DISPOSER) ||
            !registry::HoldsLicence(s.consignee->enterprise, v1::HAZARDOUS_WASTE, day)) {
          return Precondition(Field(i), absl::StrCat(
                                            m->code, " is declared waste: it ships only to a "
                                            "disposer holding a 危险废物经营许可证 valid on ",
                                            absl::FormatCivilTime(day), ", which ",
                                            e.consignee_uscc(), " is not"));
        }
        if (!s.shipment_manifest.empty() && s.shipment_waste_code != m->waste_code) {
          return Precondition("waybill_id", absl::StrCat(
                                                "waybill '", e.waybill_id(), "' carries waste ",
                                                s.shipment_waste_code, ", but ", m->code, " is ",
                                                m->waste_code));
        }
        if (s.shipment_manifest.empty()) {
          return WithRefusalKind(
              Precondition("waybill_id", absl::StrCat("waybill '", e.waybill_id(),
                                                      "' names no 危险废物转移联单 (waste_manifest): "
                                                      "declared waste such as ",
                                                      m->code, " ships under one")),
              "DISPOSAL_WITHOUT_MANIFEST");
        }
      }
      for (CodeState* m : moved) {
        m->status = CodeStatus::kInTransit;
        m->consignee = e.consignee_uscc();
      }
    }
  }
  return absl::OkStatus();
}

// From rules epoch 16 a receipt may name the waybill its goods came on: the
// open waybill each code travels on (one waybill for them all: numbers are
// the carrier's), or the one that shipped it and was cancelled on the way.
// `open` is the open waybill of `c`, if any.
absl::Status CheckReceiptWaybill(Step& s, const CodeState& c,
                                 const std::optional<std::string>& open) {
  const std::string& number = s.e.waybill_id();
  if (open && waybill::NumberOfRef(*open) == number) {
    if (s.receipt_waybill.empty() || *open == s.receipt_waybill) return absl::OkStatus();
    return Precondition("codes", absl::StrCat("the codes are on different carriers' waybills "
                                              "numbered '",
                                              number, "': receive them apart"));
  }
  if (!open) {
    // Shipped by its custodian (custody changes on receipt).
    CL_ASSIGN_OR_RETURN(std::optional<waybill::WaybillState> shipped,
                        waybill::ShipmentWaybill(s.state, number, c.custodian, c.code));
    if (shipped) return absl::OkStatus();
  }
  return Precondition("waybill_id",
                      absl::StrCat("'", number, "' is not the waybill ", c.code, " came on",
                                   open ? absl::StrCat(" ('", waybill::NumberOfRef(*open), "')")
                                        : std::string(" (none is open for it)")));
}

absl::Status Receiving(Step& s) {
  const v1::Event& e = s.e;
  if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
  for (int i = 0; i < e.codes_size(); ++i) {
    const std::string field = Field(i);
    CL_ASSIGN_OR_RETURN(CodeState * c, s.InLedger(i));
    if (!c->parent.empty()) {
      return Precondition(field, absl::StrCat(c->code, " is packed on ", s.ParentOf(*c),
                                              ": receive that"));
    }
    if (c->status != CodeStatus::kInTransit) {
      return Precondition(field, absl::StrCat(c->code, " is not in transit (it is ",
                                              CodeStatusName(c->status), ")"));
    }
    if (c->consignee != s.who) {
      return WithRefusalKind(
          absl::PermissionDeniedError(absl::StrCat("event.", field, ": ", c->code,
                                                   " is consigned to ", c->consignee, ", not to ",
                                                   s.who)),
          "WRONG_CONSIGNEE");
    }
    const bool names_waybill =
        s.entry.rules_epoch >= kStepFieldsRulesEpoch && !e.waybill_id().empty();
    if (s.receipt_waybill.empty() || names_waybill) {
      CL_ASSIGN_OR_RETURN(std::optional<std::string> ref, waybill::OpenWaybillOf(s.state, c->code));
      if (names_waybill) CL_RETURN_IF_ERROR(CheckReceiptWaybill(s, *c, ref));
      if (ref && s.receipt_waybill.empty()) s.receipt_waybill = *std::move(ref);
    }
    std::vector<CodeState*> moved = {c};
    CL_RETURN_IF_ERROR(s.Descendants(c->code, &moved));
    for (CodeState* m : moved) {
      m->status = CodeStatus::kActive;
      m->consignee.clear();
      m->custodian = s.who;
    }
  }
  return absl::OkStatus();
}

absl::Status ConsumingOrRepackaging(Step& s) {
  const v1::Event& e = s.e;
  if (e.codes_size() != 1) return Invalid("codes", "exactly one package is required");
  CL_ASSIGN_OR_RETURN(CodeState * input, s.Held(0));
  if (input->aggregate) return Invalid("codes[0]", "is an aggregate: unpack it first");
  CL_RETURN_IF_ERROR(NotHeld("codes[0]", {input}));
  CL_RETURN_IF_ERROR(NotHeldForAWaybill(s, "codes[0]", input->code));
  if (input->recalled) {
    return Precondition("codes[0]", absl::StrCat(input->code, " is recalled: not to be ",
                                                 e.step() == v1::CONSUMING ? "consumed" : "repackaged",
                                                 "; return it to its supplier"));
  }
  if (input->waste && s.entry.rules_epoch >= 5) {
    return Precondition("codes[0]", absl::StrCat(input->code, " is declared waste (",
                                                 input->waste_code,
                                                 "): it goes to a licensed disposer, unused"));
  }
  if (e.quantity_milli() == 0) return Invalid("quantity_milli", "must be more than 0");
  if (e.quantity_milli() > input->remaining_milli) {
    return WithRefusalKind(
        Precondition("quantity_milli",
                     absl::StrCat(e.quantity_milli(), " is more than the ",
                                  input->remaining_milli, " thousandths of ", input->unit,
                                  " left in ", input->code)),
        "OVER_CONSUMPTION");
  }
  if (e.step() == v1::REPACKAGING) {
    if (e.outputs_size() == 0) return Invalid("outputs", "at least one new code is required");
    if (e.declared_loss_milli() > e.quantity_milli()) {
      return Precondition("declared_loss_milli",
                          absl::StrCat(e.declared_loss_milli(), " is more than the ",
                                       e.quantity_milli(), " taken from ", input->code));
    }
    const std::optional<ids::PackageCode> in_code = ids::PackageCode::Parse(input->code);
    uint64_t total = e.declared_loss_milli();
    for (int i = 0; i < e.outputs_size(); ++i) {
      const std::string field = absl::StrCat("outputs[", i, "].code");
      const v1::RepackagingOutput& out = e.outputs(i);
      std::optional<ids::PackageCode> p = ids::PackageCode::Parse(out.code());
      if (!p) return Invalid(field, absl::StrCat("'", out.code(), "' is not a package code"));
      if (s.entry.rules_epoch >= 2 && p->uscc != s.who) {
        return absl::PermissionDeniedError(absl::StrCat(
            "event.", field, ": ", out.code(), " was not issued to ", s.who,
            ": a repackaging's outputs are codes issued to the enterprise that records it"));
      }
      if (in_code && (p->uscc != in_code->uscc || p->product != in_code->product)) {
        return Invalid(field, absl::StrCat(out.code(), " is not a code of the same product as ",
                                           input->code));
      }
      CL_ASSIGN_OR_RETURN(bool known, s.Known(out.code()));
      if (known) return Precondition(field, absl::StrCat(out.code(), " is already in use"));
      CL_ASSIGN_OR_RETURN(std::optional<label::IssuanceRecord> issued,
                          label::FindIssuance(s.state, p->uscc, p->product, p->batch, p->serial));
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
      CodeState c;
      c.code = out.code();
      c.enterprise = p->uscc;
      c.product = p->product;
      c.unit = input->unit;
      c.remaining_milli = out.quantity_milli();
      c.custodian = s.who;
      s.Create(std::move(c));
    }
    if (total != e.quantity_milli()) {
      return Precondition("outputs", absl::StrCat(
          "the outputs and declared loss add up to ", total, " thousandths, not the ",
          e.quantity_milli(), " taken from ", input->code));
    }
  } else if (e.outputs_size() > 0 || e.declared_loss_milli() > 0) {
    return Invalid("outputs", "only a repackaging has outputs");
  }
  input->remaining_milli -= e.quantity_milli();
  if (input->remaining_milli == 0) input->status = CodeStatus::kConsumed;
  return absl::OkStatus();
}

absl::Status PackingOrUnpacking(Step& s) {
  const v1::Event& e = s.e;
  const std::string& parent_code = e.parent_code();
  if (!ids::IsAggregateCode(parent_code)) {
    return Invalid("parent_code",
                   absl::StrCat("'", parent_code, "' is not an aggregate code <USCC>.LU.<ID>"));
  }
  if (e.codes_size() == 0) return Invalid("codes", "at least one child code is required");
  CL_ASSIGN_OR_RETURN(CodeState * parent, s.StateOf(parent_code));
  if (e.step() == v1::UNPACKING) {
    if (parent == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("event.parent_code: ", parent_code, " is not in the ledger"));
    }
    if (parent->custodian != s.who || parent->status != CodeStatus::kActive) {
      return absl::PermissionDeniedError(absl::StrCat(
          "event.parent_code: ", parent_code, " is not active in the custody of ", s.who));
    }
    CL_RETURN_IF_ERROR(NotHeldForAWaybillWithin(s, "parent_code", parent_code));
    CL_RETURN_IF_ERROR(NotSealed(s, "parent_code", parent_code));
    for (int i = 0; i < e.codes_size(); ++i) {
      if (!parent->children.count(e.codes(i))) {
        return Precondition(Field(i), absl::StrCat(e.codes(i), " is not packed on ", parent_code));
      }
      CL_ASSIGN_OR_RETURN(CodeState * child, s.StateOf(e.codes(i)));
      if (child == nullptr) {
        return absl::DataLossError(absl::StrCat("event.", Field(i), ": ", e.codes(i),
                                                " is packed on ", parent_code,
                                                " but has no state"));
      }
      child->parent.clear();
      parent->children.erase(e.codes(i));
    }
    return absl::OkStatus();
  }
  if (parent == nullptr) {
    if (ids::EnterpriseOfCode(parent_code) != s.who) {
      return absl::PermissionDeniedError(
          absl::StrCat("event.parent_code: ", parent_code, " is not a code of ", s.who));
    }
    CodeState c;
    c.code = parent_code;
    c.aggregate = true;
    c.enterprise = s.who;
    c.custodian = s.who;
    parent = s.Create(std::move(c));
  } else if (parent->status != CodeStatus::kActive || parent->custodian != s.who) {
    return Precondition("parent_code", absl::StrCat(parent_code,
                                                    " is not an active aggregate in the custody of ",
                                                    s.who));
  }
  CL_RETURN_IF_ERROR(NotHeldForAWaybillWithin(s, "parent_code", parent_code));
  CL_RETURN_IF_ERROR(NotSealed(s, "parent_code", parent_code));
  // The parent's ancestors: packing one of them onto it would make a cycle.
  std::set<std::string> ancestors = {parent_code};
  for (const CodeState* a = parent; !a->parent.empty();) {
    ancestors.insert(a->parent);
    CL_ASSIGN_OR_RETURN(a, s.StateOf(a->parent));
    if (a == nullptr || ancestors.size() > static_cast<size_t>(kMaxNesting) + 1) break;
  }
  for (int i = 0; i < e.codes_size(); ++i) {
    const std::string field = Field(i);
    if (ancestors.count(e.codes(i))) {
      return Precondition(field, absl::StrCat(e.codes(i), " cannot be packed on ", parent_code,
                                              ": an aggregate cannot contain itself"));
    }
    // ancestors.size() levels above the child, its height below it.
    CL_ASSIGN_OR_RETURN(int height, s.Height(e.codes(i)));
    if (static_cast<int>(ancestors.size()) + height > kMaxNesting) {
      return Precondition(field, absl::StrCat("packing ", e.codes(i), " on ", parent_code,
                                              " would nest aggregates more than ", kMaxNesting,
                                              " deep"));
    }
    CL_ASSIGN_OR_RETURN(CodeState * child, s.Held(i));
    CL_RETURN_IF_ERROR(NotHeldForAWaybill(s, field, child->code));
    CL_RETURN_IF_ERROR(NotSealed(s, field, child->code));
    child->parent = parent_code;
    parent->children.insert(child->code);
    if (parent->children.size() > static_cast<size_t>(kMaxChildren)) {
      return Precondition(field, absl::StrCat("packing ", child->code, " on ", parent_code,
                                              " would put more than ", kMaxChildren,
                                              " codes directly on one aggregate"));
    }
  }
  return absl::OkStatus();
}

absl::Status Destroying(Step& s) {
  const v1::Event& e = s.e;
  if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
  if (e.manifest_id().empty()) {
    return WithRefusalKind(Invalid("manifest_id", "the 危险废物转移联单 number is required"),
                           "DISPOSAL_WITHOUT_MANIFEST");
  }
  for (int i = 0; i < e.codes_size(); ++i) {
    CL_ASSIGN_OR_RETURN(CodeState * c, s.Held(i));
    if (c->aggregate) return Invalid(Field(i), "is an aggregate: unpack it first");
    CL_RETURN_IF_ERROR(NotHeld(Field(i), {c}));
    CL_RETURN_IF_ERROR(NotHeldForAWaybill(s, Field(i), c->code));
    c->status = CodeStatus::kDisposed;
    c->remaining_milli = 0;
  }
  return absl::OkStatus();
}

// 谁产生、谁处置: the holder declares packages hazardous waste.
absl::Status WasteDeclaring(Step& s) {
  const v1::Event& e = s.e;
  if (s.entry.rules_epoch < 5) return Invalid("step", "WASTE_DECLARING is from rules epoch 5");
  if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
  CL_RETURN_IF_ERROR(waybill::ValidateWasteCode("event.waste_code", e.waste_code()));
  for (int i = 0; i < e.codes_size(); ++i) {
    CL_ASSIGN_OR_RETURN(CodeState * c, s.Held(i));
    if (c->aggregate) return Invalid(Field(i), "is an aggregate: declare the packages on it");
    if (c->waste) {
      return Precondition(Field(i), absl::StrCat(c->code, " is already declared waste (",
                                                 c->waste_code, ")"));
    }
    c->waste = true;
    c->waste_code = e.waste_code();
  }
  return absl::OkStatus();
}

absl::Status LossOrFound(Step& s) {
  const v1::Event& e = s.e;
  if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
  CL_RETURN_IF_ERROR(Require("reason", !e.reason().empty(), "is required"));
  const bool found = e.step() == v1::FOUND;
  for (int i = 0; i < e.codes_size(); ++i) {
    const std::string field = Field(i);
    // Lost in transit is the shipper's report: custody had not changed.
    CL_ASSIGN_OR_RETURN(CodeState * c, s.InCustody(i));
    if (!c->parent.empty()) {
      return Precondition(field, absl::StrCat(c->code, " is packed on ", s.ParentOf(*c)));
    }
    if (found ? c->status != CodeStatus::kLost
              : (c->status != CodeStatus::kActive && c->status != CodeStatus::kInTransit)) {
      return Precondition(field, absl::StrCat(c->code, " is ", CodeStatusName(c->status)));
    }
    std::vector<CodeState*> moved = {c};
    CL_RETURN_IF_ERROR(s.Descendants(c->code, &moved));
    for (CodeState* m : moved) {
      m->status = found ? CodeStatus::kActive : CodeStatus::kLost;
      m->consignee.clear();
    }
  }
  return absl::OkStatus();
}

// Named code `i` as a package code issued to the event's enterprise: only
// its issuer may `what` (InvalidArgument for an aggregate or anything else,
// PermissionDenied for another issuer's package).
absl::StatusOr<ids::PackageCode> OwnPackage(Step& s, int i, absl::string_view what) {
  const std::string& code = s.e.codes(i);
  std::optional<ids::PackageCode> p = ids::PackageCode::Parse(code);
  if (!p) return Invalid(Field(i), absl::StrCat("'", code, "' is not a package code"));
  if (p->uscc != s.who) {
    return absl::PermissionDeniedError(absl::StrCat("event.", Field(i), ": ", code,
                                                    " was issued by ", p->uscc, ", not by ",
                                                    s.who, ": only its issuer may ", what));
  }
  return *std::move(p);
}

absl::Status Voiding(Step& s) {
  const v1::Event& e = s.e;
  if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
  CL_RETURN_IF_ERROR(Require("reason", !e.reason().empty(), "is required"));
  for (int i = 0; i < e.codes_size(); ++i) {
    const std::string field = Field(i);
    CL_ASSIGN_OR_RETURN(const ids::PackageCode p, OwnPackage(s, i, "void it"));
    CL_ASSIGN_OR_RETURN(std::optional<label::IssuanceRecord> issued,
                        label::FindIssuance(s.state, p.uscc, p.product, p.batch, p.serial));
    if (!issued) {
      return absl::NotFoundError(absl::StrCat("event.", field, ": ", e.codes(i), " was never issued"));
    }
    CL_ASSIGN_OR_RETURN(CodeState * c, s.StateOf(e.codes(i)));
    if (c == nullptr) {
      CodeState fresh;
      fresh.code = e.codes(i);
      fresh.enterprise = p.uscc;
      fresh.product = p.product;
      fresh.custodian = s.who;
      c = s.Create(std::move(fresh));
    } else {
      CL_ASSIGN_OR_RETURN(c, s.Held(i));
      CL_RETURN_IF_ERROR(NotHeldForAWaybill(s, field, c->code));
      // From epoch 10 a held package is not ended by voiding its code (as
      // it is not by disposing of it): its hold is released first.
      if (s.entry.rules_epoch >= 10) CL_RETURN_IF_ERROR(NotHeld(field, {c}));
      if (c->waste) {
        return Precondition(field, absl::StrCat(c->code, " is declared waste: it is disposed of "
                                                         "by a licensed disposer, not voided"));
      }
    }
    c->status = CodeStatus::kVoided;
    c->remaining_milli = 0;
  }
  return absl::OkStatus();
}

absl::Status ErrorDeclaration(Step& s) {
  const v1::Event& e = s.e;
  CL_RETURN_IF_ERROR(Require("reason", !e.reason().empty(), "is required"));
  // Only the enterprise that recorded an event may declare it wrong: the
  // id is looked up among its own (ids are unique per enterprise).
  CL_ASSIGN_OR_RETURN(std::optional<EventInfo> original,
                      FindEvent(s.state, s.who, e.corrects_event_id()));
  if (!original) {
    return absl::NotFoundError(absl::StrCat("event.corrects_event_id: ", s.who,
                                            " recorded no event '", e.corrects_event_id(), "'"));
  }
  // The declaration joins the chains of exactly the codes the wrong event
  // touched, so it shows in their histories.
  absl::StatusOr<std::string> bytes = s.state.Entry(original->log_index);
  v1::LogEntry logged;
  v1::EventLinks links;
  if (!bytes.ok() || !logged.ParseFromString(*bytes) ||
      !links.ParseFromString(logged.assignment())) {
    return absl::DataLossError(absl::StrCat("event.corrects_event_id: event '",
                                            e.corrects_event_id(), "' cannot be read from the log"));
  }
  v1::Event wrong;
  if (wrong.ParseFromString(logged.envelope().payload()) && wrong.step() == v1::OBSERVING) {
    return Invalid("corrects_event_id", absl::StrCat("'", e.corrects_event_id(),
                                                     "' is an observation: it changed nothing"));
  }
  // From epoch 10 a correction is not corrected: undoing it would put the
  // wrong event's result back without its step's checks (a shipment
  // without its waybill, a receipt its waybill never sees). The step is
  // recorded again instead, and checked as any.
  if (s.entry.rules_epoch >= 10 && wrong.step() == v1::ERROR_DECLARATION) {
    return Invalid("corrects_event_id",
                   absl::StrCat("'", e.corrects_event_id(),
                                "' is itself an error declaration: record the step it undid "
                                "again instead"));
  }
  std::set<std::string> codes;
  for (const auto& link : links.links()) codes.insert(link.code());
  if (e.codes_size() > 0 && std::set<std::string>(e.codes().begin(), e.codes().end()) != codes) {
    return Invalid("codes", "must be empty or exactly the corrected event's codes");
  }
  // The wrong event is undone: each code it touched goes back to the state
  // before it. That needs it to be each code's latest event, and not the one
  // that created the code (void that instead).
  // From epoch 10, what a waybill holds stays what it states: a correction
  // that would change a listed package (its quantity, what is on it) waits
  // for the waybill to let it go. A shipment or a receipt is the waybill's
  // own business: the waybill book undoes it on the waybill.
  if (s.entry.rules_epoch >= 10 && wrong.step() != v1::SHIPPING && wrong.step() != v1::RECEIVING) {
    for (const std::string& code : codes) {
      CL_RETURN_IF_ERROR(NotHeldForAWaybillWithin(s, "corrects_event_id", code));
    }
  }
  for (const std::string& code : codes) {
    CL_ASSIGN_OR_RETURN(CodeState * now, s.StateOf(code));
    // (Observations since change nothing and do not count.)
    if (now == nullptr || now->last_change_index != original->log_index) {
      return Precondition("corrects_event_id",
                          absl::StrCat(code, " has had events since '", e.corrects_event_id(),
                                       "': declare those wrong first"));
    }
    CL_ASSIGN_OR_RETURN(std::optional<CodeState> previous, FindCodeBeforeLatest(s.state, code));
    if (!previous) {
      return Precondition("corrects_event_id", absl::StrCat("'", e.corrects_event_id(),
                                                            "' created ", code,
                                                            ": void the code instead"));
    }
    const absl::Time last_time = now->last_event_time;
    const std::optional<uint64_t> last_index = now->last_event_index;
    *now = *std::move(previous);
    now->last_event_time = last_time;  // the chain goes on from the wrong event
    now->last_event_index = last_index;
  }
  return absl::OkStatus();
}

// HOLDING and RELEASING: by the custodian (the event's enterprise) or a
// regulator (the event's enterprise then names the custodian). A pallet is
// held or released with everything on it.
absl::Status HoldingOrReleasing(Step& s) {
  const v1::Event& e = s.e;
  if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
  CL_RETURN_IF_ERROR(Require("reason", !e.reason().empty(), "is required"));
  const bool hold = e.step() == v1::HOLDING;
  for (int i = 0; i < e.codes_size(); ++i) {
    const std::string field = Field(i);
    CL_ASSIGN_OR_RETURN(CodeState * c, s.InCustody(i));
    CL_RETURN_IF_ERROR(NotEnded(field, *c));
    if (!c->parent.empty()) {
      return Precondition(field, absl::StrCat(c->code, " is packed on ", s.ParentOf(*c),
                                              ": hold or release that"));
    }
    std::vector<CodeState*> moved = {c};
    CL_RETURN_IF_ERROR(s.Descendants(c->code, &moved));
    // Released: the code and whatever on it was held (a package held before
    // it was packed).
    const bool any_held = std::any_of(moved.begin(), moved.end(),
                                      [](const CodeState* m) { return m->on_hold; });
    // From epoch 10 a regulator's hold takes over the custodian's own (the
    // custodian can no longer lift it); only a regulator's hold is not
    // placed twice.
    const bool takes_over =
        hold && c->on_hold && s.by_regulator && !c->hold_by_regulator && s.entry.rules_epoch >= 10;
    if (hold ? c->on_hold && !takes_over : !any_held) {
      return Precondition(field, absl::StrCat(c->code, hold ? " is already on hold"
                                                            : " is not on hold, nor is anything on it"));
    }
    if (!hold && !s.by_regulator) {
      for (const CodeState* m : moved) {
        if (m->on_hold && m->hold_by_regulator) {
          return absl::PermissionDeniedError(absl::StrCat(
              "event.", field, ": ", m->code,
              " is on hold by a regulator: only a regulator releases it"));
        }
      }
    }
    for (CodeState* m : moved) {
      // A regulator's hold stays a regulator's; lifting it lifts it all.
      if (hold && !m->on_hold) m->hold_by_regulator = s.by_regulator;
      if (hold && s.by_regulator) m->hold_by_regulator = true;
      m->on_hold = hold;
      if (!hold) m->hold_by_regulator = false;
    }
  }
  return absl::OkStatus();
}

// RECALLING: packages of the event's enterprise (their issuer), or by a
// regulator of any issuer (the event's enterprise then names it), wherever
// they are. Recalled is for good.
absl::Status Recalling(Step& s) {
  const v1::Event& e = s.e;
  if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
  CL_RETURN_IF_ERROR(Require("reason", !e.reason().empty(), "is required"));
  for (int i = 0; i < e.codes_size(); ++i) {
    const std::string field = Field(i);
    CL_RETURN_IF_ERROR(OwnPackage(s, i, "recall it (a regulator names the issuer)").status());
    CL_ASSIGN_OR_RETURN(CodeState * c, s.InLedger(i));
    CL_RETURN_IF_ERROR(NotEnded(field, *c));
    if (c->recalled) return Precondition(field, absl::StrCat(c->code, " is already recalled"));
    c->recalled = true;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> CarriedBy(const storage::StateReader& state, const CodeState& c,
                               const std::string& carrier) {
  std::string listed = c.code;
  for (int depth = 0; depth <= kMaxNesting && !listed.empty(); ++depth) {
    CL_ASSIGN_OR_RETURN(std::optional<std::string> open, waybill::OpenWaybillOf(state, listed));
    if (open) return waybill::CarrierOfRef(*open) == carrier;
    CL_ASSIGN_OR_RETURN(std::optional<CodeState> holder, FindCode(state, listed));
    listed = holder ? holder->parent : "";
  }
  return false;
}

// Two sightings this close, by enterprises of different cities, cannot both
// be of one package: one label is a copy.
constexpr absl::Duration kTwoPlacesWindow = absl::Hours(6);

// The city of a GB/T 2260 region code (its first 4 digits: 3501 福州).
absl::string_view CityOf(absl::string_view region_code) { return region_code.substr(0, 4); }

// From rules epoch 10, for OBSERVING: whether the package `code` was last
// observed by another enterprise in another city within kTwoPlacesWindow of
// this observation (that enterprise, if so); notes this observation as the
// latest. Where an observation is: its site's region when the enterprise
// registered that site, else the enterprise's. A carrier's scans are left
// out (its vehicles are anywhere along the route, whatever city it is
// registered in).
absl::StatusOr<std::optional<std::string>> SeenInTwoPlaces(Step& s, const CodeState& c) {
  const std::string& code = c.code;
  if (s.entry.rules_epoch < 10 || !s.enterprise) return std::nullopt;
  const v1::Enterprise& observer = s.enterprise->enterprise;
  if (std::find(observer.roles().begin(), observer.roles().end(), v1::CARRIER) !=
      observer.roles().end()) {
    return std::nullopt;
  }
  CL_ASSIGN_OR_RETURN(std::optional<v1::Site> site,
                      registry::FindSite(s.state, s.who, s.e.location().site()));
  const std::string region = site ? site->region_code() : observer.region_code();
  std::optional<std::string> earlier;
  CL_ASSIGN_OR_RETURN(std::optional<std::string> bytes, s.state.Get(internal::LastSeenKey(code)));
  if (bytes) {
    state::LastSeenRecord last;
    if (!last.ParseFromString(*bytes)) {
      return absl::DataLossError(absl::StrCat("the last sighting of ", code, " is malformed"));
    }
    const absl::Time last_seen = absl::FromUnixSeconds(last.event_time_seconds());
    // Nothing happened to it in between (a shipment, a receipt: any
    // change), so nothing explains its being in another city.
    const bool unchanged =
        last.has_last_change() == c.last_change_index.has_value() &&
        (!c.last_change_index || last.last_change_index() == *c.last_change_index);
    if (last.enterprise() != s.who && CityOf(last.region_code()) != CityOf(region) && unchanged &&
        absl::AbsDuration(s.when - last_seen) <= kTwoPlacesWindow) {
      earlier = last.enterprise();
    }
    // A sighting sent late (observations are not held to time order) does
    // not replace a later one.
    if (s.when < last_seen) return earlier;
  }
  state::LastSeenRecord now;
  now.set_enterprise(s.who);
  now.set_region_code(region);
  now.set_event_time_seconds(absl::ToUnixSeconds(s.when));
  if (c.last_change_index) {
    now.set_has_last_change(true);
    now.set_last_change_index(*c.last_change_index);
  }
  s.last_seen.emplace_back(code, std::move(now));
  return earlier;
}

// From rules epoch 13, for OBSERVING: the label of code `i`, which the
// observer neither holds, has held, is sent nor carries, proves that it scanned the
// package rather than guessed its code (codes are serials: without this an
// observation told anyone which codes exist, and when each last changed).
// Checked before anything is read of the code, so that the refusal is the
// same whether the code exists or not.
absl::Status LabelProvesTheScan(const Step& s, int i) {
  const v1::Event& e = s.e;
  const std::string field = absl::StrCat("label_urls[", i, "]");
  if (i >= e.label_urls_size() || e.label_urls(i).empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "event.", field, ": ", e.codes(i), " is not a package ", s.who,
        " holds, has held or is sent: its observation carries the label URL scanned from it"));
  }
  // (CheckEvent read it well-formed and of this code.)
  absl::StatusOr<crypto::ParsedLabel> label = crypto::ParseLabelUrl(e.label_urls(i));
  if (!label.ok()) return Invalid(field, label.status().message());
  const absl::Status not_issued =
      WithRefusalKind(absl::PermissionDeniedError(
                          absl::StrCat("event.", field, ": not a label this ledger issued")),
                      "FORGED_LABEL");
  CL_ASSIGN_OR_RETURN(std::optional<registry::LabelKeyState> key,
                      registry::FindLabelKey(s.state, label->key_id));
  // (From rules epoch 14 its signature was checked before: CheckEvent.)
  if (!key || (s.entry.rules_epoch < kLabelSignaturesRulesEpoch &&
               !label->VerifySignature(key->key).ok())) {
    return not_issued;
  }
  // The log's own issuance of it, by that key, with exactly these claims,
  // and before the key's revocation: a key is revoked because it leaked,
  // and labels made with it since prove nothing.
  absl::StatusOr<label::IssuanceRecord> issued = label::MatchIssuance(s.state, *label);
  if (absl::IsNotFound(issued.status()) || absl::IsFailedPrecondition(issued.status())) {
    return not_issued;
  }
  if (!issued.ok()) return issued.status();
  if (key->revoked_at && issued->log_index >= *key->revoked_at) return not_issued;
  return absl::OkStatus();
}

// OBSERVING: a registered actor's scan of packages at its site. Changes
// nothing; any package the ledger knows, in any state (from rules epoch 13,
// one the observer neither holds, has held nor is sent with the label
// scanned from it: LabelProvesTheScan). Notes a scan signal for each the
// history cannot explain.
absl::Status Observing(Step& s) {
  const v1::Event& e = s.e;
  if (e.codes_size() == 0) return Invalid("codes", "at least one code is required");
  // (Labels are one per code or none, each its code's: CheckEvent.)
  for (int i = 0; i < e.codes_size(); ++i) {
    const std::string field = Field(i);
    if (s.entry.rules_epoch >= 13 && s.needs_label[i]) {
      CL_RETURN_IF_ERROR(LabelProvesTheScan(s, i));
    }
    CL_ASSIGN_OR_RETURN(CodeState * c, s.InLedger(i));
    CL_ASSIGN_OR_RETURN(std::optional<std::string> two_places, SeenInTwoPlaces(s, *c));
    state::ScanSignalRecord signal;
    if (two_places) {
      signal.set_kind("seen-in-two-places");
      signal.set_earlier_seen_by(*two_places);
    } else if (IsTerminal(c->status)) {
      signal.set_kind("ended-package-seen");
    } else if (c->custodian != s.who &&
               !(c->status == CodeStatus::kInTransit && c->consignee == s.who)) {
      // Its carrier scanning the load it carries explains itself.
      if (c->status == CodeStatus::kInTransit) {
        CL_ASSIGN_OR_RETURN(bool carrying, CarriedBy(s.state, *c, s.who));
        if (carrying) continue;
      }
      signal.set_kind("seen-away-from-custodian");
    } else {
      continue;
    }
    signal.set_seen_by(s.who);
    signal.set_custodian(c->custodian);
    signal.set_status(std::string(CodeStatusName(c->status)));
    s.scan_signals.emplace_back(c->code, std::move(signal));
  }
  return absl::OkStatus();
}

// Whether `step` puts goods somewhere (made, stored, received, split,
// packed, unpacked, found): its location.site is where they are after it.
bool PutsGoodsAtSite(v1::BusinessStep step) {
  switch (step) {
    case v1::COMMISSIONING:
    case v1::STORING:
    case v1::RECEIVING:
    case v1::REPACKAGING:
    case v1::PACKING:
    case v1::UNPACKING:
    case v1::FOUND:
      return true;
    default:
      return false;
  }
}

// The fields of an event that only some steps read, and which.
struct StepSpecificField {
  const char* name;
  bool (*given)(const v1::Event&);
  std::initializer_list<v1::BusinessStep> steps;
};
const StepSpecificField kStepSpecificFields[] = {
    {"quantity_milli",
     [](const v1::Event& e) { return e.quantity_milli() != 0; },
     {v1::CONSUMING, v1::REPACKAGING}},
    {"outputs", [](const v1::Event& e) { return e.outputs_size() > 0; }, {v1::REPACKAGING}},
    {"declared_loss_milli",
     [](const v1::Event& e) { return e.declared_loss_milli() != 0; },
     {v1::REPACKAGING}},
    {"parent_code",
     [](const v1::Event& e) { return !e.parent_code().empty(); },
     {v1::PACKING, v1::UNPACKING}},
    {"consignee_uscc",
     [](const v1::Event& e) { return !e.consignee_uscc().empty(); },
     {v1::SHIPPING}},
    {"waybill_id",
     [](const v1::Event& e) { return !e.waybill_id().empty(); },
     {v1::SHIPPING, v1::RECEIVING}},
    {"manifest_id", [](const v1::Event& e) { return !e.manifest_id().empty(); }, {v1::DESTROYING}},
    {"corrects_event_id",
     [](const v1::Event& e) { return !e.corrects_event_id().empty(); },
     {v1::ERROR_DECLARATION}},
    {"reason",
     [](const v1::Event& e) { return !e.reason().empty(); },
     {v1::LOSS_REPORT, v1::FOUND, v1::VOIDING, v1::ERROR_DECLARATION, v1::HOLDING, v1::RELEASING,
      v1::RECALLING}},
    {"waste_code",
     [](const v1::Event& e) { return !e.waste_code().empty(); },
     {v1::WASTE_DECLARING}},
    {"label_urls", [](const v1::Event& e) { return e.label_urls_size() > 0; }, {v1::OBSERVING}},
};

// From rules epoch 16 an event carries no field that its step does not
// read: logged, such a field would look as if it meant something.
absl::Status CheckOnlyItsStepsFields(const v1::Event& e) {
  for (const StepSpecificField& field : kStepSpecificFields) {
    if (!field.given(e)) continue;
    if (std::find(field.steps.begin(), field.steps.end(), e.step()) != field.steps.end()) continue;
    std::vector<std::string> steps;
    for (v1::BusinessStep step : field.steps) steps.push_back(v1::BusinessStep_Name(step));
    return Invalid(field.name, absl::StrCat("is not read by a ", v1::BusinessStep_Name(e.step()),
                                            " event (only by ", absl::StrJoin(steps, ", "),
                                            "): leave it unset"));
  }
  return absl::OkStatus();
}

// An event's form, read from it alone: a known step and only its fields,
// the enterprise and site it is recorded at, its time (not in the future:
// sets s.when), and its codes, each named once.
absl::Status CheckEventForm(Step& s) {
  const v1::Event& e = s.e;
  if (e.step() == v1::BUSINESS_STEP_UNSPECIFIED || !v1::BusinessStep_IsValid(e.step())) {
    return Invalid("step", "is not a known business step");
  }
  if (s.entry.rules_epoch >= kStepFieldsRulesEpoch) CL_RETURN_IF_ERROR(CheckOnlyItsStepsFields(e));
  CL_RETURN_IF_ERROR(ids::ValidateUscc("event.location.enterprise_uscc", s.who));
  // From epoch 8 counted in characters; before, in bytes.
  if (s.entry.rules_epoch >= 8 ? !HasOneToCharacters(e.location().site(), 64)
                               : e.location().site().empty() || e.location().site().size() > 64) {
    return Invalid("location.site", "1 to 64 characters are required");
  }
  if (!e.has_event_time()) return Invalid("event_time", "is required");
  if (e.event_time_offset_minutes() < -14 * 60 || e.event_time_offset_minutes() > 14 * 60) {
    return Invalid("event_time_offset_minutes", "must be -840 to 840");
  }
  s.when = EventTime(e);
  const absl::TimeZone local = absl::FixedTimeZone(e.event_time_offset_minutes() * 60);
  if (s.when > s.entry.record_time + kClockSkew) {
    return Precondition("event_time",
                        absl::StrCat(absl::FormatTime(s.when, local),
                                     " is in the future (the server's clock says ",
                                     absl::FormatTime(s.entry.record_time, local), ")"));
  }
  if (e.codes_size() > kMaxCodesPerEvent) {
    return Invalid("codes", absl::StrCat("at most ", kMaxCodesPerEvent, " codes per event"));
  }
  std::set<std::string> named;
  for (int i = 0; i < e.codes_size(); ++i) {
    if (!named.insert(e.codes(i)).second) {
      return Invalid(Field(i), absl::StrCat("'", e.codes(i), "' is named twice"));
    }
  }
  return absl::OkStatus();
}

// The labels an observation carries (rules epoch 13 on), and which of its
// codes they must prove (sets s.needs_label).
absl::Status CheckObservationLabels(Step& s) {
  const v1::Event& e = s.e;
  // Labels (rules epoch 13): only an observation carries them, one per code
  // or none, each the label of its code (read whole only where it must
  // prove the scan: LabelProvesTheScan).
  if (s.entry.rules_epoch >= 13 && e.label_urls_size() > 0) {
    if (e.step() != v1::OBSERVING) {
      return Invalid("label_urls", "only an observation (OBSERVING) carries labels");
    }
    if (e.label_urls_size() != e.codes_size()) {
      return Invalid("label_urls",
                     absl::StrCat("one per code, in the order of codes (", e.codes_size(),
                                  "), or none; ", e.label_urls_size(), " given"));
    }
    // From rules epoch 14 at most kMaxLabelsPerObservation are given: each
    // is a signature check, made before the event is sequenced.
    if (s.entry.rules_epoch >= kLabelSignaturesRulesEpoch) {
      const int given = LabelsGiven(e);
      if (given > api::kMaxLabelsPerObservation) {
        return Invalid("label_urls", absl::StrCat("an observation carries at most ",
                                                  api::kMaxLabelsPerObservation, " labels (", given,
                                                  " given): split it"));
      }
    }
    for (int i = 0; i < e.label_urls_size(); ++i) {
      if (e.label_urls(i).empty()) continue;
      // (What a label says is checked here, before any state is read.)
      absl::StatusOr<crypto::ParsedLabel> label = crypto::ParseLabelUrl(e.label_urls(i));
      if (!label.ok()) {
        return Invalid(absl::StrCat("label_urls[", i, "]"), label.status().message());
      }
      if (label->claims.Code() != e.codes(i)) {
        return Invalid(
            absl::StrCat("label_urls[", i, "]"),
            absl::StrCat("is the label of ", label->claims.Code(), ", not of ", e.codes(i)));
      }
    }
    // From rules epoch 14 every label an observation carries is one a label
    // key of this ledger signed (what the observer holds included: a forged
    // label in circulation is refused and recorded). A new request's were
    // checked with its signature, off the sequencer (Ledger::VerifyBatch);
    // a logged entry's are checked again here.
    if (s.entry.rules_epoch >= kLabelSignaturesRulesEpoch &&
        s.entry.mode == journal::ApplyMode::kRebuild) {
      CL_RETURN_IF_ERROR(CheckLabelSignatures(s.state, e));
    }
  }
  // Which codes of an observation its labels must prove (what the observer
  // holds, held, is sent or carries it knows itself, so this tells it
  // nothing), at most kMaxLabelProofs an event (before rules epoch 14 each
  // was a signature check in the sequencer).
  if (s.entry.rules_epoch >= 13 && e.step() == v1::OBSERVING) {
    int proofs = 0;
    s.needs_label.assign(e.codes_size(), false);
    for (int i = 0; i < e.codes_size(); ++i) {
      CL_ASSIGN_OR_RETURN(bool may_know, s.MayKnow(e.codes(i)));
      if (may_know) continue;
      s.needs_label[i] = true;
      if (++proofs > kMaxLabelProofs) {
        return Invalid("codes", absl::StrCat("an observation names at most ", kMaxLabelProofs,
                                             " packages its enterprise neither holds, has held, "
                                             "is sent nor carries: split it"));
      }
    }
  }
  return absl::OkStatus();
}

// Whether the enterprise the event is recorded at may record it: it is
// registered (sets s.enterprise), puts goods at a site of its own where it
// registered sites, and its roles and licences allow the step (a
// regulator's hold or recall is addressed to it, whatever its roles).
absl::Status CheckEnterpriseMayRecord(Step& s) {
  const v1::Event& e = s.e;
  const std::string step = v1::BusinessStep_Name(e.step());
  // The enterprise's roles bound what it may record.
  CL_ASSIGN_OR_RETURN(s.enterprise, registry::FindEnterprise(s.state, s.who));
  if (!s.enterprise) {
    return absl::NotFoundError(absl::StrCat("event.location.enterprise_uscc: enterprise ", s.who,
                                            " is not registered"));
  }
  // A regulator's hold or recall is addressed to the enterprise; its roles
  // bound what the enterprise itself records.
  if (s.by_regulator) return absl::OkStatus();
  // An enterprise that registered its sites puts goods at one of them.
  if (PutsGoodsAtSite(e.step())) {
    // One read when the site is registered; the scan for any site only when
    // it is not.
    CL_ASSIGN_OR_RETURN(std::optional<v1::Site> site,
                        registry::FindSite(s.state, s.who, e.location().site()));
    if (!site) {
      CL_ASSIGN_OR_RETURN(bool has_sites, registry::HasSites(s.state, s.who));
      if (has_sites) {
        return Invalid("location.site",
                       absl::StrCat("'", e.location().site(), "' is not a registered site of ",
                                    s.who, " (RegistryService.ListSites; enterprises that "
                                    "registered sites name one by its site_id)"));
      }
    }
  }
  const v1::Enterprise& ent = s.enterprise->enterprise;
  const auto refuse = [&](absl::string_view needs) {
    return absl::PermissionDeniedError(
        absl::StrCat("event.step: enterprise ", s.who, " may not record ", step, ": ", needs));
  };
  const bool only_carrier =
      ent.roles_size() > 0 &&
      std::all_of(ent.roles().begin(), ent.roles().end(), [](int r) { return r == v1::CARRIER; });
  if (only_carrier && e.step() != v1::OBSERVING) {
    return refuse("a carrier records transport on e-waybills, not package events (it may "
                  "record what it scans: OBSERVING)");
  }
  if (e.step() == v1::COMMISSIONING && !registry::HasRole(ent, v1::PRODUCER) &&
      !registry::HasRole(ent, v1::IMPORTER)) {
    return refuse("only producers and importers commission packages");
  }
  if (e.step() == v1::REPACKAGING && s.entry.rules_epoch >= 2 &&
      !registry::HasRole(ent, v1::PRODUCER) && !registry::HasRole(ent, v1::IMPORTER)) {
    return refuse("only producers and importers repackage (into codes issued to them)");
  }
  if (e.step() == v1::CONSUMING && !registry::HasRole(ent, v1::USER) &&
      !registry::HasRole(ent, v1::PRODUCER)) {
    return refuse("only users and producers consume");
  }
  if (e.step() == v1::DESTROYING) {
    if (!registry::HasRole(ent, v1::DISPOSER)) return refuse("only licensed disposers destroy packages");
    // Licences are dated in China Standard Time, whatever offset the event gives.
    const absl::CivilDay day = registry::ChinaDay(s.when);
    if (!registry::HoldsLicence(ent, v1::HAZARDOUS_WASTE, day)) {
      return refuse(absl::StrCat("it holds no 危险废物经营许可证 (HAZARDOUS_WASTE) valid on ",
                                 absl::FormatCivilTime(day)));
    }
  }
  return absl::OkStatus();
}

// The general rules of an event, before its step's, in this order.
absl::Status CheckEvent(Step& s) {
  CL_RETURN_IF_ERROR(CheckEventForm(s));
  CL_RETURN_IF_ERROR(CheckObservationLabels(s));
  return CheckEnterpriseMayRecord(s);
}

absl::Status ApplyStep(Step& s) {
  switch (s.e.step()) {
    case v1::COMMISSIONING: return Commissioning(s);
    case v1::STORING:
    case v1::SHIPPING: return StoringOrShipping(s);
    case v1::RECEIVING: return Receiving(s);
    case v1::CONSUMING:
    case v1::REPACKAGING: return ConsumingOrRepackaging(s);
    case v1::PACKING:
    case v1::UNPACKING: return PackingOrUnpacking(s);
    case v1::DESTROYING: return Destroying(s);
    case v1::LOSS_REPORT:
    case v1::FOUND: return LossOrFound(s);
    case v1::VOIDING: return Voiding(s);
    case v1::ERROR_DECLARATION: return ErrorDeclaration(s);
    case v1::HOLDING:
    case v1::RELEASING: return HoldingOrReleasing(s);
    case v1::RECALLING: return Recalling(s);
    case v1::OBSERVING: return Observing(s);
    case v1::WASTE_DECLARING: return WasteDeclaring(s);
    default: return Invalid("step", "is not a known business step");
  }
}

// Every code an event names, with its field.
std::vector<std::pair<std::string, std::string>> NamedCodes(const v1::Event& e) {
  std::vector<std::pair<std::string, std::string>> named;
  for (int i = 0; i < e.codes_size(); ++i) named.emplace_back(Field(i), e.codes(i));
  if (!e.parent_code().empty()) named.emplace_back("parent_code", e.parent_code());
  for (int i = 0; i < e.outputs_size(); ++i) {
    named.emplace_back(absl::StrCat("outputs[", i, "].code"), e.outputs(i).code());
  }
  return named;
}

// A refusal of an event that names a code its enterprise may not know about
// says only that, the same whether the code exists or not, naming no other
// party; the full reason goes with it for the regulator (refusal.h).
absl::Status Redact(Step& s, const absl::Status& refused) {
  // A regulator who reads every package everywhere may read the reason
  // whole; any other is told what the event's enterprise would be.
  if (s.by_regulator && s.regulator_reads_everything) return refused;
  // Only refusals (not the store's own errors, which say nothing of a code).
  switch (refused.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kAlreadyExists:
      break;
    default:
      return refused;
  }
  for (const auto& [field, code] : NamedCodes(s.e)) {
    absl::StatusOr<bool> may_know = s.MayKnow(code);
    if (!may_know.ok()) return may_know.status();
    if (!*may_know) {
      return WithFullReason(
          absl::PermissionDeniedError(absl::StrCat("event.", field, ": ", code,
                                                   " is not a code ", s.who,
                                                   " holds, has held or is sent")),
          refused);
    }
  }
  return refused;
}

// Who records an event: an admin or operator of the event's enterprise,
// or for a hold, release or recall a regulator within its jurisdiction.
struct Recorder {
  bool by_regulator = false;
  // A regulator's reading of packages (none for an enterprise's actor).
  registry::Reads regulator_reads = registry::Reads::kNone;
  // The regulator holds and recalls only what it supervises.
  bool supervised_only = false;
};

absl::StatusOr<Recorder> MayRecord(const journal::EntryContext& entry,
                                   const storage::StateReader& state, const v1::Actor& actor,
                                   const v1::Event& event) {
  const v1::Location& where = event.location();
  const bool hold_or_recall = event.step() == v1::HOLDING || event.step() == v1::RELEASING ||
                              event.step() == v1::RECALLING;
  const bool by_regulator = actor.role() == v1::REGULATOR && hold_or_recall;
  if (!by_regulator &&
      ((actor.role() != v1::ENTERPRISE_ADMIN && actor.role() != v1::ENTERPRISE_OPERATOR) ||
       actor.enterprise_uscc() != where.enterprise_uscc())) {
    return absl::PermissionDeniedError(absl::StrCat(
        "envelope.signatures[0].key_id: actor '", actor.name(), "' (",
        v1::ActorRole_Name(actor.role()), ") may not record events for enterprise '",
        where.enterprise_uscc(), "' (event.location.enterprise_uscc)",
        actor.role() == v1::REGULATOR ? "; regulators record holds and recalls only" : ""));
  }
  // From epoch 4 a regulator acts within its jurisdiction: the enterprise
  // the event names (the custodian, or for a recall the issuer).
  const registry::Reads regulator_reads =
      by_regulator ? registry::DepartmentReads(actor, registry::RecordKind::kPackages)
                   : registry::Reads::kNone;
  // From epoch 8 a department holds and recalls what it supervises only
  // (releasing is left to any that may act, so that a hold placed before
  // is never stuck): 生态环境 reads packages once disposed, and a disposed
  // package is not held.
  const bool supervised_only =
      by_regulator && entry.rules_epoch >= 8 && event.step() != v1::RELEASING;
  if (by_regulator && entry.rules_epoch >= 4) {
    if (regulator_reads == registry::Reads::kNone ||
        (supervised_only && regulator_reads == registry::Reads::kWaste)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "envelope.signatures[0].key_id: ", registry::DepartmentText(actor),
          " does not hold or recall goods"));
    }
    absl::StatusOr<bool> oversees =
        registry::OverseesEnterprise(state, actor, where.enterprise_uscc());
    if (!oversees.ok()) return oversees.status();
    if (!*oversees) {
      return absl::PermissionDeniedError(absl::StrCat(
          "event.location.enterprise_uscc: ", where.enterprise_uscc(),
          " is outside the jurisdiction of regulator '", actor.name(), "' (",
          registry::JurisdictionText(actor), ")"));
    }
  }
  return Recorder{by_regulator, regulator_reads, supervised_only};
}

// From epoch 8, 公安 holds and recalls controlled goods only: each code
// the event names is one, or a pallet carrying one (the refusal names
// only the codes the event names, never what else is on a pallet).
absl::Status OnlyControlledGoods(Step& s, const v1::Actor& actor) {
  std::set<std::string> carrying;  // controlled packages and the aggregates they are on
  for (const auto& [code, c] : s.touched) {
    if (c.aggregate) continue;
    CL_ASSIGN_OR_RETURN(std::optional<v1::Product> product,
                        registry::FindProduct(s.state, c.enterprise, c.product));
    if (!product || !registry::IsControlledGood(*product)) continue;
    carrying.insert(code);
    std::string parent = c.parent;
    for (int depth = 0; depth <= kMaxNesting && !parent.empty(); ++depth) {
      if (!carrying.insert(parent).second) break;
      auto up = s.touched.find(parent);
      parent = up == s.touched.end() ? "" : up->second.parent;
    }
  }
  for (int i = 0; i < s.e.codes_size(); ++i) {
    if (!carrying.count(s.e.codes(i))) {
      return absl::PermissionDeniedError(
          absl::StrCat("event.", Field(i), ": ", s.e.codes(i),
                       " is not a controlled good, nor an aggregate carrying one: ",
                       registry::DepartmentText(actor),
                       " holds and recalls controlled goods only (剧毒, 易制爆, 易制毒)"));
    }
  }
  return absl::OkStatus();
}

// Time order and chain links for every code the event touches.
absl::StatusOr<v1::EventLinks> LinkTouchedCodes(Step& s) {
  const v1::Event& event = s.e;
  const storage::StateReader& state = s.state;
  const absl::TimeZone local = absl::FixedTimeZone(event.event_time_offset_minutes() * 60);
  v1::EventLinks links;
  for (const auto& [code, c] : s.touched) {
    if (s.when < c.last_event_time) {
      // (Redacted like any refusal: the time of a package's latest event is
      // not told to whoever may not read its history, e.g. an observer.)
      return Redact(
          s, Precondition("event_time", absl::StrCat(absl::FormatTime(s.when, local), " is before ",
                                                     code, "'s previous event at ",
                                                     absl::FormatTime(c.last_event_time, local))));
    }
    v1::EventLinks::Link* link = links.add_links();
    link->set_code(code);
    if (c.last_event_index) {
      CL_ASSIGN_OR_RETURN(crypto::Sha256Digest previous, state.LeafHash(*c.last_event_index));
      link->set_previous_event_hash(previous.ToBytes());
    }
  }
  return links;
}

// What the event leaves: each touched code's state (with the state before
// it, for an error declaration), its history and who has held it; and
// what its sites hold per hazard class (site_load.h).
absl::Status WriteTouchedCodes(Step& s, storage::StateWrites* changes) {
  const journal::EntryContext& entry = s.entry;
  const storage::StateReader& state = s.state;
  const v1::Event& event = s.e;
  SiteLoadChanges site_loads;
  QuantityFlowChanges flows;
  for (auto& [code, c] : s.touched) {
    // An observation joins the chain (last_event_index) but changes
    // nothing: not the time later events are held to, not what an error
    // declaration may undo (last_change_index, `before`).
    const bool observation = event.step() == v1::OBSERVING;
    CodeState after = c;
    if (!observation) {
      after.last_event_time = s.when;
      after.last_change_index = entry.index;
    }
    after.last_event_index = entry.index;
    state::CodeRecord record = internal::ToRecord(after);
    const std::optional<CodeState>& previous = s.before.at(code);
    if (observation) {
      CL_ASSIGN_OR_RETURN(std::optional<CodeState> before_change, FindCodeBeforeLatest(state, code));
      if (before_change) *record.mutable_before() = internal::ToRecord(*before_change);
    } else if (previous) {
      *record.mutable_before() = internal::ToRecord(*previous);
    }
    changes->Put(internal::CodeKey(code), record.SerializeAsString());
    changes->Put(internal::HistoryKey(code, entry.index), "");
    // The stock index follows the code's custodian, site and status.
    if (previous) site_loads.Remove(*previous);
    site_loads.Add(after);
    flows.Add(previous, after);
    const std::string stock_before = previous ? internal::StockKey(*previous) : std::string();
    const std::string stock_after = internal::StockKey(after);
    if (stock_before != stock_after) {
      if (!stock_before.empty()) changes->Delete(stock_before);
      if (!stock_after.empty()) changes->Put(stock_after, "");
    }
    // Who has held it: written once per enterprise (a key rewritten by every
    // event would only make work for the store).
    // A code new to the ledger has no holders yet (held keys are written only
    // here, beside its record), so commissioning reads none.
    if (!previous || previous->custodian != after.custodian) {
      bool held = false;
      if (previous) {
        CL_ASSIGN_OR_RETURN(held, HasHeld(state, code, after.custodian));
      }
      if (!held) changes->Put(internal::HeldKey(code, after.custodian), "");
    }
    if (!previous && !after.aggregate) changes->Put(internal::HeldKey(code, after.enterprise), "");
  }
  CL_RETURN_IF_ERROR(site_loads.Write(state, entry.index, s.when, entry.rules_epoch, changes));
  flows.Write(event, entry.index, s.when, s.shipment_waybill, changes);
  return absl::OkStatus();
}

// The event in the audit's lists and the records its step leaves beside
// the codes' (a controlled loss, an observation's signals and sightings),
// and the event's own record under its id.
absl::Status WriteEventRecords(Step& s, storage::StateWrites* changes) {
  const journal::EntryContext& entry = s.entry;
  const storage::StateReader& state = s.state;
  const v1::Event& event = s.e;
  const v1::Location& where = event.location();
  // The event in the audit's lists (event_index.h).
  state::EventIndexRecord indexed;
  indexed.set_log_index(entry.index);
  indexed.set_event_unix_micros(absl::ToUnixMicros(s.when));
  indexed.set_enterprise(where.enterprise_uscc());
  indexed.set_step(event.step());
  indexed.set_site(where.site());
  std::set<std::string> products;
  for (const auto& [code, c] : s.touched) {
    if (!c.aggregate) products.insert(absl::StrCat(c.enterprise, "/", c.product));
  }
  for (const std::string& p : products) indexed.add_products(p);
  indexed.set_waybill(!s.shipment_waybill.empty() ? s.shipment_waybill : s.receipt_waybill);
  indexed.set_by_regulator(s.by_regulator);
  WriteEventIndex(indexed, changes);
  // A loss of controlled goods is an anomaly for 公安 at once.
  if (event.step() == v1::LOSS_REPORT) {
    for (const auto& [code, c] : s.touched) {
      if (c.aggregate) continue;
      CL_ASSIGN_OR_RETURN(std::optional<v1::Product> product,
                          registry::FindProduct(state, c.enterprise, c.product));
      if (product && registry::IsControlledGood(*product)) {
        WriteControlledLoss(entry.index, code, c.custodian, changes);
      }
    }
  }
  for (const auto& [code, signal] : s.scan_signals) {
    changes->Put(internal::ScanSignalKey(entry.index, code), signal.SerializeAsString());
  }
  for (const auto& [code, seen] : s.last_seen) {
    changes->Put(internal::LastSeenKey(code), seen.SerializeAsString());
  }
  state::EventRecord record;
  record.set_log_index(entry.index);
  record.set_enterprise(where.enterprise_uscc());
  // Event ids are unique per signer's enterprise (as request ids are): a
  // regulator's under the platform's scope, never among the enterprise's.
  changes->Put(internal::EventKey(s.by_regulator ? registry::kPlatformRequestScope
                                                 : where.enterprise_uscc(),
                                  event.event_id()),
               record.SerializeAsString());
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> LifecycleRules::OwnedPayloadTypes() const {
  return {std::string(kEventContext.payload_type())};
}

absl::StatusOr<std::optional<journal::RequestId>> LifecycleRules::RequestKey(
    const v1::SignedEnvelope& envelope) const {
  v1::Event event;
  return registry::ReadableRequestId(
      kEventContext, envelope.payload(),
      event.ParseFromString(envelope.payload())
          ? journal::MakeRequestId("event", "event.event_id", event.event_id(), "event")
          : absl::InvalidArgumentError("envelope.payload: not an Event"));
}

absl::StatusOr<std::string> LifecycleRules::RequestScope(const v1::SignedEnvelope& envelope,
                                                         const storage::StateReader& state) const {
  return registry::SignerRequestScope(envelope, state, kEventContext);
}

absl::Status LifecycleRules::CheckRetry(const v1::SignedEnvelope& envelope,
                                        const storage::StateReader& state) const {
  return registry::CheckRetrySigner(envelope, state, kEventContext);
}

absl::Status LifecycleRules::Apply(const journal::EntryContext& entry,
                                   const storage::StateReader& state,
                                   storage::StateWrites* changes) const {
  if (entry.envelope->payload_type() != kEventContext.payload_type()) return absl::OkStatus();
  CL_ASSIGN_OR_RETURN(v1::Actor actor, registry::CheckSigner(entry, state, kEventContext));
  v1::Event event;
  if (!event.ParseFromString(entry.envelope->payload())) {
    return absl::InvalidArgumentError("envelope.payload: not an Event");
  }
  CL_ASSIGN_OR_RETURN(const Recorder recorder, MayRecord(entry, state, actor, event));
  const v1::Location& where = event.location();
  Step s(entry, state, event);
  s.by_regulator = recorder.by_regulator;
  s.regulator_reads_everything =
      recorder.by_regulator && registry::OverseesEverything(actor) &&
      registry::DepartmentReads(actor, registry::RecordKind::kPackages) == registry::Reads::kAll;
  CL_RETURN_IF_ERROR(CheckEvent(s));
  if (absl::Status refused = ApplyStep(s); !refused.ok()) return Redact(s, refused);
  // From epoch 8, 公安 holds and recalls controlled goods only: each code
  // the event names is one, or a pallet carrying one (the refusal names
  // only the codes the event names, never what else is on a pallet).
  if (recorder.supervised_only && recorder.regulator_reads == registry::Reads::kControlledGoods) {
    CL_RETURN_IF_ERROR(OnlyControlledGoods(s, actor));
  }
  // Where the custodian's goods are: the site of the events that put them
  // somewhere.
  if (PutsGoodsAtSite(event.step())) {
    for (auto& [code, c] : s.touched) {
      if (c.custodian == where.enterprise_uscc()) c.site = where.site();
    }
  }
  if (s.touched.size() > static_cast<size_t>(kMaxTouchedCodes)) {
    return Invalid("codes", absl::StrCat("the event would touch ", s.touched.size(),
                                         " codes (aggregates' contents included); at most ",
                                         kMaxTouchedCodes));
  }
  CL_ASSIGN_OR_RETURN(v1::EventLinks links, LinkTouchedCodes(s));
  // (An entry written before rules epoch 1 was held to its exact size then.)
  const size_t entry_bytes = entry.envelope->ByteSizeLong() + links.ByteSizeLong() + 64;
  const bool legacy_rebuild = entry.mode == journal::ApplyMode::kRebuild && entry.rules_epoch == 0;
  if (entry_bytes > kMaxEventEntryBytes && !legacy_rebuild) {
    return absl::InvalidArgumentError(
        absl::StrCat("envelope.payload: the event's log entry would be about ", entry_bytes,
                     " bytes; at most ", kMaxEventEntryBytes));
  }
  *entry.assignment = links.SerializeAsString();

  CL_RETURN_IF_ERROR(WriteTouchedCodes(s, changes));
  return WriteEventRecords(s, changes);
}

}  // namespace chemledger::ledger
