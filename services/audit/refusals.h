// Refused requests as log entries (chemledger.v1.RefusedRequest,
// proto/chemledger/v1/refusal.proto): the state machine that keeps them,
// and what the anomaly list reads of them.
//
// A refusal entry holds a request exactly as it was signed and received,
// why the ledger refused it, and when. The machine accepts one only if the
// request's signature verifies with a key the registry holds (revoked or
// not: attempts with revoked keys are exactly what is recorded), so nobody
// can be named as the author of a request they did not sign. Its index:
//
//   x/refusal/<log index, 16 hex>               state::RefusalIndexRecord
//   x/refusal-by/<uscc>/<log index, 16 hex>     the same, by the signer's enterprise
//
// The request key is the SHA-256 of the refused envelope, so a request
// refused again and again (a client retrying) is recorded once.
//
// Thread-safety: RefusalRules is stateless; the read functions are pure
// functions of a state reader.

#ifndef CHEMLEDGER_SERVICES_AUDIT_REFUSALS_H_
#define CHEMLEDGER_SERVICES_AUDIT_REFUSALS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chemledger/state/state.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/refusal.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "journal/state_machine.h"
#include "storage/store.h"

namespace chemledger::audit {

// The actor whose key signed `request` (a signed request of a kind the
// ledger takes: an event, a waybill, a registry request or an issuance),
// with its signature verified; revoked keys count. Unauthenticated when the
// key is unknown or the signature does not verify; InvalidArgument for an
// envelope of another kind or not signed once.
absl::StatusOr<v1::Actor> SignerOfRefused(const storage::StateReader& state,
                                          const v1::SignedEnvelope& request);

class RefusalRules final : public journal::StateMachine {
 public:
  absl::string_view name() const override { return "refusals"; }
  std::vector<std::string> OwnedPayloadTypes() const override;
  // "refusal/<SHA-256 of the refused envelope, hex>".
  absl::StatusOr<std::optional<journal::RequestId>> RequestKey(
      const v1::SignedEnvelope& envelope) const override;
  // One scope: the server writes them all.
  absl::StatusOr<std::string> RequestScope(const v1::SignedEnvelope& envelope,
                                           const storage::StateReader& state) const override;
  absl::Status Apply(const journal::EntryContext& entry, const storage::StateReader& state,
                     storage::StateWrites* changes) const override;
};

// The recorded refusals after log index `after` (0: from the start; a
// refusal is never entry 0), in log order, of enterprise `uscc` ("" for
// all); stops when `visit` returns false.
using RefusalVisitor = std::function<bool(const state::RefusalIndexRecord& refusal)>;
absl::Status ScanRefusals(const storage::StateReader& state, absl::string_view uscc,
                          uint64_t after, const RefusalVisitor& visit);

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_REFUSALS_H_
