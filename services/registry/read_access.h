// Who is reading: the registry's check of a call's read credentials
// (services/common/read_auth.h), shared by the gRPC adapters. Any registered,
// unrevoked actor whose enterprise is not blacklisted may read the registry;
// what else it may read is each service's rule.
//
// One ReadAuthenticator serves a whole server process: it remembers the
// nonces of the credentials it accepted, so a replay to any of its services
// is refused. (Several processes behind one address would each remember
// their own: docs/signatures.md.)
//
// Thread-safety: thread-safe.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_READ_ACCESS_H_
#define CHEMLEDGER_SERVICES_REGISTRY_READ_ACCESS_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chemledger/v1/registry.pb.h"
#include "grpcpp/server_context.h"
#include "journal/ledger_client.h"
#include "services/common/read_auth.h"
#include "storage/store.h"

namespace chemledger::registry {

class ReadAuthenticator {
 public:
  explicit ReadAuthenticator(read_auth::ReadCredentialChecker::Options options)
      : checker_(std::move(options)) {}

  // The actor whose credentials `context` carries for a call of `method`
  // whose request arrived as `request_bytes` (empty for a stream), checked
  // against the registry in `state`; UNAUTHENTICATED or PERMISSION_DENIED
  // (revoked key, blacklisted enterprise) otherwise, naming the metadata.
  absl::StatusOr<v1::Actor> Authenticate(const storage::StateReader& state,
                                         const grpc::ServerContextBase& context,
                                         absl::string_view method,
                                         absl::string_view request_bytes);
  // The same for `credentials` taken from the call already (a core that is
  // given them without the call, as scan_admission.h is).
  absl::StatusOr<v1::Actor> Authenticate(const storage::StateReader& state,
                                         const read_auth::ReadCredentials& credentials,
                                         absl::string_view method, absl::string_view request_bytes);

  // A read's start: the latest committed state of `ledger` and who reads it
  // (Authenticate against that state), the log size told to the caller
  // (services/common/snapshot_metadata.h).
  struct Reading {
    std::shared_ptr<const storage::Snapshot> snapshot;
    v1::Actor reader;
  };
  absl::StatusOr<Reading> BeginRead(journal::LedgerClient& ledger, grpc::ServerContextBase& context,
                                    absl::string_view method, absl::string_view request_bytes);

 private:
  read_auth::ReadCredentialChecker checker_;
};

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_READ_ACCESS_H_
