#include "tools/chemaudit/anomaly_evidence.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/major_hazard.pb.h"
#include "chemledger/v1/public_scan.pb.h"
#include "chemledger/v1/refusal.pb.h"
#include "crypto/label.h"
#include "google/protobuf/util/message_differencer.h"

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

}  // namespace chemledger::chemaudit
