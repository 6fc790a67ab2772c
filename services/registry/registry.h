// The registry core (一企一品): enterprises, products, actors with their keys,
// and the blacklist, kept as signed entries in the log (storage/log.h) and
// rebuilt from it on open. RegistryService is a thin gRPC adapter over this.
//
// Every change arrives as a SignedEnvelope (services/common/envelope.h) of a
// RegistryRequest. Apply verifies the signature before it parses, checks the
// signer's role and enterprise, validates the change (validation.h), appends
// the envelope to the log, and only then updates its state: a refused request
// writes nothing.
//
// A deployment starts with a genesis entry (log entry 0) naming the first
// platform administrator and signed by that administrator's own key; it is
// written once by Bootstrap, by whoever holds the data directory. There is no
// default account and no unauthenticated path to add one.
//
// Thread-safety: all methods may be called concurrently; Apply calls are
// serialised. The Log must outlive the Registry.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_H_
#define CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/keys.h"
#include "services/registry/catalogue.h"
#include "storage/log.h"

namespace chemledger::registry {

inline constexpr crypto::SignatureContext kRegistryContext(
    "application/vnd.chemledger.registry.v1+protobuf");
inline constexpr crypto::SignatureContext kGenesisContext(
    "application/vnd.chemledger.genesis.v1+protobuf");

// Where an accepted change is in the log.
struct Receipt {
  uint64_t log_index = 0;
  bool replayed = false;  // true when this was a retry of an accepted request
};

class Registry {
 public:
  // Writes the genesis entry to an empty log. FailedPrecondition if the log
  // is not empty.
  static absl::Status Bootstrap(storage::Log* log, const std::string& deployment,
                                const std::string& admin_name,
                                const crypto::SigningKey& admin_key);

  // Rebuilds the registry from `log` (which must start with a genesis entry;
  // FailedPrecondition otherwise). Entries of other kinds are skipped.
  static absl::StatusOr<std::unique_ptr<Registry>> Open(storage::Log* log,
                                                        const Catalogue* catalogue);

  // Verifies, authorises, validates and appends one change. Errors:
  // InvalidArgument (malformed envelope or field, naming it), Unauthenticated
  // (unknown key, bad signature), PermissionDenied (revoked key, role or
  // enterprise not allowed, blacklisted enterprise), NotFound (unknown
  // enterprise or key), AlreadyExists (same id with other content, duplicate
  // enterprise, product or key). Nothing is written on any error.
  absl::StatusOr<Receipt> Apply(const v1::SignedEnvelope& request);

  // Lookups (copies; empty optional when absent).
  std::optional<v1::Enterprise> FindEnterprise(const std::string& uscc) const;
  std::optional<v1::Product> FindProduct(const std::string& uscc,
                                         const std::string& product_number) const;
  bool IsBlacklisted(const std::string& uscc) const;
  // The actor holding `key_id`, if registered and not revoked.
  std::optional<v1::Actor> ActiveActor(const crypto::KeyId& key_id) const;

 private:
  struct ActorState {
    v1::Actor actor;
    crypto::VerifyingKey key;
    std::optional<std::string> revoked_reason;
  };
  struct EnterpriseState {
    v1::Enterprise enterprise;
    std::optional<std::string> blacklist_reason;
  };

  Registry(storage::Log* log, const Catalogue* catalogue) : log_(log), catalogue_(catalogue) {}

  // Verifies `envelope` and checks its change against the current state;
  // changes nothing. Returns the parsed request for Commit.
  absl::StatusOr<v1::RegistryRequest> Check(const v1::SignedEnvelope& envelope) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies a checked request to the state (not to the log).
  void Commit(const v1::RegistryRequest& request, const v1::SignedEnvelope& envelope,
              uint64_t log_index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AddGenesis(const v1::SignedEnvelope& envelope) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  storage::Log* const log_;
  const Catalogue* const catalogue_;
  mutable absl::Mutex mu_;
  std::map<std::string, EnterpriseState> enterprises_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, v1::Product> products_ ABSL_GUARDED_BY(mu_);
  std::map<crypto::KeyId, ActorState> actors_ ABSL_GUARDED_BY(mu_);
  // request_id -> (log index, envelope payload) for idempotent retries.
  std::map<std::string, std::pair<uint64_t, std::string>> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_H_
