// Public scans as log entries (chemledger.v1.PublicScan, proto/chemledger/
// v1/public_scan.proto): a label scanned by someone the platform does not
// know, recorded by the server because the package is reported lost or
// stolen (someone is near it now) or has ended or been voided (the label
// may be a copy on another container). Each becomes a scan signal
// (code_state.h's ScanSignal, kinds kLostPackageScanned and
// kEndedPackageScanned, seen by "public") that the regulators' anomaly
// list, 公安 and the package's custodian read (ledger_reads.h).
//
// The entry is the server's and unsigned; the state machine takes it only
// when its label URL verifies with a label key the registry holds (revoked
// or not: a label issued before a revocation is still the platform's) and
// the package is lost, ended or voided as the entry is written, so nobody
// can put a scan of a label they never saw, or of a package in use, in the
// log. The request key is the SHA-256 of the code, the client's network
// and the hour: one entry per code, network and hour.
//
// Thread-safety: PublicScanRules is stateless.

#ifndef CHEMLEDGER_SERVICES_LEDGER_PUBLIC_SCANS_H_
#define CHEMLEDGER_SERVICES_LEDGER_PUBLIC_SCANS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "journal/state_machine.h"
#include "storage/store.h"

namespace chemledger::ledger {

// The rules epoch public scan entries are taken from (a server writing an
// older epoch's entries records none).
inline constexpr uint32_t kPublicScansRulesEpoch = 10;

// The China-time hour of `t`, as PublicScan.hour states it: "2026-12-01T18".
std::string PublicScanHour(absl::Time t);

class PublicScanRules final : public journal::StateMachine {
 public:
  absl::string_view name() const override { return "public-scans"; }
  std::vector<std::string> OwnedPayloadTypes() const override;
  // "pscan/<SHA-256 of code, network and hour, hex>".
  absl::StatusOr<std::optional<journal::RequestId>> RequestKey(
      const v1::SignedEnvelope& envelope) const override;
  // One scope: the server writes them all.
  absl::StatusOr<std::string> RequestScope(const v1::SignedEnvelope& envelope,
                                           const storage::StateReader& state) const override;
  // Also: `hour` is the hour of the entry's record time or the one before
  // (a scan is recorded within the hour after it).
  absl::Status Apply(const journal::EntryContext& entry, const storage::StateReader& state,
                     storage::StateWrites* changes) const override;
};

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_PUBLIC_SCANS_H_
