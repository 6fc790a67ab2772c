// Refusals that tell the caller less than what happened.
//
// A refusal about a package the caller may not read must not tell it who
// holds the package, where it goes, what it is packed on, or even whether it
// exists (anyone with a key could otherwise map where 剧毒 and 易制爆 goods
// are by sending events for codes they do not hold). The rules then answer
// with a uniform refusal and attach the full reason to it as a payload, for
// the regulator: ToGrpcStatus (services/common/grpc_status.h) sends only the
// code and message, never the payload.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_SERVICES_COMMON_REFUSAL_H_
#define CHEMLEDGER_SERVICES_COMMON_REFUSAL_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace chemledger {

// The payload type URL under which the full reason travels.
inline constexpr absl::string_view kFullReasonPayload =
    "type.chemledger.cn/chemledger.RefusalFullReason";

// The payload type URL under which a refusal names the anomaly it is
// (chemledger.v1.RefusalKind's names, "AFTER_TERMINAL_STATE", ...): the
// regulators' anomaly list sorts recorded refusals by it
// (services/audit/refusals.h). Never sent to the caller.
inline constexpr absl::string_view kRefusalKindPayload =
    "type.chemledger.cn/chemledger.RefusalKind";

// `refusal` marked as an anomaly of `kind`.
inline absl::Status WithRefusalKind(absl::Status refusal, absl::string_view kind) {
  refusal.SetPayload(kRefusalKindPayload, absl::Cord(kind));
  return refusal;
}

// The kind a refusal was marked with; nullopt for none.
inline std::optional<std::string> RefusalKindOf(const absl::Status& refusal) {
  auto kind = refusal.GetPayload(kRefusalKindPayload);
  if (!kind) return std::nullopt;
  return std::string(*kind);
}

// `told` (what the caller is told) carrying `full` (what happened) as its
// full reason (its message: the recorded refusal keeps the code told, and a
// reason reads the same whether it was told or not), and `full`'s kind. A
// `full` that already carries a full reason passes it on.
inline absl::Status WithFullReason(absl::Status told, const absl::Status& full) {
  auto inner = full.GetPayload(kFullReasonPayload);
  told.SetPayload(kFullReasonPayload, inner ? *inner : absl::Cord(full.message()));
  if (auto kind = full.GetPayload(kRefusalKindPayload)) told.SetPayload(kRefusalKindPayload, *kind);
  return told;
}

// The full reason of a refusal told less than it: nullopt for one that told
// everything.
inline std::optional<std::string> FullReason(const absl::Status& refusal) {
  auto full = refusal.GetPayload(kFullReasonPayload);
  if (!full) return std::nullopt;
  return std::string(*full);
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_REFUSAL_H_
