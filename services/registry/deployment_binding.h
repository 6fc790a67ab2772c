// A signed write request names the deployment it is for.
//
// Every signed write request message (Event, WaybillRequest,
// IssueLabelsRequest, RegistryRequest) has field 30, `deployment`: the
// deployment's checkpoint origin (Deployment.checkpoint_origin), or empty.
// It is signed with the rest of the request, so a request signed for one
// deployment cannot be taken by another where the same key is registered
// (a carrier's waybill to one province's deployment replayed to the next
// province's, a request made on staging replayed to production). A
// deployment refuses a request that names another one, before its rules
// see it: Unauthenticated, as a read credential for another origin is, and
// not recorded as a rule's refusal (the request was never this
// deployment's). A request that names none is taken as before.
//
// The field is read from the payload's wire form, without parsing the
// request (the check runs beside the signature check of every write), with
// the parser's rule for a field given twice: the last one counts.
//
// Thread-safety: stateless functions.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_DEPLOYMENT_BINDING_H_
#define CHEMLEDGER_SERVICES_REGISTRY_DEPLOYMENT_BINDING_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace chemledger::registry {

// The field number of `deployment` in every signed write request message.
inline constexpr int kDeploymentFieldNumber = 30;

// The deployment `payload` (a serialized write request) names; "" when it
// names none, or when `payload` is not a well-formed message (its parser
// refuses it later, naming what is wrong).
std::string NamedDeployment(absl::string_view payload);

// OK when `payload` names no deployment or names `origin` (this
// deployment's checkpoint origin); Unauthenticated, naming both, when it
// names another.
absl::Status CheckNamedDeployment(absl::string_view payload, absl::string_view origin);

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_DEPLOYMENT_BINDING_H_
