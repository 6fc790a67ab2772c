// The lifecycle ledger's state: what each package or aggregate code is now,
// its history (the log indexes of its events), every enterprise that has held
// it, and where each event id is. Read from the store (at a snapshot, or in
// the journal's view while an entry is checked); changed only by
// LifecycleRules (lifecycle_rules.h). Key layout in the .cc and
// docs/architecture.md.
//
// Pure functions over a storage::StateReader; thread-safe as the reader is.

#ifndef CHEMLEDGER_SERVICES_LEDGER_CODE_STATE_H_
#define CHEMLEDGER_SERVICES_LEDGER_CODE_STATE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/wire.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chemledger/state/state.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/keys.h"
#include "storage/store.h"

namespace chemledger::ledger {

// The event's payload type and limits (api/wire.h).
using api::kEventContext;
using api::kMaxCodesPerEvent;
using api::kMaxEventEntryBytes;
using api::kMaxNesting;
using api::kMaxTouchedCodes;
// Most codes packed directly on one aggregate.
inline constexpr int kMaxChildren = api::kMaxCodesPerEvent;

enum class CodeStatus { kActive, kInTransit, kConsumed, kDisposed, kVoided, kLost };
absl::string_view CodeStatusName(CodeStatus status);
bool IsTerminal(CodeStatus status);

// What the ledger knows of one code now.
struct CodeState {
  std::string code;
  bool aggregate = false;      // a pallet or container code ("<USCC>.LU.<ID>")
  std::string enterprise;      // the issuing enterprise (packages) or the packer (aggregates)
  std::string product;         // packages only
  std::string unit;            // packages only
  uint64_t remaining_milli = 0;
  std::string custodian;       // USCC
  CodeStatus status = CodeStatus::kActive;
  std::string consignee;       // while in transit
  std::string parent;          // the aggregate it is packed on, if any
  std::set<std::string> children;  // aggregates only
  std::string site;            // where its custodian last put it (its events' location.site)
  bool on_hold = false;        // held (HOLDING) until released (RELEASING)
  bool recalled = false;       // recalled by its issuer or a regulator
  absl::Time last_event_time = absl::InfinitePast();
  std::optional<uint64_t> last_event_index;  // the log index of its latest event
  // The latest event that changed it (not an observation).
  std::optional<uint64_t> last_change_index;
  bool hold_by_regulator = false;  // on hold by a regulator: only a regulator releases it
  bool waste = false;              // declared hazardous waste (WASTE_DECLARING)
  std::string waste_code;          // its 国家危险废物名录 code
};

// The state of `code`, if the ledger has seen it.
absl::StatusOr<std::optional<CodeState>> FindCode(const storage::StateReader& state,
                                                  absl::string_view code);
// The state of `code` before its latest event; nullopt when that event
// created it (or the code is unknown).
absl::StatusOr<std::optional<CodeState>> FindCodeBeforeLatest(const storage::StateReader& state,
                                                              absl::string_view code);
// The log indexes of `code`'s events, in order.
absl::StatusOr<std::vector<uint64_t>> History(const storage::StateReader& state,
                                              absl::string_view code);
// Whether `uscc` holds or has held `code` (its issuer included).
absl::StatusOr<bool> HasHeld(const storage::StateReader& state, absl::string_view code,
                             absl::string_view uscc);

// Where event `event_id` of `enterprise` is (event ids are unique per
// recording enterprise), and which enterprise recorded it.
struct EventInfo {
  uint64_t log_index = 0;
  std::string enterprise;
};
absl::StatusOr<std::optional<EventInfo>> FindEvent(const storage::StateReader& state,
                                                   absl::string_view enterprise,
                                                   absl::string_view event_id);

// What the ledger says is at `custodian`'s `site` now: every package and
// aggregate in its custody whose last event there named that site and that
// is active (not in transit, lost, consumed, disposed of or voided), by
// code, after `after` ("" from the start), at most `limit`; *more when
// others follow.
absl::StatusOr<std::vector<CodeState>> ListStock(const storage::StateReader& state,
                                                 absl::string_view custodian,
                                                 absl::string_view site, absl::string_view after,
                                                 size_t limit, bool* more);

// Calls `visit` with the code of each package and aggregate in the stock
// index of `custodian` (ListStock's rule) at `site`, or at every site when
// `site` is empty, by site then code; stops when it returns false.
absl::Status ScanStockCodes(const storage::StateReader& state, absl::string_view custodian,
                            absl::string_view site,
                            const std::function<bool(absl::string_view code)>& visit);

// A scan its history cannot explain: an OBSERVING event of a package used
// up, disposed of or voided ("ended-package-seen"), or in another
// enterprise's custody and not on its way to the observer
// ("seen-away-from-custodian"); a public scan (public_scans.h) of a package
// reported lost ("lost-package-scanned") or ended or voided
// ("ended-package-scanned"). What the regulators' anomaly list reads.
inline constexpr char kLostPackageScanned[] = "lost-package-scanned";
inline constexpr char kEndedPackageScanned[] = "ended-package-scanned";
// ScanSignal.seen_by of a public scan.
inline constexpr char kSeenByPublic[] = "public";

struct ScanSignal {
  uint64_t log_index = 0;  // of the observation or the public scan entry
  std::string code;
  std::string kind;
  std::string seen_by;  // the observing enterprise; "public" for a public scan
  std::string custodian;
  std::string status;
  std::string client_network;  // a public scan's (PublicScan.client_network)
  std::string channel;         // a public scan's (PublicScan.channel)
  std::string earlier_seen_by;  // "seen-in-two-places": the earlier observer
};
// The signals after the one of (`after_index`, `after_code`) (0 and "":
// from the start; the last of a page to read the next), oldest first, at
// most `limit`. One observation may leave many signals, one per code.
absl::StatusOr<std::vector<ScanSignal>> ListScanSignals(const storage::StateReader& state,
                                                        uint64_t after_index,
                                                        absl::string_view after_code,
                                                        size_t limit);

// Whether `reader` may read `code`'s history: platform administrators
// always; a regulator when its department reads such packages and an
// enterprise that holds or held it is in its jurisdiction
// (registry/oversight.h); an enterprise's actors when the code is or was in
// their enterprise's custody. False for a code the ledger has not seen.
absl::StatusOr<bool> MayRead(const storage::StateReader& state, const v1::Actor& reader,
                             absl::string_view code);

namespace internal {
// For LifecycleRules: the state keys and records.
std::string CodeKey(absl::string_view code);
std::string HistoryKey(absl::string_view code, uint64_t index);
std::string HeldKey(absl::string_view code, absl::string_view uscc);
std::string EventKey(absl::string_view enterprise, absl::string_view event_id);
std::string ScanSignalKey(uint64_t index, absl::string_view code);
std::string LastSeenKey(absl::string_view code);
// The stock index key of `c` ("l/at/<custodian>/<site>/<code>"), or "" when
// it is not stock at a site (ListStock).
std::string StockKey(const CodeState& c);
state::CodeRecord ToRecord(const CodeState& s);
CodeState FromRecord(absl::string_view code, const state::CodeRecord& r);
}  // namespace internal

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_CODE_STATE_H_
