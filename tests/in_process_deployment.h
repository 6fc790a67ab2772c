// Test-only: a deployment in this process, for tests that drive its parts
// directly (a fault-injecting disk, in-process gRPC services): initialising
// one, and registry requests signed and submitted as RegistryService would.

#ifndef CHEMLEDGER_TESTS_IN_PROCESS_DEPLOYMENT_H_
#define CHEMLEDGER_TESTS_IN_PROCESS_DEPLOYMENT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/keys.h"
#include "services/chemledgerd/deployment.h"
#include "services/common/envelope.h"
#include "services/registry/signers.h"

namespace chemledger::testing {

// Initialises deployment `name` (label resolver CL.EXAMPLE.CN, first
// administrator "root" signing with `admin`) in `data`, its store on
// PostgreSQL when `postgres` (a connection string) is given.
inline absl::Status InitInProcessDeployment(const std::string& data, const std::string& name,
                                            const crypto::SigningKey& admin,
                                            const std::string& postgres = "") {
  server::InitOptions init;
  init.postgres = postgres;
  init.deployment = name;
  init.resolver = "CL.EXAMPLE.CN";
  init.admin_name = "root";
  return server::InitDeployment(data, init, admin).status();
}

// Submits registry request `r`, signed by `signer`, to `d` with a request id
// of its own (unique in this process).
inline absl::Status SubmitRegistry(server::Deployment& d, const crypto::SigningKey& signer,
                                   v1::RegistryRequest r) {
  static int next = 0;
  r.set_request_id(absl::StrCat("setup-", ++next));
  absl::StatusOr<v1::SignedEnvelope> e =
      envelope::Sign(api::kRegistryContext, r.SerializeAsString(), signer);
  if (!e.ok()) return e.status();
  const v1::SignedEnvelope* one[] = {&*e};
  return registry::SubmitSigned(*d.ledger_client(), one, api::kRegistryContext)[0].status();
}

}  // namespace chemledger::testing

#endif  // CHEMLEDGER_TESTS_IN_PROCESS_DEPLOYMENT_H_
