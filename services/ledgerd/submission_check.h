// What ledgerd checks of the signed requests a personality submits
// (LedgerStore.Submit) before the journal sees them. ledgerd trusts no
// personality's own check: each request's payload type must be one its
// caller may submit (PeerAllowList::CheckSubmit), and each signature is
// verified again at the latest snapshot with the signer registered, active
// and acting for what it signs, an event's content checked as the
// personality checks it (an observation's labels, ledger::EventContentCheck).
// The server's own unsigned entries (refused requests, public scans) carry
// no signature of their own: their state machines check what is in them.
//
// Thread-safe: a pure function of its arguments.

#ifndef CHEMLEDGER_SERVICES_LEDGERD_SUBMISSION_CHECK_H_
#define CHEMLEDGER_SERVICES_LEDGERD_SUBMISSION_CHECK_H_

#include <cstddef>
#include <optional>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "chemledger/v1/log.pb.h"
#include "services/registry/signers.h"
#include "storage/store.h"

namespace chemledger::ledgerd {

// One refusal per envelope of `envelopes` (in order), or nullopt for one
// that may go on to the journal: PermissionDenied, naming the request's
// index, when `may_submit` refuses its payload type or when ledgerd takes
// no request of that type from a personality; what VerifyActorSignatures
// (at `snapshot`, on up to `verify_threads` threads, with
// `event_content_check` for events) says of its signature.
std::vector<std::optional<absl::Status>> CheckSubmission(
    const storage::Snapshot& snapshot, absl::Span<const v1::SignedEnvelope* const> envelopes,
    absl::FunctionRef<absl::Status(absl::string_view payload_type)> may_submit,
    size_t verify_threads, const registry::ContentCheck& event_content_check);

}  // namespace chemledger::ledgerd

#endif  // CHEMLEDGER_SERVICES_LEDGERD_SUBMISSION_CHECK_H_
