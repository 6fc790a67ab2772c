// What a signed write request binds itself to, besides its signer and its
// purpose (the signature context): the deployment it is for, and the time by
// which it must be recorded.
//
// Every signed write request message (Event, WaybillRequest,
// IssueLabelsRequest, RegistryRequest) has the same two fields:
//  - 30, `deployment`: the deployment's checkpoint origin
//    (Deployment.checkpoint_origin), or empty. Signed with the rest of the
//    request, it keeps a request signed for one deployment from being taken
//    by another where the same key is registered (a carrier's waybill to one
//    province's deployment replayed to the next province's, a request made on
//    staging replayed to production). A deployment refuses a request that
//    names another one before its rules see it: Unauthenticated, as a read
//    credential for another origin is, and not recorded as a rule's refusal
//    (the request was never this deployment's). From rules epoch 15 the
//    rules (CheckSigner) check it again as they order a request, so that no
//    path around the first check logs another deployment's request, and
//    `chemledgerd check` holds the log to it.
//  - 31, `expires_unix_seconds`: the last second (Unix time) in which the
//    request may be recorded, or 0 for none. From rules epoch 15 the rules
//    refuse a request whose entry would be recorded later
//    (FailedPrecondition, recorded like any rule's refusal: a request
//    arriving after its expiry is worth a regulator's look), so that a signed
//    request held back (in a queue, by a proxy, by a thief) cannot be
//    recorded long after its signer meant it to be. It is checked after the
//    request id: a retry of a request recorded in time gets its receipt,
//    however late.
// A request that sets neither is taken as before, unless a platform
// administrator's DeploymentPolicy (rules epoch 17) requires every request
// to name the deployment: then one that names none is refused as one naming
// another is (Unauthenticated, not recorded), by the rules as they order it
// (after a retry of a recorded request is answered with its receipt).
//
// The fields are read from the payload's wire form, without parsing the
// request (the deployment is checked beside the signature check of every
// write), with the parser's rule for a field given twice: the last counts
// (from rules epoch 18 the rules refuse a request that gives one twice:
// CheckFieldsKnown).
// A payload that is not a well-formed message is refused (InvalidArgument)
// rather than taken as naming nothing.
//
// Thread-safety: stateless functions.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_REQUEST_BINDING_H_
#define CHEMLEDGER_SERVICES_REGISTRY_REQUEST_BINDING_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/keys.h"
#include "journal/state_machine.h"

namespace chemledger::registry {

// The field numbers every signed write request message gives them.
inline constexpr int kDeploymentFieldNumber = 30;
inline constexpr int kExpiresFieldNumber = 31;

// The rules epoch from which the rules hold a request to its expiry and
// (again) to its deployment.
inline constexpr uint32_t kRequestBindingRulesEpoch = 15;

// The rules epoch from which a platform administrator may require every
// request to name the deployment (RegistryRequest.set_deployment_policy),
// and from which a request with a field this server does not know is
// refused (CheckFieldsKnown).
inline constexpr uint32_t kDeploymentPolicyRulesEpoch = 17;
inline constexpr uint32_t kKnownFieldsRulesEpoch = 17;

// The rules epoch from which a request that sends a field holding one value
// twice, or two members of a oneof, is refused (CheckFieldsKnown).
inline constexpr uint32_t kSingularFieldsOnceRulesEpoch = 18;

// The rules epoch from which a platform administrator changes an
// enterprise's licences (RegistryRequest.change_licence).
inline constexpr uint32_t kLicenceChangesRulesEpoch = 19;

// Whether requests of `context` are signed write requests (Event,
// WaybillRequest, IssueLabelsRequest, RegistryRequest): those that carry
// the fields above.
bool IsSignedWriteRequest(const crypto::SignatureContext& context);

// OK when `payload`, a request of `context`, consists only of fields this
// server's schema has (services/common/known_fields.h) and, under the rules
// of `rules_epoch` kSingularFieldsOnceRulesEpoch or later, sends no field
// that holds one value twice nor two members of a oneof; or when `context`
// is not a signed write request's. Otherwise InvalidArgument naming the
// field's path from "event" (an Event) or "request" (the others). Such a
// request may be sound, for a server of a newer version, or one a reader
// would take otherwise than the parser, and is no anomaly: SubmitSigned
// never records a refusal of one (signers.h). The rules check it from rules
// epoch kKnownFieldsRulesEpoch, after a retry of a recorded request has been
// answered with its receipt.
absl::Status CheckFieldsKnown(const crypto::SignatureContext& context, absl::string_view payload,
                              uint32_t rules_epoch = journal::kCurrentRulesEpoch);

// A signed write's request id as its state machine's RequestKey read it
// from `payload` (the journal reads it before the rules run): `id` itself,
// or when it is an error (the payload did not parse, the id is not one),
// that error, or CheckFieldsKnown's refusal instead when `payload` carries
// a field this server does not know (a known field in another wire type, a
// malformed nested message): the same answer, never recorded, however the
// request breaks.
absl::StatusOr<journal::RequestId> ReadableRequestId(const crypto::SignatureContext& context,
                                                     absl::string_view payload,
                                                     absl::StatusOr<journal::RequestId> id);

// Parses a logged RegistryRequest as the server that recorded it read it
// (`rules_epoch`: LogEntry.rules_epoch; 0 to leave out every field added
// since the first epoch). A field added to the message in a later epoch
// (set_deployment_policy, 22, in epoch 17) was to that server an unknown
// field, kept in the signed bytes and ignored (a newer client's; taken until
// rules epoch 17 refused such requests), so it is left out here too: parsed,
// it would replace the change the entry made, or fail to parse. False when
// `payload` does not parse. Every field added to a signed request message
// comes with a new rules epoch (journal/state_machine.h) and, for
// RegistryRequest's top level, an entry in this function's table.
bool ParseLoggedRegistryRequest(absl::string_view payload, uint32_t rules_epoch,
                                v1::RegistryRequest* out);

struct RequestBinding {
  std::string deployment;            // "" when it names none
  int64_t expires_unix_seconds = 0;  // 0 when it sets none
};

// What `payload` (a serialized write request) binds itself to;
// InvalidArgument when `payload` is not a well-formed protobuf message (what
// it binds itself to cannot be told, so it is refused, never taken as
// binding to nothing).
absl::StatusOr<RequestBinding> ReadRequestBinding(absl::string_view payload);

// This deployment, as a request's binding is held to it (its state's
// DeploymentRecord).
struct ThisDeployment {
  std::string origin;                   // its checkpoint origin
  bool require_named_requests = false;  // DeploymentPolicy, from rules epoch 17
  uint64_t policy_log_index = 0;        // the entry that set the policy (0: none)
};

// OK when `binding` names `here`, or names none and `here` takes requests
// that name none; Unauthenticated when it names another deployment (naming
// both), or names none where `here` requires it (naming the origin to set
// and the policy's entry).
absl::Status CheckNamedDeployment(const RequestBinding& binding, const ThisDeployment& here);

// OK when `binding` sets no expiry or `record_time` (the entry's record
// time) falls in or before its second; FailedPrecondition, naming both
// times, when the request expired.
absl::Status CheckNotExpired(const RequestBinding& binding, absl::Time record_time);

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_REQUEST_BINDING_H_
