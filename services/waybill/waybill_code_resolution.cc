#include "services/waybill/waybill_code_resolution.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "crypto/trust_list.h"
#include "crypto/waybill_code.h"
#include "services/common/package_code.h"
#include "services/label/issuance.h"
#include "services/ledger/code_state.h"
#include "services/registry/registry_state.h"
#include "services/waybill/waybill_state.h"
#include "services/waybill/waybills.h"

namespace chemledger::waybill {
namespace {

// The content of waybill `number` that entry `revision` submitted or
// amended; nullopt when that entry is no such thing.
absl::StatusOr<std::optional<v1::Waybill>> ContentAt(const storage::StateReader& state,
                                                     uint64_t revision,
                                                     const std::string& number) {
  if (revision >= state.size()) return std::nullopt;
  absl::StatusOr<std::string> bytes = state.Entry(revision);
  if (!bytes.ok()) return bytes.status();
  v1::LogEntry entry;
  v1::WaybillRequest request;
  if (!entry.ParseFromString(*bytes) ||
      entry.envelope().payload_type() != api::kWaybillContext.payload_type() ||
      !request.ParseFromString(entry.envelope().payload())) {
    return std::nullopt;
  }
  const v1::Waybill* content = request.has_submit()  ? &request.submit()
                               : request.has_amend() ? &request.amend()
                                                     : nullptr;
  if (content == nullptr || content->waybill_number() != number) return std::nullopt;
  return *content;
}

// The products behind `codes` (pallets opened to their packages), at most
// kMaxEmergencyProducts, each with the emergency information its supplier
// registered.
constexpr size_t kMaxEmergencyProducts = 8;
// Reads of the state for a whole waybill: one anonymous scan costs this
// much at most. A pallet opened is one; a product is two (the product and
// its supplier) the first time on the waybill and none after (kept in
// ProductsRead); a package code whose product the line already shows costs
// nothing (its code names the product).
constexpr int kMaxReads = 400;

// The products read so far on a waybill, by (uscc, product): nullopt for
// one the registry does not hold.
using ProductsRead =
    std::map<std::pair<std::string, std::string>, std::optional<v1::GoodsEmergencyInfo>>;

// `reads` counts across the waybill; each line shows its own products.
absl::Status AddEmergencyInfo(const storage::StateReader& state,
                              const google::protobuf::RepeatedPtrField<std::string>& codes,
                              int* reads, ProductsRead* products, v1::PublicGoodsLine* line) {
  std::set<std::pair<std::string, std::string>> seen;  // (uscc, product) on this line
  std::vector<std::string> pending(codes.begin(), codes.end());
  size_t added = 0;
  while (!pending.empty() && added < kMaxEmergencyProducts) {
    const std::string code = std::move(pending.back());
    pending.pop_back();
    if (ids::IsAggregateCode(code)) {
      if (*reads + 1 > kMaxReads) break;
      ++*reads;
      absl::StatusOr<std::optional<ledger::CodeState>> pallet = ledger::FindCode(state, code);
      if (!pallet.ok()) return pallet.status();
      if (*pallet) pending.insert(pending.end(), (*pallet)->children.begin(), (*pallet)->children.end());
      continue;
    }
    std::optional<ids::PackageCode> package = ids::PackageCode::Parse(code);
    if (!package) continue;
    const std::pair<std::string, std::string> key(package->uscc, package->product);
    if (!seen.insert(key).second) continue;
    auto known = products->find(key);
    if (known == products->end()) {
      if (*reads + 2 > kMaxReads) break;
      *reads += 2;
      absl::StatusOr<std::optional<v1::Product>> product =
          registry::FindProduct(state, package->uscc, package->product);
      if (!product.ok()) return product.status();
      std::optional<v1::GoodsEmergencyInfo> info;
      if (*product) {
        absl::StatusOr<std::optional<registry::EnterpriseRecord>> supplier =
            registry::FindEnterprise(state, package->uscc);
        if (!supplier.ok()) return supplier.status();
        info.emplace();
        info->set_product_name_zh((*product)->name_zh());
        info->set_product_name_en((*product)->name_en());
        if (*supplier) info->set_supplier_name((*supplier)->enterprise.name());
        info->set_emergency_phone((*product)->emergency_phone());
        info->set_first_aid((*product)->first_aid());
        info->set_fire_fighting((*product)->fire_fighting());
        info->set_spill_response((*product)->spill_response());
      }
      known = products->emplace(key, std::move(info)).first;
    }
    if (!known->second) continue;
    ++added;
    *line->add_emergency() = *known->second;
  }
  return absl::OkStatus();
}

v1::MaskedCrewMember Masked(const v1::CrewMember& crew) {
  v1::MaskedCrewMember out;
  out.set_name(crew.name());
  out.set_qualification_number(MaskMiddle(crew.qualification_number(), 2, 4));
  out.set_phone(MaskMiddle(crew.phone(), 3, 4));
  return out;
}

absl::StatusOr<v1::PublicWaybillView> PublicView(const storage::StateReader& state,
                                                 const v1::Waybill& w) {
  v1::PublicWaybillView view;
  view.set_carrier_name(w.carrier_name());
  view.set_carrier_licence(w.carrier_licence());
  view.set_consignor_name(w.consignor().name());
  view.set_consignee_name(w.consignee().name());
  *view.mutable_origin() = w.origin();
  *view.mutable_destination() = w.destination();
  *view.mutable_planned_departure() = w.planned_departure();
  *view.mutable_planned_arrival() = w.planned_arrival();
  view.set_vehicle_plate(w.vehicle().plate());
  view.set_plate_colour(w.vehicle().plate_colour());
  view.set_trailer_plate(w.vehicle().trailer_plate());
  view.set_tank_number(w.vehicle().tank_number());
  if (w.has_driver()) *view.mutable_driver() = Masked(w.driver());
  if (w.has_escort()) *view.mutable_escort() = Masked(w.escort());
  int reads = 0;
  ProductsRead products;
  for (const v1::GoodsLine& g : w.goods()) {
    v1::PublicGoodsLine* line = view.add_goods();
    line->set_un_number(g.un_number());
    line->set_proper_shipping_name(g.proper_shipping_name());
    line->set_hazard_class(g.hazard_class());
    line->set_packing_group(g.packing_group());
    line->set_packaging(g.packaging());
    line->set_quantity_milli(g.quantity_milli());
    line->set_unit(g.unit());
    line->set_codes(static_cast<uint32_t>(g.codes_size()));
    if (absl::Status s = AddEmergencyInfo(state, g.codes(), &reads, &products, line); !s.ok()) {
      return s;
    }
  }
  view.set_emergency_phone(w.emergency_phone());
  view.set_toxic_permit(w.toxic_permit());
  view.set_precursor_permit(w.precursor_permit());
  view.set_waste_manifest(w.waste_manifest());
  return view;
}

}  // namespace

std::string MaskMiddle(absl::string_view text, size_t keep_front, size_t keep_back) {
  // Characters, not bytes: a name-like value may hold Chinese.
  std::vector<std::string> chars;
  for (size_t i = 0; i < text.size();) {
    size_t n = 1;
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0xF0) n = 4; else if (c >= 0xE0) n = 3; else if (c >= 0xC0) n = 2;
    chars.emplace_back(text.substr(i, n));
    i += n;
  }
  if (chars.empty()) return "";
  // Too short to keep both ends: at most half of it, from the end.
  if (keep_front + keep_back >= chars.size()) {
    keep_front = 0;
    keep_back = std::min(keep_back, chars.size() / 2);
  }
  std::string out;
  for (size_t i = 0; i < chars.size(); ++i) {
    out += (i < keep_front || i >= chars.size() - keep_back) ? chars[i] : "*";
  }
  return out;
}

absl::StatusOr<v1::ResolveWaybillCodeResponse> ResolveWaybillCode(
    const storage::StateReader& state, absl::string_view url, absl::CivilDay today) {
  absl::StatusOr<crypto::TrustList> trust = label::MakeTrustList(state, today);
  if (!trust.ok()) return trust.status();
  return ResolveWaybillCode(state, url, *trust);
}

absl::StatusOr<v1::ResolveWaybillCodeResponse> ResolveWaybillCode(
    const storage::StateReader& state, absl::string_view url, const crypto::TrustList& trust) {
  v1::ResolveWaybillCodeResponse response;
  crypto::WaybillCodeCheck check = crypto::VerifyWaybillCode(url, trust);
  response.set_verdict(std::string(crypto::LabelVerdictName(check.verdict)));
  response.set_detail(check.detail);
  // A code signed by a label key revoked after the revision it states (the
  // trust list no longer vouches for it) is still the log's: the waybill is
  // shown, and the carrier asked for a code signed by the current key.
  std::optional<std::string> revoked_since;
  if (check.verdict == crypto::LabelVerdict::kRevokedKey && check.code) {
    absl::StatusOr<std::optional<registry::LabelKeyState>> key =
        registry::FindLabelKey(state, check.code->key_id);
    if (!key.ok()) return key.status();
    if (*key && (*key)->revoked_at && check.code->VerifySignature((*key)->key).ok() &&
        check.code->claims.revision < *(*key)->revoked_at) {
      revoked_since = absl::StrCat(
          "signed by label key ", check.code->key_id.ToString(), ", revoked at log index ",
          *(*key)->revoked_at, " after this revision (", check.code->claims.revision,
          "): the waybill is as the log holds it; ask the carrier for a code signed by the "
          "current key (GetWaybill gives one)");
    }
  }
  if (check.verdict != crypto::LabelVerdict::kAuthentic && !revoked_since) return response;

  const crypto::WaybillCodeClaims& claims = check.code->claims;
  const auto not_issued = [&] {
    response.set_verdict("not-issued");
    response.set_detail(absl::StrCat("the log holds no revision of waybill '",
                                     claims.waybill_number, "' stating what this code states"));
    return response;
  };
  absl::StatusOr<std::optional<WaybillState>> now =
      FindWaybill(state, claims.carrier_uscc, claims.waybill_number);
  if (!now.ok()) return now.status();
  if (!*now || (*now)->waybill.carrier_uscc() != claims.carrier_uscc) return not_issued();
  absl::StatusOr<std::optional<v1::Waybill>> content =
      ContentAt(state, claims.revision, claims.waybill_number);
  if (!content.ok()) return content.status();
  if (!*content) return not_issued();
  absl::StatusOr<crypto::WaybillCodeClaims> stated =
      WaybillCodeClaimsOf(state, **content, claims.revision);
  if (!stated.ok()) return stated.status();
  if (*stated != claims) return not_issued();

  const WaybillState& w = **now;
  response.set_waybill_number(claims.waybill_number);
  response.set_carrier_uscc(claims.carrier_uscc);
  response.set_status(w.status);
  response.set_revision(claims.revision);
  response.set_current_revision(w.content_log_index);
  // The content this code states, not the waybill's latest: an old code
  // shows nobody an amendment made since (its route, crew or goods), nor
  // one still waiting for the consignor's consent.
  absl::StatusOr<v1::PublicWaybillView> view = PublicView(state, **content);
  if (!view.ok()) return view.status();
  *response.mutable_public_view() = *std::move(view);
  if (w.status == v1::CANCELLED) {
    response.set_verdict("cancelled");
    response.set_detail(absl::StrCat("waybill '", claims.waybill_number,
                                     "' was cancelled: this code is void"));
  } else if (w.status == v1::CLOSED) {
    response.set_verdict("closed");
    response.set_detail(absl::StrCat("the trip of waybill '", claims.waybill_number,
                                     "' is over and what it carried was received: the code is "
                                     "no longer in use"));
  } else if (w.status == v1::PENDING && claims.revision == w.content_log_index) {
    response.set_verdict("pending");
    response.set_detail(absl::StrCat("the consignor has not consented to waybill '",
                                     claims.waybill_number, "'"));
  } else if (claims.revision != w.content_log_index) {
    response.set_verdict("superseded");
    response.set_detail(absl::StrCat("waybill '", claims.waybill_number,
                                     "' was amended (log index ", w.content_log_index,
                                     ") after this code (", claims.revision,
                                     "): ask the carrier for its current code"));
  } else if (revoked_since) {
    response.set_verdict("revoked-key");
    response.set_detail(*std::move(revoked_since));
  }
  return response;
}

}  // namespace chemledger::waybill
