#include "services/label/issuance.h"

#include <algorithm>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chemledger/v1/label.pb.h"
#include "services/registry/registry_state.h"
#include "services/registry/signers.h"

namespace chemledger::label {

absl::StatusOr<Issuance> LabelIssuer::Issue(const v1::SignedEnvelope& envelope) {
  // The key to sign with: chosen here, where the private keys are; the
  // rules check that it is registered, unrevoked and valid on the day.
  std::string proposal;
  {
    std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
    absl::StatusOr<const crypto::SigningKey*> key =
        CurrentLabelKey(*snapshot, *keyring_, registry::ChinaDay(clock_()));
    if (key.ok()) {
      v1::LabelAssignment proposed;
      proposed.set_label_key_id((*key)->key_id().ToString());
      proposal = proposed.SerializeAsString();
    } else if (!absl::IsFailedPrecondition(key.status())) {
      // The registry could not be read (the ledger unreachable, say): a
      // fault to send again, not the rules' "no usable key".
      return key.status();
    } else {
      // The rules refuse the request (no usable key) with their own words;
      // why each registered key was passed over is for the operator.
      std::cerr << "label issuance: " << key.status().message() << std::endl;
    }
  }
  const v1::SignedEnvelope* one[] = {&envelope};
  registry::SignedBatchOptions options;
  options.verify_threads = 1;
  options.refusals = refusals_;
  options.proposal = [&](size_t) { return proposal; };
  absl::StatusOr<journal::Receipt> receipt =
      std::move(registry::SubmitSigned(*ledger_, one, kIssueLabelsContext, options)[0]);
  if (!receipt.ok()) return receipt.status();

  // What was assigned, as the ledger recorded it.
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  absl::StatusOr<std::string> bytes = snapshot->Entry(receipt->index);
  if (!bytes.ok()) return bytes.status();
  v1::LogEntry entry;
  v1::IssueLabelsRequest request;
  v1::LabelAssignment assignment;
  if (!entry.ParseFromString(*bytes) || !request.ParseFromString(entry.envelope().payload()) ||
      !assignment.ParseFromString(entry.assignment())) {
    return absl::DataLossError(absl::StrCat("log entry ", receipt->index, " is not an issuance"));
  }
  absl::StatusOr<std::optional<IssuanceRecord>> record =
      FindIssuance(*snapshot, request.enterprise_uscc(), request.product_number(),
                   request.batch(), assignment.first_serial());
  if (!record.ok()) return record.status();
  if (!*record || (*record)->log_index != receipt->index) {
    return absl::DataLossError(
        absl::StrCat("the issuance of log entry ", receipt->index, " is not in the state"));
  }
  Issuance issuance((*record)->label_key_id);
  issuance.log_index = receipt->index;
  issuance.replayed = receipt->replayed;
  issuance.claims = (*record)->claims;
  issuance.count = (*record)->count;
  return issuance;
}

absl::StatusOr<std::vector<IssuedLabel>> LabelIssuer::SignLabels(const Issuance& issuance,
                                                                 uint32_t offset,
                                                                 uint32_t n) const {
  absl::StatusOr<const crypto::SigningKey*> key = keyring_->Find(issuance.label_key_id);
  if (!key.ok()) return absl::FailedPreconditionError(key.status().message());
  std::vector<IssuedLabel> labels;
  if (offset >= issuance.count) return labels;
  n = std::min(n, issuance.count - offset);
  labels.reserve(n);
  crypto::LabelClaims claims = issuance.claims;
  for (uint32_t i = 0; i < n; ++i) {
    claims.serial = issuance.claims.serial + offset + i;
    absl::StatusOr<std::string> url = crypto::MakeLabelUrl(claims, **key);
    if (!url.ok()) return url.status();
    labels.push_back(IssuedLabel{claims.serial, claims.Code(), *std::move(url)});
  }
  return labels;
}

absl::StatusOr<crypto::TrustList> MakeTrustList(const storage::StateReader& state,
                                                absl::CivilDay today) {
  absl::StatusOr<state::DeploymentRecord> deployment = registry::ReadDeployment(state);
  if (!deployment.ok()) return deployment.status();
  absl::StatusOr<std::vector<registry::LabelKeyState>> keys = registry::LabelKeys(state);
  if (!keys.ok()) return keys.status();
  crypto::TrustList list;
  list.resolver = deployment->resolver();
  list.issued = today;
  list.expires = today + kTrustListValidDays;
  for (const registry::LabelKeyState& k : *keys) {
    list.keys.push_back(crypto::TrustedLabelKey{
        k.key, k.valid_from, k.valid_until,
        k.revoked_on ? absl::optional<absl::CivilDay>(*k.revoked_on) : absl::nullopt});
  }
  return list;
}

}  // namespace chemledger::label
