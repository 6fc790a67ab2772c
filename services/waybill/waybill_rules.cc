#include "services/waybill/waybill_rules.h"

#include <functional>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "chemledger/v1/ledger.pb.h"
#include "services/common/identifiers.h"
#include "services/common/package_code.h"
#include "services/common/refusal.h"
#include "services/common/status_macros.h"
#include "services/ledger/code_state.h"
#include "services/registry/oversight.h"
#include "services/registry/registry_rules.h"
#include "services/registry/registry_state.h"
#include "services/waybill/controlled_goods.h"
#include "services/waybill/validation.h"
#include "services/waybill/waybill_state.h"

namespace chemledger::waybill {
namespace {

// Writes waybill `ref` as `after` leaves it, with its place among the
// shipments due (internal::DueKey), which follows its status, its shipped
// codes and its planned arrival. `state` holds it as it was before this entry.
absl::Status WriteWaybill(const storage::StateReader& state, const std::string& ref,
                          const WaybillState& after, storage::StateWrites* changes) {
  absl::StatusOr<std::optional<WaybillState>> before = FindWaybillByRef(state, ref);
  if (!before.ok()) return before.status();
  const std::string was = *before ? internal::DueKey(**before, ref) : std::string();
  const std::string now = internal::DueKey(after, ref);
  if (was != now) {
    if (!was.empty()) changes->Delete(was);
    if (!now.empty()) changes->Put(now, "");
  }
  changes->Put(internal::WaybillKey(ref), internal::ToRecord(after).SerializeAsString());
  return absl::OkStatus();
}

absl::Status Precondition(absl::string_view field, absl::string_view rule) {
  return absl::FailedPreconditionError(absl::StrCat(field, ": ", rule));
}

// How far ahead of the platform's clock a device's clock may run.
constexpr absl::Duration kClockAllowance = absl::Minutes(5);

// From rules epoch 9: a time a device states (a gate's passage, a
// departure, an arrival) is not after the entry's record time (give or take
// a device clock kClockAllowance ahead). Unset times pass.
absl::Status CheckNotAheadOfRecordTime(const journal::EntryContext& entry, absl::string_view field,
                                       const google::protobuf::Timestamp& time) {
  if (entry.rules_epoch < 9 || (time.seconds() == 0 && time.nanos() == 0)) {
    return absl::OkStatus();
  }
  const absl::Time stated = absl::FromUnixSeconds(time.seconds()) + absl::Nanoseconds(time.nanos());
  if (stated <= entry.record_time + kClockAllowance) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": ", absl::FormatTime(absl::RFC3339_sec, stated, absl::UTCTimeZone()),
                   " is later than the platform's time of recording (",
                   absl::FormatTime(absl::RFC3339_sec, entry.record_time, absl::UTCTimeZone()),
                   "); a device's clock may run at most 5 minutes ahead"));
}

// From rules epoch 9, an ARRIVED waybill `w` (ref `ref`): the codes it
// listed that never shipped did not travel, so they are free for another
// waybill; and it closes once everything that shipped (if anything did) is
// received.
absl::Status SettleArrived(const journal::EntryContext& entry, const storage::StateReader& state,
                           const std::string& ref, WaybillState& w, storage::StateWrites* changes) {
  if (entry.rules_epoch < 9 || w.status != v1::ARRIVED) return absl::OkStatus();
  for (const std::string& code : CodesOf(w.waybill)) {
    if (w.shipped.count(code)) continue;
    absl::StatusOr<std::optional<std::string>> open = OpenWaybillOf(state, code);
    if (!open.ok()) return open.status();
    if (*open && **open == ref) changes->Delete(internal::OpenKey(code));
  }
  // Everything that shipped (if anything did) is received.
  if (w.received.size() == w.shipped.size()) {
    w.status_before_close = w.status;
    w.status = v1::CLOSED;
  }
  return absl::OkStatus();
}

// The waybill number a change is about.
std::string NumberOf(const v1::WaybillRequest& r) {
  switch (r.change_case()) {
    case v1::WaybillRequest::kSubmit: return r.submit().waybill_number();
    case v1::WaybillRequest::kAmend: return r.amend().waybill_number();
    case v1::WaybillRequest::kCancel: return r.cancel().waybill_number();
    case v1::WaybillRequest::kDepart: return r.depart().waybill_number();
    case v1::WaybillRequest::kArrive: return r.arrive().waybill_number();
    case v1::WaybillRequest::kConsent: return r.consent().waybill_number();
    case v1::WaybillRequest::kGate: return r.gate().waybill_number();
    case v1::WaybillRequest::kAuthorizeCarrier:
    case v1::WaybillRequest::CHANGE_NOT_SET: break;
  }
  return "";
}

// The carrier whose waybill a change is about: the one a submission names;
// for the carrier's own changes (amend, depart, arrive), the signer's
// enterprise; for a consent, the one it names; for a cancellation, the one it
// names, else the signer's enterprise when it has a waybill of that number,
// else the carrier of the waybill of that number the signer is consignor of
// (so a consignor's cancellation from before cancellations named the
// carrier, when numbers were unique in the deployment, finds its waybill).
// For an arrival a regulator signs (from rules epoch 12: `regulator_arrival`),
// the one it names.
absl::StatusOr<std::string> CarrierNamed(const storage::StateReader& state,
                                         const v1::WaybillRequest& r, const v1::Actor& signer,
                                         bool regulator_arrival) {
  switch (r.change_case()) {
    case v1::WaybillRequest::kSubmit: return r.submit().carrier_uscc();
    case v1::WaybillRequest::kConsent: return r.consent().carrier_uscc();
    case v1::WaybillRequest::kArrive:
      if (regulator_arrival) return r.arrive().carrier_uscc();
      break;
    case v1::WaybillRequest::kCancel: {
      if (!r.cancel().carrier_uscc().empty()) return r.cancel().carrier_uscc();
      const std::string& number = r.cancel().waybill_number();
      absl::StatusOr<std::optional<WaybillState>> own =
          FindWaybill(state, signer.enterprise_uscc(), number);
      if (!own.ok()) return own.status();
      if (*own) return signer.enterprise_uscc();
      absl::StatusOr<std::vector<WaybillState>> numbered = WaybillsNumbered(state, number);
      if (!numbered.ok()) return numbered.status();
      for (const WaybillState& w : *numbered) {
        if (!signer.enterprise_uscc().empty() &&
            w.waybill.consignor().uscc() == signer.enterprise_uscc()) {
          return w.waybill.carrier_uscc();
        }
      }
      break;
    }
    default: break;
  }
  return signer.enterprise_uscc();
}

const v1::Waybill* NewContent(const v1::WaybillRequest& r) {
  if (r.has_submit()) return &r.submit();
  if (r.has_amend()) return &r.amend();
  return nullptr;
}

// Each code of `w` can go on it: in the consignor's custody, active, not
// packed, and on no other open waybill. The submitter may be a carrier the
// code's holder never asked, so every reason gets the same refusal: it does
// not tell whether the code exists, who holds it, or which waybill has it.
// The full reason goes with it for the regulator (refusal.h). Before rules
// epoch 1 custody was checked outside the log's order, so a rebuilt entry of
// epoch 0 is held to the open-waybill rule only.
absl::Status CheckListable(const journal::EntryContext& entry, const storage::StateReader& state,
                           const v1::Waybill& w, bool check_custody) {
  for (int l = 0; l < w.goods_size(); ++l) {
    for (int c = 0; c < w.goods(l).codes_size(); ++c) {
      const std::string field = absl::StrCat("waybill.goods[", l, "].codes[", c, "]");
      const std::string& code = w.goods(l).codes(c);
      const auto refuse = [&](absl::string_view why) {
        return WithFullReason(
            Precondition(field, absl::StrCat(code, " cannot be listed: it must be in the "
                                                   "consignor's custody, active, not packed and on "
                                                   "no other open waybill")),
            Precondition(field, absl::StrCat(code, " ", why)));
      };
      if (check_custody) {
        absl::StatusOr<std::optional<ledger::CodeState>> s = ledger::FindCode(state, code);
        if (!s.ok()) return s.status();
        if (!*s) return refuse("is not in the ledger");
        if ((*s)->custodian != w.consignor().uscc()) {
          return refuse(absl::StrCat("is in the custody of ", (*s)->custodian));
        }
        if ((*s)->status != ledger::CodeStatus::kActive || !(*s)->parent.empty()) {
          return refuse(absl::StrCat("is ", ledger::CodeStatusName((*s)->status),
                                     (*s)->parent.empty() ? "" : " and packed on " + (*s)->parent));
        }
      }
      // From epoch 9 an arrived waybill that never shipped it does not
      // hold it (WaybillHolderOf); before, every waybill listing it did.
      std::optional<std::string> holder;
      if (entry.rules_epoch >= 9) {
        absl::StatusOr<std::optional<WaybillHolder>> h = WaybillHolderOf(state, code);
        if (!h.ok()) return h.status();
        if (*h) holder = (*h)->ref;
      } else {
        absl::StatusOr<std::optional<std::string>> open = OpenWaybillOf(state, code);
        if (!open.ok()) return open.status();
        holder = *std::move(open);
      }
      if (holder && *holder != WaybillRef(w.carrier_uscc(), w.waybill_number())) {
        return refuse(absl::StrCat("is already on open waybill ", NumberOfRef(*holder), " of ",
                                   CarrierOfRef(*holder)));
      }
    }
  }
  return absl::OkStatus();
}

// The parties' names and the carrier's licence number are the registered
// ones (a party the registry does not hold as loader is taken as stated).
// `consignor` and `consignee` are their registry records, already read.
absl::Status CheckRegisteredFacts(const storage::StateReader& state, const v1::Waybill& w,
                                  const v1::Enterprise& carrier, const v1::Enterprise& consignor,
                                  const v1::Enterprise& consignee, absl::CivilDay today) {
  if (w.carrier_name() != carrier.name()) {
    return absl::InvalidArgumentError(
        absl::StrCat("waybill.carrier_name: '", w.carrier_name(), "' is not the registered name of ",
                     carrier.uscc(), " ('", carrier.name(), "')"));
  }
  bool licensed = false;
  for (const v1::Licence& l : carrier.licences()) {
    licensed |= l.type() == v1::ROAD_TRANSPORT && l.number() == w.carrier_licence() &&
                registry::FromProtoDate(l.valid_from()) <= today &&
                today <= registry::FromProtoDate(l.valid_until());
  }
  if (!licensed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "waybill.carrier_licence: '", w.carrier_licence(), "' is not a 道路运输经营许可证 of ",
        carrier.uscc(), " valid today in the registry"));
  }
  const auto check_name = [](absl::string_view field, const v1::WaybillParty& party,
                             const v1::Enterprise& registered) {
    if (party.name() == registered.name()) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".name: '", party.name(), "' is not the registered name of ",
                     party.uscc(), " ('", registered.name(), "')"));
  };
  if (absl::Status s = check_name("waybill.consignor", w.consignor(), consignor); !s.ok()) return s;
  if (absl::Status s = check_name("waybill.consignee", w.consignee(), consignee); !s.ok()) return s;
  // The loader is usually the consignor (or the consignee): read only if not.
  const v1::WaybillParty& loader = w.loader();
  if (loader.uscc() == consignor.uscc()) return check_name("waybill.loader", loader, consignor);
  if (loader.uscc() == consignee.uscc()) return check_name("waybill.loader", loader, consignee);
  absl::StatusOr<std::optional<registry::EnterpriseRecord>> e =
      registry::FindEnterprise(state, loader.uscc());
  if (!e.ok()) return e.status();
  if (!*e) return absl::OkStatus();  // an unregistered loader is taken as stated
  return check_name("waybill.loader", loader, (*e)->enterprise);
}

// Adds what `code` holds to `milli`: its remaining quantity, or for an
// aggregate what is packed on it (nesting is bounded by the ledger). Every
// package must be in `unit` (set by the first one seen when empty).
absl::Status AddContents(const storage::StateReader& state, const std::string& code,
                         absl::string_view field, int depth, uint64_t* milli, std::string* unit) {
  absl::StatusOr<std::optional<ledger::CodeState>> s = ledger::FindCode(state, code);
  if (!s.ok()) return s.status();
  if (!*s) return absl::OkStatus();  // CheckListable refused it already
  if ((*s)->aggregate) {
    if (depth > ledger::kMaxNesting) return absl::OkStatus();
    for (const std::string& child : (*s)->children) {
      if (absl::Status st = AddContents(state, child, field, depth + 1, milli, unit); !st.ok()) {
        return st;
      }
    }
    return absl::OkStatus();
  }
  if (unit->empty()) *unit = (*s)->unit;
  if ((*s)->unit != *unit) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": its packages are in ", *unit, " and ", (*s)->unit, ": one line holds one unit"));
  }
  *milli += (*s)->remaining_milli;
  return absl::OkStatus();
}

// Each goods line states exactly what its codes hold, in their labels' unit.
absl::Status CheckQuantities(const storage::StateReader& state, const v1::Waybill& w) {
  for (int l = 0; l < w.goods_size(); ++l) {
    const v1::GoodsLine& g = w.goods(l);
    const std::string field = absl::StrCat("waybill.goods[", l, "]");
    uint64_t milli = 0;
    std::string unit;
    for (const std::string& code : g.codes()) {
      if (absl::Status s = AddContents(state, code, field, 0, &milli, &unit); !s.ok()) return s;
    }
    if (g.codes_size() == 0) continue;
    // What the codes hold is the consignor's to tell: the refusal says
    // that they differ, the numbers go with it for the regulator.
    if (g.unit() != unit) {
      return WithFullReason(
          absl::InvalidArgumentError(absl::StrCat(
              field, ".unit: ", g.unit(), " is not the unit its codes are labelled in")),
          absl::InvalidArgumentError(absl::StrCat(field, ".unit: ", g.unit(),
                                                  ", but its codes are labelled in ", unit)));
    }
    if (g.quantity_milli() != milli) {
      return WithFullReason(
          absl::InvalidArgumentError(absl::StrCat(
              field, ".quantity_milli: ", g.quantity_milli(), " thousandths of ", g.unit(),
              " is not what its codes hold now (their remaining quantities)")),
          WithRefusalKind(absl::InvalidArgumentError(absl::StrCat(
                              field, ".quantity_milli: ", g.quantity_milli(), " thousandths of ",
                              unit, ", but its codes hold ", milli)),
                          "QUANTITY_MISMATCH"));
    }
  }
  return absl::OkStatus();
}

// The goods of `w` can go on it now: listable (custody, state, no other open
// waybill) and stated as their codes hold them.
absl::Status CheckGoods(const journal::EntryContext& entry, const storage::StateReader& state,
                        const v1::Waybill& w, bool legacy_rebuild) {
  if (absl::Status s = CheckListable(entry, state, w, !legacy_rebuild); !s.ok()) return s;
  if (entry.rules_epoch >= 2) return CheckQuantities(state, w);
  return absl::OkStatus();
}

// The rules of new content (a submission or an amendment).
absl::Status CheckContent(const journal::EntryContext& entry, const storage::StateReader& state,
                          const v1::WaybillRequest& request, const WaybillState* existing,
                          bool consented) {
  const v1::Waybill& w = *NewContent(request);
  const std::string& number = w.waybill_number();
  if (request.has_submit() && existing != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("waybill.waybill_number: '", number, "' is already taken"));
  }
  if (request.has_amend()) {
    if (existing == nullptr) {
      return absl::NotFoundError(absl::StrCat("waybill.waybill_number: no waybill '", number, "'"));
    }
    if ((existing->status != v1::OPEN && existing->status != v1::PENDING) ||
        !existing->shipped.empty()) {
      return Precondition("waybill.waybill_number",
                          absl::StrCat("'", number,
                                       "' can only be amended while open or pending and nothing "
                                       "on it has shipped"));
    }
    if (existing->waybill.carrier_uscc() != w.carrier_uscc()) {
      return absl::InvalidArgumentError("waybill.carrier_uscc: an amendment cannot change the carrier");
    }
  }
  absl::StatusOr<std::optional<registry::EnterpriseRecord>> carrier =
      registry::FindEnterprise(state, w.carrier_uscc());
  if (!carrier.ok()) return carrier.status();
  if (!*carrier) {
    return absl::NotFoundError(
        absl::StrCat("waybill.carrier_uscc: ", w.carrier_uscc(), " is not registered"));
  }
  if (entry.rules_epoch >= 2 && !registry::HasRole((*carrier)->enterprise, v1::CARRIER)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "waybill.carrier_uscc: ", w.carrier_uscc(),
        " is not registered as a carrier (CARRIER): only carriers submit waybills"));
  }
  const absl::CivilDay today = registry::ChinaDay(entry.record_time);
  if (!registry::HoldsLicence((*carrier)->enterprise, v1::ROAD_TRANSPORT, today)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "waybill.carrier_uscc: ", w.carrier_uscc(),
        " holds no 道路运输经营许可证 (ROAD_TRANSPORT) valid today"));
  }
  // Listed since it submitted (a consent or an amendment comes later).
  if (entry.rules_epoch >= 9 && (*carrier)->blacklist_reason) {
    return absl::PermissionDeniedError(
        absl::StrCat("waybill.carrier_uscc: ", w.carrier_uscc(),
                     " is blacklisted: no goods are consigned to its vehicles"));
  }
  // The consignor's and the consignee's records: [0] and [1].
  std::optional<registry::EnterpriseRecord> parties[2];
  for (int i = 0; i < 2; ++i) {
    const char* field = i == 0 ? "waybill.consignor.uscc" : "waybill.consignee.uscc";
    const std::string& uscc = i == 0 ? w.consignor().uscc() : w.consignee().uscc();
    absl::StatusOr<std::optional<registry::EnterpriseRecord>> e =
        registry::FindEnterprise(state, uscc);
    if (!e.ok()) return e.status();
    if (!*e) return absl::NotFoundError(absl::StrCat(field, ": ", uscc, " is not registered"));
    if (i == 1 && entry.rules_epoch >= 2) {
      if (absl::Status s = registry::CheckMayReceiveGoods(**e, field); !s.ok()) return s;
    }
    parties[i] = *std::move(e);
  }
  if (entry.rules_epoch >= 2) {
    // What the waybill code will state, the platform has checked.
    if (absl::Status s = ValidateDocumentNumbers(w); !s.ok()) return s;
    if (absl::Status s = CheckRegisteredFacts(state, w, (*carrier)->enterprise,
                                              parties[0]->enterprise, parties[1]->enterprise,
                                              today);
        !s.ok()) {
      return s;
    }
  }
  const bool legacy_rebuild =
      entry.mode == journal::ApplyMode::kRebuild && entry.rules_epoch == 0;
  // Until the consignor consents, nothing about its goods is checked (or
  // told): that happens on consent.
  if (consented) {
    if (absl::Status s = CheckGoods(entry, state, w, legacy_rebuild); !s.ok()) return s;
  }
  bool toxic = false, precursor = false;
  std::set<std::string> seen;
  for (int l = 0; l < w.goods_size(); ++l) {
    const v1::GoodsLine& g = w.goods(l);
    // A package code names its product: the line must match it, and the
    // product's control flags ask for their permits. `package` is a package
    // code; `listed` the code the line lists (the package, or the pallet it
    // is packed on).
    const auto check_package = [&](const std::string& field, const std::string& listed,
                                   const std::string& package) -> absl::Status {
      std::optional<ids::PackageCode> p = ids::PackageCode::Parse(package);
      if (!p) return absl::OkStatus();
      const std::string what =
          package == listed ? package : absl::StrCat(package, " (packed on ", listed, ")");
      absl::StatusOr<std::optional<v1::Product>> product =
          registry::FindProduct(state, p->uscc, p->product);
      if (!product.ok()) return product.status();
      if (!*product) {
        return absl::NotFoundError(absl::StrCat(field, ": ", what, " names no registered product"));
      }
      const v1::Product& pr = **product;
      if (pr.un_number() != g.un_number() || pr.hazard_class() != g.hazard_class() ||
          pr.packing_group() != g.packing_group()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "waybill.goods[", l, "]: UN ", g.un_number(), " class ", g.hazard_class(), " PG '",
            g.packing_group(), "' does not match ", what, " (UN ", pr.un_number(), " class ",
            pr.hazard_class(), " PG '", pr.packing_group(), "')"));
      }
      for (const std::string& flag : pr.control_flags()) {
        toxic |= flag == "剧毒";
        precursor |= flag == "易制毒";
      }
      return absl::OkStatus();
    };
    for (int c = 0; c < g.codes_size(); ++c) {
      const std::string field = absl::StrCat("waybill.goods[", l, "].codes[", c, "]");
      const std::string& code = g.codes(c);
      if (!seen.insert(code).second) {
        return absl::InvalidArgumentError(absl::StrCat(field, ": ", code, " is listed twice"));
      }
      if (ids::PackageCode::Parse(code)) {
        if (absl::Status s = check_package(field, code, code); !s.ok()) return s;
        continue;
      }
      // A pallet's (or container's) packages are what travels (rules epoch
      // 19): each must match the line, and their flags ask for permits, as
      // if listed themselves. Before, a pallet carried anything under any
      // line.
      // Told only once the consignor has consented, as the other checks of
      // its goods are (at the consent, everything is checked again).
      if (entry.rules_epoch < 19 || !consented) continue;
      std::vector<std::string> packages;
      if (absl::Status s = AppendPackagesPackedOn(state, code, &packages); !s.ok()) return s;
      for (const std::string& package : packages) {
        if (absl::Status s = check_package(field, code, package); !s.ok()) return s;
      }
    }
  }
  if (toxic && w.toxic_permit().empty()) {
    return WithRefusalKind(
        absl::InvalidArgumentError(
            "waybill.toxic_permit: 剧毒 goods need their 剧毒化学品道路运输通行证 number"),
        "CONTROLLED_GOODS_WITHOUT_PERMIT");
  }
  if (precursor && w.precursor_permit().empty()) {
    return WithRefusalKind(
        absl::InvalidArgumentError(
            "waybill.precursor_permit: 易制毒 goods need their transport permit or filing number"),
        "CONTROLLED_GOODS_WITHOUT_PERMIT");
  }
  return absl::OkStatus();
}

// A consignor's standing consent to a carrier's waybills, or its end.
absl::Status ApplyAuthorization(const journal::EntryContext& entry,
                                const storage::StateReader& state, const v1::Actor& actor,
                                const v1::CarrierAuthorization& a, storage::StateWrites* changes) {
  if ((actor.role() != v1::ENTERPRISE_ADMIN && actor.role() != v1::ENTERPRISE_OPERATOR) ||
      actor.enterprise_uscc().empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "envelope.signatures[0].key_id: actor '", actor.name(),
        "' may not authorise carriers: only a consignor's admins and operators may"));
  }
  const std::string& consignor = actor.enterprise_uscc();
  if (absl::Status s = ids::ValidateUscc("authorize_carrier.carrier_uscc", a.carrier_uscc());
      !s.ok()) {
    return s;
  }
  const std::string key = internal::AuthorizationKey(consignor, a.carrier_uscc());
  if (a.withdraw()) {
    changes->Delete(key);
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<registry::EnterpriseRecord>> carrier =
      registry::FindEnterprise(state, a.carrier_uscc());
  if (!carrier.ok()) return carrier.status();
  if (!*carrier || !registry::HasRole((*carrier)->enterprise, v1::CARRIER)) {
    return absl::NotFoundError(absl::StrCat("authorize_carrier.carrier_uscc: ", a.carrier_uscc(),
                                            " is not a registered carrier"));
  }
  const absl::CivilDay today = registry::ChinaDay(entry.record_time);
  if (!a.has_valid_until() || registry::FromProtoDate(a.valid_until()) < today ||
      registry::FromProtoDate(a.valid_until()) > today + 3 * 366) {
    return absl::InvalidArgumentError(
        "authorize_carrier.valid_until: a day from today to at most three years ahead is required");
  }
  state::CarrierAuthorizationRecord record;
  *record.mutable_valid_until() = a.valid_until();
  record.set_log_index(entry.index);
  changes->Put(key, record.SerializeAsString());
  return absl::OkStatus();
}

// A vehicle passing a park gate, signed by a gate actor of that park: an
// entry is refused, with the reason, for a waybill no vehicle may travel on
// (cancelled, closed, not consented to), a carrier without a valid road
// transport licence, or a blacklisted party; an exit needs an entry.
absl::Status ApplyGatePassage(const journal::EntryContext& entry,
                              const storage::StateReader& state, const v1::Actor& actor,
                              const v1::GatePassage& g, storage::StateWrites* changes) {
  if (actor.role() != v1::PARK_GATE || actor.park_id() != g.park_id()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "envelope.signatures[0].key_id: actor '", actor.name(),
        "' may not record passages at park '", g.park_id(), "': only its gates' actors may"));
  }
  absl::StatusOr<std::optional<v1::Park>> park = registry::FindPark(state, g.park_id());
  if (!park.ok()) return park.status();
  if (!*park) {
    return absl::NotFoundError(absl::StrCat("gate.park_id: '", g.park_id(), "' is not registered"));
  }
  if (std::none_of((*park)->gates().begin(), (*park)->gates().end(),
                   [&](const v1::Park::Gate& gate) { return gate.gate_id() == g.gate_id(); })) {
    return absl::NotFoundError(absl::StrCat("gate.gate_id: '", g.gate_id(), "' is not a gate of ",
                                            g.park_id()));
  }
  if (g.direction() != v1::GatePassage::ENTRY && g.direction() != v1::GatePassage::EXIT) {
    return absl::InvalidArgumentError("gate.direction: must be ENTRY or EXIT");
  }
  if (!g.has_time()) return absl::InvalidArgumentError("gate.time: is required");
  CL_RETURN_IF_ERROR(CheckNotAheadOfRecordTime(entry, "gate.time", g.time()));
  absl::StatusOr<std::optional<WaybillState>> w =
      FindWaybill(state, g.carrier_uscc(), g.waybill_number());
  if (!w.ok()) return w.status();
  if (!*w) {
    return absl::NotFoundError(absl::StrCat("gate.waybill_number: carrier ", g.carrier_uscc(),
                                            " has no waybill '", g.waybill_number(), "'"));
  }
  const std::string ref = WaybillRef(g.carrier_uscc(), g.waybill_number());
  const std::string key = internal::InParkKey(g.park_id(), ref);
  absl::StatusOr<std::optional<std::string>> inside = state.Get(key);
  if (!inside.ok()) return inside.status();
  if (g.direction() == v1::GatePassage::EXIT) {
    if (!inside->has_value()) {
      return Precondition("gate.direction", absl::StrCat("the vehicle on '", g.waybill_number(),
                                                         "' did not enter ", g.park_id()));
    }
    if (entry.rules_epoch >= 9) {
      state::InParkRecord entered;
      if (!entered.ParseFromString(**inside)) {
        return absl::DataLossError(absl::StrCat("the record of ", key, " is damaged"));
      }
      // Give or take the gates' clocks (one may run behind the other).
      if (g.time().seconds() + absl::ToInt64Seconds(kClockAllowance) <
          entered.entered_unix_seconds()) {
        return absl::InvalidArgumentError(
            absl::StrCat("gate.time: an exit before the vehicle's entry (",
                         entered.entered_unix_seconds(), " Unix seconds)"));
      }
      if (!entered.plate().empty()) {
        changes->Delete(internal::InParkPlateKey(g.park_id(), entered.plate()));
      }
    }
    changes->Delete(key);
    changes->Put(internal::ChangeKey(ref, entry.index), "");
    return absl::OkStatus();
  }
  if (inside->has_value()) {
    return Precondition("gate.direction", absl::StrCat("the vehicle on '", g.waybill_number(),
                                                       "' is already inside ", g.park_id()));
  }
  // Entry refused: the reason is what the gate tells the driver.
  const v1::WaybillStatus status = (*w)->status;
  if (status == v1::CANCELLED || status == v1::CLOSED || status == v1::PENDING) {
    return Precondition("gate.waybill_number",
                        absl::StrCat("entry refused: waybill '", g.waybill_number(), "' is ",
                                     v1::WaybillStatus_Name(status)));
  }
  const absl::CivilDay today = registry::ChinaDay(entry.record_time);
  absl::StatusOr<std::optional<registry::EnterpriseRecord>> carrier =
      registry::FindEnterprise(state, g.carrier_uscc());
  if (!carrier.ok()) return carrier.status();
  if (!*carrier || !registry::HoldsLicence((*carrier)->enterprise, v1::ROAD_TRANSPORT, today)) {
    return Precondition("gate.carrier_uscc",
                        absl::StrCat("entry refused: carrier ", g.carrier_uscc(),
                                     " holds no 道路运输经营许可证 valid today"));
  }
  for (const std::string& party : PartiesOf((*w)->waybill)) {
    absl::StatusOr<std::optional<registry::EnterpriseRecord>> e =
        registry::FindEnterprise(state, party);
    if (!e.ok()) return e.status();
    if (*e && (*e)->blacklist_reason) {
      return Precondition("gate.waybill_number",
                          absl::StrCat("entry refused: ", (*e)->enterprise.name(), " (", party,
                                       ") is blacklisted"));
    }
  }
  state::InParkRecord record;
  record.set_gate_id(g.gate_id());
  record.set_entered_unix_seconds(g.time().seconds());
  record.set_log_index(entry.index);
  if (entry.rules_epoch >= 9) {
    // One vehicle is inside once, whatever waybill it shows.
    const std::string& plate = (*w)->waybill.vehicle().plate();
    const std::string plate_key = internal::InParkPlateKey(g.park_id(), plate);
    absl::StatusOr<std::optional<std::string>> on = state.Get(plate_key);
    if (!on.ok()) return on.status();
    if (*on) {
      return Precondition("gate.direction",
                          absl::StrCat("vehicle ", plate, " is already inside ", g.park_id(),
                                       " (on waybill ", NumberOfRef(**on), ")"));
    }
    record.set_plate(plate);
    changes->Put(plate_key, ref);
  }
  changes->Put(key, record.SerializeAsString());
  changes->Put(internal::ChangeKey(ref, entry.index), "");
  return absl::OkStatus();
}

// From rules epoch 12: a regulator of 交通运输 records the arrival of a
// waybill whose carrier is blacklisted. Its own actors sign nothing once it
// is listed, so without this its DEPARTED waybill (or an OPEN one with goods
// already shipped, which the consignor may no longer cancel) could never
// arrive and would hold the codes it listed that never shipped for good
// (nothing consumes, repackages or lists them on another waybill while it
// does). The regulator's jurisdiction holds the carrier, the consignor or
// the consignee; the time rule of an arrival applies as to the carrier's. A
// regulator whose jurisdiction is not the whole country learns no more of
// waybills outside it than GetWaybill tells it: a missing one is refused as
// one outside its jurisdiction.
absl::Status RegulatorMayRecordArrival(const storage::StateReader& state,
                                       const v1::Actor& regulator,
                                       const v1::WaybillMovement& arrive,
                                       const std::optional<WaybillState>& existing) {
  const std::string& number = arrive.waybill_number();
  const auto denied = [&](absl::string_view why) {
    return absl::PermissionDeniedError(
        absl::StrCat("envelope.signatures[0].key_id: regulator '", regulator.name(),
                     "' may not record the arrival of waybill '", number, "': ", why));
  };
  if (regulator.department() != v1::TRANSPORT) {
    return denied(
        absl::StrCat("only a regulator of 交通运输 (TRANSPORT) may, and only for a "
                     "blacklisted carrier; this one is of ",
                     registry::DepartmentText(regulator)));
  }
  if (arrive.carrier_uscc().empty()) {
    return absl::InvalidArgumentError(
        "arrive.carrier_uscc: is required when a regulator records the arrival");
  }
  const bool everywhere = registry::OverseesEverything(regulator);
  if (!existing && everywhere) {
    return absl::NotFoundError(absl::StrCat("arrive.waybill_number: carrier ",
                                            arrive.carrier_uscc(), " has no waybill '", number,
                                            "'"));
  }
  bool oversees = everywhere;
  if (existing) {
    for (const std::string* party :
         {&existing->waybill.carrier_uscc(), &existing->waybill.consignor().uscc(),
          &existing->waybill.consignee().uscc()}) {
      CL_ASSIGN_OR_RETURN(bool covered, registry::OverseesEnterprise(state, regulator, *party));
      oversees = oversees || covered;
    }
  }
  if (!oversees) {
    return denied(absl::StrCat("it is not a waybill of carrier ", arrive.carrier_uscc(),
                               " whose carrier, consignor or consignee its jurisdiction holds"));
  }
  CL_ASSIGN_OR_RETURN(std::optional<registry::EnterpriseRecord> carrier,
                      registry::FindEnterprise(state, arrive.carrier_uscc()));
  if (!carrier || !carrier->blacklist_reason) {
    return Precondition(
        "arrive.carrier_uscc",
        absl::StrCat(arrive.carrier_uscc(),
                     " is not blacklisted: its own actors record the arrival of its waybills"));
  }
  return absl::OkStatus();
}

// What each step of a waybill request (ApplyRequest) is applied with.
struct WaybillStep {
  const journal::EntryContext& entry;
  const storage::StateReader& state;
  const v1::WaybillRequest& request;
  const std::string& number;
  const std::string& ref;  // the waybill's carrier and number
  const std::string& carrier;
  const std::optional<WaybillState>& existing;  // on record; none for a new submission
  const v1::Waybill* content;                   // the submission's or amendment's; else null
  bool carrier_actor;                           // signed by an actor of the carrier
  bool regulator_arrival;                       // a regulator's arrival (rules epoch 12)
  storage::StateWrites* changes;
};

// A submission or an amendment: the waybill's content, open at once if its
// consignor has consented (by a standing authorization of the carrier).
absl::Status ApplyContent(const WaybillStep& step, WaybillState& next) {
  // From rules epoch 3 the consignor consents: by a standing
  // authorization of this carrier, or later, to this waybill.
  bool consented = step.entry.rules_epoch < 3;
  if (!consented) {
    absl::StatusOr<bool> authorized =
        CarrierAuthorized(step.state, step.content->consignor().uscc(), step.carrier,
                          registry::ChinaDay(step.entry.record_time));
    if (!authorized.ok()) return authorized.status();
    consented = *authorized;
  }
  if (absl::Status s = CheckContent(step.entry, step.state, step.request,
                                    step.existing ? &*step.existing : nullptr, consented);
      !s.ok()) {
    return s;
  }
  // An amendment's old codes leave the waybill; the new ones join it
  // once the consignor has consented.
  if (next.status == v1::OPEN) {
    for (const std::string& code : CodesOf(next.waybill)) {
      step.changes->Delete(internal::OpenKey(code));
    }
  }
  next.waybill = *step.content;
  next.status = consented ? v1::OPEN : v1::PENDING;
  next.content_log_index = step.entry.index;
  if (consented) {
    for (const std::string& code : CodesOf(*step.content)) {
      step.changes->Put(internal::OpenKey(code), step.ref);
    }
  }
  return absl::OkStatus();
}

// The consignor's consent to the revision it names, everything a
// submission is checked for checked again now.
absl::Status ApplyConsent(const WaybillStep& step, WaybillState& next) {
  const v1::WaybillConsent& c = step.request.consent();
  if (next.status != v1::PENDING) {
    return Precondition("consent.waybill_number",
                        absl::StrCat("'", step.number, "' is ", v1::WaybillStatus_Name(next.status),
                                     ": only a pending waybill is consented to"));
  }
  if (c.carrier_uscc() != step.carrier) {
    return absl::InvalidArgumentError(
        absl::StrCat("consent.carrier_uscc: the carrier of '", step.number, "' is ", step.carrier));
  }
  if (c.revision() != next.content_log_index) {
    return Precondition("consent.revision",
                        absl::StrCat("'", step.number, "' is at revision ", next.content_log_index,
                                     " now, not ", c.revision(), ": read it again"));
  }
  // Everything a submission is checked for, checked again now: the
  // waybill may have waited while a licence lapsed or a party was
  // blacklisted, and the platform signs its code from now on.
  v1::WaybillRequest as_amended;
  *as_amended.mutable_amend() = next.waybill;
  if (absl::Status s = ValidateWaybill(next.waybill, step.entry.record_time); !s.ok()) return s;
  if (absl::Status s = CheckContent(step.entry, step.state, as_amended, &next, /*consented=*/true);
      !s.ok()) {
    return s;
  }
  next.status = v1::OPEN;
  for (const std::string& code : CodesOf(next.waybill)) {
    step.changes->Put(internal::OpenKey(code), step.ref);
  }
  return absl::OkStatus();
}

// Cancelled by its carrier, or by its consignor before anything shipped.
absl::Status ApplyCancel(const WaybillStep& step, WaybillState& next) {
  const bool cancellable =
      step.carrier_actor
          ? next.status == v1::OPEN || next.status == v1::DEPARTED || next.status == v1::PENDING
          : (next.status == v1::OPEN || next.status == v1::PENDING) && next.shipped.empty();
  if (!cancellable) {
    return Precondition(
        "cancel.waybill_number",
        absl::StrCat("'", step.number, "' is ", v1::WaybillStatus_Name(next.status),
                     step.carrier_actor
                         ? ": its carrier cancels a PENDING, OPEN or DEPARTED waybill only"
                         : ": its consignor cancels it only while PENDING or OPEN and "
                           "before anything on it has shipped"));
  }
  if (!next.received.empty()) {
    return Precondition(
        "cancel.waybill_number",
        absl::StrCat("'", step.number, "' has receipts; it closes when the rest is received"));
  }
  if (step.request.cancel().reason().empty()) {
    return absl::InvalidArgumentError("cancel.reason: is required");
  }
  if (next.status != v1::PENDING) {
    for (const std::string& code : CodesOf(next.waybill)) {
      step.changes->Delete(internal::OpenKey(code));
    }
  }
  next.status = v1::CANCELLED;
  return absl::OkStatus();
}

// The vehicle left: an OPEN waybill departs.
absl::Status ApplyDeparture(const WaybillStep& step, WaybillState& next) {
  if (next.status != v1::OPEN) {
    return Precondition("depart.waybill_number",
                        absl::StrCat("'", step.number, "' is ", v1::WaybillStatus_Name(next.status),
                                     ": only an OPEN waybill departs (a PENDING one waits for its "
                                     "consignor's consent)"));
  }
  CL_RETURN_IF_ERROR(
      CheckNotAheadOfRecordTime(step.entry, "depart.time", step.request.depart().time()));
  // From epoch 19 the carrier's licence is checked again as the vehicle
  // leaves (the waybill may have opened months before).
  if (step.entry.rules_epoch >= 19) {
    absl::StatusOr<std::optional<registry::EnterpriseRecord>> carrier =
        registry::FindEnterprise(step.state, step.carrier);
    if (!carrier.ok()) return carrier.status();
    if (*carrier && !registry::HoldsLicence((*carrier)->enterprise, v1::ROAD_TRANSPORT,
                                            registry::ChinaDay(step.entry.record_time))) {
      return absl::PermissionDeniedError(
          absl::StrCat("depart.waybill_number: its carrier ", step.carrier,
                       " holds no 道路运输经营许可证 (ROAD_TRANSPORT) valid today"));
    }
  }
  next.status = v1::DEPARTED;
  return absl::OkStatus();
}

// The vehicle arrived: a DEPARTED waybill (or, by a regulator, an OPEN one
// with goods shipped) arrives, and what never shipped is released.
absl::Status ApplyArrival(const WaybillStep& step, WaybillState& next) {
  // A regulator arrives an OPEN one too, once goods are loaded on a
  // vehicle whose departure its blacklisted carrier could not sign (with
  // nothing shipped, the consignor cancels it).
  if (next.status != v1::DEPARTED &&
      !(step.regulator_arrival && next.status == v1::OPEN && !next.shipped.empty())) {
    const char* rule = !step.regulator_arrival ? ": only a DEPARTED waybill arrives"
                       : next.status == v1::OPEN
                           ? " with nothing shipped: its consignor cancels it"
                           : ": a regulator arrives a DEPARTED waybill, or an OPEN one with "
                             "goods shipped";
    return Precondition(
        "arrive.waybill_number",
        absl::StrCat("'", step.number, "' is ", v1::WaybillStatus_Name(next.status), rule));
  }
  CL_RETURN_IF_ERROR(
      CheckNotAheadOfRecordTime(step.entry, "arrive.time", step.request.arrive().time()));
  next.status = v1::ARRIVED;
  CL_RETURN_IF_ERROR(SettleArrived(step.entry, step.state, step.ref, next, step.changes));
  return absl::OkStatus();
}

absl::Status ApplyRequest(const journal::EntryContext& entry, const storage::StateReader& state,
                          storage::StateWrites* changes) {
  absl::StatusOr<v1::Actor> actor = registry::CheckSigner(entry, state, kWaybillContext);
  if (!actor.ok()) return actor.status();
  v1::WaybillRequest request;
  if (!request.ParseFromString(entry.envelope->payload())) {
    return absl::InvalidArgumentError("envelope.payload: not a WaybillRequest");
  }
  if (request.change_case() == v1::WaybillRequest::CHANGE_NOT_SET) {
    return absl::InvalidArgumentError("request.change: no change given");
  }
  if (entry.envelope->ByteSizeLong() + 64 > kMaxWaybillEntryBytes &&
      !(entry.mode == journal::ApplyMode::kRebuild && entry.rules_epoch == 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "envelope.payload: the waybill's log entry would be about ",
        entry.envelope->ByteSizeLong() + 64, " bytes; at most ", kMaxWaybillEntryBytes));
  }
  // The field rules first: they need nothing but the request.
  if (const v1::Waybill* w = NewContent(request); w != nullptr) {
    if (absl::Status s = ValidateWaybill(*w, entry.record_time); !s.ok()) return s;
  }
  if (request.has_authorize_carrier()) {
    return ApplyAuthorization(entry, state, *actor, request.authorize_carrier(), changes);
  }
  if (request.has_gate()) return ApplyGatePassage(entry, state, *actor, request.gate(), changes);
  const std::string number = NumberOf(request);
  // A waybill is named by its carrier and its number: numbers are unique per
  // carrier, so no carrier can take (or learn of) another's.
  // From rules epoch 12 a regulator may arrive a blacklisted carrier's
  // waybill, naming the carrier (RegulatorMayRecordArrival); nobody else
  // names one in a departure or an arrival.
  const bool regulator_arrival =
      entry.rules_epoch >= 12 && request.has_arrive() && actor->role() == v1::REGULATOR;
  if (entry.rules_epoch >= 12 && !regulator_arrival) {
    if (request.has_depart() && !request.depart().carrier_uscc().empty()) {
      return absl::InvalidArgumentError(
          "depart.carrier_uscc: must be empty (the carrier is the signer's enterprise)");
    }
    if (request.has_arrive() && !request.arrive().carrier_uscc().empty()) {
      return absl::InvalidArgumentError(
          "arrive.carrier_uscc: only a regulator names the carrier (the carrier is the signer's "
          "enterprise)");
    }
  }
  absl::StatusOr<std::string> carrier_named =
      CarrierNamed(state, request, *actor, regulator_arrival);
  if (!carrier_named.ok()) return carrier_named.status();
  const std::string ref = WaybillRef(*carrier_named, number);
  absl::StatusOr<std::optional<WaybillState>> existing = FindWaybillByRef(state, ref);
  if (!existing.ok()) return existing.status();
  const v1::Waybill* content = NewContent(request);
  const bool enterprise_actor =
      actor->role() == v1::ENTERPRISE_ADMIN || actor->role() == v1::ENTERPRISE_OPERATOR;
  const std::string& who = actor->enterprise_uscc();
  if (regulator_arrival) {
    CL_RETURN_IF_ERROR(RegulatorMayRecordArrival(state, *actor, request.arrive(), *existing));
  } else if (!request.has_submit()) {
    // A waybill is its carrier's, and for consent and cancelling its
    // consignor's too. To anyone else another enterprise's waybill is none:
    // the same answer as for a number never used.
    const bool party =
        *existing && enterprise_actor &&
        (who == (*existing)->waybill.carrier_uscc() ||
         ((request.has_consent() || request.has_cancel()) &&
          who == (*existing)->waybill.consignor().uscc()));
    if (!party) {
      const char* field = request.has_cancel()    ? "cancel"
                          : request.has_depart()  ? "depart"
                          : request.has_consent() ? "consent"
                          : request.has_amend()   ? "waybill"
                                                  : "arrive";
      return absl::NotFoundError(absl::StrCat(field, ".waybill_number: ",
                                              who.empty() ? "this actor" : who,
                                              " has no waybill '", number, "'"));
    }
  }
  // The carrier: named by the new submission, or by the waybill on record.
  const std::string carrier =
      request.has_submit() ? content->carrier_uscc() : (*existing)->waybill.carrier_uscc();
  const bool carrier_actor = enterprise_actor && who == carrier;
  const bool consignor_actor =
      enterprise_actor && *existing && who == (*existing)->waybill.consignor().uscc();
  // The carrier's actors change its waybills; the consignor's consent to
  // them, and may cancel one that has not departed.
  if (!regulator_arrival &&
      (request.has_consent() ? !consignor_actor
                             : !(carrier_actor || (request.has_cancel() && consignor_actor)))) {
    return absl::PermissionDeniedError(absl::StrCat(
        "envelope.signatures[0].key_id: actor '", actor->name(), "' may not ",
        request.has_consent() ? "consent to" : "change", " waybill '", number, "': ",
        request.has_consent() ? "only the consignor's actors may"
                              : "only the carrier's actors may (and the consignor's, to cancel "
                                "it before it departs)"));
  }

  WaybillState next = *existing ? **existing : WaybillState();
  next.log_index = entry.index;
  const WaybillStep step{entry,   state,         request,           number, ref, carrier, *existing,
                         content, carrier_actor, regulator_arrival, changes};
  switch (request.change_case()) {
    case v1::WaybillRequest::kSubmit:
    case v1::WaybillRequest::kAmend:
      CL_RETURN_IF_ERROR(ApplyContent(step, next));
      break;
    case v1::WaybillRequest::kConsent:
      CL_RETURN_IF_ERROR(ApplyConsent(step, next));
      break;
    case v1::WaybillRequest::kCancel:
      CL_RETURN_IF_ERROR(ApplyCancel(step, next));
      break;
    case v1::WaybillRequest::kDepart:
      CL_RETURN_IF_ERROR(ApplyDeparture(step, next));
      break;
    case v1::WaybillRequest::kArrive:
      CL_RETURN_IF_ERROR(ApplyArrival(step, next));
      break;
    case v1::WaybillRequest::kAuthorizeCarrier:
    case v1::WaybillRequest::kGate:
    case v1::WaybillRequest::CHANGE_NOT_SET:
      return absl::InvalidArgumentError("request.change: no change given");
  }
  if (absl::Status s = WriteWaybill(state, ref, next, changes); !s.ok()) return s;
  if (!*existing) changes->Put(internal::NumberKey(number, next.waybill.carrier_uscc()), "");
  // The index by party, when the content changes (an amendment may name
  // another consignee).
  if (content != nullptr) {
    const std::set<std::string> parties = PartiesOf(next.waybill);
    if (*existing) {
      for (const std::string& was : PartiesOf((*existing)->waybill)) {
        if (!parties.count(was)) changes->Delete(internal::PartyKey(was, ref));
      }
    }
    for (const std::string& party : parties) changes->Put(internal::PartyKey(party, ref), "");
  }
  if (entry.rules_epoch >= 3) changes->Put(internal::ChangeKey(ref, entry.index), "");
  return absl::OkStatus();
}

// An error declaration (accepted by the lifecycle rules, which undid the
// corrected event): what this book noted of that event is undone too. A
// wrong shipment leaves the waybill's shipped codes; a wrong receipt leaves
// its received codes, the code is on the waybill again, and a waybill that
// receipt closed is open again in the status it had.
absl::Status UndoNotes(const journal::EntryContext& entry, const storage::StateReader& state,
                       const v1::Event& declaration, storage::StateWrites* changes) {
  absl::StatusOr<std::optional<ledger::EventInfo>> info =
      ledger::FindEvent(state, declaration.location().enterprise_uscc(),
                        declaration.corrects_event_id());
  if (!info.ok()) return info.status();
  if (!*info) return absl::OkStatus();
  absl::StatusOr<std::string> bytes = state.Entry((*info)->log_index);
  if (!bytes.ok()) return bytes.status();
  v1::LogEntry logged;
  v1::Event corrected;
  if (!logged.ParseFromString(*bytes) || !corrected.ParseFromString(logged.envelope().payload())) {
    return absl::DataLossError(absl::StrCat("event.corrects_event_id: event '",
                                            declaration.corrects_event_id(),
                                            "' cannot be read from the log"));
  }
  std::map<std::string, WaybillState> changed;  // by ref
  const auto waybill = [&](const std::string& ref) -> absl::StatusOr<WaybillState*> {
    auto it = changed.find(ref);
    if (it == changed.end()) {
      absl::StatusOr<std::optional<WaybillState>> w = FindWaybillByRef(state, ref);
      if (!w.ok()) return w.status();
      if (!*w) return nullptr;
      it = changed.emplace(ref, **std::move(w)).first;
    }
    return &it->second;
  };
  if (corrected.step() == v1::SHIPPING && corrected.codes_size() > 0) {
    absl::StatusOr<std::optional<WaybillState>> shipped_under =
        ShipmentWaybill(state, corrected.waybill_id(), corrected.location().enterprise_uscc(),
                        corrected.codes(0));
    if (!shipped_under.ok()) return shipped_under.status();
    if (*shipped_under) {
      absl::StatusOr<WaybillState*> w =
          waybill(WaybillRef((*shipped_under)->waybill.carrier_uscc(), corrected.waybill_id()));
      if (!w.ok()) return w.status();
      if (*w != nullptr) {
        for (const std::string& code : corrected.codes()) (*w)->shipped.erase(code);
      }
    }
  } else if (corrected.step() == v1::RECEIVING) {
    // The receipt cannot be undone under a listing's feet: the code would
    // be in transit and on another waybill at once.
    const auto listed_since = [](const std::string& code, const WaybillHolder& listed) {
      return Precondition(
          "event.corrects_event_id",
          absl::StrCat(code, " is on open waybill ", NumberOfRef(listed.ref), " of ",
                       CarrierOfRef(listed.ref), " (", v1::WaybillStatus_Name(listed.status),
                       ") since it was received; the receipt is declared an error once that "
                       "waybill no longer holds it (amended, cancelled, or arrived without it)"));
    };
    for (const std::string& code : corrected.codes()) {
      absl::StatusOr<std::optional<std::string>> received = state.Get(internal::ReceivedKey(code));
      if (!received.ok()) return received.status();
      // The waybill this receipt was made under, if any. From epoch 11 the
      // key counts only when this receipt wrote it: it stays from the
      // code's earlier trips, and a receipt under no waybill (the goods
      // came on one cancelled on the way) must not reopen an old one.
      std::optional<std::string> number;
      if (*received) {
        internal::Receipt receipt = internal::ParseReceiptValue(**received);
        if (entry.rules_epoch < 11 || receipt.log_index == (*info)->log_index) {
          number = std::move(receipt.ref);
        }
      }
      if (!number) {
        // Nothing to undo on a waybill; from epoch 11 not undone either
        // while a waybill lists the code.
        if (entry.rules_epoch >= 11) {
          absl::StatusOr<std::optional<WaybillHolder>> listed = WaybillHolderOf(state, code);
          if (!listed.ok()) return listed.status();
          if (*listed) return listed_since(code, **listed);
        }
        continue;
      }
      absl::StatusOr<WaybillState*> w = waybill(*number);
      if (!w.ok()) return w.status();
      if (*w == nullptr || (*w)->received.count(code) == 0) continue;
      if (entry.rules_epoch >= 9) {
        absl::StatusOr<std::optional<WaybillHolder>> listed = WaybillHolderOf(state, code);
        if (!listed.ok()) return listed.status();
        if (*listed && (*listed)->ref != *number) return listed_since(code, **listed);
      }
      (*w)->received.erase(code);
      changes->Delete(internal::ReceivedKey(code));
      changes->Put(internal::OpenKey(code), *number);
      if ((*w)->status == v1::CLOSED) {
        (*w)->status = (*w)->status_before_close;
        (*w)->status_before_close = v1::WAYBILL_STATUS_UNSPECIFIED;
      }
    }
  }
  for (auto& [number, w] : changed) {
    // A shipment undone on an arrived waybill: its codes did not travel.
    if (corrected.step() == v1::SHIPPING) {
      CL_RETURN_IF_ERROR(SettleArrived(entry, state, number, w, changes));
    }
    if (absl::Status s = WriteWaybill(state, number, w, changes); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// A ledger event (already accepted by the lifecycle rules): shipments and
// receipts under waybills.
// For an event's codes that are on an open waybill: `note` each with the
// waybill's ref and its working copy (each waybill read once), then settle
// (SettleArrived) and write each waybill noted.
absl::Status NoteOnOpenWaybills(
    const journal::EntryContext& entry, const storage::StateReader& state, const v1::Event& event,
    storage::StateWrites* changes,
    const std::function<void(const std::string& code, const std::string& ref, WaybillState& w)>&
        note) {
  std::map<std::string, WaybillState> changed;
  for (const std::string& code : event.codes()) {
    absl::StatusOr<std::optional<std::string>> open = OpenWaybillOf(state, code);
    if (!open.ok()) return open.status();
    if (!*open) continue;
    auto it = changed.find(**open);
    if (it == changed.end()) {
      absl::StatusOr<std::optional<WaybillState>> w = FindWaybillByRef(state, **open);
      if (!w.ok()) return w.status();
      if (!*w) return absl::DataLossError(absl::StrCat("open waybill ", **open, " is missing"));
      it = changed.emplace(**open, **std::move(w)).first;
    }
    note(code, it->first, it->second);
  }
  for (auto& [ref, w] : changed) {
    CL_RETURN_IF_ERROR(SettleArrived(entry, state, ref, w, changes));
    if (absl::Status s = WriteWaybill(state, ref, w, changes); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status NoteEvent(const journal::EntryContext& entry, const storage::StateReader& state,
                       storage::StateWrites* changes) {
  v1::Event event;
  if (!event.ParseFromString(entry.envelope->payload())) return absl::OkStatus();
  if (event.step() == v1::SHIPPING) {
    // The lifecycle rules checked that every code is on this consignor's
    // waybill of that number.
    if (event.codes_size() == 0) return absl::OkStatus();
    absl::StatusOr<std::optional<WaybillState>> w = ShipmentWaybill(
        state, event.waybill_id(), event.location().enterprise_uscc(), event.codes(0));
    if (!w.ok()) return w.status();
    if (!*w) return absl::OkStatus();
    (*w)->shipped.insert(event.codes().begin(), event.codes().end());
    return WriteWaybill(state, WaybillRef((*w)->waybill.carrier_uscc(), event.waybill_id()), **w,
                        changes);
  } else if (event.step() == v1::RECEIVING) {
    return NoteOnOpenWaybills(
        entry, state, event, changes,
        [&](const std::string& code, const std::string& ref, WaybillState& w) {
          // Received, but not under this waybill.
          if (w.shipped.count(code) == 0) return;
          w.received.insert(code);
          changes->Delete(internal::OpenKey(code));
          changes->Put(internal::ReceivedKey(code), internal::ReceiptValue(ref, entry.index));
          if (w.received.size() == CodesOf(w.waybill).size() && w.status != v1::CLOSED) {
            w.status_before_close = w.status;
            w.status = v1::CLOSED;
          }
        });
  } else if (event.step() == v1::FOUND && entry.rules_epoch >= 10) {
    // A package reported lost on its trip and found again is back with its
    // shipper (FOUND leaves it active in the shipper's custody): the trip
    // no longer carries it. It is no longer shipped under its waybill, which
    // an arrival then settles (it used to wait for a receipt that would
    // never come, holding the package for good).
    return NoteOnOpenWaybills(entry, state, event, changes,
                              [](const std::string& code, const std::string&, WaybillState& w) {
                                if (w.received.count(code) == 0) w.shipped.erase(code);
                              });
  } else if (event.step() == v1::ERROR_DECLARATION) {
    return UndoNotes(entry, state, event, changes);
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> WaybillRules::OwnedPayloadTypes() const {
  return {std::string(kWaybillContext.payload_type())};
}

absl::StatusOr<std::optional<journal::RequestId>> WaybillRules::RequestKey(
    const v1::SignedEnvelope& envelope) const {
  v1::WaybillRequest request;
  return registry::ReadableRequestId(
      kWaybillContext, envelope.payload(),
      request.ParseFromString(envelope.payload())
          ? journal::MakeRequestId("waybill", "request.request_id", request.request_id())
          : absl::InvalidArgumentError("envelope.payload: not a WaybillRequest"));
}

absl::StatusOr<std::string> WaybillRules::RequestScope(const v1::SignedEnvelope& envelope,
                                                   const storage::StateReader& state) const {
  return registry::SignerRequestScope(envelope, state, kWaybillContext);
}

absl::Status WaybillRules::CheckRetry(const v1::SignedEnvelope& envelope,
                               const storage::StateReader& state) const {
  return registry::CheckRetrySigner(envelope, state, kWaybillContext);
}

absl::Status WaybillRules::Apply(const journal::EntryContext& entry,
                                 const storage::StateReader& state,
                                 storage::StateWrites* changes) const {
  const std::string& type = entry.envelope->payload_type();
  if (type == kWaybillContext.payload_type()) return ApplyRequest(entry, state, changes);
  if (type == ledger::kEventContext.payload_type()) return NoteEvent(entry, state, changes);
  return absl::OkStatus();
}

}  // namespace chemledger::waybill
