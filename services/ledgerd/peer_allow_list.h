// Who may call what on ledgerd's internal service (ledger_store_service.h).
//
// Callers are the services' TLS client certificates, named by their common
// name (tools/cluster/make-dev-ca.sh makes them; docs/cluster.md): the CA
// vouches for the name, the allow-list says what the name may do. The
// cluster's table (ClusterDefault):
//
//   caller     reads  submits (payload types)                          signs
//   labeld     yes    label issuances, refusal records, public scans    trust lists
//   waybilld   yes    waybills, refusal records, public scans           -
//   verifyd    yes    public scans                                      -
//   auditd     yes    public scans                                      checkpoints, trust lists
//
// and auditd alone keeps the console's sign-in records there (used
// challenges, the day's challenge key, tickets, sessions: PutRecord,
// GetRecord, DeleteRecord).
//
// Anyone else, and any call without a verified client certificate, is
// refused (PermissionDenied naming the caller). Registry changes and
// lifecycle events are never submitted through it: ledgerd serves
// RegistryService and LedgerService itself.
//
// Thread-safety: immutable after construction; thread-safe.

#ifndef CHEMLEDGER_SERVICES_LEDGERD_PEER_ALLOW_LIST_H_
#define CHEMLEDGER_SERVICES_LEDGERD_PEER_ALLOW_LIST_H_

#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/auth_context.h"

namespace chemledger::ledgerd {

enum class LedgerStoreAccess { kRead, kSubmit, kSignCheckpoint, kSignTrustList, kRecords };

class PeerAllowList {
 public:
  struct Grant {
    bool read = false;
    std::set<std::string> submit;  // payload types
    bool sign_checkpoint = false;
    bool sign_trust_list = false;
    bool records = false;  // the console's sign-in records (EphemeralRecords)
  };

  // The table above.
  static PeerAllowList ClusterDefault();
  // Everyone may do everything: for a service reached only in-process or on
  // a loopback port the tests open (never with TLS).
  static PeerAllowList Anyone();

  PeerAllowList() = default;
  void Allow(std::string peer, Grant grant) { grants_[std::move(peer)] = std::move(grant); }

  // OK if the caller `auth` names may `access`; PermissionDenied otherwise.
  absl::Status Check(const grpc::AuthContext* auth, LedgerStoreAccess access) const;
  // OK if it may submit requests of `payload_type`.
  absl::Status CheckSubmit(const grpc::AuthContext* auth, absl::string_view payload_type) const;

  // The verified common name of the caller's certificate; empty for none.
  static std::string PeerName(const grpc::AuthContext* auth);

 private:
  bool anyone_ = false;
  std::map<std::string, Grant, std::less<>> grants_;
};

}  // namespace chemledger::ledgerd

#endif  // CHEMLEDGER_SERVICES_LEDGERD_PEER_ALLOW_LIST_H_
