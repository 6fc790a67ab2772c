#include "services/waybill/waybill_code_resolution.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "crypto/trust_list.h"
#include "crypto/waybill_code.h"
#include "services/label/issuance.h"
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

}  // namespace

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
  if (check.verdict != crypto::LabelVerdict::kAuthentic) return response;

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
  if (w.status == v1::CANCELLED) {
    response.set_verdict("cancelled");
    response.set_detail(absl::StrCat("waybill '", claims.waybill_number,
                                     "' was cancelled: this code is void"));
  } else if (w.status == v1::CLOSED) {
    response.set_verdict("closed");
    response.set_detail(absl::StrCat("everything on waybill '", claims.waybill_number,
                                     "' was received: the code is no longer in use"));
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
  }
  return response;
}

}  // namespace chemledger::waybill
