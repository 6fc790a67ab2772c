#include "services/ledgerd/submission_check.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/wire.h"

namespace chemledger::ledgerd {

std::vector<std::optional<absl::Status>> CheckSubmission(
    const storage::Snapshot& snapshot, absl::Span<const v1::SignedEnvelope* const> envelopes,
    absl::FunctionRef<absl::Status(absl::string_view payload_type)> may_submit,
    size_t verify_threads, const registry::ContentCheck& event_content_check) {
  const size_t n = envelopes.size();
  std::vector<std::optional<absl::Status>> refused(n);
  // The signatures again, per payload type, with what the personalities
  // check besides (an observation's labels).
  std::map<const crypto::SignatureContext*, std::vector<size_t>> by_context;
  for (size_t i = 0; i < n; ++i) {
    const v1::SignedEnvelope& envelope = *envelopes[i];
    if (absl::Status may = may_submit(envelope.payload_type()); !may.ok()) {
      refused[i] = absl::Status(may.code(), absl::StrCat("requests[", i, "]: ", may.message()));
      continue;
    }
    // The server's own entries: unsigned; their state machines check what
    // is in them (a refused request's signature, a scanned label's).
    if (envelope.payload_type() == api::kRefusalPayloadType ||
        envelope.payload_type() == api::kPublicScanPayloadType) {
      continue;
    }
    const crypto::SignatureContext* context = api::SignedRequestContext(envelope.payload_type());
    if (context == nullptr) {
      refused[i] = absl::PermissionDeniedError(absl::StrCat(
          "requests[", i, "].envelope.payload_type: '", envelope.payload_type().substr(0, 100),
          "' is not submitted through ledgerd's internal service"));
      continue;
    }
    by_context[context].push_back(i);
  }
  for (const auto& [context, indexes] : by_context) {
    std::vector<const v1::SignedEnvelope*> signed_envelopes;
    signed_envelopes.reserve(indexes.size());
    for (size_t i : indexes) signed_envelopes.push_back(envelopes[i]);
    std::vector<absl::StatusOr<registry::VerifiedSigner>> verified =
        registry::VerifyActorSignatures(
            snapshot, signed_envelopes, *context, verify_threads,
            context == &api::kEventContext ? event_content_check : nullptr);
    for (size_t k = 0; k < indexes.size(); ++k) {
      if (!verified[k].ok()) refused[indexes[k]] = verified[k].status();
    }
  }
  return refused;
}

}  // namespace chemledger::ledgerd
