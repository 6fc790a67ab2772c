// The registry's state (一企一品: enterprises, products, actors and their keys,
// label keys, the blacklist), read from the store: at a snapshot for the
// services, or from the journal's view while an entry is checked. The rules
// that change it are services/registry/registry_rules.h; the key layout is in
// the .cc and docs/architecture.md.
//
// Revoked keys stay readable (FindActor, FindLabelKey) with the log index of
// their revocation, so old signatures remain verifiable.
//
// Pure functions over a storage::StateReader; thread-safe as the reader is.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_STATE_H_
#define CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_STATE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/state/state.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/registry_service.pb.h"
#include "crypto/keys.h"
#include "services/common/envelope.h"
#include "services/registry/request_binding.h"
#include "storage/store.h"

namespace chemledger::registry {

using api::kGenesisContext;
using api::kRegistryContext;

// A platform label key as the registry knows it (public half only).
struct LabelKeyState {
  crypto::VerifyingKey key;
  absl::CivilDay valid_from;
  absl::CivilDay valid_until;
  std::optional<absl::CivilDay> revoked_on;  // the China day its revocation was recorded
  std::optional<uint64_t> revoked_at;        // the log index of its revocation
};

// An enterprise with its blacklist state.
struct EnterpriseRecord {
  v1::Enterprise enterprise;
  std::optional<std::string> blacklist_reason;  // set while blacklisted
  uint64_t registered_at = 0;                   // the log index of its registration
};

// The deployment's name and label resolver host, from the genesis entry.
// NotFound before the genesis entry.
absl::StatusOr<state::DeploymentRecord> ReadDeployment(const storage::StateReader& state);

// What a request's binding is held to (request_binding.h): the deployment's
// name and its policy for requests that name none.
ThisDeployment ThisDeploymentOf(const state::DeploymentRecord& deployment);

absl::StatusOr<std::optional<EnterpriseRecord>> FindEnterprise(const storage::StateReader& state,
                                                                absl::string_view uscc);
absl::StatusOr<std::optional<v1::Product>> FindProduct(const storage::StateReader& state,
                                                       absl::string_view uscc,
                                                       absl::string_view product_number);
// The blacklist (黑名单) as the public reads it: enterprises listed, by
// USCC, after `after` ("" from the start), at most `limit`; *more when others
// follow.
struct BlacklistedEnterprise {
  std::string uscc;
  std::string name;
  state::BlacklistRecord record;
};
absl::StatusOr<std::vector<BlacklistedEnterprise>> ListBlacklist(const storage::StateReader& state,
                                                                 const std::string& after,
                                                                 size_t limit, bool* more);

// The blacklisting of `uscc` if it is listed now; nullopt otherwise.
absl::StatusOr<std::optional<BlacklistedEnterprise>> FindBlacklisting(
    const storage::StateReader& state, absl::string_view uscc);
// The public form of a listing (RegistryService.ListBlacklist, scan pages).
v1::BlacklistEntry ToBlacklistEntry(const BlacklistedEnterprise& listed);

// The registered site `site_id` of `uscc`, if there is one.
absl::StatusOr<std::optional<v1::Site>> FindSite(const storage::StateReader& state,
                                                 absl::string_view uscc,
                                                 absl::string_view site_id);
// The registered sites of `uscc`, by site id (at most `limit`).
absl::StatusOr<std::vector<v1::Site>> ListSites(const storage::StateReader& state,
                                                absl::string_view uscc, size_t limit = 10000);
// Whether `uscc` has registered any site (its goods must then be put at one).
absl::StatusOr<bool> HasSites(const storage::StateReader& state, absl::string_view uscc);
// How long a break-glass grant lasts from its record time.
inline constexpr absl::Duration kBreakGlassDuration = absl::Hours(12);
// Whether `reader` is a responder holding a break-glass grant for `uscc`'s
// `site` at `now` (recorded, not expired); false for any other actor.
absl::StatusOr<bool> HasBreakGlass(const storage::StateReader& state, const v1::Actor& reader,
                                   absl::string_view uscc, absl::string_view site, absl::Time now);
// The same for `carrier`'s waybill `number` (what is on that vehicle).
absl::StatusOr<bool> HasBreakGlassForWaybill(const storage::StateReader& state,
                                             const v1::Actor& reader, absl::string_view carrier,
                                             absl::string_view number, absl::Time now);

// The registered park `park_id`, if there is one.
absl::StatusOr<std::optional<v1::Park>> FindPark(const storage::StateReader& state,
                                                 absl::string_view park_id);

// The products of `uscc`, by product number.
absl::StatusOr<std::vector<v1::Product>> ListProducts(const storage::StateReader& state,
                                                      absl::string_view uscc);
// Every registered product, by enterprise and product number.
absl::StatusOr<std::vector<v1::Product>> ListAllProducts(const storage::StateReader& state);
// Every registered enterprise, by USCC (the whole registry: for reports).
absl::StatusOr<std::vector<EnterpriseRecord>> ListEnterprises(const storage::StateReader& state);
// The actor key `key_id`, revoked or not.
absl::StatusOr<std::optional<state::ActorRecord>> FindActor(const storage::StateReader& state,
                                                            const crypto::KeyId& key_id);
absl::StatusOr<std::optional<LabelKeyState>> FindLabelKey(const storage::StateReader& state,
                                                          const crypto::KeyId& key_id);
// Every label key ever added, revoked ones included, by key id.
absl::StatusOr<std::vector<LabelKeyState>> LabelKeys(const storage::StateReader& state);

// The actor holding `key_id` if it may act now: registered (else
// Unauthenticated), not revoked (else PermissionDenied saying why), its
// enterprise not blacklisted (else PermissionDenied). Errors name
// envelope.signatures[0].key_id.
absl::StatusOr<v1::Actor> ActiveSigner(const storage::StateReader& state,
                                       const crypto::KeyId& key_id);

// A signer found for an envelope, before its signature is checked.
struct ResolvedSigner {
  v1::Actor actor;
  envelope::ResolvedSignature signature;
  // Whether the key may sign now: OK, or why not (revoked, its enterprise
  // blacklisted; PermissionDenied saying why). Told only once the signature
  // is checked, so that nobody learns a key's standing, or the reason for
  // it, by sending a request with its id and any signature.
  absl::Status standing;
};
// Checks `envelope`'s form (envelope::Resolve) and finds its signer's key
// among the registered actors, revoked ones included (not checking the
// signature itself); an unknown key is Unauthenticated.
absl::StatusOr<ResolvedSigner> ResolveSigner(const storage::StateReader& state,
                                             const v1::SignedEnvelope& envelope,
                                             const crypto::SignatureContext& context);
// ResolveSigner, then the signature check, then the signer's standing: the
// whole verification of a signed envelope against the registry.
absl::StatusOr<v1::Actor> VerifySigner(const storage::StateReader& state,
                                       const v1::SignedEnvelope& envelope,
                                       const crypto::SignatureContext& context);

// Whether `enterprise` has `role`.
bool HasRole(const v1::Enterprise& enterprise, v1::EnterpriseRole role);

// OK when `envelope`'s signature verifies for `context` with the key the
// registry holds under its key id, revoked or not, whatever its enterprise's
// standing (for recording attempts by revoked keys and blacklisted
// enterprises); Unauthenticated otherwise.
absl::Status CheckSignatureOfRegistered(const storage::StateReader& state,
                                        const v1::SignedEnvelope& envelope,
                                        const crypto::SignatureContext& context);
// Whether an actor of `role` belongs to an enterprise (its admin or
// operator).
bool IsEnterpriseRole(v1::ActorRole role);
// Whether goods may be consigned to `consignee`: PermissionDenied (naming
// `field`) when it is blacklisted, or when its roles cannot receive goods
// (it has none but CARRIER: a carrier moves goods, it is not sent them).
absl::Status CheckMayReceiveGoods(const EnterpriseRecord& consignee, absl::string_view field);
// Whether `enterprise` holds a licence of `type` valid on `day` (from and
// until both included).
bool HoldsLicence(const v1::Enterprise& enterprise, v1::LicenceType type, absl::CivilDay day);
// Dates (api/china_time.h): licences and records are dated in China time.
using api::ChinaDay;
using api::FromProtoDate;
using api::ToProtoDate;

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_STATE_H_
