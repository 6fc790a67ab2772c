// Label issuance's rules (一码), as a state machine of the journal
// (journal/state_machine.h): an IssueLabelsRequest for a batch of one
// registered product is given the next package serials of that batch, and
// the issuance is recorded with the label key the labels are signed with.
//
// The rules (each refusal names the field):
//  - the signer is an ENTERPRISE_ADMIN or ENTERPRISE_OPERATOR of the
//    product's enterprise, which is registered, not blacklisted, a producer
//    or importer holding a 安全生产许可证 (producer) or 危险化学品经营许可证
//    (importer) valid on the day of issue (China time of the record time);
//  - the product is registered; batch 1-20 of A-Z 0-9; production date from
//    2000-01-01 and not after the day of issue; 1 to kMaxPackagesPerRequest
//    packages; a net quantity and a UNECE unit for mass or volume;
//  - serials of a batch only grow and never pass 999999999: codes are never
//    issued twice;
//  - the label key (proposed by the process that holds the private keys, as
//    a LabelAssignment with label_key_id) is a registered, unrevoked label
//    key valid on the day of issue;
//  - the labels' claims fit the label format (crypto::ValidateLabelClaims).
//
// Thread-safety: stateless; thread-safe.

#ifndef CHEMLEDGER_SERVICES_LABEL_ISSUANCE_RULES_H_
#define CHEMLEDGER_SERVICES_LABEL_ISSUANCE_RULES_H_

#include <string>
#include <vector>

#include "journal/state_machine.h"

namespace chemledger::label {

class IssuanceRules final : public journal::StateMachine {
 public:
  absl::string_view name() const override { return "issuance"; }
  std::vector<std::string> OwnedPayloadTypes() const override;
  // "label/<request_id>".
  absl::StatusOr<std::optional<journal::RequestId>> RequestKey(
      const v1::SignedEnvelope& envelope) const override;
  // A retry's signer may still act.
  // Request ids are unique per enterprise, or per park for gate actors
  // (registry::SignerRequestScope).
  absl::StatusOr<std::string> RequestScope(const v1::SignedEnvelope& envelope,
                                           const storage::StateReader& state) const override;
  absl::Status CheckRetry(const v1::SignedEnvelope& envelope,
                          const storage::StateReader& state) const override;
  absl::Status Apply(const journal::EntryContext& entry, const storage::StateReader& state,
                     storage::StateWrites* changes) const override;
};

}  // namespace chemledger::label

#endif  // CHEMLEDGER_SERVICES_LABEL_ISSUANCE_RULES_H_
