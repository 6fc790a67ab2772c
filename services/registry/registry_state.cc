#include "services/registry/registry_state.h"

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/refusal.h"
#include "services/registry/registry_keys.h"
#include "services/registry/state_record.h"

namespace chemledger::registry {
namespace {

absl::StatusOr<LabelKeyState> ToLabelKeyState(const state::LabelKeyRecord& r) {
  absl::StatusOr<crypto::VerifyingKey> key = crypto::VerifyingKey::FromBytes(r.public_key());
  if (!key.ok()) return absl::DataLossError("a label key record holds a malformed key");
  LabelKeyState s{*key, FromProtoDate(r.valid_from()), FromProtoDate(r.valid_until()),
                  std::nullopt, std::nullopt};
  if (r.revoked()) {
    s.revoked_on = FromProtoDate(r.revoked_on());
    s.revoked_at = r.revoked_at();
  }
  return s;
}

absl::Status KeyIdError(absl::StatusCode code, absl::string_view message) {
  return absl::Status(code, absl::StrCat("envelope.signatures[0].key_id: ", message));
}

}  // namespace

absl::StatusOr<state::DeploymentRecord> ReadDeployment(const storage::StateReader& state) {
  absl::StatusOr<std::optional<state::DeploymentRecord>> r =
      ReadStateRecord<state::DeploymentRecord>(state, keys::Genesis());
  if (!r.ok()) return r.status();
  if (!*r) return absl::NotFoundError("the log has no genesis entry");
  return **r;
}

ThisDeployment ThisDeploymentOf(const state::DeploymentRecord& deployment) {
  return ThisDeployment{deployment.deployment(), deployment.require_named_requests(),
                        deployment.policy_log_index()};
}

absl::StatusOr<std::optional<EnterpriseRecord>> FindEnterprise(const storage::StateReader& state,
                                                                absl::string_view uscc) {
  if (uscc.empty()) return std::nullopt;
  absl::StatusOr<std::optional<state::EnterpriseRecord>> r =
      ReadStateRecord<state::EnterpriseRecord>(state, keys::Enterprise(uscc));
  if (!r.ok()) return r.status();
  if (!*r) return std::nullopt;
  EnterpriseRecord out{std::move(*(*r)->mutable_enterprise()), std::nullopt,
                       (*r)->registered_at()};
  if ((*r)->blacklisted()) out.blacklist_reason = (*r)->blacklist_reason();
  return out;
}

absl::StatusOr<std::optional<v1::Product>> FindProduct(const storage::StateReader& state,
                                                       absl::string_view uscc,
                                                       absl::string_view product_number) {
  if (uscc.empty() || product_number.empty()) return std::nullopt;
  return ReadStateRecord<v1::Product>(state, keys::Product(uscc, product_number));
}

absl::StatusOr<std::vector<v1::Product>> ListProducts(const storage::StateReader& state,
                                                      absl::string_view uscc) {
  std::vector<v1::Product> products;
  if (uscc.empty()) return products;
  const std::string prefix = keys::ProductsOf(uscc);
  const std::string end = storage::PrefixEnd(prefix);
  bool malformed = false;
  absl::Status s = state.Scan(prefix, end, [&](absl::string_view, absl::string_view value) {
    v1::Product& p = products.emplace_back();
    malformed = !p.ParseFromString(std::string(value));
    return !malformed;
  });
  if (!s.ok()) return s;
  if (malformed) return absl::DataLossError("a product record is malformed");
  return products;
}

absl::StatusOr<std::vector<v1::Product>> ListAllProducts(const storage::StateReader& state) {
  std::vector<v1::Product> products;
  const std::string prefix = keys::Products();
  bool malformed = false;
  absl::Status s =
      state.Scan(prefix, storage::PrefixEnd(prefix), [&](absl::string_view, absl::string_view value) {
        malformed = !products.emplace_back().ParseFromString(std::string(value));
        return !malformed;
      });
  if (!s.ok()) return s;
  if (malformed) return absl::DataLossError("a product record is malformed");
  return products;
}

absl::StatusOr<std::vector<EnterpriseRecord>> ListEnterprises(const storage::StateReader& state) {
  std::vector<EnterpriseRecord> out;
  const std::string prefix = keys::Enterprise("");
  bool malformed = false;
  absl::Status s =
      state.Scan(prefix, storage::PrefixEnd(prefix), [&](absl::string_view, absl::string_view value) {
        state::EnterpriseRecord r;
        if (!r.ParseFromString(std::string(value))) {
          malformed = true;
          return false;
        }
        EnterpriseRecord& e = out.emplace_back();
        e.enterprise = std::move(*r.mutable_enterprise());
        e.registered_at = r.registered_at();
        if (r.blacklisted()) e.blacklist_reason = r.blacklist_reason();
        return true;
      });
  if (!s.ok()) return s;
  if (malformed) return absl::DataLossError("an enterprise record is malformed");
  return out;
}

absl::StatusOr<std::vector<BlacklistedEnterprise>> ListBlacklist(const storage::StateReader& state,
                                                                 const std::string& after,
                                                                 size_t limit, bool* more) {
  std::vector<BlacklistedEnterprise> out;
  *more = false;
  const std::string prefix = keys::Blacklist();
  const std::string begin =
      after.empty() ? prefix : absl::StrCat(keys::Blacklisted(after), std::string(1, '\0'));
  bool malformed = false;
  absl::Status s = state.Scan(begin, storage::PrefixEnd(prefix),
                              [&](absl::string_view key, absl::string_view value) {
                                if (out.size() == limit) {
                                  *more = true;
                                  return false;
                                }
                                BlacklistedEnterprise& e = out.emplace_back();
                                e.uscc = std::string(key.substr(prefix.size()));
                                malformed = !e.record.ParseFromString(std::string(value));
                                return !malformed;
                              });
  if (!s.ok()) return s;
  if (malformed) return absl::DataLossError("a blacklist record is malformed");
  for (BlacklistedEnterprise& e : out) {
    absl::StatusOr<std::optional<EnterpriseRecord>> r = FindEnterprise(state, e.uscc);
    if (!r.ok()) return r.status();
    if (*r) e.name = (*r)->enterprise.name();
  }
  return out;
}

absl::StatusOr<std::optional<v1::Site>> FindSite(const storage::StateReader& state,
                                                 absl::string_view uscc,
                                                 absl::string_view site_id) {
  if (uscc.empty() || site_id.empty()) return std::nullopt;
  return ReadStateRecord<v1::Site>(state, keys::Site(uscc, site_id));
}

absl::StatusOr<std::vector<v1::Site>> ListSites(const storage::StateReader& state,
                                                absl::string_view uscc, size_t limit) {
  std::vector<v1::Site> sites;
  if (uscc.empty()) return sites;
  const std::string prefix = keys::SitesOf(uscc);
  bool malformed = false;
  absl::Status s = state.Scan(prefix, storage::PrefixEnd(prefix),
                              [&](absl::string_view, absl::string_view value) {
                                if (sites.size() == limit) return false;
                                malformed = !sites.emplace_back().ParseFromString(std::string(value));
                                return !malformed;
                              });
  if (!s.ok()) return s;
  if (malformed) return absl::DataLossError("a site record is malformed");
  return sites;
}

absl::StatusOr<bool> HasSites(const storage::StateReader& state, absl::string_view uscc) {
  absl::StatusOr<std::vector<v1::Site>> one = ListSites(state, uscc, 1);
  if (!one.ok()) return one.status();
  return !one->empty();
}

namespace {

// The key id of responder `reader`; nullopt for any other actor.
absl::StatusOr<std::optional<crypto::KeyId>> ResponderKey(const v1::Actor& reader) {
  if (reader.role() != v1::RESPONDER) return std::nullopt;
  absl::StatusOr<crypto::VerifyingKey> key = crypto::VerifyingKey::FromBytes(reader.public_key());
  if (!key.ok()) return key.status();
  return key->key_id();
}

absl::StatusOr<bool> GrantHeld(const storage::StateReader& state, const std::string& key,
                               absl::Time now) {
  absl::StatusOr<std::optional<state::BreakGlassRecord>> r =
      ReadStateRecord<state::BreakGlassRecord>(state, key);
  if (!r.ok()) return r.status();
  return r->has_value() && absl::FromUnixSeconds((*r)->expires_unix_seconds()) > now;
}

}  // namespace

absl::StatusOr<bool> HasBreakGlass(const storage::StateReader& state, const v1::Actor& reader,
                                   absl::string_view uscc, absl::string_view site,
                                   absl::Time now) {
  absl::StatusOr<std::optional<crypto::KeyId>> key = ResponderKey(reader);
  if (!key.ok()) return key.status();
  if (!*key) return false;
  return GrantHeld(state, keys::BreakGlass(**key, uscc, site), now);
}

absl::StatusOr<bool> HasBreakGlassForWaybill(const storage::StateReader& state,
                                             const v1::Actor& reader, absl::string_view carrier,
                                             absl::string_view number, absl::Time now) {
  absl::StatusOr<std::optional<crypto::KeyId>> key = ResponderKey(reader);
  if (!key.ok()) return key.status();
  if (!*key) return false;
  return GrantHeld(state, keys::BreakGlassWaybill(**key, carrier, number), now);
}

absl::StatusOr<std::optional<v1::Park>> FindPark(const storage::StateReader& state,
                                                 absl::string_view park_id) {
  if (park_id.empty()) return std::nullopt;
  return ReadStateRecord<v1::Park>(state, keys::Park(park_id));
}

absl::StatusOr<std::optional<BlacklistedEnterprise>> FindBlacklisting(
    const storage::StateReader& state, absl::string_view uscc) {
  if (uscc.empty()) return std::nullopt;
  absl::StatusOr<std::optional<state::BlacklistRecord>> r =
      ReadStateRecord<state::BlacklistRecord>(state, keys::Blacklisted(uscc));
  if (!r.ok()) return r.status();
  if (!*r) return std::nullopt;
  BlacklistedEnterprise out{std::string(uscc), "", **std::move(r)};
  absl::StatusOr<std::optional<EnterpriseRecord>> e = FindEnterprise(state, uscc);
  if (!e.ok()) return e.status();
  if (*e) out.name = (*e)->enterprise.name();
  return out;
}

v1::BlacklistEntry ToBlacklistEntry(const BlacklistedEnterprise& listed) {
  v1::BlacklistEntry out;
  out.set_enterprise_uscc(listed.uscc);
  out.set_enterprise_name(listed.name);
  out.set_reason(listed.record.reason());
  *out.mutable_date() = listed.record.date();
  out.set_listed_by(listed.record.listed_by());
  out.set_log_index(listed.record.log_index());
  return out;
}

absl::StatusOr<std::optional<state::ActorRecord>> FindActor(const storage::StateReader& state,
                                                            const crypto::KeyId& key_id) {
  return ReadStateRecord<state::ActorRecord>(state, keys::Actor(key_id));
}

absl::StatusOr<std::optional<LabelKeyState>> FindLabelKey(const storage::StateReader& state,
                                                          const crypto::KeyId& key_id) {
  absl::StatusOr<std::optional<state::LabelKeyRecord>> r =
      ReadStateRecord<state::LabelKeyRecord>(state, keys::LabelKey(key_id));
  if (!r.ok()) return r.status();
  if (!*r) return std::nullopt;
  absl::StatusOr<LabelKeyState> s = ToLabelKeyState(**r);
  if (!s.ok()) return s.status();
  return *s;
}

absl::StatusOr<std::vector<LabelKeyState>> LabelKeys(const storage::StateReader& state) {
  std::vector<LabelKeyState> out;
  const std::string prefix = keys::LabelKeys();
  const std::string end = storage::PrefixEnd(prefix);
  absl::Status error;
  absl::Status s = state.Scan(prefix, end, [&](absl::string_view, absl::string_view value) {
    state::LabelKeyRecord r;
    if (!r.ParseFromString(std::string(value))) {
      error = absl::DataLossError("a label key record is malformed");
      return false;
    }
    absl::StatusOr<LabelKeyState> k = ToLabelKeyState(r);
    if (!k.ok()) {
      error = k.status();
      return false;
    }
    out.push_back(*std::move(k));
    return true;
  });
  if (!s.ok()) return s;
  if (!error.ok()) return error;
  return out;
}

namespace {

// Refuses a signer whose enterprise is blacklisted.
absl::Status CheckNotBlacklisted(const storage::StateReader& state, const v1::Actor& actor) {
  if (actor.enterprise_uscc().empty()) return absl::OkStatus();
  absl::StatusOr<std::optional<EnterpriseRecord>> e = FindEnterprise(state, actor.enterprise_uscc());
  if (!e.ok()) return e.status();
  if (*e && (*e)->blacklist_reason) {
    return WithRefusalKind(
        KeyIdError(absl::StatusCode::kPermissionDenied,
                   absl::StrCat("the signer's enterprise ", actor.enterprise_uscc(),
                                " is blacklisted (", *(*e)->blacklist_reason,
                                "): its actors can write nothing")),
        "BLACKLISTED_ENTERPRISE");
  }
  return absl::OkStatus();
}

// Whether the key `key_id` of `record` may sign now: OK, or why not (revoked,
// its enterprise blacklisted).
absl::Status StandingOf(const storage::StateReader& state, const state::ActorRecord& record,
                        const crypto::KeyId& key_id) {
  if (record.revoked()) {
    return WithRefusalKind(KeyIdError(absl::StatusCode::kPermissionDenied,
                                      absl::StrCat("key ", key_id.ToString(),
                                                   " was revoked: ", record.revoked_reason())),
                           "REVOKED_KEY");
  }
  return CheckNotBlacklisted(state, record.actor());
}

}  // namespace

absl::StatusOr<v1::Actor> ActiveSigner(const storage::StateReader& state,
                                       const crypto::KeyId& key_id) {
  absl::StatusOr<std::optional<state::ActorRecord>> record = FindActor(state, key_id);
  if (!record.ok()) return record.status();
  if (!*record) {
    return KeyIdError(absl::StatusCode::kUnauthenticated,
                      absl::StrCat("key ", key_id.ToString(), " is not registered"));
  }
  if (absl::Status s = StandingOf(state, **record, key_id); !s.ok()) return s;
  return (*record)->actor();
}

absl::StatusOr<ResolvedSigner> ResolveSigner(const storage::StateReader& state,
                                             const v1::SignedEnvelope& envelope,
                                             const crypto::SignatureContext& context) {
  // The actor record is read once: the lookup finds the key (an unknown one
  // as envelope::Resolve words it) and keeps the record for the standing.
  std::optional<state::ActorRecord> found;
  absl::StatusOr<envelope::ResolvedSignature> resolved = envelope::Resolve(
      envelope, context, [&](const crypto::KeyId& id) -> absl::StatusOr<crypto::VerifyingKey> {
        absl::StatusOr<std::optional<state::ActorRecord>> record = FindActor(state, id);
        if (!record.ok()) return record.status();
        if (!*record) return absl::NotFoundError("unknown key");
        absl::StatusOr<crypto::VerifyingKey> key =
            crypto::VerifyingKey::FromBytes((*record)->actor().public_key());
        if (!key.ok()) return absl::DataLossError("an actor record holds a malformed key");
        found = **std::move(record);
        return key;
      });
  if (!resolved.ok()) return resolved.status();
  absl::Status standing = StandingOf(state, *found, resolved->key_id);
  return ResolvedSigner{found->actor(), *std::move(resolved), std::move(standing)};
}

absl::StatusOr<v1::Actor> VerifySigner(const storage::StateReader& state,
                                       const v1::SignedEnvelope& envelope,
                                       const crypto::SignatureContext& context) {
  absl::StatusOr<ResolvedSigner> resolved = ResolveSigner(state, envelope, context);
  if (!resolved.ok()) return resolved.status();
  if (absl::Status s = envelope::CheckSignature(envelope, context, resolved->signature); !s.ok()) {
    return s;
  }
  if (!resolved->standing.ok()) return resolved->standing;
  return std::move(resolved->actor);
}

absl::Status CheckSignatureOfRegistered(const storage::StateReader& state,
                                        const v1::SignedEnvelope& envelope,
                                        const crypto::SignatureContext& context) {
  absl::StatusOr<crypto::KeyId> signer = envelope::Verify(
      envelope, context, [&](const crypto::KeyId& id) -> absl::StatusOr<crypto::VerifyingKey> {
        absl::StatusOr<std::optional<state::ActorRecord>> record = FindActor(state, id);
        if (!record.ok()) return record.status();
        if (!*record) return absl::NotFoundError("unknown key");
        return crypto::VerifyingKey::FromBytes((*record)->actor().public_key());
      });
  return signer.ok() ? absl::OkStatus() : signer.status();
}

absl::Status CheckMayReceiveGoods(const EnterpriseRecord& consignee, absl::string_view field) {
  const v1::Enterprise& e = consignee.enterprise;
  if (consignee.blacklist_reason) {
    return absl::PermissionDeniedError(
        absl::StrCat(field, ": ", e.uscc(), " is blacklisted: nothing may be consigned to it"));
  }
  for (int r : e.roles()) {
    if (r != v1::CARRIER && r != v1::ENTERPRISE_ROLE_UNSPECIFIED) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      field, ": ", e.uscc(), " has no role that receives goods (only a carrier's, or none)"));
}

bool IsEnterpriseRole(v1::ActorRole role) {
  return role == v1::ENTERPRISE_ADMIN || role == v1::ENTERPRISE_OPERATOR;
}

bool HasRole(const v1::Enterprise& enterprise, v1::EnterpriseRole role) {
  for (int r : enterprise.roles()) {
    if (r == role) return true;
  }
  return false;
}

bool HoldsLicence(const v1::Enterprise& enterprise, v1::LicenceType type, absl::CivilDay day) {
  for (const v1::Licence& l : enterprise.licences()) {
    if (l.type() == type && FromProtoDate(l.valid_from()) <= day &&
        day <= FromProtoDate(l.valid_until())) {
      return true;
    }
  }
  return false;
}

}  // namespace chemledger::registry
