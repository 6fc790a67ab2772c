#include "services/audit/audit_reads.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "services/audit/anomalies.h"
#include "services/audit/event_query.h"
#include "services/audit/history_bundle.h"
#include "services/audit/in_transit.h"
#include "services/audit/major_hazard_sites.h"
#include "services/audit/query_bundle.h"
#include "services/audit/reconciliation.h"
#include "services/audit/stock_query.h"
#include "services/common/page_cursor.h"
#include "services/ledger/code_state.h"
#include "services/ledger/event_view.h"
#include "services/registry/oversight.h"

namespace chemledger::audit {
namespace {

// The most bytes of events a page carries (gRPC's default message limit is
// 4 MiB).
constexpr size_t kMaxEventPageBytes = 3 << 20;

}  // namespace

AuditReads::AuditReads(journal::LedgerClient* ledger, const notary::LedgerNotary* notary,
                       std::function<absl::Time()> clock)
    : ledger_(ledger),
      notary_(notary),
      clock_(clock ? std::move(clock) : [] { return absl::Now(); }) {}

absl::StatusOr<v1::HistoryBundle> AuditReads::GetHistoryBundle(
    const storage::Snapshot& snapshot, const v1::Actor& reader,
    const v1::GetHistoryBundleRequest& request) const {
  if (!registry::HasOversightRole(reader)) {
    return absl::PermissionDeniedError(
        "AuditService is for regulators and platform administrators");
  }
  if (request.code().empty()) return absl::InvalidArgumentError("code: is required");
  // A package held, now or before, by an enterprise within the regulator's
  // jurisdiction; who may not read it learns nothing of it.
  absl::StatusOr<bool> may = ledger::MayRead(snapshot, reader, request.code());
  if (!may.ok()) return may.status();
  if (!*may) {
    return absl::PermissionDeniedError(
        absl::StrCat("code: ", request.code(), " is not yours to read (outside your jurisdiction, ",
                     registry::JurisdictionText(reader), ", or unknown)"));
  }
  // A bundle holds every event whole (with the other codes it names):
  // given to a regulator that may read all of them, as GetHistory would
  // show them (docs/audit.md).
  if (registry::DepartmentReads(reader, registry::RecordKind::kPackages) != registry::Reads::kAll) {
    return absl::PermissionDeniedError(
        absl::StrCat("a history bundle holds its events whole, and ",
                     registry::DepartmentText(reader),
                     " reads only part of them: use LedgerService.GetHistory"));
  }
  absl::StatusOr<v1::HistoryBundle> bundle =
      BuildHistoryBundle(snapshot, *notary_, request.code(), request.consistency_from_size());
  if (!bundle.ok()) return bundle.status();
  if (!registry::OverseesEverything(reader)) {
    for (const v1::ProvenEntry& e : bundle->events()) {
      v1::LogEntry entry;
      v1::Event event;
      if (!entry.ParseFromString(e.entry_bytes()) ||
          !event.ParseFromString(entry.envelope().payload())) {
        return absl::DataLossError("an event entry does not parse");
      }
      absl::StatusOr<bool> oversees =
          registry::OverseesEnterprise(snapshot, reader, event.location().enterprise_uscc());
      if (!oversees.ok()) return oversees.status();
      if (!*oversees) {
        return absl::PermissionDeniedError(absl::StrCat(
            "code: ", request.code(), " has events recorded outside your jurisdiction (",
            registry::JurisdictionText(reader),
            "), which a bundle would hold whole: use LedgerService.GetHistory"));
      }
    }
  }
  return bundle;
}

absl::StatusOr<v1::Reconciliation> AuditReads::Reconcile(const storage::Snapshot& snapshot,
                                                         const v1::Actor& reader,
                                                         const v1::ReconcileRequest& request,
                                                         std::function<bool()> cancelled) const {
  return audit::Reconcile(snapshot, reader, request, cancelled);
}

absl::StatusOr<v1::EventPage> AuditReads::QueryEvents(
    std::shared_ptr<const storage::Snapshot> latest, const v1::Actor& reader,
    const v1::EventQuery& request) const {
  if (request.page_size() > kMaxEventPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: at most ", kMaxEventPageSize));
  }
  const uint32_t page_size =
      request.page_size() == 0 ? kDefaultEventPageSize : request.page_size();
  std::shared_ptr<const storage::Snapshot> snapshot = std::move(latest);
  std::optional<ledger::EventPosition> after;
  if (!request.page_token().empty()) {
    // "<log size>/<event time, µs>/<log index>", sealed (page_cursor.h).
    absl::StatusOr<std::string> position = OpenPageCursor(request.page_token());
    std::vector<std::string> parts;
    if (position.ok()) parts = absl::StrSplit(*position, '/');
    uint64_t size = 0;
    ledger::EventPosition at;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &size) ||
        !absl::SimpleAtoi(parts[1], &at.event_unix_micros) ||
        !absl::SimpleAtoi(parts[2], &at.log_index)) {
      return absl::InvalidArgumentError(
          "page_token: not a token this server gave (EventPage.next_page_token)");
    }
    absl::StatusOr<std::shared_ptr<const storage::Snapshot>> kept = ledger_->At(size);
    if (!kept.ok()) return kept.status();
    snapshot = *std::move(kept);
    after = at;
  }
  absl::StatusOr<EventQueryPage> page =
      audit::QueryEvents(*snapshot, reader, request, after, page_size);
  if (!page.ok()) return page.status();
  // Each event as GetEvent shows it, at most kMaxEventPageBytes of them.
  v1::EventPage response;
  std::optional<ledger::EventPosition> next = page->next;
  size_t bytes = 0;
  for (size_t i = 0; i < page->events.size(); ++i) {
    absl::StatusOr<v1::EventRecord> record =
        ledger::ViewEvent(*snapshot, reader, page->events[i].log_index);
    if (!record.ok()) return record.status();
    bytes += record->ByteSizeLong();
    if (bytes > kMaxEventPageBytes && i > 0) {
      next = page->events[i - 1];
      break;
    }
    *response.add_events() = *std::move(record);
  }
  response.set_log_size(snapshot->size());
  if (next) {
    ledger_->Keep(snapshot);
    response.set_next_page_token(SealPageCursor(
        absl::StrCat(snapshot->size(), "/", next->event_unix_micros, "/", next->log_index)));
  }
  return response;
}

absl::StatusOr<v1::Anomalies> AuditReads::ListAnomalies(
    const storage::Snapshot& snapshot, const v1::Actor& reader,
    const v1::ListAnomaliesRequest& request) const {
  return audit::ListAnomalies(snapshot, reader, request, clock_());
}

absl::Status AuditReads::ExportEvents(
    const storage::Snapshot& snapshot, const v1::Actor& reader,
    const v1::ExportEventsRequest& request,
    const std::function<bool(const v1::QueryBundlePart&)>& emit) const {
  return ExportQueryBundle(snapshot, reader, *notary_, api::ChinaDay(clock_()), request, emit);
}

absl::StatusOr<v1::InTransitReport> AuditReads::QueryInTransit(
    const storage::Snapshot& snapshot, const v1::Actor& reader,
    const v1::InTransitQuery& request) const {
  return audit::QueryInTransit(snapshot, reader, request, clock_());
}

absl::StatusOr<v1::MajorHazardSites> AuditReads::ListMajorHazardSites(
    const storage::Snapshot& snapshot, const v1::Actor& reader,
    const v1::MajorHazardSitesQuery& request) const {
  return audit::ListMajorHazardSites(snapshot, reader, request);
}

absl::StatusOr<v1::StockReport> AuditReads::QueryStock(const storage::Snapshot& snapshot,
                                                       const v1::Actor& reader,
                                                       const v1::StockQuery& request) const {
  return audit::QueryStock(snapshot, reader, request);
}

}  // namespace chemledger::audit
