#include "services/registry/registry_rules.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crypto/label.h"
#include "services/common/envelope.h"
#include "services/common/identifiers.h"
#include "services/common/status_macros.h"
#include "services/common/text_length.h"
#include "services/registry/oversight.h"
#include "services/registry/product_flags.h"
#include "services/registry/reference_tables.h"
#include "services/registry/registry_keys.h"
#include "services/registry/request_binding.h"
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

CatalogueEntry FromRow(const v1::CatalogueRow& row) {
  return CatalogueEntry{row.catalogue_number(), row.name_zh(),      row.name_en(),
                        row.cas(),              row.un_number(),    row.hazard_class(),
                        row.packing_group(),    static_cast<uint8_t>(row.control_flags())};
}

// Whether a key is registered already, as an actor key or a label key.
absl::StatusOr<bool> KeyTaken(const storage::StateReader& state, const crypto::KeyId& id) {
  absl::StatusOr<std::optional<state::ActorRecord>> actor = FindActor(state, id);
  if (!actor.ok()) return actor.status();
  if (*actor) return true;
  absl::StatusOr<std::optional<std::string>> bytes = state.Get(keys::LabelKey(id));
  if (!bytes.ok()) return bytes.status();
  return bytes->has_value();
}

}  // namespace

std::vector<std::string> RegistryRules::OwnedPayloadTypes() const {
  return {std::string(kGenesisContext.payload_type()),
          std::string(kRegistryContext.payload_type())};
}

// The deployment record is among them: every issuance lookup (one per code
// an event names) reads its resolver.
std::vector<std::string> RegistryRules::CachedPrefixes() const {
  return {keys::Genesis(), keys::Actors(), keys::Enterprise(""), keys::Products(),
          std::string(kReferenceTableInForcePrefix)};
}

absl::StatusOr<std::optional<journal::RequestId>> RegistryRules::RequestKey(
    const v1::SignedEnvelope& envelope) const {
  if (envelope.payload_type() != kRegistryContext.payload_type()) return std::nullopt;
  // Only the id is read: every field added since the first epoch left out
  // (an old entry's unknown field 22 need not parse as today's).
  v1::RegistryRequest request;
  return ReadableRequestId(
      kRegistryContext, envelope.payload(),
      ParseLoggedRegistryRequest(envelope.payload(), 0, &request)
          ? journal::MakeRequestId("registry", "request.request_id", request.request_id())
          : absl::InvalidArgumentError("envelope.payload: not a RegistryRequest"));
}

absl::Status RegistryRules::Apply(const journal::EntryContext& entry,
                                  const storage::StateReader& state,
                                  storage::StateWrites* changes) const {
  const std::string& type = entry.envelope->payload_type();
  if (type == kGenesisContext.payload_type()) return ApplyGenesis(entry, changes);
  if (entry.index == 0) {
    return absl::FailedPreconditionError(
        "envelope.payload_type: log entry 0 must be the genesis entry (chemledgerd init)");
  }
  if (type == kRegistryContext.payload_type()) return ApplyRequest(entry, state, changes);
  return absl::OkStatus();
}

absl::Status RegistryRules::ApplyGenesis(const journal::EntryContext& entry,
                                         storage::StateWrites* changes) const {
  if (entry.index != 0) {
    return absl::FailedPreconditionError(
        "envelope.payload_type: a deployment has one genesis entry, at log index 0");
  }
  v1::Genesis genesis;
  if (!genesis.ParseFromString(entry.envelope->payload()) ||
      genesis.first_admin().role() != v1::PLATFORM_ADMIN) {
    return absl::InvalidArgumentError(
        "envelope.payload: not a Genesis naming a PLATFORM_ADMIN first_admin");
  }
  if (genesis.deployment().empty() || genesis.first_admin().name().empty()) {
    return absl::InvalidArgumentError(
        "genesis: deployment and administrator names are required");
  }
  absl::StatusOr<crypto::VerifyingKey> key = ActorKey(genesis.first_admin(), "genesis.first_admin");
  if (!key.ok()) return key.status();
  // Signed by the key it introduces: proof that its holder wrote it.
  absl::StatusOr<crypto::KeyId> signer = envelope::Verify(
      *entry.envelope, kGenesisContext,
      [&](const crypto::KeyId& id) -> absl::StatusOr<crypto::VerifyingKey> {
        if (id == key->key_id()) return *key;
        return absl::NotFoundError("not the genesis key");
      });
  if (!signer.ok()) return signer.status();
  if (absl::Status s = crypto::ValidateLabelResolver(genesis.resolver()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("genesis.resolver: ", s.message()));
  }
  state::DeploymentRecord deployment;
  deployment.set_deployment(genesis.deployment());
  deployment.set_resolver(genesis.resolver());
  deployment.set_test_deployment(genesis.test_deployment());
  changes->Put(keys::Genesis(), deployment.SerializeAsString());
  state::ActorRecord admin;
  *admin.mutable_actor() = genesis.first_admin();
  admin.set_added_at(entry.index);
  changes->Put(keys::Actor(key->key_id()), admin.SerializeAsString());
  return absl::OkStatus();
}

namespace {

// The refusal of a request its signer's role does not allow.
absl::Status MayNot(const v1::Actor& actor, absl::string_view what) {
  return absl::PermissionDeniedError(
      absl::StrCat("envelope.signatures[0].key_id: actor '", actor.name(), "' (",
                   v1::ActorRole_Name(actor.role()), ") may not ", what));
}

// Whether `actor` administers enterprise `uscc`: its own administrator, or
// a platform administrator (who administers every one).
bool AdministersEnterprise(const v1::Actor& actor, absl::string_view uscc) {
  return actor.role() == v1::PLATFORM_ADMIN ||
         (actor.role() == v1::ENTERPRISE_ADMIN && actor.enterprise_uscc() == uscc);
}

// A site of an enterprise, registered or changed by an admin of the
// enterprise (or a platform administrator); its park, when named, must be
// registered.
// A regulator's department and jurisdiction, its park registered.
absl::Status CheckRegulatorScope(absl::string_view field, v1::Department department,
                                 const v1::Jurisdiction& jurisdiction,
                                 const storage::StateReader& state) {
  if (absl::Status s = ValidateRegulatorScope(field, department, jurisdiction); !s.ok()) return s;
  if (!jurisdiction.park_id().empty()) {
    absl::StatusOr<std::optional<v1::Park>> park = FindPark(state, jurisdiction.park_id());
    if (!park.ok()) return park.status();
    if (!*park) {
      return absl::NotFoundError(absl::StrCat(field, ".jurisdiction.park_id: park '",
                                              jurisdiction.park_id(), "' is not registered"));
    }
  }
  return absl::OkStatus();
}

absl::Status AssignRegulator(const v1::RegulatorAssignment& assignment,
                             const storage::StateReader& state, storage::StateWrites* changes) {
  absl::StatusOr<crypto::KeyId> id = crypto::KeyId::Parse(assignment.key_id());
  if (!id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("assign_regulator.key_id: ", id.status().message()));
  }
  absl::StatusOr<std::optional<state::ActorRecord>> record = FindActor(state, *id);
  if (!record.ok()) return record.status();
  if (!*record || (*record)->actor().role() != v1::REGULATOR) {
    return absl::NotFoundError(absl::StrCat("assign_regulator.key_id: ", id->ToString(),
                                            " is not a registered regulator's key"));
  }
  if ((*record)->revoked()) {
    return absl::FailedPreconditionError(
        absl::StrCat("assign_regulator.key_id: ", id->ToString(), " is revoked"));
  }
  if (absl::Status s = CheckRegulatorScope("assign_regulator", assignment.department(),
                                           assignment.jurisdiction(), state);
      !s.ok()) {
    return s;
  }
  state::ActorRecord updated = **record;
  updated.mutable_actor()->set_department(assignment.department());
  *updated.mutable_actor()->mutable_jurisdiction() = assignment.jurisdiction();
  changes->Put(keys::Actor(*id), updated.SerializeAsString());
  return absl::OkStatus();
}

absl::Status RegisterSite(const journal::EntryContext& entry, const v1::Site& site,
                          const v1::Actor& actor, const storage::StateReader& state,
                          storage::StateWrites* changes) {
  if (absl::Status s = ValidateSite(site); !s.ok()) return s;
  if (!AdministersEnterprise(actor, site.enterprise_uscc())) {
    return MayNot(actor, absl::StrCat("register sites of enterprise ", site.enterprise_uscc()));
  }
  absl::StatusOr<std::optional<EnterpriseRecord>> e = FindEnterprise(state, site.enterprise_uscc());
  if (!e.ok()) return e.status();
  if (!*e) {
    return absl::NotFoundError(absl::StrCat("site.enterprise_uscc: enterprise ",
                                            site.enterprise_uscc(), " is not registered"));
  }
  // From epoch 10 a registered site's park is changed by a platform
  // administrator only: a park's regulators oversee the enterprises with a
  // site in it, and an enterprise does not leave their oversight by itself.
  if (entry.rules_epoch >= 10 && actor.role() != v1::PLATFORM_ADMIN) {
    absl::StatusOr<std::optional<v1::Site>> known =
        FindSite(state, site.enterprise_uscc(), site.site_id());
    if (!known.ok()) return known.status();
    if (*known && (*known)->park_id() != site.park_id()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "site.park_id: site ", site.site_id(), " is registered in park '", (*known)->park_id(),
          "'; only a platform administrator moves a site to another park "
          "or out of one"));
    }
  }
  if (!site.park_id().empty()) {
    absl::StatusOr<std::optional<v1::Park>> park = FindPark(state, site.park_id());
    if (!park.ok()) return park.status();
    if (!*park) {
      return absl::NotFoundError(
          absl::StrCat("site.park_id: park ", site.park_id(), " is not registered"));
    }
  }
  changes->Put(keys::Site(site.enterprise_uscc(), site.site_id()), site.SerializeAsString());
  return absl::OkStatus();
}

// A chemical park and its gates, registered or changed by a platform
// administrator.
absl::Status RegisterPark(const v1::Park& park, const v1::Actor& actor,
                          storage::StateWrites* changes) {
  if (absl::Status s = ValidatePark(park); !s.ok()) return s;
  if (actor.role() != v1::PLATFORM_ADMIN) return MayNot(actor, "register parks");
  changes->Put(keys::Park(park.park_id()), park.SerializeAsString());
  return absl::OkStatus();
}

// A responder's break-glass access to a site's stock or a vehicle's load,
// granted for kBreakGlassDuration from the entry's record time.
absl::Status BreakGlass(const journal::EntryContext& entry, const v1::BreakGlass& glass,
                        const v1::Actor& actor, const storage::StateReader& state,
                        storage::StateWrites* changes) {
  if (actor.role() != v1::RESPONDER) return MayNot(actor, "break glass: responders only");
  if (glass.reason().empty() || glass.reason().size() > 512) {
    return absl::InvalidArgumentError("break_glass.reason: is required, at most 512 bytes");
  }
  const bool vehicle = !glass.waybill_number().empty() || !glass.carrier_uscc().empty();
  if (vehicle == (!glass.enterprise_uscc().empty() || !glass.site().empty())) {
    return absl::InvalidArgumentError(
        "break_glass: name a site (enterprise_uscc and site) or a vehicle (carrier_uscc and "
        "waybill_number), one of the two");
  }
  if (vehicle) {
    if (absl::Status s = ids::ValidateUscc("break_glass.carrier_uscc", glass.carrier_uscc());
        !s.ok()) {
      return s;
    }
    if (glass.waybill_number().empty() || glass.waybill_number().size() > 64) {
      return absl::InvalidArgumentError("break_glass.waybill_number: 1 to 64 characters");
    }
  } else {
    if (absl::Status s = ids::ValidateUscc("break_glass.enterprise_uscc", glass.enterprise_uscc());
        !s.ok()) {
      return s;
    }
    // From epoch 8 counted in characters; before, in bytes.
    if (entry.rules_epoch >= 8 ? !HasOneToCharacters(glass.site(), 64)
                               : glass.site().empty() || glass.site().size() > 64) {
      return absl::InvalidArgumentError("break_glass.site: 1 to 64 characters");
    }
  }
  const std::string& uscc = vehicle ? glass.carrier_uscc() : glass.enterprise_uscc();
  absl::StatusOr<std::optional<EnterpriseRecord>> e = FindEnterprise(state, uscc);
  if (!e.ok()) return e.status();
  if (!*e) {
    return absl::NotFoundError(absl::StrCat("break_glass.", vehicle ? "carrier_uscc" : "enterprise_uscc",
                                            ": enterprise ", uscc, " is not registered"));
  }
  absl::StatusOr<crypto::KeyId> key_id = envelope::SignerKeyId(*entry.envelope, kRegistryContext);
  if (!key_id.ok()) return key_id.status();
  state::BreakGlassRecord record;
  record.set_log_index(entry.index);
  record.set_expires_unix_seconds(absl::ToUnixSeconds(entry.record_time + kBreakGlassDuration));
  changes->Put(vehicle ? keys::BreakGlassWaybill(*key_id, glass.carrier_uscc(),
                                                 glass.waybill_number())
                       : keys::BreakGlass(*key_id, glass.enterprise_uscc(), glass.site()),
               record.SerializeAsString());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::RegistryAssignment> RegistryRules::CatalogueCheckOf(
    const journal::EntryContext& entry, const v1::Product& p,
    const storage::StateReader& state) const {
  v1::RegistryAssignment assignment;
  absl::StatusOr<std::optional<v1::ReferenceTableVersion>> in_force =
      ReferenceTableInForce(state, v1::CATALOGUE);
  if (!in_force.ok()) return in_force.status();
  if (*in_force) {
    // An imported catalogue, read from the state as it stood before this
    // entry, whether it is sequenced or rebuilt (the journal then compares
    // the result with the logged assignment).
    const std::string& version = (*in_force)->version();
    assignment.set_catalogue_version(version);
    absl::StatusOr<std::vector<v1::CatalogueRow>> rows = FindCatalogueRows(state, version, p.cas());
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return assignment;
    const v1::CatalogueRow* chosen = ChooseCatalogueRow(*rows, p.catalogue_number());
    std::vector<std::string> numbers;
    for (const v1::CatalogueRow& row : *rows)
      numbers.push_back(absl::StrCat(row.catalogue_number()));
    if (rows->size() > 1 && chosen->catalogue_number() != p.catalogue_number()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "product.catalogue_number: ", p.catalogue_number(), " does not match CAS ", p.cas(),
          ": catalogue ", version, " lists it as entry ", absl::StrJoin(numbers, " or entry ")));
    }
    *assignment.mutable_checked_against() = *chosen;
    return assignment;
  }
  // No catalogue imported yet: the compiled-in one when sequenced, the row
  // recorded in the entry when rebuilt (none recorded before rules epoch 1:
  // the field rules alone).
  if (entry.mode == journal::ApplyMode::kSequence) {
    if (const CatalogueEntry* row = p.cas().empty() ? nullptr : catalogue_->FindByCas(p.cas())) {
      *assignment.mutable_checked_against() = ToCatalogueRow(*row);
    }
    return assignment;
  }
  if (!assignment.ParseFromString(std::string(entry.proposal))) {
    return absl::InvalidArgumentError("assignment: not a RegistryAssignment");
  }
  if (!assignment.catalogue_version().empty()) {
    return absl::DataLossError(absl::StrCat(
        "assignment.catalogue_version: entry ", entry.index, " was checked against catalogue ",
        assignment.catalogue_version(), ", but no catalogue had been imported before it"));
  }
  return assignment;
}

namespace {

// Whether regulator `lifter`'s jurisdiction holds all of `lister`'s.
absl::StatusOr<bool> JurisdictionHolds(const storage::StateReader& state, const v1::Actor& lifter,
                                       const v1::Actor& lister) {
  if (OverseesEverything(lifter)) return true;
  if (OverseesEverything(lister)) return false;
  const v1::Jurisdiction& mine = lifter.jurisdiction();
  const v1::Jurisdiction& theirs = lister.jurisdiction();
  if (!mine.region_prefix().empty()) {
    if (!theirs.region_prefix().empty()) {
      return absl::StartsWith(theirs.region_prefix(), mine.region_prefix());
    }
    return OverseesPark(state, lifter, theirs.park_id());
  }
  return !mine.park_id().empty() && theirs.park_id() == mine.park_id();
}

// From rules epoch 13 a regulator lifts only a blacklisting that a regulator
// of its own department listed within its jurisdiction (or a wider one's
// below it): not one the platform administrator listed, not another
// department's, not one listed above it. Otherwise any regulator overseeing
// the enterprise could undo a listing, and an enterprise could pick that
// regulator by registering a site in a lenient park.
absl::Status MayLiftBlacklisting(const storage::StateReader& state, const v1::Actor& lifter,
                                 const std::string& uscc) {
  const std::string field = absl::StrCat("blacklist.enterprise_uscc: ", uscc);
  CL_ASSIGN_OR_RETURN(std::optional<std::string> bytes, state.Get(keys::Blacklisted(uscc)));
  state::BlacklistRecord listed;
  if (!bytes || !listed.ParseFromString(*bytes)) {
    return absl::PermissionDeniedError(absl::StrCat(
        field,
        " was blacklisted with no record of who listed it: only a platform administrator "
        "lifts it"));
  }
  if (listed.listed_by() != "regulator") {
    return absl::PermissionDeniedError(
        absl::StrCat(field, " was blacklisted by a platform administrator (log index ",
                     listed.log_index(), "): only a platform administrator lifts it"));
  }
  // The lister as it was when it listed (recorded from epoch 13); for an
  // older listing, the signer of its entry as registered now.
  v1::Actor by;
  if (listed.lister_recorded()) {
    by.set_role(v1::REGULATOR);
    by.set_department(listed.lister_department());
    if (listed.has_lister_jurisdiction()) {
      *by.mutable_jurisdiction() = listed.lister_jurisdiction();
    }
  } else {
    CL_ASSIGN_OR_RETURN(std::string entry_bytes, state.Entry(listed.log_index()));
    v1::LogEntry listing;
    if (!listing.ParseFromString(entry_bytes)) {
      return absl::DataLossError(
          absl::StrCat("log entry ", listed.log_index(), " (a blacklisting) is not a LogEntry"));
    }
    CL_ASSIGN_OR_RETURN(crypto::KeyId lister_key,
                        envelope::SignerKeyId(listing.envelope(), kRegistryContext));
    CL_ASSIGN_OR_RETURN(std::optional<state::ActorRecord> lister, FindActor(state, lister_key));
    if (!lister) {
      return absl::DataLossError(absl::StrCat("the signer of blacklisting ", listed.log_index(),
                                              " is not a registered actor"));
    }
    by = lister->actor();
  }
  if (by.department() != lifter.department()) {
    return absl::PermissionDeniedError(absl::StrCat(
        field, " was blacklisted by a regulator of ", DepartmentText(by), " (log index ",
        listed.log_index(), "): only that department or a platform administrator lifts it, not ",
        DepartmentText(lifter)));
  }
  CL_ASSIGN_OR_RETURN(bool holds, JurisdictionHolds(state, lifter, by));
  if (!holds) {
    return absl::PermissionDeniedError(absl::StrCat(
        field, " was blacklisted by a regulator whose jurisdiction (", JurisdictionText(by),
        ") is not within this one's (", JurisdictionText(lifter), "; log index ",
        listed.log_index(), "): only a regulator over it or a platform administrator lifts it"));
  }
  return absl::OkStatus();
}

// A platform administrator's policy for the deployment (rules epoch 17),
// stated whole by each request.
absl::Status SetDeploymentPolicy(const journal::EntryContext& entry,
                                 const v1::DeploymentPolicy& policy,
                                 const storage::StateReader& state, storage::StateWrites* changes) {
  // (Not before rules epoch 17, whose requests are read without the field:
  // ParseLoggedRegistryRequest.)
  // A policy is this deployment's alone: never one replayed from another
  // deployment where the administrator's key is registered too.
  CL_ASSIGN_OR_RETURN(RequestBinding binding, ReadRequestBinding(entry.envelope->payload()));
  if (binding.deployment.empty()) {
    return absl::InvalidArgumentError(
        "deployment: a set_deployment_policy request must name the deployment it is for (field "
        "30, Deployment.checkpoint_origin)");
  }
  CL_ASSIGN_OR_RETURN(state::DeploymentRecord deployment, ReadDeployment(state));
  deployment.set_require_named_requests(policy.require_named_requests());
  deployment.set_policy_log_index(entry.index);
  changes->Put(keys::Genesis(), deployment.SerializeAsString());
  return absl::OkStatus();
}

// A platform administrator registers an enterprise, once.
absl::Status RegisterEnterprise(const journal::EntryContext& entry, const v1::Enterprise& e,
                                const v1::Actor& actor, const storage::StateReader& state,
                                storage::StateWrites* changes) {
  if (actor.role() != v1::PLATFORM_ADMIN) return MayNot(actor, "register enterprises");
  if (absl::Status s = ValidateEnterprise(e); !s.ok()) return s;
  absl::StatusOr<std::optional<EnterpriseRecord>> known = FindEnterprise(state, e.uscc());
  if (!known.ok()) return known.status();
  if (*known) {
    return absl::AlreadyExistsError(
        absl::StrCat("enterprise.uscc: ", e.uscc(), " is already registered"));
  }
  state::EnterpriseRecord record;
  *record.mutable_enterprise() = e;
  record.set_registered_at(entry.index);
  changes->Put(keys::Enterprise(e.uscc()), record.SerializeAsString());
  return absl::OkStatus();
}

// A platform administrator adds a registered enterprise's licence (issued,
// or renewed: one of the same type and number is replaced) or ends one
// (revoked or cancelled) from a day on (rules epoch 19).
absl::Status ChangeLicence(const journal::EntryContext& entry, const v1::LicenceChange& c,
                           const v1::Actor& actor, const storage::StateReader& state,
                           storage::StateWrites* changes) {
  if (actor.role() != v1::PLATFORM_ADMIN) return MayNot(actor, "change enterprises' licences");
  if (c.reason().empty()) {
    return absl::InvalidArgumentError(
        "change_licence.reason: is required (the authority's decision)");
  }
  // The stored record, read once and written back whole.
  const std::string key = keys::Enterprise(c.enterprise_uscc());
  absl::StatusOr<std::optional<std::string>> bytes = state.Get(key);
  if (!bytes.ok()) return bytes.status();
  if (!*bytes) {
    return absl::NotFoundError(absl::StrCat("change_licence.enterprise_uscc: '",
                                            c.enterprise_uscc(), "' is not registered"));
  }
  state::EnterpriseRecord record;
  if (!record.ParseFromString(**bytes)) {
    return absl::DataLossError(absl::StrCat("state record '", key, "' is malformed"));
  }
  v1::Enterprise& e = *record.mutable_enterprise();
  const auto same = [](const v1::Licence& l, v1::LicenceType type, const std::string& number) {
    return l.type() == type && l.number() == number;
  };
  switch (c.change_case()) {
    case v1::LicenceChange::kAdd: {
      if (absl::Status s = ValidateLicence(c.add(), "change_licence.add"); !s.ok()) return s;
      // Every licence of that type and number gives way to it (a
      // registration could list one twice): none is left beside it.
      google::protobuf::RepeatedPtrField<v1::Licence> kept;
      for (const v1::Licence& l : e.licences()) {
        if (!same(l, c.add().type(), c.add().number())) *kept.Add() = l;
      }
      *kept.Add() = c.add();
      e.mutable_licences()->Swap(&kept);
      break;
    }
    case v1::LicenceChange::kEnd: {
      const v1::LicenceEnding& end = c.end();
      const absl::CivilDay recorded = ChinaDay(entry.record_time);
      if (!ValidDate(end.ended_on()) || FromProtoDate(end.ended_on()) < recorded - 366 ||
          FromProtoDate(end.ended_on()) > recorded + 30) {
        return absl::InvalidArgumentError(absl::StrCat(
            "change_licence.end.ended_on: must be a date from a year before the day it is "
            "recorded (",
            absl::FormatCivilTime(recorded), ", China time) to 30 days after"));
      }
      // Every licence of that type and number ends (a registration could
      // list one twice).
      const absl::CivilDay last_valid = FromProtoDate(end.ended_on()) - 1;
      bool found = false;
      for (v1::Licence& l : *e.mutable_licences()) {
        if (!same(l, end.type(), end.number())) continue;
        found = true;
        if (last_valid < FromProtoDate(l.valid_until())) {
          *l.mutable_valid_until() = ToProtoDate(last_valid);
        }
      }
      if (!found) {
        return absl::NotFoundError(absl::StrCat("change_licence.end: ", c.enterprise_uscc(),
                                                " holds no ", v1::LicenceType_Name(end.type()),
                                                " licence numbered '", end.number(), "'"));
      }
      break;
    }
    case v1::LicenceChange::CHANGE_NOT_SET:
      return absl::InvalidArgumentError("change_licence: give add or end");
  }
  changes->Put(key, record.SerializeAsString());
  return absl::OkStatus();
}

// An enterprise's administrator adds its actors; a platform administrator
// anyone's (platform administrators, regulators and park gates too).
absl::Status AddActor(const journal::EntryContext& entry, const v1::Actor& a,
                      const v1::Actor& actor, const storage::StateReader& state,
                      storage::StateWrites* changes) {
  const bool platform_admin = actor.role() == v1::PLATFORM_ADMIN;
  if (a.name().empty()) return absl::InvalidArgumentError("actor.name: is required");
  if (a.role() == v1::ACTOR_ROLE_UNSPECIFIED || !v1::ActorRole_IsValid(a.role())) {
    return absl::InvalidArgumentError("actor.role: is not a known role");
  }
  absl::StatusOr<crypto::VerifyingKey> key = ActorKey(a, "actor");
  if (!key.ok()) return key.status();
  absl::StatusOr<bool> taken = KeyTaken(state, key->key_id());
  if (!taken.ok()) return taken.status();
  if (*taken) {
    return absl::AlreadyExistsError(
        absl::StrCat("actor.public_key: key ", key->key_id().ToString(), " is already registered"));
  }
  if (IsEnterpriseRole(a.role())) {
    absl::StatusOr<std::optional<EnterpriseRecord>> e = FindEnterprise(state, a.enterprise_uscc());
    if (!e.ok()) return e.status();
    if (!*e) {
      return absl::NotFoundError(absl::StrCat("actor.enterprise_uscc: enterprise '",
                                              a.enterprise_uscc(), "' is not registered"));
    }
    if ((*e)->blacklist_reason) {
      return absl::PermissionDeniedError(absl::StrCat("actor.enterprise_uscc: enterprise ",
                                                      a.enterprise_uscc(), " is blacklisted"));
    }
    if (!AdministersEnterprise(actor, a.enterprise_uscc())) {
      return MayNot(actor, absl::StrCat("add actors to enterprise ", a.enterprise_uscc()));
    }
  } else {
    if (!a.enterprise_uscc().empty()) {
      return absl::InvalidArgumentError(
          "actor.enterprise_uscc: must be empty for platform administrators, regulators and "
          "park gates");
    }
    if (!platform_admin) {
      return MayNot(actor, "add platform administrators, regulators or park gates");
    }
  }
  // A park gate works the gates of one registered park; no one else has a park.
  if (a.role() == v1::PARK_GATE) {
    absl::StatusOr<std::optional<v1::Park>> park = FindPark(state, a.park_id());
    if (!park.ok()) return park.status();
    if (!*park) {
      return absl::NotFoundError(
          absl::StrCat("actor.park_id: park '", a.park_id(), "' is not registered"));
    }
  } else if (!a.park_id().empty()) {
    return absl::InvalidArgumentError("actor.park_id: only a PARK_GATE actor has a park");
  }
  // From epoch 4 a regulator comes with its department and
  // jurisdiction, and no one else has them.
  if (entry.rules_epoch >= 4) {
    if (a.role() == v1::REGULATOR) {
      if (absl::Status s = CheckRegulatorScope("actor", a.department(), a.jurisdiction(), state);
          !s.ok()) {
        return s;
      }
    } else if (a.department() != v1::DEPARTMENT_UNSPECIFIED || a.has_jurisdiction()) {
      return absl::InvalidArgumentError(
          "actor.department, actor.jurisdiction: only a REGULATOR has them");
    }
  }
  state::ActorRecord record;
  *record.mutable_actor() = a;
  if (entry.rules_epoch < 4) {
    // Not fields before epoch 4, so never checked: not kept either.
    record.mutable_actor()->clear_department();
    record.mutable_actor()->clear_jurisdiction();
  }
  record.set_added_at(entry.index);
  changes->Put(keys::Actor(key->key_id()), record.SerializeAsString());
  return absl::OkStatus();
}

// A key revoked: a label key by a platform administrator, an actor's by
// its enterprise's administrator or a platform administrator.
absl::Status RevokeKey(const journal::EntryContext& entry, const v1::KeyRevocation& revocation,
                       const v1::Actor& actor, const storage::StateReader& state,
                       storage::StateWrites* changes) {
  const bool platform_admin = actor.role() == v1::PLATFORM_ADMIN;
  absl::StatusOr<crypto::KeyId> id = crypto::KeyId::Parse(revocation.key_id());
  if (!id.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("revoke_key.key_id: ", id.status().message()));
  }
  if (revocation.reason().empty()) {
    return absl::InvalidArgumentError("revoke_key.reason: is required");
  }
  absl::StatusOr<std::optional<std::string>> label_bytes = state.Get(keys::LabelKey(*id));
  if (!label_bytes.ok()) return label_bytes.status();
  if (*label_bytes) {
    if (!platform_admin) return MayNot(actor, "revoke label keys");
    state::LabelKeyRecord label;
    if (!label.ParseFromString(**label_bytes)) {
      return absl::DataLossError("a label key record is malformed");
    }
    if (label.revoked()) {
      return absl::FailedPreconditionError(
          absl::StrCat("revoke_key.key_id: label key ", id->ToString(), " is already revoked"));
    }
    label.set_revoked(true);
    *label.mutable_revoked_on() = ToProtoDate(ChinaDay(entry.record_time));
    label.set_revoked_at(entry.index);
    changes->Put(keys::LabelKey(*id), label.SerializeAsString());
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<state::ActorRecord>> target = FindActor(state, *id);
  if (!target.ok()) return target.status();
  if (!*target) {
    return absl::NotFoundError(
        absl::StrCat("revoke_key.key_id: key ", id->ToString(), " is not registered"));
  }
  if ((*target)->revoked()) {
    return absl::FailedPreconditionError(
        absl::StrCat("revoke_key.key_id: key ", id->ToString(), " is already revoked"));
  }
  const v1::Actor& t = (*target)->actor();
  if (!(platform_admin ||
        (IsEnterpriseRole(t.role()) && AdministersEnterprise(actor, t.enterprise_uscc())))) {
    return MayNot(actor, absl::StrCat("revoke key ", id->ToString()));
  }
  state::ActorRecord revoked = **target;
  revoked.set_revoked(true);
  revoked.set_revoked_reason(revocation.reason());
  revoked.set_revoked_at(entry.index);
  changes->Put(keys::Actor(*id), revoked.SerializeAsString());
  return absl::OkStatus();
}

// An enterprise listed on (or lifted from) the blacklist, by a platform
// administrator or a regulator within its jurisdiction.
absl::Status ChangeBlacklist(const journal::EntryContext& entry, const v1::BlacklistChange& b,
                             const v1::Actor& actor, const storage::StateReader& state,
                             storage::StateWrites* changes) {
  const bool platform_admin = actor.role() == v1::PLATFORM_ADMIN;
  if (!(platform_admin || actor.role() == v1::REGULATOR)) {
    return MayNot(actor, "change the blacklist");
  }
  const std::string key = keys::Enterprise(b.enterprise_uscc());
  absl::StatusOr<std::optional<std::string>> bytes = state.Get(key);
  if (!bytes.ok()) return bytes.status();
  if (b.enterprise_uscc().empty() || !*bytes) {
    return absl::NotFoundError(absl::StrCat("blacklist.enterprise_uscc: enterprise '",
                                            b.enterprise_uscc(), "' is not registered"));
  }
  // From epoch 4 a regulator lists (and lifts) within its jurisdiction.
  if (entry.rules_epoch >= 4 && actor.role() == v1::REGULATOR) {
    absl::StatusOr<bool> oversees = OverseesEnterprise(state, actor, b.enterprise_uscc());
    if (!oversees.ok()) return oversees.status();
    if (!*oversees) {
      return absl::PermissionDeniedError(absl::StrCat(
          "blacklist.enterprise_uscc: ", b.enterprise_uscc(), " is outside the jurisdiction (",
          JurisdictionText(actor), ") of regulator '", actor.name(), "'"));
    }
  }
  if (b.reason().empty()) return absl::InvalidArgumentError("blacklist.reason: is required");
  // From epoch 10 the public list's date holds: the day of the listing
  // decision, not after the day it is recorded nor over a year before
  // it; none given, the day it is recorded (China time).
  v1::Date listed_on = b.date();
  if (entry.rules_epoch >= 10 && b.blacklisted()) {
    const absl::CivilDay recorded = ChinaDay(entry.record_time);
    if (!b.has_date() || (b.date().year() == 0 && b.date().month() == 0 && b.date().day() == 0)) {
      listed_on = ToProtoDate(recorded);
    } else if (!ValidDate(b.date()) || FromProtoDate(b.date()) > recorded ||
               FromProtoDate(b.date()) < recorded - 366) {
      return absl::InvalidArgumentError(
          absl::StrCat("blacklist.date: must be a date from a year before the day it is recorded (",
                       absl::FormatCivilTime(recorded), ", China time) to that day"));
    }
  }
  state::EnterpriseRecord record;
  if (!record.ParseFromString(**bytes)) {
    return absl::DataLossError(absl::StrCat("state record '", key, "' is malformed"));
  }
  if (entry.rules_epoch >= 13) {
    // A listing stands until lifted: listing it again would put a new
    // lister (and with it who may lift it) over the first.
    if (b.blacklisted() && record.blacklisted()) {
      return absl::FailedPreconditionError(
          absl::StrCat("blacklist.enterprise_uscc: ", b.enterprise_uscc(),
                       " is already blacklisted: it is lifted before it is listed again"));
    }
    if (!b.blacklisted() && record.blacklisted() && actor.role() == v1::REGULATOR) {
      if (absl::Status s = MayLiftBlacklisting(state, actor, b.enterprise_uscc()); !s.ok()) {
        return s;
      }
    }
  }
  record.set_blacklisted(b.blacklisted());
  if (b.blacklisted()) {
    record.set_blacklist_reason(b.reason());
    // The public list (黑名单): who listed it, when and why.
    state::BlacklistRecord listed;
    listed.set_reason(b.reason());
    *listed.mutable_date() = listed_on;
    // By function, not by name: the list is public.
    listed.set_listed_by(actor.role() == v1::REGULATOR ? "regulator" : "platform administrator");
    if (entry.rules_epoch >= 13 && actor.role() == v1::REGULATOR) {
      listed.set_lister_recorded(true);
      listed.set_lister_department(actor.department());
      if (actor.has_jurisdiction()) {
        *listed.mutable_lister_jurisdiction() = actor.jurisdiction();
      }
    }
    listed.set_log_index(entry.index);
    changes->Put(keys::Blacklisted(b.enterprise_uscc()), listed.SerializeAsString());
  } else {
    record.clear_blacklist_reason();
    changes->Delete(keys::Blacklisted(b.enterprise_uscc()));
  }
  changes->Put(key, record.SerializeAsString());
  return absl::OkStatus();
}

// A label key the platform signs labels with, by a platform administrator.
absl::Status AddLabelKey(const journal::EntryContext& entry, const v1::LabelKey& k,
                         const v1::Actor& actor, const storage::StateReader& state,
                         storage::StateWrites* changes) {
  if (actor.role() != v1::PLATFORM_ADMIN) return MayNot(actor, "add label keys");
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
    return absl::InvalidArgumentError("add_label_key.valid_until: must not be before valid_from");
  }
  absl::StatusOr<bool> taken = KeyTaken(state, key->key_id());
  if (!taken.ok()) return taken.status();
  if (*taken) {
    return absl::AlreadyExistsError(absl::StrCat(
        "add_label_key.public_key: key ", key->key_id().ToString(), " is already registered"));
  }
  state::LabelKeyRecord record;
  record.set_public_key(k.public_key());
  *record.mutable_valid_from() = k.valid_from();
  *record.mutable_valid_until() = k.valid_until();
  record.set_added_at(entry.index);
  changes->Put(keys::LabelKey(key->key_id()), record.SerializeAsString());
  return absl::OkStatus();
}

}  // namespace

// A product of an enterprise, by its administrator (or a platform
// administrator), checked against the catalogue in force and the control
// lists.
absl::Status RegistryRules::RegisterProduct(const journal::EntryContext& entry,
                                            const v1::Product& p, const v1::Actor& actor,
                                            const storage::StateReader& state,
                                            storage::StateWrites* changes) const {
  if (entry.rules_epoch >= kReferenceTablesRulesEpoch && p.flags_provisional()) {
    return absl::InvalidArgumentError(
        "product.flags_provisional: is the server's to set (a product in no catalogue in "
        "force), not the registrant's");
  }
  absl::StatusOr<v1::RegistryAssignment> assignment = CatalogueCheckOf(entry, p, state);
  if (!assignment.ok()) return assignment.status();
  std::vector<CatalogueEntry> rows;
  if (assignment->has_checked_against()) rows.push_back(FromRow(assignment->checked_against()));
  if (entry.rules_epoch >= 10) {
    for (int i = 0; i < p.hazard_statements_size(); ++i) {
      if (!ids::IsHazardStatementCode(p.hazard_statements(i))) {
        return absl::InvalidArgumentError(absl::StrCat(
            "product.hazard_statements[", i, "]: '", p.hazard_statements(i),
            "' must be a GHS hazard statement code: H, three digits, at most four letters "
            "(H225, H350i)"));
      }
    }
  }
  if (absl::Status s = ValidateProduct(p, Catalogue::FromEntries(std::move(rows))); !s.ok()) {
    return s;
  }
  // The control lists in force that name its CAS number set their
  // flags too (read from the state before this entry, in both modes).
  absl::StatusOr<ControlListFlags> listed = entry.rules_epoch >= kControlListsRulesEpoch
                                                ? ControlListFlagsFor(state, p.cas())
                                                : ControlListFlags();
  if (!listed.ok()) return listed.status();
  assignment->clear_control_lists();
  for (const std::string& list : listed->lists) assignment->add_control_lists(list);
  if (listed->flags != 0) {
    absl::StatusOr<uint8_t> declared = ParseControlFlags(absl::StrJoin(p.control_flags(), ","));
    if (!declared.ok()) return declared.status();
    if ((*declared & listed->flags) != listed->flags) {
      return absl::InvalidArgumentError(
          absl::StrCat("product.control_flags: must include ", ControlFlagsText(listed->flags),
                       ", which the control lists in force (", absl::StrJoin(listed->lists, ", "),
                       ") give CAS ", p.cas()));
    }
  }
  absl::StatusOr<std::optional<EnterpriseRecord>> e = FindEnterprise(state, p.enterprise_uscc());
  if (!e.ok()) return e.status();
  if (!*e) {
    return absl::NotFoundError(absl::StrCat("product.enterprise_uscc: enterprise ",
                                            p.enterprise_uscc(), " is not registered"));
  }
  if ((*e)->blacklist_reason) {
    return absl::PermissionDeniedError(absl::StrCat("product.enterprise_uscc: enterprise ",
                                                    p.enterprise_uscc(), " is blacklisted (",
                                                    *(*e)->blacklist_reason, ")"));
  }
  if (!AdministersEnterprise(actor, p.enterprise_uscc())) {
    return MayNot(actor, absl::StrCat("register products of enterprise ", p.enterprise_uscc()));
  }
  if (!HasRole((*e)->enterprise, v1::PRODUCER) && !HasRole((*e)->enterprise, v1::IMPORTER)) {
    return absl::FailedPreconditionError(absl::StrCat("product.enterprise_uscc: enterprise ",
                                                      p.enterprise_uscc(),
                                                      " is neither a producer nor an importer"));
  }
  absl::StatusOr<std::optional<v1::Product>> known =
      FindProduct(state, p.enterprise_uscc(), p.product_number());
  if (!known.ok()) return known.status();
  if (*known) {
    return absl::AlreadyExistsError(absl::StrCat("product.product_number: ", p.product_number(),
                                                 " is already registered for ",
                                                 p.enterprise_uscc()));
  }
  if (entry.rules_epoch >= 1) *entry.assignment = assignment->SerializeAsString();
  // In no imported catalogue in force: its declared flags are
  // provisional until a regulator decides them.
  if (!assignment->catalogue_version().empty() && !assignment->has_checked_against()) {
    PutProvisionalProduct(entry.index, p, assignment->catalogue_version(), changes);
    return absl::OkStatus();
  }
  changes->Put(keys::Product(p.enterprise_uscc(), p.product_number()), p.SerializeAsString());
  return absl::OkStatus();
}

absl::Status RegistryRules::ApplyRequest(const journal::EntryContext& entry,
                                         const storage::StateReader& state,
                                         storage::StateWrites* changes) const {
  absl::StatusOr<v1::Actor> signer = CheckSigner(entry, state, kRegistryContext);
  if (!signer.ok()) return signer.status();
  v1::RegistryRequest request;
  if (!ParseLoggedRegistryRequest(entry.envelope->payload(), entry.rules_epoch, &request)) {
    return absl::InvalidArgumentError("envelope.payload: not a RegistryRequest");
  }
  // From epoch 10 a registration is bounded as events and waybills are: a
  // request (a reference table's import aside, bounded by its own rules) of
  // at most kMaxRegistryRequestBytes, each text at most kMaxRegistryTextBytes,
  // so that no registrant can fill the state (and the sequencer's memory
  // when an import revisits every product) with megabytes of a name.
  if (entry.rules_epoch >= 10 &&
      request.change_case() != v1::RegistryRequest::kImportReferenceTable) {
    if (entry.envelope->payload().size() > kMaxRegistryRequestBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("envelope.payload: ", entry.envelope->payload().size(),
                       " bytes; a registry request is at most ", kMaxRegistryRequestBytes));
    }
    if (absl::Status s = CheckTextFieldBytes(request, "request", kMaxRegistryTextBytes); !s.ok()) {
      return s;
    }
  }
  const v1::Actor& actor = *signer;
  const bool platform_admin = actor.role() == v1::PLATFORM_ADMIN;

  switch (request.change_case()) {
    case v1::RegistryRequest::kRegisterEnterprise:
      return RegisterEnterprise(entry, request.register_enterprise(), actor, state, changes);
    case v1::RegistryRequest::kRegisterProduct:
      return RegisterProduct(entry, request.register_product(), actor, state, changes);
    case v1::RegistryRequest::kAddActor:
      return AddActor(entry, request.add_actor(), actor, state, changes);
    case v1::RegistryRequest::kRevokeKey:
      return RevokeKey(entry, request.revoke_key(), actor, state, changes);
    case v1::RegistryRequest::kBlacklist:
      return ChangeBlacklist(entry, request.blacklist(), actor, state, changes);
    case v1::RegistryRequest::kAddLabelKey:
      return AddLabelKey(entry, request.add_label_key(), actor, state, changes);
    case v1::RegistryRequest::kRegisterSite:
      return RegisterSite(entry, request.register_site(), actor, state, changes);
    case v1::RegistryRequest::kRegisterPark:
      return RegisterPark(request.register_park(), actor, changes);
    case v1::RegistryRequest::kBreakGlass:
      return BreakGlass(entry, request.break_glass(), actor, state, changes);
    case v1::RegistryRequest::kAssignRegulator:
      if (!platform_admin) return MayNot(actor, "assign regulators");
      return AssignRegulator(request.assign_regulator(), state, changes);
    case v1::RegistryRequest::kImportReferenceTable: {
      absl::StatusOr<ImportedTable> imported =
          ImportReferenceTable(entry, request.import_reference_table(), actor, state, changes);
      if (!imported.ok()) return imported.status();
      // A catalogue or a control list adds its flags to the products
      // registered before it; the thresholds set none.
      if (imported->table != v1::CATALOGUE && ControlListFlag(imported->table) == 0) {
        return absl::OkStatus();
      }
      return AddImportedFlags(entry, *imported, state, changes);
    }
    case v1::RegistryRequest::kDecideProductFlags:
      return DecideProductFlags(entry, request.decide_product_flags(), actor, state, changes);
    case v1::RegistryRequest::kSetDeploymentPolicy:
      if (!platform_admin) {
        return MayNot(actor, "set the deployment's policy: platform administrators only");
      }
      return SetDeploymentPolicy(entry, request.set_deployment_policy(), state, changes);
    case v1::RegistryRequest::kChangeLicence:
      return ChangeLicence(entry, request.change_licence(), actor, state, changes);
    case v1::RegistryRequest::CHANGE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("request.change: no change given");
}

absl::StatusOr<v1::Actor> CheckSigner(const journal::EntryContext& entry,
                                      const storage::StateReader& state,
                                      const crypto::SignatureContext& context) {
  // Taken whole or not at all: no field this server does not know, and
  // from rules epoch 18 none that holds one value sent twice (after
  // the journal answered a retry of a recorded request, so that one taken
  // before this rule still gets its receipt).
  if (entry.rules_epoch >= kKnownFieldsRulesEpoch) {
    if (absl::Status s = CheckFieldsKnown(context, entry.envelope->payload(), entry.rules_epoch);
        !s.ok()) {
      return s;
    }
  }
  if (entry.rules_epoch >= kRequestBindingRulesEpoch) {
    // What the request binds itself to (request_binding.h): its expiry, and
    // its deployment (checked before it was sequenced too, beside its
    // signature; again here, so that no path around that check logs
    // another deployment's request).
    absl::StatusOr<RequestBinding> binding = ReadRequestBinding(entry.envelope->payload());
    if (!binding.ok()) return binding.status();
    if (absl::Status s = CheckNotExpired(*binding, entry.record_time); !s.ok()) return s;
    // (A request that names none passes unless a policy of epoch 17 or
    // later requires one: none is in force in a log before it.)
    absl::StatusOr<state::DeploymentRecord> deployment = ReadDeployment(state);
    if (!deployment.ok()) return deployment.status();
    if (absl::Status s = CheckNamedDeployment(*binding, ThisDeploymentOf(*deployment)); !s.ok()) {
      return s;
    }
  }
  if (entry.mode == journal::ApplyMode::kRebuild) {
    return VerifySigner(state, *entry.envelope, context);
  }
  // The caller verified the signature; the signer is checked again here, as
  // the key may have been revoked (or its enterprise blacklisted) since.
  absl::StatusOr<crypto::KeyId> key_id = envelope::SignerKeyId(*entry.envelope, context);
  if (!key_id.ok()) return key_id.status();
  return ActiveSigner(state, *key_id);
}

absl::Status CheckRetrySigner(const v1::SignedEnvelope& envelope,
                              const storage::StateReader& state,
                              const crypto::SignatureContext& context) {
  absl::StatusOr<crypto::KeyId> key_id = envelope::SignerKeyId(envelope, context);
  if (!key_id.ok()) return key_id.status();
  return ActiveSigner(state, *key_id).status();
}

absl::StatusOr<std::string> SignerRequestScope(const v1::SignedEnvelope& envelope,
                                               const storage::StateReader& state,
                                               const crypto::SignatureContext& context) {
  absl::StatusOr<crypto::KeyId> key_id = envelope::SignerKeyId(envelope, context);
  if (!key_id.ok()) return key_id.status();
  absl::StatusOr<std::optional<state::ActorRecord>> actor = FindActor(state, *key_id);
  if (!actor.ok()) return actor.status();
  // An unregistered key gets a scope of its own; the rules then refuse its
  // request, so nothing is ever written under it.
  if (!*actor) return absl::StrCat("unregistered-key-", key_id->ToString());
  const v1::Actor& a = (*actor)->actor();
  if (!a.enterprise_uscc().empty()) return a.enterprise_uscc();
  // A park's gates keep their ids apart from every other park's (state
  // format 13; they shared the platform's before).
  if (a.role() == v1::PARK_GATE && !a.park_id().empty()) return absl::StrCat("park:", a.park_id());
  return std::string(kPlatformRequestScope);
}

absl::StatusOr<std::string> RegistryRules::RequestScope(const v1::SignedEnvelope& envelope,
                                                        const storage::StateReader& state) const {
  if (envelope.payload_type() != kRegistryContext.payload_type()) return std::string();
  return SignerRequestScope(envelope, state, kRegistryContext);
}

absl::Status RegistryRules::CheckRetry(const v1::SignedEnvelope& envelope,
                                       const storage::StateReader& state) const {
  if (envelope.payload_type() != kRegistryContext.payload_type()) return absl::OkStatus();
  return CheckRetrySigner(envelope, state, kRegistryContext);
}

absl::StatusOr<v1::SignedEnvelope> MakeGenesis(const std::string& deployment,
                                               const std::string& resolver,
                                               const std::string& admin_name,
                                               const crypto::SigningKey& admin_key,
                                               bool test_deployment) {
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
  genesis.set_test_deployment(test_deployment);
  v1::Actor* admin = genesis.mutable_first_admin();
  admin->set_name(admin_name);
  admin->set_role(v1::PLATFORM_ADMIN);
  admin->set_public_key(admin_key.verifying_key().ToBytes());
  return envelope::Sign(kGenesisContext, genesis.SerializeAsString(), admin_key);
}

}  // namespace chemledger::registry
