// The e-waybill book's rules (电子运单), as a state machine of the journal
// (journal/state_machine.h): carriers' WaybillRequests (submit, amend,
// cancel, depart, arrive), and the ledger events that ship and receive under
// a waybill.
//
// The rules (each refusal names the field):
//  - only the carrier's actors (admin or operator) change a waybill; the
//    carrier holds a 道路运输经营许可证 (ROAD_TRANSPORT) valid on the day;
//  - the waybill's fields pass validation.h; consignor and consignee are
//    registered; each goods line matches the registered product of its
//    package codes; 剧毒 goods carry their road transport permit, 易制毒
//    goods their transport permit;
//  - each code is in the consignor's custody and able to move, listed once,
//    and on no other open waybill;
//  - amend only while open and nothing has shipped, without changing the
//    carrier; cancel while open or departed and nothing received; depart
//    when open; arrive when departed.
// Ledger events: a SHIPPING event under a waybill notes its codes as
// shipped; a RECEIVING event notes the codes shipped under their open
// waybill as received, and the waybill closes when every code on it is.
//
// Thread-safety: stateless; thread-safe.

#ifndef CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_RULES_H_
#define CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_RULES_H_

#include <string>
#include <vector>

#include "journal/state_machine.h"

namespace chemledger::waybill {

class WaybillRules final : public journal::StateMachine {
 public:
  absl::string_view name() const override { return "waybills"; }
  std::vector<std::string> OwnedPayloadTypes() const override;
  // "waybill/<request_id>".
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

}  // namespace chemledger::waybill

#endif  // CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_RULES_H_
