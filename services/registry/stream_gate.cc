#include "services/registry/stream_gate.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "crypto/keys.h"
#include "services/registry/read_access.h"
#include "services/registry/registry_state.h"

namespace chemledger::registry {

absl::Status StreamGate::Ticket::SignedByStreamEnterprise(const storage::StateReader& state,
                                                          const v1::SignedEnvelope& envelope) {
  const auto refuse = [&] {
    return absl::PermissionDeniedError(absl::StrCat(
        "envelope.signatures[0].key_id: on a stream opened by ", enterprise_,
        ", every request is signed by one of its own actors"));
  };
  // A malformed envelope or an unregistered key is the signature check's to
  // refuse, with the answers a single Submit gets (InvalidArgument,
  // Unauthenticated); only another enterprise's actor is refused here.
  if (envelope.signatures_size() != 1) return absl::OkStatus();
  // Only the enterprise's own actors are remembered (as many as it
  // registered): a stream that sends key ids of anyone else, or made up,
  // is looked up each time rather than grow this set.
  absl::StatusOr<crypto::KeyId> id = crypto::KeyId::Parse(envelope.signatures(0).key_id());
  if (!id.ok()) return absl::OkStatus();
  const std::string key_id = id->ToString();
  if (own_signers_.contains(key_id)) return absl::OkStatus();
  absl::StatusOr<std::optional<state::ActorRecord>> actor = FindActor(state, *id);
  if (!actor.ok()) return actor.status();
  if (!actor->has_value()) return absl::OkStatus();
  if ((*actor)->actor().enterprise_uscc() != enterprise_) return refuse();
  own_signers_.insert(key_id);
  return absl::OkStatus();
}

StreamGate::Ticket StreamGate::Enter(const storage::StateReader& state,
                                     const grpc::ServerContextBase& context,
                                     absl::string_view method) {
  absl::StatusOr<v1::Actor> actor = reads_->Authenticate(state, context, method, "");
  if (!actor.ok()) {
    return Ticket(BoundedSlots::Slot::None(),
                  absl::Status(actor.status().code(),
                               absl::StrCat("a stream opens with credentials for ", method,
                                            " in its metadata: ", actor.status().message())),
                  "");
  }
  if ((actor->role() != v1::ENTERPRISE_ADMIN && actor->role() != v1::ENTERPRISE_OPERATOR) ||
      actor->enterprise_uscc().empty()) {
    return Ticket(BoundedSlots::Slot::None(),
                  absl::PermissionDeniedError(absl::StrCat(
                      "stream credentials: actor '", actor->name(),
                      "' is no enterprise's admin or operator; streams write for an enterprise")),
                  "");
  }
  const std::string& enterprise = actor->enterprise_uscc();
  BoundedSlots::Slot slot = slots_.Take({enterprise, actor->public_key()});
  if (slot.taken()) return Ticket(std::move(slot), absl::OkStatus(), enterprise);
  std::string why;
  switch (slot.full()) {
    case BoundedSlots::kTotal:
      why = absl::StrCat(slots_.max_total(),
                         " streams are open on this server; use unary calls or retry later");
      break;
    case 0:
      why = absl::StrCat(enterprise, " has ", slots_.max_per_key(0),
                         " streams open on this server, its most; ",
                         "send more on those, or close one");
      break;
    default:
      why = absl::StrCat("actor '", actor->name(), "' has ", slots_.max_per_key(1),
                         " streams open on this server, its most; send more on those, close one, "
                         "or open it as another of ",
                         enterprise, "'s actors");
  }
  return Ticket(std::move(slot), absl::ResourceExhaustedError(why), enterprise);
}

CheckedStreamBatch CheckStreamBatch(StreamGate::Ticket& ticket,
                                    std::shared_ptr<const storage::Snapshot> snapshot,
                                    std::vector<v1::SignedEnvelope> envelopes,
                                    StreamBatchVerifier verify) {
  CheckedStreamBatch batch;
  batch.envelopes = std::move(envelopes);
  batch.admission.reserve(batch.envelopes.size());
  std::vector<const v1::SignedEnvelope*> admitted;
  admitted.reserve(batch.envelopes.size());
  for (const v1::SignedEnvelope& e : batch.envelopes) {
    batch.admission.push_back(ticket.SignedByStreamEnterprise(*snapshot, e));
    if (batch.admission.back().ok()) admitted.push_back(&e);
  }
  if (!admitted.empty()) batch.admitted = verify(std::move(snapshot), admitted);
  return batch;
}

}  // namespace chemledger::registry
