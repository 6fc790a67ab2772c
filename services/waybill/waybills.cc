#include "services/waybill/waybills.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chemledger/v1/waybill.pb.h"
#include "crypto/waybill_code.h"
#include "services/registry/registry_state.h"
#include "services/registry/signers.h"

namespace chemledger::waybill {

absl::StatusOr<WaybillReceipt> WaybillBook::Apply(const v1::SignedEnvelope& envelope) {
  const v1::SignedEnvelope* one[] = {&envelope};
  return std::move(ApplyBatch(one)[0]);
}

std::vector<absl::StatusOr<WaybillReceipt>> WaybillBook::ApplyBatch(
    absl::Span<const v1::SignedEnvelope* const> envelopes) {
  return ApplyVerified(VerifyBatch(ledger_->Latest(), envelopes));
}

registry::VerifiedBatch WaybillBook::VerifyBatch(
    std::shared_ptr<const storage::Snapshot> snapshot,
    absl::Span<const v1::SignedEnvelope* const> requests) {
  registry::SignedBatchOptions options;
  options.verify_threads = verify_threads_;
  return registry::VerifySigned(std::move(snapshot), requests, kWaybillContext, options);
}

std::vector<absl::StatusOr<WaybillReceipt>> WaybillBook::ApplyVerified(
    const registry::VerifiedBatch& batch) {
  const std::vector<const v1::SignedEnvelope*>& envelopes = batch.envelopes;
  registry::SignedBatchOptions options;
  options.refusals = refusals_;
  std::vector<absl::StatusOr<journal::Receipt>> receipts =
      registry::SubmitVerified(*ledger_, batch, kWaybillContext, options);
  std::vector<absl::StatusOr<WaybillReceipt>> results;
  results.reserve(receipts.size());
  // The codes of submitted and amended waybills, for the carrier to print,
  // as each waybill stands now.
  std::shared_ptr<const storage::Snapshot> snapshot;
  absl::StatusOr<const crypto::SigningKey*> key = absl::NotFoundError("not looked up");
  for (size_t i = 0; i < receipts.size(); ++i) {
    if (!receipts[i].ok()) {
      results.push_back(receipts[i].status());
      continue;
    }
    WaybillReceipt receipt{receipts[i]->index, receipts[i]->replayed, ""};
    v1::WaybillRequest request;
    // A change that opens a waybill is answered with its code.
    if (request.ParseFromString(envelopes[i]->payload()) &&
        (request.has_submit() || request.has_amend() || request.has_consent())) {
      if (snapshot == nullptr) {
        snapshot = ledger_->Latest();
        key = CodeKey(*snapshot);
      }
      const std::string& number = request.has_submit()  ? request.submit().waybill_number()
                                  : request.has_amend() ? request.amend().waybill_number()
                                                        : request.consent().waybill_number();
      const std::string& carrier = request.has_submit()  ? request.submit().carrier_uscc()
                                   : request.has_amend() ? request.amend().carrier_uscc()
                                                         : request.consent().carrier_uscc();
      absl::StatusOr<std::optional<WaybillState>> state = FindWaybill(*snapshot, carrier, number);
      if (key.ok() && state.ok() && *state) {
        absl::StatusOr<std::string> code = WaybillCode(*snapshot, **state, **key);
        if (code.ok()) receipt.waybill_code = *std::move(code);
      }
    }
    results.push_back(std::move(receipt));
  }
  return results;
}

absl::StatusOr<const crypto::SigningKey*> WaybillBook::CodeKey(
    const storage::StateReader& state) const {
  if (label_keys_ == nullptr) {
    return absl::FailedPreconditionError("this server holds no label keys to sign waybill codes");
  }
  return label::CurrentLabelKey(state, *label_keys_, registry::ChinaDay(clock_()));
}

absl::StatusOr<crypto::WaybillCodeClaims> WaybillCodeClaimsOf(const storage::StateReader& state,
                                                              const v1::Waybill& w,
                                                              uint64_t revision) {
  absl::StatusOr<state::DeploymentRecord> deployment = registry::ReadDeployment(state);
  if (!deployment.ok()) return deployment.status();
  crypto::WaybillCodeClaims c;
  c.resolver = deployment->resolver();
  c.waybill_number = w.waybill_number();
  c.revision = revision;
  c.carrier_uscc = w.carrier_uscc();
  c.vehicle_plate = w.vehicle().plate();
  c.plate_colour = static_cast<uint8_t>(w.vehicle().plate_colour());
  c.trailer_plate = w.vehicle().trailer_plate();
  c.origin_region = w.origin().region_code();
  c.destination_region = w.destination().region_code();
  c.planned_departure =
      registry::ChinaDay(absl::FromUnixSeconds(w.planned_departure().seconds()));
  c.planned_arrival = registry::ChinaDay(absl::FromUnixSeconds(w.planned_arrival().seconds()));
  c.goods_lines = static_cast<uint32_t>(w.goods_size());
  for (int l = 0; l < w.goods_size() && c.goods.size() < crypto::kMaxWaybillCodeLines; ++l) {
    const v1::GoodsLine& g = w.goods(l);
    c.goods.push_back({g.un_number(), g.hazard_class(), g.packing_group(), g.quantity_milli(),
                       g.unit(), static_cast<uint32_t>(g.codes_size())});
  }
  return c;
}

absl::StatusOr<std::string> WaybillCode(const storage::StateReader& state,
                                        const WaybillState& waybill,
                                        const crypto::SigningKey& key) {
  if (waybill.status == v1::CANCELLED || waybill.status == v1::CLOSED ||
      waybill.status == v1::PENDING) {
    return absl::FailedPreconditionError(
        absl::StrCat("waybill '", waybill.waybill.waybill_number(), "' is ",
                     v1::WaybillStatus_Name(waybill.status), ": it has no valid code"));
  }
  absl::StatusOr<crypto::WaybillCodeClaims> claims =
      WaybillCodeClaimsOf(state, waybill.waybill, waybill.content_log_index);
  if (!claims.ok()) return claims.status();
  return crypto::MakeWaybillCodeUrl(*claims, key);
}

}  // namespace chemledger::waybill
