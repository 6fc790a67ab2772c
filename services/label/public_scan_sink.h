// Where the scan services tell of an anonymous scan whose answer may call
// for a record (services/ledger/public_scan_recorder.h decides and records):
// LabelService.ResolveLabel, VerifyService.Verify and the scan pages call
// it after answering, for every label they resolved for someone the
// platform does not know. It must never block nor fail the scan.
//
// Thread-safety: implementations are called from many threads at once.

#ifndef CHEMLEDGER_SERVICES_LABEL_PUBLIC_SCAN_SINK_H_
#define CHEMLEDGER_SERVICES_LABEL_PUBLIC_SCAN_SINK_H_

#include "absl/strings/string_view.h"
#include "chemledger/v1/label_service.pb.h"

namespace chemledger::label {

class PublicScanSink {
 public:
  virtual ~PublicScanSink() = default;
  // `label_url` was scanned by an anonymous caller at `client_address`
  // (rate_limiter.h's ClientAddress form) through `channel` ("scan-page",
  // "verify", "resolve-label") and resolved to `answer`.
  virtual void Scanned(absl::string_view label_url, const v1::ResolveLabelResponse& answer,
                       absl::string_view client_address, absl::string_view channel) = 0;
};

}  // namespace chemledger::label

#endif  // CHEMLEDGER_SERVICES_LABEL_PUBLIC_SCAN_SINK_H_
