#include "services/label/issuance_rules.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/net_quantity.h"
#include "chemledger/v1/label.pb.h"
#include "crypto/package_code_fields.h"
#include "services/common/identifiers.h"
#include "services/common/package_code.h"
#include "services/label/issuance_state.h"
#include "services/registry/catalogue.h"
#include "services/registry/registry_rules.h"
#include "services/registry/registry_state.h"

namespace chemledger::label {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat("request.", field, ": ", rule));
}

// The licence an enterprise needs to put packages into circulation: a
// producer's 安全生产许可证 or an importer's 危险化学品经营许可证, valid on `day`.
absl::Status CheckIssuingLicence(const v1::Enterprise& e, absl::CivilDay day) {
  const bool producer = registry::HasRole(e, v1::PRODUCER);
  const bool importer = registry::HasRole(e, v1::IMPORTER);
  if (!producer && !importer) {
    return absl::FailedPreconditionError(absl::StrCat(
        "request.enterprise_uscc: enterprise ", e.uscc(), " is neither a producer nor an importer"));
  }
  if ((producer && registry::HoldsLicence(e, v1::SAFETY_PRODUCTION, day)) ||
      (importer && registry::HoldsLicence(e, v1::HAZARDOUS_CHEMICALS_TRADE, day))) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "request.enterprise_uscc: enterprise ", e.uscc(), " holds no ",
      producer ? "安全生产许可证 (SAFETY_PRODUCTION)" : "",
      producer && importer ? " or " : "",
      importer ? "危险化学品经营许可证 (HAZARDOUS_CHEMICALS_TRADE)" : "", " licence valid on ",
      absl::FormatCivilTime(day)));
}

absl::StatusOr<uint8_t> ControlFlagBits(const v1::Product& p) {
  if (p.control_flags().empty()) return 0;
  return registry::ParseControlFlags(absl::StrJoin(p.control_flags(), ","));
}

}  // namespace

std::vector<std::string> IssuanceRules::OwnedPayloadTypes() const {
  return {std::string(kIssueLabelsContext.payload_type())};
}

absl::StatusOr<std::optional<journal::RequestId>> IssuanceRules::RequestKey(
    const v1::SignedEnvelope& envelope) const {
  v1::IssueLabelsRequest request;
  return registry::ReadableRequestId(
      kIssueLabelsContext, envelope.payload(),
      request.ParseFromString(envelope.payload())
          ? journal::MakeRequestId("label", "request.request_id", request.request_id())
          : absl::InvalidArgumentError("envelope.payload: not an IssueLabelsRequest"));
}

absl::StatusOr<std::string> IssuanceRules::RequestScope(const v1::SignedEnvelope& envelope,
                                                   const storage::StateReader& state) const {
  return registry::SignerRequestScope(envelope, state, kIssueLabelsContext);
}

absl::Status IssuanceRules::CheckRetry(const v1::SignedEnvelope& envelope,
                               const storage::StateReader& state) const {
  return registry::CheckRetrySigner(envelope, state, kIssueLabelsContext);
}

absl::Status IssuanceRules::Apply(const journal::EntryContext& entry,
                                  const storage::StateReader& state,
                                  storage::StateWrites* changes) const {
  if (entry.envelope->payload_type() != kIssueLabelsContext.payload_type()) {
    return absl::OkStatus();
  }
  absl::StatusOr<v1::Actor> actor = registry::CheckSigner(entry, state, kIssueLabelsContext);
  if (!actor.ok()) return actor.status();
  v1::IssueLabelsRequest r;
  if (!r.ParseFromString(entry.envelope->payload())) {
    return absl::InvalidArgumentError("envelope.payload: not an IssueLabelsRequest");
  }
  if (absl::Status s = ids::ValidateUscc("request.enterprise_uscc", r.enterprise_uscc()); !s.ok()) {
    return s;
  }
  if ((actor->role() != v1::ENTERPRISE_ADMIN && actor->role() != v1::ENTERPRISE_OPERATOR) ||
      actor->enterprise_uscc() != r.enterprise_uscc()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "envelope.signatures[0].key_id: actor '", actor->name(), "' (",
        v1::ActorRole_Name(actor->role()), ") may not issue labels for enterprise '",
        r.enterprise_uscc(), "': only its own admins and operators may"));
  }
  const absl::CivilDay today = registry::ChinaDay(entry.record_time);
  absl::StatusOr<std::optional<registry::EnterpriseRecord>> enterprise =
      registry::FindEnterprise(state, r.enterprise_uscc());
  if (!enterprise.ok()) return enterprise.status();
  if (!*enterprise) {
    return absl::NotFoundError(absl::StrCat("request.enterprise_uscc: enterprise ",
                                            r.enterprise_uscc(), " is not registered"));
  }
  if ((*enterprise)->blacklist_reason) {
    return absl::PermissionDeniedError(absl::StrCat(
        "request.enterprise_uscc: enterprise ", r.enterprise_uscc(), " is blacklisted (",
        *(*enterprise)->blacklist_reason, ") and may not issue labels"));
  }
  if (absl::Status s = CheckIssuingLicence((*enterprise)->enterprise, today); !s.ok()) return s;
  absl::StatusOr<std::optional<v1::Product>> product =
      registry::FindProduct(state, r.enterprise_uscc(), r.product_number());
  if (!product.ok()) return product.status();
  if (!*product) {
    return absl::NotFoundError(absl::StrCat("request.product_number: '", r.product_number(),
                                            "' is not a registered product of ",
                                            r.enterprise_uscc()));
  }
  if (!crypto::IsBatch(r.batch())) {
    return Invalid("batch", absl::StrCat("'", r.batch(), "' must be 1 to ", crypto::kMaxBatchLength,
                                         " of A-Z, 0-9"));
  }
  const v1::Date& d = r.production_date();
  const absl::CivilDay production(d.year(), d.month(), d.day());
  if (d.year() < 2000 || production.year() != d.year() || production.month() != d.month() ||
      production.day() != d.day()) {
    return Invalid("production_date", absl::StrCat(d.year(), "-", d.month(), "-", d.day(),
                                                   " is not a date from 2000-01-01 on"));
  }
  if (production > today) {
    return Invalid("production_date", absl::StrCat(absl::FormatCivilTime(production),
                                                   " is after the day of issue, ",
                                                   absl::FormatCivilTime(today)));
  }
  if (r.package_count() < 1 || r.package_count() > kMaxPackagesPerRequest) {
    return Invalid("package_count",
                   absl::StrCat(r.package_count(), " must be 1 to ", kMaxPackagesPerRequest));
  }
  absl::StatusOr<uint32_t> milli = api::ParseNetQuantity("request.net_quantity", r.net_quantity());
  if (!milli.ok()) return milli.status();
  if (!api::IsNetQuantityUnit(r.unit())) {
    return Invalid("unit", absl::StrCat("'", r.unit(),
                                        "' must be a UNECE Rec 20 code for mass or volume: KGM, "
                                        "GRM, TNE, LTR, MLT or MTQ"));
  }

  // The next serials of the batch.
  absl::StatusOr<uint64_t> first =
      NextSerial(state, r.enterprise_uscc(), r.product_number(), r.batch());
  if (!first.ok()) return first.status();
  if (*first + r.package_count() - 1 > ids::kMaxSerial) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "request.package_count: batch ", r.batch(), " has ", *first - 1, " codes; ",
        r.package_count(), " more would pass serial ", ids::kMaxSerial));
  }

  // The label key: what the key holder proposed, if the registry allows it.
  v1::LabelAssignment proposed;
  if (!proposed.ParseFromString(std::string(entry.proposal))) {
    return absl::InvalidArgumentError("assignment: not a LabelAssignment");
  }
  absl::StatusOr<crypto::KeyId> key_id = crypto::KeyId::Parse(proposed.label_key_id());
  if (!key_id.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "request: no label key is usable on ", absl::FormatCivilTime(today),
        ": the platform must make one (chemledgerd label-key new) and register it "
        "(add_label_key)"));
  }
  absl::StatusOr<std::optional<registry::LabelKeyState>> label_key =
      registry::FindLabelKey(state, *key_id);
  if (!label_key.ok()) return label_key.status();
  if (!*label_key || (*label_key)->revoked_on || today < (*label_key)->valid_from ||
      (*label_key)->valid_until < today) {
    return absl::FailedPreconditionError(
        absl::StrCat("request: label key ", key_id->ToString(),
                     " is not a registered, unrevoked label key valid on ",
                     absl::FormatCivilTime(today)));
  }

  absl::StatusOr<uint8_t> flags = ControlFlagBits(**product);
  if (!flags.ok()) return flags.status();
  absl::StatusOr<state::DeploymentRecord> deployment = registry::ReadDeployment(state);
  if (!deployment.ok()) return deployment.status();
  crypto::LabelClaims c;
  c.resolver = deployment->resolver();
  c.enterprise = r.enterprise_uscc();
  c.product = r.product_number();
  c.batch = r.batch();
  c.serial = *first + r.package_count() - 1;  // the longest code of the issuance
  c.production_date = production;
  c.quantity_milli = *milli;
  c.unit = r.unit();
  c.un_number = (*product)->un_number();
  c.cas = (*product)->cas();
  c.control_flags = *flags;
  if (absl::Status s = crypto::ValidateLabelClaims(c); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("request: the label cannot be made: ", s.message()));
  }

  v1::LabelAssignment assignment;
  assignment.set_first_serial(*first);
  assignment.set_count(r.package_count());
  assignment.set_label_key_id(key_id->ToString());
  *entry.assignment = assignment.SerializeAsString();

  state::IssuanceRecord record;
  record.set_log_index(entry.index);
  record.set_first_serial(*first);
  record.set_count(r.package_count());
  record.set_label_key_id(key_id->ToString());
  *record.mutable_production_date() = d;
  record.set_quantity_milli(*milli);
  record.set_unit(r.unit());
  record.set_un_number((*product)->un_number());
  record.set_cas((*product)->cas());
  record.set_control_flags(*flags);
  const uint64_t last = *first + r.package_count() - 1;
  changes->Put(internal::IssuanceKey(r.enterprise_uscc(), r.product_number(), r.batch(), last),
               record.SerializeAsString());
  changes->Put(internal::NextSerialKey(r.enterprise_uscc(), r.product_number(), r.batch()),
               absl::StrCat(last + 1));
  return absl::OkStatus();
}

}  // namespace chemledger::label
