#include "tools/chemaudit/anomaly_evidence.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/major_hazard.pb.h"
#include "chemledger/v1/public_scan.pb.h"
#include "chemledger/v1/refusal.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/keys.h"
#include "crypto/label.h"
#include "crypto/merkle.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/common/envelope.h"
#include "services/registry/request_binding.h"

namespace chemledger::chemaudit {

absl::Status EvidenceIsOf(const v1::Anomaly& a, const std::string& bytes) {
  const std::string which = absl::StrCat("the entry at log index ", a.log_index());
  v1::LogEntry entry;
  if (!entry.ParseFromString(bytes)) return absl::DataLossError(which + " is no log entry");
  const std::string& type = entry.envelope().payload_type();
  const std::string& payload = entry.envelope().payload();
  const auto event_of = [&](v1::BusinessStep step) {
    v1::Event e;
    return type == api::kEventContext.payload_type() && e.ParseFromString(payload) &&
           e.step() == step &&
           std::find(e.codes().begin(), e.codes().end(), a.code()) != e.codes().end();
  };
  bool matches = false;
  switch (a.kind()) {
    case v1::REFUSED_REQUEST: {
      v1::RefusedRequest r;
      matches = type == api::kRefusalPayloadType && r.ParseFromString(payload) &&
                r.request().signatures_size() == 1 &&
                r.request().signatures(0).key_id() == a.signer_key_id() &&
                r.code() == a.refusal_code() &&
                (a.refusal_kind() == v1::REFUSAL_KIND_UNSPECIFIED || r.kind() == a.refusal_kind());
      break;
    }
    case v1::CLONE_SIGNAL: {
      v1::PublicScan scan;
      absl::StatusOr<crypto::ParsedLabel> label;
      matches = event_of(v1::OBSERVING) ||
                (type == api::kPublicScanPayloadType && scan.ParseFromString(payload) &&
                 (label = crypto::ParseLabelUrl(scan.label_url())).ok() &&
                 label->claims.Code() == a.code());
      break;
    }
    case v1::CONTROLLED_GOODS_LOST:
      matches = event_of(v1::LOSS_REPORT);
      break;
    case v1::MAJOR_HAZARD_ALERT: {
      v1::MajorHazardAlert alert;
      matches = type == api::kMajorHazardAlertPayloadType && alert.ParseFromString(payload) &&
                google::protobuf::util::MessageDifferencer::Equals(alert, a.major_hazard_alert());
      break;
    }
    default:
      break;
  }
  if (!matches) {
    return absl::DataLossError(absl::StrCat(which, " is not the ", v1::AnomalyKind_Name(a.kind()),
                                            " the anomaly list says it is"));
  }
  return absl::OkStatus();
}

absl::Status RefusedRequestIsSignedBy(const std::string& refusal_entry, uint64_t refused_at,
                                      const std::string& registration_entry, uint64_t registered_at,
                                      absl::string_view enterprise, absl::string_view deployment) {
  const std::string which = absl::StrCat("the refused request at log index ", refused_at);
  v1::LogEntry refusal;
  v1::RefusedRequest refused;
  if (!refusal.ParseFromString(refusal_entry) ||
      refusal.envelope().payload_type() != api::kRefusalPayloadType ||
      !refused.ParseFromString(refusal.envelope().payload())) {
    return absl::DataLossError(absl::StrCat(which, ": not a refusal entry"));
  }
  const crypto::SignatureContext* context =
      api::SignedRequestContext(refused.request().payload_type());
  if (context == nullptr) {
    return absl::DataLossError(absl::StrCat(which, ": of a payload type no one signs ('",
                                            refused.request().payload_type().substr(0, 100), "')"));
  }
  if (registered_at >= refused_at) {
    return absl::DataLossError(absl::StrCat(which,
                                            ": its signer's key was registered at log index ",
                                            registered_at, ", not before it"));
  }
  // The key, as the log registered it.
  v1::LogEntry registration;
  if (!registration.ParseFromString(registration_entry)) {
    return absl::DataLossError(
        absl::StrCat("the entry at log index ", registered_at, " is not a LogEntry"));
  }
  const std::string& type = registration.envelope().payload_type();
  std::string public_key;
  std::string registered_enterprise;
  if (type == api::kRegistryContext.payload_type()) {
    v1::RegistryRequest r;
    if (registry::ParseLoggedRegistryRequest(registration.envelope().payload(),
                                             registration.rules_epoch(), &r) &&
        r.has_add_actor()) {
      public_key = r.add_actor().public_key();
      registered_enterprise = r.add_actor().enterprise_uscc();
    }
  } else if (type == api::kGenesisContext.payload_type() && registered_at == 0) {
    v1::Genesis g;
    if (g.ParseFromString(registration.envelope().payload())) {
      public_key = g.first_admin().public_key();
    }
  }
  absl::StatusOr<crypto::VerifyingKey> key = crypto::VerifyingKey::FromBytes(public_key);
  if (!key.ok()) {
    return absl::DataLossError(absl::StrCat("the entry at log index ", registered_at,
                                            " registers no actor key (", key.status().message(),
                                            ")"));
  }
  if (registered_enterprise != enterprise) {
    return absl::DataLossError(absl::StrCat(
        which, ": the anomaly names enterprise '", enterprise, "' but the entry at log index ",
        registered_at, " registered the key for '", registered_enterprise, "'"));
  }
  // A request bound to another deployment is never this deployment's to
  // refuse (a payload that is not a message names none that can be told).
  if (absl::StatusOr<registry::RequestBinding> binding =
          registry::ReadRequestBinding(refused.request().payload());
      binding.ok()) {
    // (Against the name alone: a request refused for naming none is never
    // recorded either.)
    if (absl::Status s = registry::CheckNamedDeployment(
            *binding, registry::ThisDeployment{std::string(deployment)});
        !s.ok()) {
      return absl::DataLossError(absl::StrCat(which, ": ", s.message()));
    }
  }
  absl::StatusOr<crypto::KeyId> named = envelope::SignerKeyId(refused.request(), *context);
  if (!named.ok()) return absl::DataLossError(absl::StrCat(which, ": ", named.status().message()));
  if (*named != key->key_id()) {
    return absl::DataLossError(absl::StrCat(which, ": signed by key ", named->ToString(),
                                            ", which is not the key of the entry at log index ",
                                            registered_at, " (", key->key_id().ToString(), ")"));
  }
  absl::StatusOr<crypto::KeyId> signer = envelope::Verify(
      refused.request(), *context,
      [&](const crypto::KeyId&) -> absl::StatusOr<crypto::VerifyingKey> { return *key; });
  if (!signer.ok()) {
    return absl::DataLossError(absl::StrCat(which, ": ", signer.status().message()));
  }
  return absl::OkStatus();
}

absl::Status RevocationIsOf(const std::string& revocation_entry, uint64_t revoked_at,
                            absl::string_view key_id, uint64_t registered_at) {
  const std::string which = absl::StrCat("the entry at log index ", revoked_at);
  if (revoked_at <= registered_at) {
    return absl::DataLossError(absl::StrCat(which, ": said to revoke key ", key_id,
                                            ", which was registered at log index ", registered_at,
                                            ", not before it"));
  }
  v1::LogEntry entry;
  v1::RegistryRequest r;
  if (!entry.ParseFromString(revocation_entry) ||
      entry.envelope().payload_type() != api::kRegistryContext.payload_type() ||
      !registry::ParseLoggedRegistryRequest(entry.envelope().payload(), entry.rules_epoch(), &r) ||
      !r.has_revoke_key()) {
    return absl::DataLossError(
        absl::StrCat(which, ": said to revoke key ", key_id, ", but it revokes no key"));
  }
  if (r.revoke_key().key_id() != key_id) {
    return absl::DataLossError(absl::StrCat(which, ": said to revoke key ", key_id,
                                            ", but it revokes key ",
                                            r.revoke_key().key_id().substr(0, 64)));
  }
  return absl::OkStatus();
}

absl::Status AddLeaf(uint64_t index, const std::string& entry,
                     std::map<uint64_t, crypto::Sha256Digest>* leaves) {
  const crypto::Sha256Digest leaf = crypto::HashLeaf(entry);
  auto [at, added] = leaves->emplace(index, leaf);
  if (!added && at->second != leaf) {
    return absl::DataLossError(
        absl::StrCat("the server gave two different entries for log index ", index));
  }
  return absl::OkStatus();
}

absl::Status AnomalyEvidenceChecker::AddPage(const v1::Anomalies& page) {
  std::map<uint64_t, const std::string*> entries;
  for (const v1::AnomalyEvidence& e : page.evidence()) entries[e.log_index()] = &e.entry();
  for (const v1::Anomaly& a : page.anomalies()) {
    auto found = entries.find(a.log_index());
    if (found == entries.end()) {
      if (without_entry_.empty() || without_entry_.back() != a.log_index()) {
        without_entry_.push_back(a.log_index());
      }
      continue;
    }
    if (absl::Status s = EvidenceIsOf(a, *found->second); !s.ok()) return s;
    if (absl::Status s = AddLeaf(a.log_index(), *found->second, &leaves_); !s.ok()) return s;
    if (a.kind() == v1::REFUSED_REQUEST) {
      if (absl::Status s = CheckRefusal(a, *found->second); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

// A refusal proves who asked for what once its request's signature
// verifies with the key the log registered (that entry proved too).
absl::Status AnomalyEvidenceChecker::CheckRefusal(const v1::Anomaly& a, const std::string& entry) {
  auto known = signer_keys_.find(a.signer_key_id());
  if (known == signer_keys_.end()) {
    absl::StatusOr<v1::ActorKeyRecord> record = key_of_(a.signer_key_id());
    if (!record.ok()) {
      return absl::Status(record.status().code(),
                          absl::StrCat("the key of the refused request at log index ",
                                       a.log_index(), ": ", record.status().message()));
    }
    known = signer_keys_.emplace(a.signer_key_id(), *std::move(record)).first;
  }
  const v1::ActorKeyRecord& key = known->second;
  if (absl::Status s = RefusedRequestIsSignedBy(entry, a.log_index(), key.registration_entry(),
                                                key.added_at(), a.enterprise_uscc(), deployment_);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = AddLeaf(key.added_at(), key.registration_entry(), &leaves_); !s.ok()) {
    return s;
  }
  // A key revoked before the refusal: its revocation is proved too, and
  // said (a revoked key may be in other hands).
  if (key.revoked() && key.revoked_at() < a.log_index()) {
    if (absl::Status s = RevocationIsOf(key.revocation_entry(), key.revoked_at(), a.signer_key_id(),
                                        key.added_at());
        !s.ok()) {
      return s;
    }
    if (absl::Status s = AddLeaf(key.revoked_at(), key.revocation_entry(), &leaves_); !s.ok()) {
      return s;
    }
    revoked_signers_.insert(a.signer_key_id());
  }
  ++signatures_checked_;
  return absl::OkStatus();
}

}  // namespace chemledger::chemaudit
