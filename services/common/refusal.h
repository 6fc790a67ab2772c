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

// `told` (what the caller is told) carrying `full` (what happened) as its
// full reason. A `full` that already carries one passes it on.
inline absl::Status WithFullReason(absl::Status told, const absl::Status& full) {
  auto inner = full.GetPayload(kFullReasonPayload);
  told.SetPayload(kFullReasonPayload,
                  inner ? *inner : absl::Cord(full.ToString(absl::StatusToStringMode::kWithNoExtraData)));
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
