#include "services/label/issuance.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "services/common/identifiers.h"
#include "services/common/log_replay.h"
#include "services/registry/catalogue.h"

namespace chemledger::label {
namespace {

constexpr uint64_t kMaxSerial = 999999999;

std::string LabelKeyFileName(const crypto::KeyId& id) {
  return absl::StrCat("label-", id.ToString(), ".key");
}

bool IsUpperAlnum(absl::string_view s) {
  for (char c : s) {
    if (!(c >= 'A' && c <= 'Z') && !absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

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

// Label control-flag bits of a product's control_flags.
absl::StatusOr<uint8_t> ControlFlagBits(const v1::Product& p) {
  if (p.control_flags().empty()) return 0;
  return registry::ParseControlFlags(absl::StrJoin(p.control_flags(), ","));
}

// Verifies `envelope` (signature, registered and unrevoked key, signer's
// enterprise not blacklisted), only then parses it, and checks that the signer
// is an admin or operator of the enterprise it issues for.
absl::StatusOr<v1::IssueLabelsRequest> VerifiedIssueRequest(const registry::Registry::View& view,
                                                            const v1::SignedEnvelope& envelope) {
  absl::StatusOr<v1::Actor> actor = view.VerifySigner(envelope, kIssueLabelsContext);
  if (!actor.ok()) return actor.status();
  v1::IssueLabelsRequest request;
  if (!request.ParseFromString(envelope.payload())) {
    return absl::InvalidArgumentError("envelope.payload: not an IssueLabelsRequest");
  }
  if (absl::Status s = ids::ValidateUscc("request.enterprise_uscc", request.enterprise_uscc());
      !s.ok()) {
    return s;
  }
  if ((actor->role() != v1::ENTERPRISE_ADMIN && actor->role() != v1::ENTERPRISE_OPERATOR) ||
      actor->enterprise_uscc() != request.enterprise_uscc()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "envelope.signatures[0].key_id: actor '", actor->name(), "' (",
        v1::ActorRole_Name(actor->role()), ") may not issue labels for enterprise '",
        request.enterprise_uscc(), "': only its own admins and operators may"));
  }
  return request;
}

}  // namespace

absl::StatusOr<uint32_t> ParseNetQuantity(absl::string_view field, absl::string_view text) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": '", text,
        "' must be a decimal with at most 3 fraction digits, more than 0 and at most 4294967.295"));
  };
  absl::string_view whole = text, fraction;
  if (size_t dot = text.find('.'); dot != absl::string_view::npos) {
    whole = text.substr(0, dot);
    fraction = text.substr(dot + 1);
    if (fraction.empty() || fraction.size() > 3) return bad();
  }
  if (whole.empty() || whole.size() > 7 || (whole.size() > 1 && whole[0] == '0')) return bad();
  for (absl::string_view part : {whole, fraction}) {
    for (char c : part) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return bad();
    }
  }
  uint64_t milli = 0;
  for (char c : whole) milli = milli * 10 + static_cast<uint64_t>(c - '0');
  for (size_t i = 0; i < 3; ++i) {
    milli = milli * 10 + (i < fraction.size() ? static_cast<uint64_t>(fraction[i] - '0') : 0);
  }
  if (milli == 0 || milli > UINT32_MAX) return bad();
  return static_cast<uint32_t>(milli);
}

std::string FormatNetQuantity(uint64_t milli) {
  std::string out = std::to_string(milli / 1000);
  if (uint64_t f = milli % 1000; f != 0) {
    std::string digits = std::to_string(1000 + f).substr(1);
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    absl::StrAppend(&out, ".", digits);
  }
  return out;
}

std::string NetQuantityText(uint32_t milli, absl::string_view unit) {
  absl::string_view symbol = unit;
  if (unit == "KGM") symbol = "kg";
  if (unit == "GRM") symbol = "g";
  if (unit == "TNE") symbol = "t";
  if (unit == "LTR") symbol = "L";
  if (unit == "MLT") symbol = "mL";
  if (unit == "MTQ") symbol = "m³";
  return absl::StrCat(FormatNetQuantity(milli), " ", symbol);
}

bool IsNetQuantityUnit(absl::string_view unit) {
  for (absl::string_view u : {"KGM", "GRM", "TNE", "LTR", "MLT", "MTQ"}) {
    if (unit == u) return true;
  }
  return false;
}

// ---------------------------------------------------------------- keyring

absl::StatusOr<std::unique_ptr<LabelKeyring>> LabelKeyring::Open(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat("label key directory ", dir, " does not exist"));
  }
  std::unique_ptr<LabelKeyring> keyring(new LabelKeyring(dir));
  absl::MutexLock lock(&keyring->mu_);
  if (absl::Status s = keyring->Scan(); !s.ok()) return s;
  return keyring;
}

absl::Status LabelKeyring::Scan() {
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) return absl::NotFoundError(absl::StrCat("cannot read ", dir_));
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    if (absl::StartsWith(name, "label-") && absl::EndsWith(name, ".key")) {
      names.emplace_back(name);
    }
  }
  closedir(d);
  for (const std::string& name : names) {
    absl::string_view hex = absl::StripSuffix(absl::StripPrefix(name, "label-"), ".key");
    absl::StatusOr<crypto::KeyId> id = crypto::KeyId::Parse(hex);
    if (!id.ok() || keys_.count(*id)) continue;
    const std::string path = absl::StrCat(dir_, "/", name);
    // One bad file must not hide the others: it is remembered, and only that
    // key is unusable.
    absl::StatusOr<crypto::SigningKey> key = crypto::LoadSigningKey(path, absl::nullopt);
    if (!key.ok()) {
      broken_[*id] = key.status();
      continue;
    }
    if (key->key_id() != *id) {
      broken_[*id] = absl::DataLossError(absl::StrCat(
          path, " holds key ", key->key_id().ToString(), ", not the key its name says"));
      continue;
    }
    broken_.erase(*id);
    keys_.emplace(*id, std::make_unique<crypto::SigningKey>(*std::move(key)));
  }
  return absl::OkStatus();
}

absl::StatusOr<crypto::VerifyingKey> LabelKeyring::CreateKey(const std::string& dir) {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  const std::string path = absl::StrCat(dir, "/", LabelKeyFileName(key.key_id()));
  if (absl::Status s = crypto::SaveSigningKey(key, path, crypto::KeyFileOptions()); !s.ok()) {
    return s;
  }
  return key.verifying_key();
}

absl::StatusOr<const crypto::SigningKey*> LabelKeyring::Find(const crypto::KeyId& id) {
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(id);
  if (it == keys_.end()) {
    if (absl::Status s = Scan(); !s.ok()) return s;
    it = keys_.find(id);
  }
  if (it == keys_.end()) {
    if (auto broken = broken_.find(id); broken != broken_.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "label key ", id.ToString(), ": its file is unusable: ", broken->second.message()));
    }
    return absl::NotFoundError(absl::StrCat("label key ", id.ToString(), " has no key file ",
                                            LabelKeyFileName(id), " in ", dir_));
  }
  return it->second.get();
}

// ---------------------------------------------------------------- issuer

absl::StatusOr<std::unique_ptr<LabelIssuer>> LabelIssuer::Open(storage::Log* log,
                                                                registry::Registry* registry,
                                                                LabelKeyring* keyring) {
  std::unique_ptr<LabelIssuer> issuer(new LabelIssuer(log, registry, keyring));
  absl::MutexLock lock(&issuer->mu_);
  absl::Status replayed = ReplayLog(
      *log, [&](uint64_t i, const v1::LogEntry& entry, const std::string& bytes) -> absl::Status {
        if (entry.envelope().payload_type() != kIssueLabelsContext.payload_type()) return absl::OkStatus();
        v1::IssueLabelsRequest request;
        v1::LabelAssignment assignment;
        if (!request.ParseFromString(entry.envelope().payload()) ||
            !assignment.ParseFromString(entry.assignment())) {
          return absl::DataLossError(absl::StrCat("log entry ", i, " is not a label issuance"));
        }
        absl::StatusOr<Issuance> issuance = issuer->Reconstruct(request, assignment, i);
        // Serials of a batch are assigned in order without gaps or overlaps; a
        // logged issuance that does not continue its batch means the log is not
        // what this server wrote.
        if (issuance.ok()) {
          absl::ReaderMutexLock records(&issuer->records_mu_);
          uint64_t next = 1;
          auto batch = issuer->batches_.find(
              {request.enterprise_uscc(), request.product_number(), request.batch()});
          if (batch != issuer->batches_.end() && !batch->second.empty()) {
            next = batch->second.back().first_serial + batch->second.back().count;
          }
          if (assignment.first_serial() != next || assignment.count() < 1 ||
              assignment.count() > kMaxPackagesPerRequest ||
              next + assignment.count() - 1 > kMaxSerial || issuer->requests_.count(request.request_id())) {
            issuance = absl::DataLossError(absl::StrCat(
                "serials ", assignment.first_serial(), " + ", assignment.count(),
                " do not continue batch ", request.batch(), " at ", next,
                " (or its request id was used before)"));
          }
        }
        if (!issuance.ok()) {
          return absl::DataLossError(absl::StrCat("log entry ", i, " is not a valid label issuance: ",
                                                  issuance.status().message()));
        }
        issuer->Commit(request, *issuance, entry.envelope().payload());
        return absl::OkStatus();
      });
  if (!replayed.ok()) return replayed;
  return issuer;
}

absl::StatusOr<Issuance> LabelIssuer::Reconstruct(const v1::IssueLabelsRequest& request,
                                                  const v1::LabelAssignment& assignment,
                                                  uint64_t log_index) const {
  std::optional<v1::Product> product =
      registry_->FindProduct(request.enterprise_uscc(), request.product_number());
  if (!product) return absl::NotFoundError("the product is not registered");
  absl::StatusOr<crypto::KeyId> key_id = crypto::KeyId::Parse(assignment.label_key_id());
  if (!key_id.ok()) return key_id.status();
  absl::StatusOr<uint32_t> milli = ParseNetQuantity("net_quantity", request.net_quantity());
  if (!milli.ok()) return milli.status();
  absl::StatusOr<uint8_t> flags = ControlFlagBits(*product);
  if (!flags.ok()) return flags.status();
  Issuance issuance(*key_id);
  issuance.log_index = log_index;
  issuance.count = assignment.count();
  crypto::LabelClaims& c = issuance.claims;
  c.resolver = registry_->resolver();
  c.enterprise = request.enterprise_uscc();
  c.product = request.product_number();
  c.batch = request.batch();
  c.serial = assignment.first_serial();
  c.production_date = absl::CivilDay(request.production_date().year(),
                                     request.production_date().month(),
                                     request.production_date().day());
  c.quantity_milli = *milli;
  c.unit = request.unit();
  c.un_number = product->un_number();
  c.cas = product->cas();
  c.control_flags = *flags;
  return issuance;
}

absl::StatusOr<Issuance> LabelIssuer::Issue(const v1::SignedEnvelope& envelope) {
  absl::MutexLock lock(&mu_);
  // A retry of an accepted request (same id, same bytes) gets its issuance,
  // once its signer is verified again: a revoked or blacklisted signer gets
  // nothing, and neither does anyone replaying bytes copied from the log
  // without a valid signature.
  v1::IssueLabelsRequest peek;
  if (envelope.payload_type() == kIssueLabelsContext.payload_type() &&
      peek.ParseFromString(envelope.payload()) && !peek.request_id().empty()) {
    auto it = requests_.find(peek.request_id());
    if (it != requests_.end()) {
      if (absl::Status s = registry_->WithView([&](const registry::Registry::View& view) {
            return VerifiedIssueRequest(view, envelope).status();
          });
          !s.ok()) {
        return s;
      }
      if (it->second.first != envelope.payload()) {
        return absl::AlreadyExistsError(absl::StrCat(
            "request.request_id: '", peek.request_id(), "' was already used for another request"));
      }
      Issuance again = it->second.second;
      again.replayed = true;
      return again;
    }
  }

  v1::IssueLabelsRequest request;
  std::optional<Issuance> issuance;
  // The assignment is part of the entry, so the entry is made under the
  // registry's lock, after the check (and so record times never go back).
  absl::StatusOr<uint64_t> index = registry_->AppendChecked(
      [&](const registry::Registry::View& view) -> absl::StatusOr<std::string> {
        mu_.AssertHeld();
        v1::LogEntry entry = registry::MakeLogEntry(envelope);
        absl::StatusOr<Issuance> checked = Check(view, envelope, registry::RecordDay(entry), &request);
        if (!checked.ok()) return checked.status();
        issuance = *std::move(checked);
        v1::LabelAssignment assignment;
        assignment.set_first_serial(issuance->claims.serial);
        assignment.set_count(issuance->count);
        assignment.set_label_key_id(issuance->label_key_id.ToString());
        entry.set_assignment(assignment.SerializeAsString());
        return entry.SerializeAsString();
      });
  if (!index.ok()) return index.status();
  issuance->log_index = *index;
  Commit(request, *issuance, envelope.payload());
  return *std::move(issuance);
}

absl::StatusOr<Issuance> LabelIssuer::Check(const registry::Registry::View& view,
                                            const v1::SignedEnvelope& envelope,
                                            absl::CivilDay today,
                                            v1::IssueLabelsRequest* request) {
  absl::StatusOr<v1::IssueLabelsRequest> verified = VerifiedIssueRequest(view, envelope);
  if (!verified.ok()) return verified.status();
  v1::IssueLabelsRequest& r = *request;
  r = *std::move(verified);
  if (r.request_id().empty() || r.request_id().size() > 128) {
    return Invalid("request_id", "1 to 128 characters are required");
  }
  const registry::EnterpriseRecord* enterprise = view.FindEnterprise(r.enterprise_uscc());
  if (enterprise == nullptr) {
    return absl::NotFoundError(absl::StrCat("request.enterprise_uscc: enterprise ",
                                            r.enterprise_uscc(), " is not registered"));
  }
  if (enterprise->blacklist_reason) {
    return absl::PermissionDeniedError(absl::StrCat(
        "request.enterprise_uscc: enterprise ", r.enterprise_uscc(), " is blacklisted (",
        *enterprise->blacklist_reason, ") and may not issue labels"));
  }
  if (absl::Status s = CheckIssuingLicence(enterprise->enterprise, today); !s.ok()) return s;
  const v1::Product* product = view.FindProduct(r.enterprise_uscc(), r.product_number());
  if (product == nullptr) {
    return absl::NotFoundError(absl::StrCat("request.product_number: '", r.product_number(),
                                            "' is not a registered product of ",
                                            r.enterprise_uscc()));
  }
  if (r.batch().empty() || r.batch().size() > 20 || !IsUpperAlnum(r.batch())) {
    return Invalid("batch", absl::StrCat("'", r.batch(), "' must be 1 to 20 of A-Z, 0-9"));
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
  absl::StatusOr<uint32_t> milli = ParseNetQuantity("request.net_quantity", r.net_quantity());
  if (!milli.ok()) return milli.status();
  if (!IsNetQuantityUnit(r.unit())) {
    return Invalid("unit", absl::StrCat("'", r.unit(),
                                        "' must be a UNECE Rec 20 code for mass or volume: KGM, "
                                        "GRM, TNE, LTR, MLT or MTQ"));
  }

  // The next serials of the batch.
  absl::ReaderMutexLock records(&records_mu_);
  uint64_t first = 1;
  auto batch = batches_.find({r.enterprise_uscc(), r.product_number(), r.batch()});
  if (batch != batches_.end() && !batch->second.empty()) {
    first = batch->second.back().first_serial + batch->second.back().count;
  }
  if (first + r.package_count() - 1 > kMaxSerial) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "request.package_count: batch ", r.batch(), " has ", first - 1,
        " codes; ", r.package_count(), " more would pass serial ", kMaxSerial));
  }

  absl::StatusOr<const crypto::SigningKey*> label_key = CurrentLabelKey(view, *keyring_, today);
  if (!label_key.ok()) return label_key.status();

  absl::StatusOr<uint8_t> flags = ControlFlagBits(*product);
  if (!flags.ok()) return flags.status();
  Issuance issuance((*label_key)->key_id());
  issuance.count = r.package_count();
  crypto::LabelClaims& c = issuance.claims;
  c.resolver = registry_->resolver();
  c.enterprise = r.enterprise_uscc();
  c.product = r.product_number();
  c.batch = r.batch();
  c.serial = first;
  c.production_date = production;
  c.quantity_milli = *milli;
  c.unit = r.unit();
  c.un_number = product->un_number();
  c.cas = product->cas();
  c.control_flags = *flags;
  // The claims must make a label (the registry validated the product, but a
  // label has its own limits); signing the first one checks them all.
  absl::StatusOr<const crypto::SigningKey*> key = keyring_->Find(issuance.label_key_id);
  if (!key.ok()) return key.status();
  if (absl::StatusOr<std::string> url = crypto::MakeLabelUrl(c, **key); !url.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("request: the label cannot be made: ",
                                                   url.status().message()));
  }
  return issuance;
}

absl::StatusOr<std::vector<IssuedLabel>> LabelIssuer::SignLabels(const Issuance& issuance,
                                                                 uint32_t offset,
                                                                 uint32_t n) const {
  absl::StatusOr<const crypto::SigningKey*> key = keyring_->Find(issuance.label_key_id);
  if (!key.ok()) return absl::FailedPreconditionError(key.status().message());
  std::vector<IssuedLabel> labels;
  if (offset >= issuance.count) return labels;
  n = std::min(n, issuance.count - offset);
  labels.reserve(n);
  crypto::LabelClaims claims = issuance.claims;
  for (uint32_t i = 0; i < n; ++i) {
    claims.serial = issuance.claims.serial + offset + i;
    absl::StatusOr<std::string> url = crypto::MakeLabelUrl(claims, **key);
    if (!url.ok()) return url.status();
    labels.push_back(IssuedLabel{claims.serial, claims.Code(), *std::move(url)});
  }
  return labels;
}

std::optional<IssuanceRecord> LabelIssuer::FindIssuance(const std::string& uscc,
                                                        const std::string& product,
                                                        const std::string& batch,
                                                        uint64_t serial) const {
  absl::ReaderMutexLock lock(&records_mu_);
  auto it = batches_.find({uscc, product, batch});
  if (it == batches_.end()) return std::nullopt;
  const std::vector<IssuanceRecord>& records = it->second;
  // Records are in serial order; find the last one starting at or before.
  auto after = std::upper_bound(
      records.begin(), records.end(), serial,
      [](uint64_t s, const IssuanceRecord& r) { return s < r.first_serial; });
  if (after == records.begin()) return std::nullopt;
  const IssuanceRecord& r = *(after - 1);
  if (serial >= r.first_serial + r.count) return std::nullopt;
  return r;
}

absl::StatusOr<IssuanceRecord> LabelIssuer::MatchIssuance(const crypto::ParsedLabel& label) const {
  const crypto::LabelClaims& claims = label.claims;
  std::optional<IssuanceRecord> record =
      FindIssuance(claims.enterprise, claims.product, claims.batch, claims.serial);
  if (!record) {
    return absl::NotFoundError(absl::StrCat("code ", claims.Code(), " is not in the issuance log"));
  }
  crypto::LabelClaims issued = record->claims;
  issued.serial = claims.serial;
  if (issued != claims || record->label_key_id != label.key_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("code ", claims.Code(), " was issued at log index ", record->log_index,
                     " with other claims or by another key than this label's"));
  }
  return *record;
}

crypto::TrustList LabelIssuer::MakeTrustList(absl::CivilDay today) const {
  crypto::TrustList list;
  list.resolver = registry_->resolver();
  list.issued = today;
  for (const registry::LabelKeyState& k : registry_->LabelKeys()) {
    list.keys.push_back(crypto::TrustedLabelKey{k.key, k.valid_from, k.valid_until,
                                                k.revoked_on ? absl::optional<absl::CivilDay>(
                                                                   *k.revoked_on)
                                                             : absl::nullopt});
  }
  return list;
}

void LabelIssuer::Commit(const v1::IssueLabelsRequest& request, const Issuance& issuance,
                         const std::string& payload) {
  absl::MutexLock records(&records_mu_);
  batches_[{request.enterprise_uscc(), request.product_number(), request.batch()}].push_back(
      IssuanceRecord{issuance.log_index, issuance.claims.serial, issuance.count, issuance.claims,
                     issuance.label_key_id});
  requests_.insert_or_assign(request.request_id(), std::make_pair(payload, issuance));
}

absl::StatusOr<const crypto::SigningKey*> CurrentLabelKey(const registry::Registry::View& view,
                                                          LabelKeyring& keyring,
                                                          absl::CivilDay today) {
  const registry::LabelKeyState* chosen = nullptr;
  const crypto::SigningKey* key = nullptr;
  for (const registry::LabelKeyState* k : view.LabelKeys()) {
    if (k->revoked_on || today < k->valid_from || k->valid_until < today) continue;
    absl::StatusOr<const crypto::SigningKey*> here = keyring.Find(k->key.key_id());
    if (!here.ok()) continue;
    if (chosen == nullptr || chosen->valid_from < k->valid_from) {
      chosen = k;
      key = *here;
    }
  }
  if (chosen == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no label key is usable on ", absl::FormatCivilTime(today),
        ": the platform must make one (chemledgerd label-key new) and register it "
        "(add_label_key)"));
  }
  return key;
}

}  // namespace chemledger::label
