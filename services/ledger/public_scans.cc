#include "services/ledger/public_scans.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/state/state.pb.h"
#include "chemledger/v1/public_scan.pb.h"
#include "crypto/label.h"
#include "crypto/sha256.h"
#include "services/label/issuance_state.h"
#include "services/ledger/code_state.h"
#include "services/registry/registry_rules.h"
#include "services/registry/registry_state.h"

namespace chemledger::ledger {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat("public_scan.", field, ": ", rule));
}

absl::StatusOr<v1::PublicScan> ParseScan(const v1::SignedEnvelope& envelope) {
  v1::PublicScan scan;
  if (!scan.ParseFromString(envelope.payload())) {
    return absl::InvalidArgumentError("envelope.payload: not a PublicScan");
  }
  return scan;
}

}  // namespace

std::string PublicScanHour(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H", t, api::ChinaTimeZone());
}

std::vector<std::string> PublicScanRules::OwnedPayloadTypes() const {
  return {api::kPublicScanPayloadType};
}

absl::StatusOr<std::optional<journal::RequestId>> PublicScanRules::RequestKey(
    const v1::SignedEnvelope& envelope) const {
  absl::StatusOr<v1::PublicScan> scan = ParseScan(envelope);
  if (!scan.ok()) return scan.status();
  absl::StatusOr<crypto::ParsedLabel> label = crypto::ParseLabelUrl(scan->label_url());
  if (!label.ok()) return Invalid("label_url", label.status().message());
  const std::string id =
      crypto::Sha256Concat({label->claims.Code(), "\n", scan->client_network(), "\n", scan->hour()})
          .ToHex();
  return journal::RequestId{absl::StrCat("pscan/", id), "public_scan", id, "public scan", "pscan"};
}

absl::StatusOr<std::string> PublicScanRules::RequestScope(const v1::SignedEnvelope&,
                                                          const storage::StateReader&) const {
  return std::string(registry::kPlatformRequestScope);
}

absl::Status PublicScanRules::Apply(const journal::EntryContext& entry,
                                    const storage::StateReader& state,
                                    storage::StateWrites* changes) const {
  if (entry.envelope->payload_type() != api::kPublicScanPayloadType) return absl::OkStatus();
  if (entry.rules_epoch < kPublicScansRulesEpoch) {
    return absl::FailedPreconditionError(absl::StrCat(
        "public_scan: public scans are recorded from rules epoch ", kPublicScansRulesEpoch));
  }
  if (entry.envelope->signatures_size() != 0) {
    return absl::InvalidArgumentError(
        "envelope.signatures: a public scan is the server's record: unsigned");
  }
  absl::StatusOr<v1::PublicScan> scan = ParseScan(*entry.envelope);
  if (!scan.ok()) return scan.status();
  if (scan->channel() != "scan-page" && scan->channel() != "verify" &&
      scan->channel() != "resolve-label") {
    return Invalid("channel", "must be scan-page, verify or resolve-label");
  }
  if (scan->client_network().size() > 64) return Invalid("client_network", "at most 64 bytes");
  if (scan->hour() != PublicScanHour(entry.record_time) &&
      scan->hour() != PublicScanHour(entry.record_time - absl::Hours(1))) {
    return Invalid("hour", absl::StrCat("'", scan->hour(), "' is not the hour of the record time (",
                                        PublicScanHour(entry.record_time), ") or the one before"));
  }
  absl::StatusOr<crypto::ParsedLabel> label = crypto::ParseLabelUrl(scan->label_url());
  if (!label.ok()) return Invalid("label_url", label.status().message());
  absl::StatusOr<std::optional<registry::LabelKeyState>> key =
      registry::FindLabelKey(state, label->key_id);
  if (!key.ok()) return key.status();
  if (!*key || !label->VerifySignature((*key)->key).ok()) {
    return absl::UnauthenticatedError(
        "public_scan.label_url: not signed by a label key of this deployment");
  }
  // As the log issued it (a key's signature on other claims is a leaked
  // key's, not a label of the platform's).
  if (absl::StatusOr<label::IssuanceRecord> issued = label::MatchIssuance(state, *label);
      !issued.ok()) {
    if (absl::IsNotFound(issued.status()) || absl::IsFailedPrecondition(issued.status())) {
      return absl::FailedPreconditionError(
          "public_scan.label_url: the log holds no issuance of this label");
    }
    return issued.status();
  }
  const std::string code = label->claims.Code();
  absl::StatusOr<std::optional<CodeState>> now = FindCode(state, code);
  if (!now.ok()) return now.status();
  state::ScanSignalRecord signal;
  if (*now && (*now)->status == CodeStatus::kLost) {
    signal.set_kind(kLostPackageScanned);
  } else if (*now && IsTerminal((*now)->status)) {
    signal.set_kind(kEndedPackageScanned);
  } else {
    return absl::FailedPreconditionError(
        absl::StrCat("public_scan.label_url: ", code,
                     " is neither reported lost nor ended: a public scan of it is not recorded"));
  }
  signal.set_seen_by(kSeenByPublic);
  signal.set_custodian((*now)->custodian);
  signal.set_status(std::string(CodeStatusName((*now)->status)));
  signal.set_client_network(scan->client_network());
  signal.set_channel(scan->channel());
  changes->Put(internal::ScanSignalKey(entry.index, code), signal.SerializeAsString());
  return absl::OkStatus();
}

}  // namespace chemledger::ledger
