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
// Label keys: the platform's label signing keys are registered here (public
// half, validity dates) by a platform administrator and revoked with
// revoke_key; the label trust list is made from them.
//
// Thread-safety: all methods may be called concurrently; Apply and
// AppendChecked calls are serialised. The Log must outlive the Registry.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_H_
#define CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/keys.h"
#include "services/common/envelope.h"
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

// A platform label key as the registry knows it (public half only).
struct LabelKeyState {
  crypto::VerifyingKey key;
  absl::CivilDay valid_from;
  absl::CivilDay valid_until;
  std::optional<absl::CivilDay> revoked_on;  // the day its revocation was recorded
};

// An enterprise with its blacklist state.
struct EnterpriseRecord {
  v1::Enterprise enterprise;
  std::optional<std::string> blacklist_reason;  // set while blacklisted
};

class Registry {
 public:
  // Writes the genesis entry to an empty log: the deployment's name, its
  // label resolver host (crypto::ValidateLabelResolver, at most
  // crypto::kMaxQrFriendlyResolverLength characters) and its first platform
  // administrator, signed by that administrator's key. FailedPrecondition if
  // the log is not empty; InvalidArgument for a bad name or resolver.
  static absl::Status Bootstrap(storage::Log* log, const std::string& deployment,
                                const std::string& resolver, const std::string& admin_name,
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

  // A consistent read-only view of the registry, valid only inside the
  // callback that receives it (the registry's lock is held).
  class View {
   public:
    const EnterpriseRecord* FindEnterprise(const std::string& uscc) const;
    const v1::Product* FindProduct(const std::string& uscc,
                                   const std::string& product_number) const;
    // The actor holding `key_id`, if registered and not revoked.
    const v1::Actor* ActiveActor(const crypto::KeyId& key_id) const;
    const LabelKeyState* FindLabelKey(const crypto::KeyId& key_id) const;
    // Every label key ever added, revoked ones included, by key id.
    std::vector<const LabelKeyState*> LabelKeys() const;
    // Verifies `envelope` as envelope::Verify does, against the registered,
    // unrevoked actor keys, and refuses a signer whose enterprise is
    // blacklisted; returns the signer.
    absl::StatusOr<v1::Actor> VerifySigner(const v1::SignedEnvelope& envelope,
                                           const crypto::SignatureContext& context) const;
    // VerifySigner without the signature check itself, for callers that check
    // many signatures outside the lock (envelope::CheckSignature).
    absl::StatusOr<std::pair<v1::Actor, envelope::ResolvedSignature>> ResolveSigner(
        const v1::SignedEnvelope& envelope, const crypto::SignatureContext& context) const;
    // The actor holding `key_id` if it may still write: registered, not
    // revoked, its enterprise not blacklisted (errors as VerifySigner's).
    absl::StatusOr<v1::Actor> ActiveSigner(const crypto::KeyId& key_id) const;

   private:
    friend class Registry;
    explicit View(const Registry* registry) : registry_(registry) {}
    const Registry* registry_;
  };

  // For the other parts of the ledger (label issuance, events): runs
  // `make_entry` on the current registry and, if it returns an entry (a
  // serialized LogEntry), appends it to the log, with no registry change
  // ordered between the check and the append, so that e.g. an issuance can
  // never land after the blacklisting that should have refused it. Returns
  // the entry's index; make_entry's error (and nothing written) otherwise.
  absl::StatusOr<uint64_t> AppendChecked(
      const std::function<absl::StatusOr<std::string>(const View&)>& make_entry);

  // As AppendChecked, for several entries written as one atomic, durable
  // append. Returns the index of the first (the log's size when
  // `make_entries` returns none, and nothing is written). `on_appended`, if
  // given, is called with that index once the entries are durable, before any
  // other registry-checked append: so state that follows the log (a waybill
  // closed by a receipt) changes in the log's order.
  absl::StatusOr<uint64_t> AppendCheckedMany(
      const std::function<absl::StatusOr<std::vector<std::string>>(const View&)>& make_entries,
      const std::function<void(uint64_t first)>& on_appended = nullptr);

  // The unrevoked actor keys, as a snapshot that later changes do not touch
  // (replaced, copy on write, whenever an actor key is added or revoked).
  // Taking it never waits for a registry write: for finding the keys of many
  // signatures to check before taking the lock, where the signer is checked
  // again (View::ActiveSigner).
  std::shared_ptr<const std::map<crypto::KeyId, crypto::VerifyingKey>> ActiveActorKeys() const;

  // Runs `read` on a consistent view of the registry (its lock held: `read`
  // must not call back into the registry).
  absl::Status WithView(const std::function<absl::Status(const View&)>& read) const;

  // Lookups (copies; empty optional when absent).
  std::optional<v1::Enterprise> FindEnterprise(const std::string& uscc) const;
  std::optional<EnterpriseRecord> FindEnterpriseRecord(const std::string& uscc) const;
  std::optional<v1::Product> FindProduct(const std::string& uscc,
                                         const std::string& product_number) const;
  // The products of `uscc`, by product number.
  std::vector<v1::Product> ListProducts(const std::string& uscc) const;
  bool IsBlacklisted(const std::string& uscc) const;
  // The actor holding `key_id`, if registered and not revoked.
  std::optional<v1::Actor> ActiveActor(const crypto::KeyId& key_id) const;
  // Every label key ever added, revoked ones included, by key id.
  std::vector<LabelKeyState> LabelKeys() const;

  // From the genesis entry.
  const std::string& deployment() const { return deployment_; }
  const std::string& resolver() const { return resolver_; }

 private:
  struct ActorState {
    v1::Actor actor;
    crypto::VerifyingKey key;
    std::optional<std::string> revoked_reason;
  };

  Registry(storage::Log* log, const Catalogue* catalogue) : log_(log), catalogue_(catalogue) {}

  // Verifies `envelope` and checks its change against the current state;
  // changes nothing. Returns the parsed request for Commit.
  absl::StatusOr<v1::RegistryRequest> Check(const v1::SignedEnvelope& envelope) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies a checked request, recorded on `record_day`, to the state (not
  // to the log).
  void Commit(const v1::RegistryRequest& request, const v1::SignedEnvelope& envelope,
              uint64_t log_index, absl::CivilDay record_day) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AddGenesis(const v1::SignedEnvelope& envelope) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<crypto::VerifyingKey> LookupActorKey(const crypto::KeyId& id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Verifies `envelope` (envelope::Verify against the registered, unrevoked
  // actor keys) and refuses a signer whose enterprise is blacklisted.
  absl::StatusOr<const v1::Actor*> VerifiedSigner(const v1::SignedEnvelope& envelope,
                                                  const crypto::SignatureContext& context) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The signer's actor and key, without the signature check.
  absl::StatusOr<std::pair<const v1::Actor*, envelope::ResolvedSignature>> ResolvedSigner(
      const v1::SignedEnvelope& envelope, const crypto::SignatureContext& context) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The blacklist check of a signer.
  absl::Status CheckNotBlacklisted(const v1::Actor& actor) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Replaces the ActiveActorKeys snapshot from actors_.
  void PublishActorKeys() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  storage::Log* const log_;
  const Catalogue* const catalogue_;
  mutable absl::Mutex keys_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::shared_ptr<const std::map<crypto::KeyId, crypto::VerifyingKey>> active_keys_
      ABSL_GUARDED_BY(keys_mu_) =
          std::make_shared<const std::map<crypto::KeyId, crypto::VerifyingKey>>();
  std::string deployment_;  // set once by Open
  std::string resolver_;    // set once by Open
  mutable absl::Mutex mu_;
  std::map<std::string, EnterpriseRecord> enterprises_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, v1::Product> products_ ABSL_GUARDED_BY(mu_);
  std::map<crypto::KeyId, ActorState> actors_ ABSL_GUARDED_BY(mu_);
  std::map<crypto::KeyId, LabelKeyState> label_keys_ ABSL_GUARDED_BY(mu_);
  // request_id -> (log index, envelope payload) for idempotent retries.
  std::map<std::string, std::pair<uint64_t, std::string>> requests_ ABSL_GUARDED_BY(mu_);
};

// The LogEntry that records `envelope` now (record_time = now), with the
// server's `assignment` if any.
v1::LogEntry MakeLogEntry(const v1::SignedEnvelope& envelope, std::string assignment = "");

// Whether `enterprise` has `role`.
bool HasRole(const v1::Enterprise& enterprise, v1::EnterpriseRole role);

// Whether `enterprise` holds a licence of `type` valid on `day` (from and
// until both included).
bool HoldsLicence(const v1::Enterprise& enterprise, v1::LicenceType type, absl::CivilDay day);

// A civil day as a chemledger.v1.Date.
v1::Date ToProtoDate(absl::CivilDay day);

// The civil day (UTC+8, China Standard Time) of an entry's record time.
absl::CivilDay RecordDay(const v1::LogEntry& entry);

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_H_
