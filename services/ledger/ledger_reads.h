// What LedgerService's reads (GetEvent, GetHistory, ListStock,
// ListScanSignals, GetSiteLoad, ListSiteFlags) answer a reader whose
// identity is already established: the one place those reads are decided.
// The gRPC service (ledger_service.h) establishes the reader from the
// call's read credentials (raw_unary.h) and hands the snapshot they were
// checked at; it adds no rule and skips none. Fuzzed as it stands
// (tests/fuzz/read_requests_fuzzer.cc).
//
// Who learns what:
//   - An event, a history or stock that a reader may not read is refused
//     with PERMISSION_DENIED, and an unknown code or event is refused the
//     same way: who may not read it learns nothing, not even whether it
//     exists. Regulators whose department and jurisdiction cover the
//     enterprise get NOT_FOUND for what is not there.
//   - What is at a site (stock, load) is read by the site's own enterprise,
//     by regulators whose department reads sites and whose jurisdiction
//     holds the enterprise, and by responders who broke glass for that site.
//   - Scan signals and site flags: regulators, each within jurisdiction.
// Every answer carries the log size it was read at.
//
// Thread-safety: thread-safe (const, no state of its own). `tables` is not
// owned and must outlive the object.

#ifndef CHEMLEDGER_SERVICES_LEDGER_LEDGER_READS_H_
#define CHEMLEDGER_SERVICES_LEDGER_LEDGER_READS_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chemledger/v1/ledger_service.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "reference/reference_tables.h"
#include "storage/store.h"

namespace chemledger::ledger {

// A history page: at most this many events, and this many bytes of them
// (the events of a page never add up to more, so the whole answer stays
// under the 4 MiB a gRPC client receives by default; a page holds at least
// one event, and one is at most about 2 MiB even whole).
inline constexpr size_t kMaxHistoryPage = 1000;
inline constexpr size_t kMaxHistoryPageBytes = (4 << 20) - (64 << 10);

class LedgerReads {
 public:
  // `tables` holds the segregation table GetSiteLoad assesses against;
  // `clock` says when "now" is for break-glass grants (empty: the real
  // clock).
  explicit LedgerReads(const reference::ReferenceTables* tables,
                       std::function<absl::Time()> clock = nullptr);

  absl::StatusOr<v1::EventRecord> GetEvent(const storage::Snapshot& snapshot,
                                           const v1::Actor& reader,
                                           const v1::GetEventRequest& request) const;
  // A page of a code's history (at most 1000 events and 4 MiB).
  absl::StatusOr<v1::History> GetHistory(const storage::Snapshot& snapshot, const v1::Actor& reader,
                                         const v1::GetHistoryRequest& request) const;
  absl::StatusOr<v1::Stock> ListStock(const storage::Snapshot& snapshot, const v1::Actor& reader,
                                      const v1::ListStockRequest& request) const;
  absl::StatusOr<v1::ScanSignals> ListScanSignals(const storage::Snapshot& snapshot,
                                                  const v1::Actor& reader,
                                                  const v1::ListScanSignalsRequest& request) const;
  absl::StatusOr<v1::SiteLoad> GetSiteLoad(const storage::Snapshot& snapshot,
                                           const v1::Actor& reader,
                                           const v1::GetSiteLoadRequest& request) const;
  absl::StatusOr<v1::SiteFlags> ListSiteFlags(const storage::Snapshot& snapshot,
                                              const v1::Actor& reader,
                                              const v1::ListSiteFlagsRequest& request) const;

 private:
  // Whether `reader` may read what is at `site` of `custodian` (see above).
  absl::Status MayReadSite(const storage::Snapshot& snapshot, const v1::Actor& reader,
                           const std::string& custodian, const std::string& site) const;

  const reference::ReferenceTables* const tables_;
  const std::function<absl::Time()> clock_;
};

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_LEDGER_READS_H_
