#include "services/registry/registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crypto/label.h"
#include "services/common/envelope.h"
#include "services/common/log_replay.h"
#include "services/registry/validation.h"

namespace chemledger::registry {
namespace {

absl::StatusOr<absl::CivilDay> ToCivilDay(const v1::Date& d, absl::string_view field) {
  const absl::CivilDay day(d.year(), d.month(), d.day());
  if (d.year() < 2000 || d.year() > 2179 || day.year() != d.year() || day.month() != d.month() ||
      day.day() != d.day()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", d.year(), "-", d.month(), "-", d.day(),
                     " is not a date from 2000-01-01 to 2179-12-31"));
  }
  return day;
}

absl::StatusOr<crypto::VerifyingKey> ActorKey(const v1::Actor& actor, absl::string_view field) {
  absl::StatusOr<crypto::VerifyingKey> key = crypto::VerifyingKey::FromBytes(actor.public_key());
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".public_key: ", key.status().message()));
  }
  return key;
}

bool IsEnterpriseRole(v1::ActorRole role) {
  return role == v1::ENTERPRISE_ADMIN || role == v1::ENTERPRISE_OPERATOR;
}

}  // namespace

v1::LogEntry MakeLogEntry(const v1::SignedEnvelope& envelope, std::string assignment) {
  v1::LogEntry entry;
  const int64_t now_ns = absl::ToUnixNanos(absl::Now());
  entry.mutable_record_time()->set_seconds(now_ns / 1000000000);
  entry.mutable_record_time()->set_nanos(static_cast<int32_t>(now_ns % 1000000000));
  *entry.mutable_envelope() = envelope;
  if (!assignment.empty()) entry.set_assignment(std::move(assignment));
  return entry;
}

bool HasRole(const v1::Enterprise& enterprise, v1::EnterpriseRole role) {
  for (int r : enterprise.roles()) {
    if (r == role) return true;
  }
  return false;
}

bool HoldsLicence(const v1::Enterprise& enterprise, v1::LicenceType type, absl::CivilDay day) {
  for (const v1::Licence& l : enterprise.licences()) {
    const absl::CivilDay from(l.valid_from().year(), l.valid_from().month(), l.valid_from().day());
    const absl::CivilDay until(l.valid_until().year(), l.valid_until().month(),
                               l.valid_until().day());
    if (l.type() == type && from <= day && day <= until) return true;
  }
  return false;
}

v1::Date ToProtoDate(absl::CivilDay day) {
  v1::Date out;
  out.set_year(static_cast<int32_t>(day.year()));
  out.set_month(day.month());
  out.set_day(day.day());
  return out;
}

absl::CivilDay RecordDay(const v1::LogEntry& entry) {
  static const absl::TimeZone kChinaStandardTime = absl::FixedTimeZone(8 * 3600);
  return absl::ToCivilDay(absl::FromUnixSeconds(entry.record_time().seconds()),
                          kChinaStandardTime);
}

absl::Status Registry::Bootstrap(storage::Log* log, const std::string& deployment,
                                 const std::string& resolver, const std::string& admin_name,
                                 const crypto::SigningKey& admin_key) {
  if (log->Size() != 0) {
    return absl::FailedPreconditionError(
        "bootstrap: the log is not empty; a deployment is bootstrapped once");
  }
  if (deployment.empty() || admin_name.empty()) {
    return absl::InvalidArgumentError("bootstrap: deployment and administrator names are required");
  }
  if (absl::Status s = crypto::ValidateLabelResolver(resolver); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("bootstrap: ", s.message()));
  }
  if (resolver.size() > crypto::kMaxQrFriendlyResolverLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bootstrap: resolver: '", resolver, "' is longer than ",
        crypto::kMaxQrFriendlyResolverLength, " characters (labels would not fit QR version 10)"));
  }
  v1::Genesis genesis;
  genesis.set_deployment(deployment);
  genesis.set_resolver(resolver);
  v1::Actor* admin = genesis.mutable_first_admin();
  admin->set_name(admin_name);
  admin->set_role(v1::PLATFORM_ADMIN);
  admin->set_public_key(admin_key.verifying_key().ToBytes());
  absl::StatusOr<v1::SignedEnvelope> envelope =
      envelope::Sign(kGenesisContext, genesis.SerializeAsString(), admin_key);
  if (!envelope.ok()) return envelope.status();
  const std::vector<std::string> entries = {MakeLogEntry(*envelope).SerializeAsString()};
  return log->Append(entries).status();
}

absl::Status Registry::AddGenesis(const v1::SignedEnvelope& envelope) {
  v1::Genesis genesis;
  if (envelope.payload_type() != kGenesisContext.payload_type() ||
      !genesis.ParseFromString(envelope.payload()) || genesis.first_admin().role() != v1::PLATFORM_ADMIN) {
    return absl::FailedPreconditionError("log entry 0 is not a genesis entry");
  }
  absl::StatusOr<crypto::VerifyingKey> key = ActorKey(genesis.first_admin(), "genesis.first_admin");
  if (!key.ok()) return key.status();
  // Signed by the key it introduces: proof that its holder wrote it.
  absl::StatusOr<crypto::KeyId> signer = envelope::Verify(
      envelope, kGenesisContext,
      [&](const crypto::KeyId& id) -> absl::StatusOr<crypto::VerifyingKey> {
        if (id == key->key_id()) return *key;
        return absl::NotFoundError("not the genesis key");
      });
  if (!signer.ok()) return signer.status();
  if (absl::Status s = crypto::ValidateLabelResolver(genesis.resolver()); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("genesis: ", s.message()));
  }
  deployment_ = genesis.deployment();
  resolver_ = genesis.resolver();
  actors_.emplace(key->key_id(), ActorState{genesis.first_admin(), *key, std::nullopt});
  PublishActorKeys();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Registry>> Registry::Open(storage::Log* log,
                                                         const Catalogue* catalogue) {
  std::unique_ptr<Registry> registry(new Registry(log, catalogue));
  absl::MutexLock lock(&registry->mu_);
  const uint64_t size = log->Size();
  if (size == 0) {
    return absl::FailedPreconditionError(
        "the log has no genesis entry: bootstrap the deployment first (chemledgerd init)");
  }
  absl::Status replayed = ReplayLog(
      *log, [&](uint64_t i, const v1::LogEntry& entry, const std::string&) -> absl::Status {
        if (i == 0) {
          if (absl::Status s = registry->AddGenesis(entry.envelope()); !s.ok()) {
            return absl::FailedPreconditionError(absl::StrCat("log entry 0: ", s.message()));
          }
          return absl::OkStatus();
        }
        if (entry.envelope().payload_type() != kRegistryContext.payload_type()) return absl::OkStatus();
        absl::StatusOr<v1::RegistryRequest> request = registry->Check(entry.envelope());
        if (!request.ok()) {
          return absl::DataLossError(absl::StrCat(
              "log entry ", i, " does not replay (the log was altered?): ", request.status().message()));
        }
        registry->Commit(*request, entry.envelope(), i, RecordDay(entry));
        return absl::OkStatus();
      });
  if (!replayed.ok()) return replayed;
  return registry;
}

absl::StatusOr<Receipt> Registry::Apply(const v1::SignedEnvelope& envelope) {
  absl::MutexLock lock(&mu_);
  // Verify before anything else, retries included.
  if (absl::StatusOr<const v1::Actor*> signer = VerifiedSigner(envelope, kRegistryContext);
      !signer.ok()) {
    return signer.status();
  }
  // A retry of an accepted request (same id, same bytes) returns its receipt.
  v1::RegistryRequest peek;
  if (envelope.payload_type() == kRegistryContext.payload_type() &&
      peek.ParseFromString(envelope.payload()) && !peek.request_id().empty()) {
    auto it = requests_.find(peek.request_id());
    if (it != requests_.end()) {
      if (it->second.second == envelope.payload()) return Receipt{it->second.first, true};
      return absl::AlreadyExistsError(absl::StrCat(
          "request.request_id: '", peek.request_id(), "' was already used for another request"));
    }
  }
  absl::StatusOr<v1::RegistryRequest> request = Check(envelope);
  if (!request.ok()) return request.status();
  const v1::LogEntry entry = MakeLogEntry(envelope);
  const std::vector<std::string> entries = {entry.SerializeAsString()};
  absl::StatusOr<uint64_t> index = log_->Append(entries);
  if (!index.ok()) return index.status();
  Commit(*request, envelope, *index, RecordDay(entry));
  return Receipt{*index, false};
}

absl::StatusOr<uint64_t> Registry::AppendChecked(
    const std::function<absl::StatusOr<std::string>(const View&)>& make_entry) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> entry = make_entry(View(this));
  if (!entry.ok()) return entry.status();
  const std::vector<std::string> entries = {*std::move(entry)};
  return log_->Append(entries);
}

absl::StatusOr<crypto::VerifyingKey> Registry::LookupActorKey(const crypto::KeyId& id) const {
  auto it = actors_.find(id);
  if (it == actors_.end()) return absl::NotFoundError("unknown key");
  if (it->second.revoked_reason) {
    return absl::PermissionDeniedError(
        absl::StrCat("key ", id.ToString(), " was revoked: ", *it->second.revoked_reason));
  }
  return it->second.key;
}

absl::Status Registry::CheckNotBlacklisted(const v1::Actor& actor) const {
  if (!actor.enterprise_uscc().empty()) {
    auto e = enterprises_.find(actor.enterprise_uscc());
    if (e != enterprises_.end() && e->second.blacklist_reason) {
      return absl::PermissionDeniedError(absl::StrCat(
          "envelope.signatures[0].key_id: the signer's enterprise ", actor.enterprise_uscc(),
          " is blacklisted (", *e->second.blacklist_reason, "): its actors can write nothing"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<const v1::Actor*, envelope::ResolvedSignature>> Registry::ResolvedSigner(
    const v1::SignedEnvelope& envelope, const crypto::SignatureContext& context) const {
  absl::StatusOr<envelope::ResolvedSignature> resolved = envelope::Resolve(
      envelope, context, [this](const crypto::KeyId& id) -> absl::StatusOr<crypto::VerifyingKey> {
        mu_.AssertHeld();
        return LookupActorKey(id);
      });
  if (!resolved.ok()) return resolved.status();
  const v1::Actor& actor = actors_.at(resolved->key_id).actor;
  if (absl::Status s = CheckNotBlacklisted(actor); !s.ok()) return s;
  return std::make_pair(&actor, *std::move(resolved));
}

absl::StatusOr<const v1::Actor*> Registry::VerifiedSigner(
    const v1::SignedEnvelope& envelope, const crypto::SignatureContext& context) const {
  auto resolved = ResolvedSigner(envelope, context);
  if (!resolved.ok()) return resolved.status();
  if (absl::Status s = envelope::CheckSignature(envelope, context, resolved->second); !s.ok()) {
    return s;
  }
  return resolved->first;
}

absl::StatusOr<v1::RegistryRequest> Registry::Check(const v1::SignedEnvelope& envelope) const {
  absl::StatusOr<const v1::Actor*> signer = VerifiedSigner(envelope, kRegistryContext);
  if (!signer.ok()) return signer.status();
  v1::RegistryRequest request;
  if (!request.ParseFromString(envelope.payload())) {
    return absl::InvalidArgumentError("envelope.payload: not a RegistryRequest");
  }
  if (request.request_id().empty() || request.request_id().size() > 128) {
    return absl::InvalidArgumentError("request.request_id: 1 to 128 characters are required");
  }
  const v1::Actor& actor = **signer;
  const bool platform_admin = actor.role() == v1::PLATFORM_ADMIN;
  const auto admin_of = [&](const std::string& uscc) {
    return platform_admin ||
           (actor.role() == v1::ENTERPRISE_ADMIN && actor.enterprise_uscc() == uscc);
  };
  const auto denied = [&](absl::string_view what) {
    return absl::PermissionDeniedError(
        absl::StrCat("envelope.signatures[0].key_id: actor '", actor.name(), "' (",
                     v1::ActorRole_Name(actor.role()), ") may not ", what));
  };

  switch (request.change_case()) {
    case v1::RegistryRequest::kRegisterEnterprise: {
      const v1::Enterprise& e = request.register_enterprise();
      if (!platform_admin) return denied("register enterprises");
      if (absl::Status s = ValidateEnterprise(e); !s.ok()) return s;
      if (enterprises_.count(e.uscc())) {
        return absl::AlreadyExistsError(
            absl::StrCat("enterprise.uscc: ", e.uscc(), " is already registered"));
      }
      break;
    }
    case v1::RegistryRequest::kRegisterProduct: {
      const v1::Product& p = request.register_product();
      if (absl::Status s = ValidateProduct(p, *catalogue_); !s.ok()) return s;
      auto e = enterprises_.find(p.enterprise_uscc());
      if (e == enterprises_.end()) {
        return absl::NotFoundError(absl::StrCat("product.enterprise_uscc: enterprise ",
                                                p.enterprise_uscc(), " is not registered"));
      }
      if (e->second.blacklist_reason) {
        return absl::PermissionDeniedError(absl::StrCat(
            "product.enterprise_uscc: enterprise ", p.enterprise_uscc(), " is blacklisted (",
            *e->second.blacklist_reason, ")"));
      }
      if (!admin_of(p.enterprise_uscc())) {
        return denied(absl::StrCat("register products of enterprise ", p.enterprise_uscc()));
      }
      if (!HasRole(e->second.enterprise, v1::PRODUCER) &&
          !HasRole(e->second.enterprise, v1::IMPORTER)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "product.enterprise_uscc: enterprise ", p.enterprise_uscc(),
            " is neither a producer nor an importer"));
      }
      if (products_.count({p.enterprise_uscc(), p.product_number()})) {
        return absl::AlreadyExistsError(absl::StrCat(
            "product.product_number: ", p.product_number(), " is already registered for ",
            p.enterprise_uscc()));
      }
      break;
    }
    case v1::RegistryRequest::kAddActor: {
      const v1::Actor& a = request.add_actor();
      if (a.name().empty()) return absl::InvalidArgumentError("actor.name: is required");
      if (a.role() == v1::ACTOR_ROLE_UNSPECIFIED || !v1::ActorRole_IsValid(a.role())) {
        return absl::InvalidArgumentError("actor.role: is not a known role");
      }
      absl::StatusOr<crypto::VerifyingKey> key = ActorKey(a, "actor");
      if (!key.ok()) return key.status();
      if (actors_.count(key->key_id()) || label_keys_.count(key->key_id())) {
        return absl::AlreadyExistsError(
            absl::StrCat("actor.public_key: key ", key->key_id().ToString(), " is already registered"));
      }
      if (IsEnterpriseRole(a.role())) {
        auto e = enterprises_.find(a.enterprise_uscc());
        if (e == enterprises_.end()) {
          return absl::NotFoundError(absl::StrCat("actor.enterprise_uscc: enterprise '",
                                                  a.enterprise_uscc(), "' is not registered"));
        }
        if (e->second.blacklist_reason) {
          return absl::PermissionDeniedError(absl::StrCat(
              "actor.enterprise_uscc: enterprise ", a.enterprise_uscc(), " is blacklisted"));
        }
        if (!admin_of(a.enterprise_uscc())) {
          return denied(absl::StrCat("add actors to enterprise ", a.enterprise_uscc()));
        }
      } else {
        if (!a.enterprise_uscc().empty()) {
          return absl::InvalidArgumentError(
              "actor.enterprise_uscc: must be empty for platform administrators and regulators");
        }
        if (!platform_admin) return denied("add platform administrators or regulators");
      }
      break;
    }
    case v1::RegistryRequest::kRevokeKey: {
      absl::StatusOr<crypto::KeyId> id = crypto::KeyId::Parse(request.revoke_key().key_id());
      if (!id.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("revoke_key.key_id: ", id.status().message()));
      }
      if (request.revoke_key().reason().empty()) {
        return absl::InvalidArgumentError("revoke_key.reason: is required");
      }
      if (auto label_key = label_keys_.find(*id); label_key != label_keys_.end()) {
        if (!platform_admin) return denied("revoke label keys");
        if (label_key->second.revoked_on) {
          return absl::FailedPreconditionError(
              absl::StrCat("revoke_key.key_id: label key ", id->ToString(), " is already revoked"));
        }
        break;
      }
      auto target = actors_.find(*id);
      if (target == actors_.end()) {
        return absl::NotFoundError(absl::StrCat("revoke_key.key_id: key ", id->ToString(),
                                                " is not registered"));
      }
      if (target->second.revoked_reason) {
        return absl::FailedPreconditionError(
            absl::StrCat("revoke_key.key_id: key ", id->ToString(), " is already revoked"));
      }
      const v1::Actor& t = target->second.actor;
      if (!(platform_admin || (IsEnterpriseRole(t.role()) && admin_of(t.enterprise_uscc())))) {
        return denied(absl::StrCat("revoke key ", id->ToString()));
      }
      break;
    }
    case v1::RegistryRequest::kBlacklist: {
      const v1::BlacklistChange& b = request.blacklist();
      if (!(platform_admin || actor.role() == v1::REGULATOR)) return denied("change the blacklist");
      if (!enterprises_.count(b.enterprise_uscc())) {
        return absl::NotFoundError(absl::StrCat("blacklist.enterprise_uscc: enterprise '",
                                                b.enterprise_uscc(), "' is not registered"));
      }
      if (b.reason().empty()) return absl::InvalidArgumentError("blacklist.reason: is required");
      break;
    }
    case v1::RegistryRequest::kAddLabelKey: {
      const v1::LabelKey& k = request.add_label_key();
      if (!platform_admin) return denied("add label keys");
      absl::StatusOr<crypto::VerifyingKey> key = crypto::VerifyingKey::FromBytes(k.public_key());
      if (!key.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("add_label_key.public_key: ", key.status().message()));
      }
      absl::StatusOr<absl::CivilDay> from = ToCivilDay(k.valid_from(), "add_label_key.valid_from");
      if (!from.ok()) return from.status();
      absl::StatusOr<absl::CivilDay> until = ToCivilDay(k.valid_until(), "add_label_key.valid_until");
      if (!until.ok()) return until.status();
      if (*until < *from) {
        return absl::InvalidArgumentError(
            "add_label_key.valid_until: must not be before valid_from");
      }
      if (label_keys_.count(key->key_id()) || actors_.count(key->key_id())) {
        return absl::AlreadyExistsError(absl::StrCat("add_label_key.public_key: key ",
                                                     key->key_id().ToString(),
                                                     " is already registered"));
      }
      break;
    }
    case v1::RegistryRequest::CHANGE_NOT_SET:
      return absl::InvalidArgumentError("request.change: no change given");
  }
  return request;
}

void Registry::Commit(const v1::RegistryRequest& request, const v1::SignedEnvelope& envelope,
                      uint64_t log_index, absl::CivilDay record_day) {
  requests_[request.request_id()] = {log_index, envelope.payload()};
  switch (request.change_case()) {
    case v1::RegistryRequest::kRegisterEnterprise:
      enterprises_[request.register_enterprise().uscc()] =
          EnterpriseRecord{request.register_enterprise(), std::nullopt};
      break;
    case v1::RegistryRequest::kRegisterProduct: {
      const v1::Product& p = request.register_product();
      products_[{p.enterprise_uscc(), p.product_number()}] = p;
      break;
    }
    case v1::RegistryRequest::kAddActor: {
      const crypto::VerifyingKey key = *crypto::VerifyingKey::FromBytes(request.add_actor().public_key());
      actors_.emplace(key.key_id(), ActorState{request.add_actor(), key, std::nullopt});
      PublishActorKeys();
      break;
    }
    case v1::RegistryRequest::kRevokeKey: {
      const crypto::KeyId id = *crypto::KeyId::Parse(request.revoke_key().key_id());
      if (auto label_key = label_keys_.find(id); label_key != label_keys_.end()) {
        label_key->second.revoked_on = record_day;
      } else {
        actors_.at(id).revoked_reason = request.revoke_key().reason();
        PublishActorKeys();
      }
      break;
    }
    case v1::RegistryRequest::kAddLabelKey: {
      const v1::LabelKey& k = request.add_label_key();
      const crypto::VerifyingKey key = *crypto::VerifyingKey::FromBytes(k.public_key());
      label_keys_.emplace(
          key.key_id(),
          LabelKeyState{key, *ToCivilDay(k.valid_from(), ""), *ToCivilDay(k.valid_until(), ""),
                        std::nullopt});
      break;
    }
    case v1::RegistryRequest::kBlacklist: {
      EnterpriseRecord& e = enterprises_.at(request.blacklist().enterprise_uscc());
      if (request.blacklist().blacklisted()) {
        e.blacklist_reason = request.blacklist().reason();
      } else {
        e.blacklist_reason.reset();
      }
      break;
    }
    case v1::RegistryRequest::CHANGE_NOT_SET:
      break;
  }
}

const EnterpriseRecord* Registry::View::FindEnterprise(const std::string& uscc) const {
  registry_->mu_.AssertHeld();
  auto it = registry_->enterprises_.find(uscc);
  return it == registry_->enterprises_.end() ? nullptr : &it->second;
}

const v1::Product* Registry::View::FindProduct(const std::string& uscc,
                                               const std::string& product_number) const {
  registry_->mu_.AssertHeld();
  auto it = registry_->products_.find({uscc, product_number});
  return it == registry_->products_.end() ? nullptr : &it->second;
}

const v1::Actor* Registry::View::ActiveActor(const crypto::KeyId& key_id) const {
  registry_->mu_.AssertHeld();
  auto it = registry_->actors_.find(key_id);
  if (it == registry_->actors_.end() || it->second.revoked_reason) return nullptr;
  return &it->second.actor;
}

const LabelKeyState* Registry::View::FindLabelKey(const crypto::KeyId& key_id) const {
  registry_->mu_.AssertHeld();
  auto it = registry_->label_keys_.find(key_id);
  return it == registry_->label_keys_.end() ? nullptr : &it->second;
}

std::vector<const LabelKeyState*> Registry::View::LabelKeys() const {
  registry_->mu_.AssertHeld();
  std::vector<const LabelKeyState*> keys;
  for (const auto& [id, state] : registry_->label_keys_) keys.push_back(&state);
  return keys;
}

absl::StatusOr<v1::Actor> Registry::View::VerifySigner(
    const v1::SignedEnvelope& envelope, const crypto::SignatureContext& context) const {
  registry_->mu_.AssertHeld();
  absl::StatusOr<const v1::Actor*> signer = registry_->VerifiedSigner(envelope, context);
  if (!signer.ok()) return signer.status();
  return **signer;
}

absl::StatusOr<std::pair<v1::Actor, envelope::ResolvedSignature>> Registry::View::ResolveSigner(
    const v1::SignedEnvelope& envelope, const crypto::SignatureContext& context) const {
  registry_->mu_.AssertHeld();
  auto resolved = registry_->ResolvedSigner(envelope, context);
  if (!resolved.ok()) return resolved.status();
  return std::make_pair(*resolved->first, resolved->second);
}

absl::StatusOr<v1::Actor> Registry::View::ActiveSigner(const crypto::KeyId& key_id) const {
  registry_->mu_.AssertHeld();
  absl::StatusOr<crypto::VerifyingKey> key = registry_->LookupActorKey(key_id);
  if (!key.ok()) {
    return absl::Status(absl::IsNotFound(key.status()) ? absl::StatusCode::kUnauthenticated
                                                       : key.status().code(),
                        absl::StrCat("envelope.signatures[0].key_id: ", key.status().message()));
  }
  const v1::Actor& actor = registry_->actors_.at(key_id).actor;
  if (absl::Status s = registry_->CheckNotBlacklisted(actor); !s.ok()) return s;
  return actor;
}

absl::StatusOr<uint64_t> Registry::AppendCheckedMany(
    const std::function<absl::StatusOr<std::vector<std::string>>(const View&)>& make_entries,
    const std::function<void(uint64_t first)>& on_appended) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::vector<std::string>> entries = make_entries(View(this));
  if (!entries.ok()) return entries.status();
  if (entries->empty()) return log_->Size();
  absl::StatusOr<uint64_t> first = log_->Append(*entries);
  if (first.ok() && on_appended) on_appended(*first);
  return first;
}

void Registry::PublishActorKeys() {
  auto keys = std::make_shared<std::map<crypto::KeyId, crypto::VerifyingKey>>();
  for (const auto& [id, state] : actors_) {
    if (!state.revoked_reason) keys->emplace(id, state.key);
  }
  absl::MutexLock lock(&keys_mu_);
  active_keys_ = std::move(keys);
}

std::shared_ptr<const std::map<crypto::KeyId, crypto::VerifyingKey>> Registry::ActiveActorKeys()
    const {
  absl::MutexLock lock(&keys_mu_);
  return active_keys_;
}

absl::Status Registry::WithView(const std::function<absl::Status(const View&)>& read) const {
  absl::MutexLock lock(&mu_);
  return read(View(this));
}

std::optional<EnterpriseRecord> Registry::FindEnterpriseRecord(const std::string& uscc) const {
  absl::MutexLock lock(&mu_);
  auto it = enterprises_.find(uscc);
  if (it == enterprises_.end()) return std::nullopt;
  return it->second;
}

std::vector<v1::Product> Registry::ListProducts(const std::string& uscc) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Product> products;
  for (auto it = products_.lower_bound({uscc, ""});
       it != products_.end() && it->first.first == uscc; ++it) {
    products.push_back(it->second);
  }
  return products;
}

std::vector<LabelKeyState> Registry::LabelKeys() const {
  absl::MutexLock lock(&mu_);
  std::vector<LabelKeyState> keys;
  for (const auto& [id, state] : label_keys_) keys.push_back(state);
  return keys;
}

std::optional<v1::Enterprise> Registry::FindEnterprise(const std::string& uscc) const {
  absl::MutexLock lock(&mu_);
  auto it = enterprises_.find(uscc);
  if (it == enterprises_.end()) return std::nullopt;
  return it->second.enterprise;
}

std::optional<v1::Product> Registry::FindProduct(const std::string& uscc,
                                                 const std::string& product_number) const {
  absl::MutexLock lock(&mu_);
  auto it = products_.find({uscc, product_number});
  if (it == products_.end()) return std::nullopt;
  return it->second;
}

bool Registry::IsBlacklisted(const std::string& uscc) const {
  absl::MutexLock lock(&mu_);
  auto it = enterprises_.find(uscc);
  return it != enterprises_.end() && it->second.blacklist_reason.has_value();
}

std::optional<v1::Actor> Registry::ActiveActor(const crypto::KeyId& key_id) const {
  absl::MutexLock lock(&mu_);
  auto it = actors_.find(key_id);
  if (it == actors_.end() || it->second.revoked_reason) return std::nullopt;
  return it->second.actor;
}

}  // namespace chemledger::registry
