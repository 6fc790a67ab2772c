#include "services/label/label_resolution.h"

#include <optional>
#include <string>
#include <utility>

#include "services/registry/oversight.h"
#include "absl/strings/str_cat.h"
#include "crypto/trust_list.h"
#include "services/label/issuance.h"
#include "services/label/issuance_state.h"
#include "services/ledger/code_state.h"
#include "services/registry/registry_state.h"
#include "services/waybill/waybill_state.h"

namespace chemledger::label {
namespace {

void Warn(v1::ScanWarningKind kind, std::string text, v1::ResolveLabelResponse* response) {
  response->add_warnings(text);
  v1::ScanWarning* w = response->add_scan_warnings();
  w->set_kind(kind);
  w->set_text(std::move(text));
}

// The warnings the package's state in the ledger calls for, and (for a
// registered actor's scan) the state itself. True when no package should
// carry the label now.
absl::StatusOr<bool> WarnOfState(const storage::StateReader& state, const std::string& code,
                                 const Scanner& scanner, v1::ResolveLabelResponse* response) {
  absl::StatusOr<std::optional<ledger::CodeState>> now = ledger::FindCode(state, code);
  if (!now.ok()) return now.status();
  if (!*now) {
    if (scanner.registered()) response->set_package_state("not-recorded");
    return false;
  }
  const ledger::CodeStatus status = (*now)->status;
  if (scanner.registered()) {
    const ledger::CodeState& c = **now;
    response->set_package_state(std::string(ledger::CodeStatusName(status)));
    response->set_custodian_uscc(c.custodian);
    response->set_site(c.site);
    response->set_remaining_milli(c.remaining_milli);
    response->set_unit(c.unit);
    if (c.last_event_index) response->set_last_event_log_index(*c.last_event_index);
  }
  if ((*now)->recalled && !ledger::IsTerminal(status)) {
    Warn(v1::PACKAGE_RECALLED,
         "this package was recalled by its supplier or a regulator: do not use it; return it "
         "to the supplier",
         response);
  }
  if (!ledger::IsTerminal(status)) {
    // Its own hold, or that of a pallet it is packed on (at any depth): a
    // sealed pallet's packages are sealed with it.
    bool held = (*now)->on_hold;
    std::string parent = (*now)->parent;
    for (int depth = 0; !held && !parent.empty() && depth < ledger::kMaxNesting; ++depth) {
      absl::StatusOr<std::optional<ledger::CodeState>> up = ledger::FindCode(state, parent);
      if (!up.ok()) return up.status();
      if (!*up) break;
      held = (*up)->on_hold;
      parent = (*up)->parent;
    }
    if (held) {
      Warn(v1::PACKAGE_ON_HOLD,
           (*now)->on_hold ? "this package is on hold: it must not be moved or used"
                           : "this package is packed on a pallet that is on hold: it must not "
                             "be moved or used",
           response);
    }
  }
  switch (status) {
    case ledger::CodeStatus::kVoided:
      Warn(v1::CODE_VOIDED,
           "this code was voided: no package should carry this label; it may be a copy", response);
      return true;
    case ledger::CodeStatus::kConsumed:
    case ledger::CodeStatus::kDisposed:
      Warn(v1::PACKAGE_ENDED,
           absl::StrCat("this package was ", ledger::CodeStatusName(status),
                        ": a label scanned now may be a copy on another container"),
           response);
      return true;
    case ledger::CodeStatus::kLost:
      Warn(v1::PACKAGE_LOST,
           "this package was reported lost or stolen: keep away from it, call 110 or 119 and "
           "the emergency phone on the label",
           response);
      return false;
    case ledger::CodeStatus::kInTransit: {
      // Its carrier and consignee handle it on the way, and regulators
      // inspect it; anyone else scanning it is worth a second look.
      const v1::Actor* who = scanner.actor();
      if (who != nullptr && registry::HasOversightRole(*who)) {
        return false;
      }
      // The waybill lists the package, or the pallet it is packed on.
      std::string carrier;
      std::string listed = code;
      for (int depth = 0; depth <= ledger::kMaxNesting && !listed.empty(); ++depth) {
        absl::StatusOr<std::optional<std::string>> open = waybill::OpenWaybillOf(state, listed);
        if (!open.ok()) return open.status();
        if (*open) {
          carrier = waybill::CarrierOfRef(**open);
          break;
        }
        absl::StatusOr<std::optional<ledger::CodeState>> holder = ledger::FindCode(state, listed);
        if (!holder.ok()) return holder.status();
        listed = *holder ? (*holder)->parent : "";
      }
      if (who != nullptr && !who->enterprise_uscc().empty() &&
          (who->enterprise_uscc() == carrier || who->enterprise_uscc() == (*now)->consignee)) {
        return false;
      }
      Warn(v1::IN_TRANSIT_ELSEWHERE,
           "this package is in transit under an e-waybill, and this scan is not by its carrier "
           "or its consignee",
           response);
      return false;
    }
    case ledger::CodeStatus::kActive:
      return false;
  }
  return false;
}

// The issuance the log holds of `label`, signed by a key revoked after that
// issuance: nullopt when the signature fails or the log does not account for
// the label from before the revocation.
absl::StatusOr<std::optional<IssuanceRecord>> IssuedBeforeRevocation(
    const storage::StateReader& state, const crypto::ParsedLabel& label,
    std::string* warning) {
  absl::StatusOr<std::optional<registry::LabelKeyState>> key =
      registry::FindLabelKey(state, label.key_id);
  if (!key.ok()) return key.status();
  if (!*key || !(*key)->revoked_at || !label.VerifySignature((*key)->key).ok()) {
    return std::nullopt;
  }
  absl::StatusOr<IssuanceRecord> issued = MatchIssuance(state, label);
  if (!issued.ok()) {
    // Not in the log (or with other claims): not accounted for. Anything
    // else is the store's failure, not the label's.
    if (absl::IsNotFound(issued.status()) || absl::IsFailedPrecondition(issued.status())) {
      return std::nullopt;
    }
    return issued.status();
  }
  if (issued->log_index >= *(*key)->revoked_at) return std::nullopt;
  *warning = absl::StrCat(
      "label key ", label.key_id.ToString(), " was revoked on ",
      absl::FormatCivilTime(*(*key)->revoked_on), " (log index ", *(*key)->revoked_at,
      "), after this package was issued (log index ", issued->log_index,
      "): this label was issued before the revocation and its information holds; a label "
      "signed by that key and not in the log would not be");
  return std::optional<IssuanceRecord>(*std::move(issued));
}

}  // namespace

absl::StatusOr<v1::ResolveLabelResponse> ResolveLabel(const storage::StateReader& state,
                                                      absl::string_view url, absl::CivilDay today,
                                                      const Scanner& scanner) {
  absl::StatusOr<crypto::TrustList> trust = MakeTrustList(state, today);
  if (!trust.ok()) return trust.status();
  return ResolveLabel(state, url, *trust, scanner);
}

absl::StatusOr<v1::ResolveLabelResponse> ResolveLabel(const storage::StateReader& state,
                                                      absl::string_view url,
                                                      const crypto::TrustList& trust,
                                                      const Scanner& scanner) {
  v1::ResolveLabelResponse response;
  crypto::LabelCheck check = crypto::VerifyLabel(url, trust);
  response.set_verdict(std::string(crypto::LabelVerdictName(check.verdict)));
  response.set_detail(check.detail);
  if (!check.label) {
    response.set_assessment("fake");
    return response;
  }

  std::optional<IssuanceRecord> accounted;
  if (check.verdict == crypto::LabelVerdict::kAuthentic) {
    absl::StatusOr<IssuanceRecord> issued = MatchIssuance(state, *check.label);
    if (issued.ok()) {
      accounted = *std::move(issued);
    } else if (absl::IsNotFound(issued.status()) || absl::IsFailedPrecondition(issued.status())) {
      // Correctly signed but not what the log issued: the label key signed
      // something the log does not account for (a leaked key?).
      response.set_verdict("not-issued");
      response.set_detail(
          "the log holds no issuance of this label (not issued, or issued with other claims "
          "or by another key)");
    } else {
      return issued.status();
    }
  } else if (check.verdict == crypto::LabelVerdict::kRevokedKey) {
    std::string warning;
    absl::StatusOr<std::optional<IssuanceRecord>> issued =
        IssuedBeforeRevocation(state, *check.label, &warning);
    if (!issued.ok()) return issued.status();
    if (*issued) {
      accounted = **std::move(issued);
      Warn(v1::LABEL_KEY_REVOKED, std::move(warning), &response);
    }
  }
  if (!accounted) {
    response.set_assessment("fake");
    return response;
  }

  const crypto::LabelClaims& claims = check.label->claims;
  response.set_code(claims.Code());
  response.set_issuance_log_index(accounted->log_index);
  absl::StatusOr<bool> ended = WarnOfState(state, claims.Code(), scanner, &response);
  if (!ended.ok()) return ended.status();
  response.set_assessment(*ended ? "suspicious" : "genuine");
  absl::StatusOr<std::optional<v1::Product>> product =
      registry::FindProduct(state, claims.enterprise, claims.product);
  if (!product.ok()) return product.status();
  if (*product) *response.mutable_product() = **std::move(product);
  absl::StatusOr<std::optional<registry::EnterpriseRecord>> e =
      registry::FindEnterprise(state, claims.enterprise);
  if (!e.ok()) return e.status();
  if (*e) {
    v1::Enterprise* out = response.mutable_enterprise()->mutable_enterprise();
    response.mutable_enterprise()->set_blacklisted((*e)->blacklist_reason.has_value());
    if ((*e)->blacklist_reason) {
      absl::StatusOr<std::optional<registry::BlacklistedEnterprise>> listed =
          registry::FindBlacklisting(state, claims.enterprise);
      if (!listed.ok()) return listed.status();
      std::string why;
      if (*listed) {
        *response.mutable_supplier_blacklisting() = registry::ToBlacklistEntry(**listed);
        why = absl::StrCat(" (", (*listed)->record.reason(), ")");
      }
      Warn(v1::SUPPLIER_BLACKLISTED,
           absl::StrCat("the supplier ", (*e)->enterprise.name(), " is on the blacklist", why),
           &response);
    }
    if (scanner.registered()) {
      *out = (*e)->enterprise;
      if ((*e)->blacklist_reason) {
        response.mutable_enterprise()->set_blacklist_reason(*(*e)->blacklist_reason);
      }
    } else {
      // The public scan: who supplied it and where, not their licences.
      out->set_uscc((*e)->enterprise.uscc());
      out->set_name((*e)->enterprise.name());
      out->set_region_code((*e)->enterprise.region_code());
      out->set_address((*e)->enterprise.address());
    }
  }
  return response;
}

}  // namespace chemledger::label
