#include "services/ledger/observation_labels.h"

#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "crypto/label.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "services/common/refusal.h"
#include "services/registry/registry_state.h"

namespace chemledger::ledger {

using google::protobuf::internal::WireFormatLite;

bool CarriesLabels(absl::string_view payload) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(payload.data()),
                                            static_cast<int>(payload.size()));
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return false;  // the end, or bytes that are not a message
    if (WireFormatLite::GetTagFieldNumber(tag) == v1::Event::kLabelUrlsFieldNumber) return true;
    if (!WireFormatLite::SkipField(&in, tag)) return false;
  }
}

int LabelsGiven(const v1::Event& event) {
  int given = 0;
  for (const std::string& url : event.label_urls()) given += url.empty() ? 0 : 1;
  return given;
}

absl::Status CheckLabelSignatures(const storage::StateReader& state, const v1::Event& event) {
  if (event.step() != v1::OBSERVING || event.label_urls_size() != event.codes_size() ||
      event.codes_size() > api::kMaxCodesPerEvent) {
    return absl::OkStatus();
  }
  if (LabelsGiven(event) > api::kMaxLabelsPerObservation) return absl::OkStatus();
  // An observation's labels are usually a few label keys' (each parsed
  // once: parsing checks the point, as costly as a verification).
  std::map<crypto::KeyId, std::optional<crypto::VerifyingKey>> keys;
  for (int i = 0; i < event.label_urls_size(); ++i) {
    if (event.label_urls(i).empty()) continue;
    absl::StatusOr<crypto::ParsedLabel> label = crypto::ParseLabelUrl(event.label_urls(i));
    if (!label.ok() || label->claims.Code() != event.codes(i)) continue;
    auto known = keys.find(label->key_id);
    if (known == keys.end()) {
      absl::StatusOr<std::optional<registry::LabelKeyState>> key =
          registry::FindLabelKey(state, label->key_id);
      if (!key.ok()) return key.status();
      known = keys.emplace(label->key_id,
                           *key ? std::optional<crypto::VerifyingKey>((*key)->key) : std::nullopt)
                  .first;
    }
    if (!known->second || !label->VerifySignature(*known->second).ok()) {
      return WithRefusalKind(absl::PermissionDeniedError(absl::StrCat(
                                 "event.label_urls[", i, "]: not a label this ledger issued")),
                             "FORGED_LABEL");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckObservationLabels(const storage::StateReader& state,
                                    const v1::SignedEnvelope& envelope) {
  if (!CarriesLabels(envelope.payload())) return absl::OkStatus();
  v1::Event event;
  if (!event.ParseFromString(envelope.payload())) return absl::OkStatus();
  return CheckLabelSignatures(state, event);
}

registry::ContentCheck EventContentCheck(uint32_t rules_epoch) {
  if (rules_epoch < kLabelSignaturesRulesEpoch) return nullptr;
  return CheckObservationLabels;
}

}  // namespace chemledger::ledger
