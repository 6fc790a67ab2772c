#include "services/audit/refusals.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/wire.h"
#include "crypto/sha256.h"
#include "services/common/envelope.h"
#include "services/common/status_macros.h"
#include "services/registry/registry_rules.h"
#include "services/registry/registry_state.h"

namespace chemledger::audit {
namespace {

constexpr absl::string_view kRefusals = "x/refusal/";
constexpr absl::string_view kRefusalsBy = "x/refusal-by/";

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

}  // namespace

absl::StatusOr<v1::Actor> SignerOfRefused(const storage::StateReader& state,
                                          const v1::SignedEnvelope& request) {
  const crypto::SignatureContext* context = api::SignedRequestContext(request.payload_type());
  if (context == nullptr) {
    return Invalid("refused.request.payload_type", "not a kind of request the ledger takes");
  }
  std::optional<v1::Actor> actor;
  absl::StatusOr<crypto::KeyId> signer = envelope::Verify(
      request, *context, [&](const crypto::KeyId& id) -> absl::StatusOr<crypto::VerifyingKey> {
        CL_ASSIGN_OR_RETURN(std::optional<state::ActorRecord> record,
                            registry::FindActor(state, id));
        if (!record) return absl::NotFoundError("unknown key");
        actor = record->actor();
        absl::StatusOr<crypto::VerifyingKey> key =
            crypto::VerifyingKey::FromBytes(record->actor().public_key());
        if (!key.ok()) return absl::DataLossError("an actor record holds a malformed key");
        return key;
      });
  if (!signer.ok()) return signer.status();
  return *std::move(actor);
}

std::vector<std::string> RefusalRules::OwnedPayloadTypes() const {
  return {api::kRefusalPayloadType};
}

absl::StatusOr<std::optional<journal::RequestId>> RefusalRules::RequestKey(
    const v1::SignedEnvelope& envelope) const {
  v1::RefusedRequest refused;
  if (!refused.ParseFromString(envelope.payload())) {
    return Invalid("envelope.payload", "not a RefusedRequest");
  }
  const std::string digest = crypto::Sha256(refused.request().SerializeAsString()).ToHex();
  return journal::RequestId{absl::StrCat("refusal/", digest), "refused.request", digest,
                            "refused request", "refusal"};
}

absl::StatusOr<std::string> RefusalRules::RequestScope(const v1::SignedEnvelope&,
                                                       const storage::StateReader&) const {
  return std::string(registry::kPlatformRequestScope);
}

absl::Status RefusalRules::Apply(const journal::EntryContext& entry,
                                 const storage::StateReader& state,
                                 storage::StateWrites* changes) const {
  if (entry.envelope->payload_type() != api::kRefusalPayloadType) return absl::OkStatus();
  if (entry.envelope->signatures_size() != 0) {
    return Invalid("envelope.signatures", "a refusal entry is the server's: unsigned");
  }
  v1::RefusedRequest refused;
  if (!refused.ParseFromString(entry.envelope->payload())) {
    return Invalid("envelope.payload", "not a RefusedRequest");
  }
  if (refused.code() <= 0 || refused.code() > 16) {
    return Invalid("refused.code", "a google.rpc.Code other than OK");
  }
  if (!v1::RefusalKind_IsValid(refused.kind())) return Invalid("refused.kind", "unknown");
  CL_ASSIGN_OR_RETURN(const v1::Actor signer, SignerOfRefused(state, refused.request()));
  state::RefusalIndexRecord record;
  record.set_log_index(entry.index);
  record.set_kind(refused.kind());
  record.set_key_id(refused.request().signatures(0).key_id());
  record.set_enterprise(signer.enterprise_uscc());
  record.set_payload_type(refused.request().payload_type());
  record.set_code(refused.code());
  record.set_redacted(refused.redacted());
  record.set_refused_unix_micros(refused.refused_at().seconds() * 1000000 +
                                 refused.refused_at().nanos() / 1000);
  const std::string bytes = record.SerializeAsString();
  const std::string index = absl::StrFormat("%016x", entry.index);
  changes->Put(absl::StrCat(kRefusals, index), bytes);
  if (!signer.enterprise_uscc().empty()) {
    changes->Put(absl::StrCat(kRefusalsBy, signer.enterprise_uscc(), "/", index), bytes);
  }
  return absl::OkStatus();
}

absl::Status ScanRefusals(const storage::StateReader& state, absl::string_view uscc,
                          uint64_t after, const RefusalVisitor& visit) {
  const std::string prefix =
      uscc.empty() ? std::string(kRefusals) : absl::StrCat(kRefusalsBy, uscc, "/");
  const std::string begin = absl::StrCat(prefix, absl::StrFormat("%016x", after + 1));
  absl::Status bad = absl::OkStatus();
  absl::Status scanned = state.Scan(begin, storage::PrefixEnd(prefix),
                                    [&](absl::string_view key, absl::string_view value) {
                                      state::RefusalIndexRecord r;
                                      if (!r.ParseFromString(std::string(value))) {
                                        bad = absl::DataLossError(
                                            absl::StrCat("refusal ", key, " does not parse"));
                                        return false;
                                      }
                                      return visit(r);
                                    });
  return scanned.ok() ? bad : scanned;
}

}  // namespace chemledger::audit
