// The registry's rules (一企一品), as a state machine of the journal
// (journal/state_machine.h): the genesis entry and every RegistryRequest.
//
// The rules (each refusal names the field):
//  - log entry 0 is the genesis entry, signed by the key of the first
//    platform administrator it names, and nothing else is;
//  - only platform administrators register enterprises, add platform
//    administrators and regulators, add label keys, revoke label keys, and
//    assign regulators their department and jurisdiction (a regulator is
//    added with both from rules epoch 4; no other actor has them);
//  - an enterprise's products and actors are added by a platform
//    administrator or that enterprise's admin; the enterprise must be
//    registered and not blacklisted; products only for producers and
//    importers, checked against the reference catalogue (validation.h);
//  - a key is registered once, as an actor key or a label key, never both;
//  - a key is revoked once, by a platform administrator or (enterprise keys)
//    its enterprise's admin; blacklist changes by administrators and
//    regulators;
//  - the signer is a registered, unrevoked actor whose enterprise is not
//    blacklisted (every other owner of a payload type asks the same through
//    CheckSigner);
//  - from rules epoch 10: a request (an import aside) is at most
//    kMaxRegistryRequestBytes and each of its texts at most
//    kMaxRegistryTextBytes; a blacklisting's date is the day of the
//    decision, within the year before it is recorded (none given: that
//    day); a registered site changes park only by a platform
//    administrator; hazard statement codes are H and three digits with at
//    most four letters (H350i);
//  - from rules epoch 13: a regulator lifts only a blacklisting that a
//    regulator of its own department listed within its jurisdiction (one a
//    platform administrator listed, only a platform administrator); an
//    enterprise already blacklisted is not listed again until lifted.
//
// What a product registration was checked against is recorded in the entry
// (v1::RegistryAssignment: the catalogue row), so that rebuilding the state
// repeats the check against that row, never against today's catalogue.
//
// Thread-safety: stateless after construction; the catalogue must outlive
// the machine.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_RULES_H_
#define CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_RULES_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/keys.h"
#include "journal/state_machine.h"
#include "services/registry/catalogue.h"
#include "services/registry/registry_state.h"

namespace chemledger::registry {

// Bounds of a registry request from rules epoch 10 (a reference table's
// import has its own): the whole payload, and each text field in it.
inline constexpr size_t kMaxRegistryRequestBytes = 64 << 10;
inline constexpr size_t kMaxRegistryTextBytes = 4096;

class RegistryRules final : public journal::StateMachine {
 public:
  explicit RegistryRules(const Catalogue* catalogue) : catalogue_(catalogue) {}

  absl::string_view name() const override { return "registry"; }
  std::vector<std::string> OwnedPayloadTypes() const override;
  // Actors, enterprises and products: read by nearly every entry (its
  // signer, its enterprise, the products of its codes), written by few.
  std::vector<std::string> CachedPrefixes() const override;
  // "registry/<request_id>"; genesis has none.
  absl::StatusOr<std::optional<journal::RequestId>> RequestKey(
      const v1::SignedEnvelope& envelope) const override;
  // Request ids are unique per enterprise, or per park for gate actors
  // (registry::SignerRequestScope).
  absl::StatusOr<std::string> RequestScope(const v1::SignedEnvelope& envelope,
                                           const storage::StateReader& state) const override;
  absl::Status CheckRetry(const v1::SignedEnvelope& envelope,
                          const storage::StateReader& state) const override;
  absl::Status Apply(const journal::EntryContext& entry, const storage::StateReader& state,
                     storage::StateWrites* changes) const override;

 private:
  absl::Status ApplyGenesis(const journal::EntryContext& entry, storage::StateWrites* changes) const;
  absl::Status ApplyRequest(const journal::EntryContext& entry, const storage::StateReader& state,
                            storage::StateWrites* changes) const;
  // The catalogue row product `p` is checked against, and the catalogue
  // version it comes from (RegistryAssignment).
  absl::StatusOr<v1::RegistryAssignment> CatalogueCheckOf(const journal::EntryContext& entry,
                                                          const v1::Product& p,
                                                          const storage::StateReader& state) const;
  // RegistryRequest.register_product by `actor` (the rules that need the
  // catalogue; each other change has a function of its own in the .cc).
  absl::Status RegisterProduct(const journal::EntryContext& entry, const v1::Product& p,
                               const v1::Actor& actor, const storage::StateReader& state,
                               storage::StateWrites* changes) const;

  const Catalogue* const catalogue_;
};

// The signer of an entry whose owner is `context`'s: under kSequence the
// caller verified the signature, so this checks that the signer may still
// act (ActiveSigner: registered, unrevoked, not blacklisted) as of this
// entry; under kRebuild it verifies the signature too (VerifySigner).
absl::StatusOr<v1::Actor> CheckSigner(const journal::EntryContext& entry,
                                      const storage::StateReader& state,
                                      const crypto::SignatureContext& context);

// For StateMachine::CheckRetry: the signer of a retried request, verified
// when it arrived, may still act (ActiveSigner) as of `state`.
absl::Status CheckRetrySigner(const v1::SignedEnvelope& envelope,
                              const storage::StateReader& state,
                              const crypto::SignatureContext& context);

// For StateMachine::RequestScope: the scope request ids of `envelope`'s
// signer are unique in: the signer's enterprise (USCC); a park gate's park
// ("park:<park id>"); or "platform" for the other actors of no enterprise
// (platform administrators, regulators). A key never registered gets a
// scope of its own (the rules refuse what it signs).
inline constexpr char kPlatformRequestScope[] = "platform";
absl::StatusOr<std::string> SignerRequestScope(const v1::SignedEnvelope& envelope,
                                               const storage::StateReader& state,
                                               const crypto::SignatureContext& context);

// The genesis request: the deployment's name, its label resolver host
// (crypto::ValidateLabelResolver, at most crypto::kMaxQrFriendlyResolverLength
// characters) and its first platform administrator, signed by that
// administrator's key; `test_deployment` marks a deployment for tests and
// drills (Genesis.test_deployment). InvalidArgument for a bad name or
// resolver.
absl::StatusOr<v1::SignedEnvelope> MakeGenesis(const std::string& deployment,
                                               const std::string& resolver,
                                               const std::string& admin_name,
                                               const crypto::SigningKey& admin_key,
                                               bool test_deployment = false);

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_RULES_H_
