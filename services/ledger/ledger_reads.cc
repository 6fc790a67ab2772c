#include "services/ledger/ledger_reads.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "services/common/page_cursor.h"
#include "services/common/page_size.h"
#include "services/common/text_length.h"
#include "services/ledger/code_state.h"
#include "services/ledger/event_view.h"
#include "services/ledger/major_hazard.h"
#include "services/ledger/site_load.h"
#include "services/registry/logged_reference_tables.h"
#include "services/registry/oversight.h"
#include "services/registry/read_access.h"
#include "services/registry/registry_state.h"

namespace chemledger::ledger {
namespace {

absl::Status Denied(absl::string_view what) {
  return absl::PermissionDeniedError(
      absl::StrCat("read credentials: this actor may not read ", what,
                   " (only regulators, and enterprises that held it)"));
}

}  // namespace

LedgerReads::LedgerReads(const reference::ReferenceTables* tables,
                         std::function<absl::Time()> clock)
    : tables_(tables), clock_(clock ? std::move(clock) : [] { return absl::Now(); }) {}

absl::StatusOr<v1::EventRecord> LedgerReads::GetEvent(const storage::Snapshot& snapshot,
                                                      const v1::Actor& reader,
                                                      const v1::GetEventRequest& request) const {
  // Who may not read an event learns nothing about it, not even whether it
  // exists.
  const absl::Status denied = Denied(absl::StrCat("event '", request.event_id(), "'"));
  const std::string& recorder =
      request.enterprise_uscc().empty() ? reader.enterprise_uscc() : request.enterprise_uscc();
  if (recorder.empty()) {
    return absl::InvalidArgumentError(
        "enterprise_uscc: name the enterprise that recorded the event (event ids are unique "
        "per enterprise)");
  }
  // A regulator whose jurisdiction holds the recording enterprise reads its
  // events whole.
  absl::StatusOr<bool> oversees =
      registry::OverseesAllOf(snapshot, reader, registry::RecordKind::kPackages, recorder);
  if (!oversees.ok()) return oversees.status();
  const bool regulator = *oversees;
  absl::StatusOr<std::optional<EventInfo>> info = FindEvent(snapshot, recorder, request.event_id());
  if (!info.ok()) return info.status();
  if (!*info) {
    return regulator ? absl::NotFoundError(absl::StrCat(
                           "event_id: ", recorder, " recorded no event '", request.event_id(), "'"))
                     : denied;
  }
  if (!regulator && (*info)->enterprise != reader.enterprise_uscc()) {
    // Another enterprise's event: readable if it touched a code this reader
    // may read (and then shown with only those codes: event_view.h).
    absl::StatusOr<std::string> bytes = snapshot.Entry((*info)->log_index);
    if (!bytes.ok()) return bytes.status();
    v1::LogEntry entry;
    v1::EventLinks links;
    if (!entry.ParseFromString(*bytes) || !links.ParseFromString(entry.assignment())) {
      return absl::DataLossError(
          absl::StrCat("log entry ", (*info)->log_index, " is not an event"));
    }
    bool any = false;
    for (const auto& link : links.links()) {
      absl::StatusOr<bool> may = MayRead(snapshot, reader, link.code());
      if (!may.ok()) return may.status();
      if ((any = *may)) break;
    }
    if (!any) return denied;
  }
  absl::StatusOr<v1::EventRecord> record = ViewEvent(snapshot, reader, (*info)->log_index);
  if (!record.ok()) return record.status();
  return *std::move(record);
}

absl::StatusOr<v1::History> LedgerReads::GetHistory(const storage::Snapshot& snapshot,
                                                    const v1::Actor& reader,
                                                    const v1::GetHistoryRequest& request) const {
  v1::History response;
  // MayRead is false for unknown codes: who may not read a code learns
  // nothing about it, not even whether it exists.
  absl::StatusOr<bool> may = MayRead(snapshot, reader, request.code());
  if (!may.ok()) return may.status();
  if (!*may) return Denied(absl::StrCat("the history of ", request.code()));
  absl::StatusOr<std::optional<CodeState>> state = FindCode(snapshot, request.code());
  if (!state.ok()) return state.status();
  if (!*state) {
    return absl::NotFoundError(absl::StrCat("code: '", request.code(), "' is not in the ledger"));
  }
  absl::StatusOr<std::vector<uint64_t>> history = History(snapshot, request.code());
  if (!history.ok()) return history.status();
  const CodeState& s = **state;
  response.set_code(s.code);
  response.set_status(std::string(CodeStatusName(s.status)));
  response.set_custodian(s.custodian);
  response.set_remaining_milli(s.remaining_milli);
  response.set_unit(s.unit);
  response.set_parent(s.parent);
  response.set_log_size(snapshot.size());
  // A page: bounded in events and bytes.
  if (request.page_size() > kMaxHistoryPage) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: at most ", kMaxHistoryPage));
  }
  const size_t page_size = request.page_size() == 0 ? kMaxHistoryPage : request.page_size();
  uint64_t after = 0;
  const bool from_start = request.page_token().empty();
  if (!from_start && !absl::SimpleAtoi(request.page_token(), &after)) {
    return absl::InvalidArgumentError(
        "page_token: not a token this server gave (History.next_page_token)");
  }
  size_t bytes = 0;
  const auto end_page = [&] {
    response.set_next_page_token(
        absl::StrCat(response.events(response.events_size() - 1).log_index()));
  };
  for (uint64_t index : *history) {
    if (!from_start && index <= after) continue;
    if (static_cast<size_t>(response.events_size()) >= page_size) {
      end_page();
      break;
    }
    absl::StatusOr<v1::EventRecord> record = ViewEvent(snapshot, reader, index);
    if (!record.ok()) return record.status();
    const size_t record_bytes = record->ByteSizeLong();
    // The event that would take the page past its bytes starts the next one.
    if (response.events_size() > 0 && bytes + record_bytes > kMaxHistoryPageBytes) {
      end_page();
      break;
    }
    bytes += record_bytes;
    *response.add_events() = *std::move(record);
  }
  return response;
}

absl::StatusOr<v1::Stock> LedgerReads::ListStock(const storage::Snapshot& snapshot,
                                                 const v1::Actor& reader,
                                                 const v1::ListStockRequest& request) const {
  v1::Stock response;
  const std::string custodian =
      request.enterprise_uscc().empty() ? reader.enterprise_uscc() : request.enterprise_uscc();
  if (absl::Status may = MayReadSite(snapshot, reader, custodian, request.site()); !may.ok()) {
    return may;
  }
  absl::StatusOr<size_t> limit = PageSizeOf(request.page_size(), 1000);
  if (!limit.ok()) return limit.status();
  bool more = false;
  absl::StatusOr<std::vector<CodeState>> stock =
      ledger::ListStock(snapshot, custodian, request.site(), request.page_token(), *limit, &more);
  if (!stock.ok()) return stock.status();
  for (const CodeState& c : *stock) {
    v1::Stock::Item* item = response.add_items();
    item->set_code(c.code);
    item->set_aggregate(c.aggregate);
    item->set_product(c.product);
    item->set_remaining_milli(c.remaining_milli);
    item->set_unit(c.unit);
    item->set_parent(c.parent);
    item->set_on_hold(c.on_hold);
    item->set_recalled(c.recalled);
  }
  if (more && !stock->empty()) response.set_next_page_token(stock->back().code);
  response.set_log_size(snapshot.size());
  return response;
}

absl::StatusOr<v1::ScanSignals> LedgerReads::ListScanSignals(
    const storage::Snapshot& snapshot, const v1::Actor& reader,
    const v1::ListScanSignalsRequest& request) const {
  v1::ScanSignals response;
  // An enterprise's actors read the public scans of its lost packages (its
  // stolen drum was scanned: when, and through what), not where from, nor
  // the scans of its ended packages (a possible copy: the custodian may be
  // the one who refilled it); the regulators whose department reads scan
  // signals read all within their jurisdiction.
  const bool own_public_scans_only =
      !reader.enterprise_uscc().empty() && !registry::HasOversightRole(reader);
  if (!own_public_scans_only &&
      registry::DepartmentReads(reader, registry::RecordKind::kScanSignals) !=
          registry::Reads::kAll) {
    return Denied("the scan signals");
  }
  absl::StatusOr<size_t> limit = PageSizeOf(request.page_size(), 1000);
  if (!limit.ok()) return limit.status();
  // A page token is "<log index>/<code>" of the last signal a page
  // examined, sealed (page_cursor.h): it may be one the reader does not see.
  uint64_t after_index = 0;
  std::string after_code;
  if (!request.page_token().empty()) {
    absl::StatusOr<std::string> position = OpenPageCursor(request.page_token());
    if (!position.ok()) return position.status();
    const size_t slash = position->find('/');
    if (slash == std::string::npos || !absl::SimpleAtoi(position->substr(0, slash), &after_index)) {
      return absl::InvalidArgumentError(
          "page_token: not a token this server "
          "gave (ScanSignals.next_page_token)");
    }
    after_code = position->substr(slash + 1);
  }
  absl::StatusOr<std::vector<ScanSignal>> signals =
      ledger::ListScanSignals(snapshot, after_index, after_code, *limit + 1);
  if (!signals.ok()) return signals.status();
  const bool more = signals->size() > *limit;
  if (more) signals->pop_back();
  registry::OversightMemo memo(snapshot, reader);
  for (const ScanSignal& s : *signals) {
    if (own_public_scans_only) {
      if (s.kind != kLostPackageScanned || s.custodian != reader.enterprise_uscc()) continue;
    } else {
      // Those about an enterprise within the regulator's jurisdiction: the
      // package's custodian or the enterprise that saw it.
      absl::StatusOr<bool> custodian = memo.Enterprise(s.custodian);
      if (!custodian.ok()) return custodian.status();
      if (!*custodian) {
        absl::StatusOr<bool> seer = memo.Enterprise(s.seen_by);
        if (!seer.ok()) return seer.status();
        if (!*seer) continue;
      }
    }
    v1::ScanSignals::Signal* out = response.add_signals();
    out->set_log_index(s.log_index);
    out->set_code(s.code);
    out->set_kind(s.kind);
    out->set_seen_by(s.seen_by);
    out->set_custodian(s.custodian);
    out->set_status(s.status);
    if (!own_public_scans_only) out->set_client_network(s.client_network);
    out->set_channel(s.channel);
    out->set_earlier_seen_by(s.earlier_seen_by);
  }
  if (more && !signals->empty()) {
    response.set_next_page_token(
        SealPageCursor(absl::StrCat(signals->back().log_index, "/", signals->back().code)));
  }
  response.set_log_size(snapshot.size());
  return response;
}

absl::StatusOr<v1::SiteLoad> LedgerReads::GetSiteLoad(const storage::Snapshot& snapshot,
                                                      const v1::Actor& reader,
                                                      const v1::GetSiteLoadRequest& request) const {
  v1::SiteLoad response;
  const std::string custodian =
      request.enterprise_uscc().empty() ? reader.enterprise_uscc() : request.enterprise_uscc();
  if (absl::Status may = MayReadSite(snapshot, reader, custodian, request.site()); !may.ok()) {
    return may;
  }
  absl::StatusOr<std::vector<ClassLoad>> loads = SiteLoads(snapshot, custodian, request.site());
  if (!loads.ok()) return loads.status();
  absl::StatusOr<std::optional<v1::Site>> site =
      registry::FindSite(snapshot, custodian, request.site());
  if (!site.ok()) return site.status();
  // The tables as the log has them now (an imported segregation table in
  // force), over the compiled-in ones.
  const registry::LoggedReferenceTables tables(snapshot, *tables_);
  const SiteAssessment assessment =
      AssessSiteLoad(site->has_value() ? &**site : nullptr, *loads, tables);
  const auto add_load = [](const ClassLoad& l, v1::SiteLoad::ClassLoad* out) {
    out->set_hazard_class(l.hazard_class);
    out->set_unit(l.unit);
    out->set_load_milli(l.milli);
  };
  response.set_registered_site(site->has_value());
  for (const ClassLoad& l : *loads) add_load(l, response.add_loads());
  for (const SiteAssessment::Capacity& c : assessment.capacities) {
    v1::SiteLoad::Capacity* out = response.add_capacities();
    out->set_hazard_class(c.capacity.hazard_class());
    out->set_unit(c.capacity.unit());
    out->set_capacity_milli(c.capacity.capacity_milli());
    out->set_load_milli(c.load_milli);
    out->set_over_capacity(c.over);
  }
  for (const ClassLoad& l : assessment.uncovered) add_load(l, response.add_uncovered());
  response.set_segregation_assessed(assessment.segregation_table_available);
  for (const SiteAssessment::Incompatible& i : assessment.incompatible) {
    v1::SiteLoad::IncompatibleClasses* out = response.add_incompatible();
    out->set_class_a(i.class_a);
    out->set_class_b(i.class_b);
    out->set_requirement(i.requirement);
  }
  if (site->has_value()) {
    absl::StatusOr<std::vector<ProductLoad>> products =
        SiteProductLoads(snapshot, custodian, request.site());
    if (!products.ok()) return products.status();
    absl::StatusOr<v1::MajorHazardAssessment> major_hazard =
        AssessMajorHazard(snapshot, *products, (*site)->exposure_correction_tenths());
    if (!major_hazard.ok()) return major_hazard.status();
    *response.mutable_major_hazard() = *std::move(major_hazard);
  }
  response.set_log_size(snapshot.size());
  return response;
}

absl::StatusOr<v1::SiteFlags> LedgerReads::ListSiteFlags(
    const storage::Snapshot& snapshot, const v1::Actor& reader,
    const v1::ListSiteFlagsRequest& request) const {
  v1::SiteFlags response;
  if (registry::HasOversightRole(reader) &&
      registry::DepartmentReads(reader, registry::RecordKind::kSites) != registry::Reads::kAll) {
    return Denied(absl::StrCat("site flags (not read by ", registry::DepartmentText(reader), ")"));
  }
  const bool oversight = registry::HasOversightRole(reader);
  const std::string enterprise = request.enterprise_uscc().empty() && !oversight
                                     ? reader.enterprise_uscc()
                                     : request.enterprise_uscc();
  if (!oversight && (enterprise.empty() || enterprise != reader.enterprise_uscc())) {
    return Denied(
        absl::StrCat("the site flags of ", enterprise.empty() ? "every enterprise" : enterprise));
  }
  if (oversight && !enterprise.empty()) {
    absl::StatusOr<bool> oversees = registry::OverseesEnterprise(snapshot, reader, enterprise);
    if (!oversees.ok()) return oversees.status();
    if (!*oversees) return Denied(absl::StrCat("the site flags of ", enterprise));
  }
  absl::StatusOr<size_t> limit = PageSizeOf(request.page_size(), 1000);
  if (!limit.ok()) return limit.status();
  uint64_t after = 0;
  if (!request.page_token().empty()) {
    absl::StatusOr<std::string> position = OpenPageCursor(request.page_token());
    if (!position.ok()) return position.status();
    if (!absl::SimpleAtoi(*position, &after)) {
      return absl::InvalidArgumentError("page_token: not a next_page_token of ListSiteFlags");
    }
  }
  bool more = false;
  absl::StatusOr<std::vector<state::SiteFlagRecord>> flags =
      ledger::ListSiteFlags(snapshot, enterprise, after, *limit, &more);
  if (!flags.ok()) return flags.status();
  registry::OversightMemo memo(snapshot, reader);
  for (const state::SiteFlagRecord& r : *flags) {
    // Of every enterprise: those within the regulator's jurisdiction.
    if (oversight && enterprise.empty()) {
      absl::StatusOr<bool> oversees = memo.Enterprise(r.custodian());
      if (!oversees.ok()) return oversees.status();
      if (!*oversees) continue;
    }
    v1::SiteFlags::Flag* f = response.add_flags();
    f->set_log_index(r.log_index());
    f->set_kind(r.kind());
    f->set_enterprise_uscc(r.custodian());
    f->set_site(r.site());
    f->set_hazard_class(r.capacity_class());
    f->set_unit(r.unit());
    f->set_capacity_milli(r.capacity_milli());
    f->set_load_milli(r.load_milli());
    f->set_event_unix_seconds(r.event_unix_seconds());
    f->set_cas(r.cas());
  }
  if (more && !flags->empty()) {
    response.set_next_page_token(SealPageCursor(absl::StrCat(flags->back().log_index())));
  }
  response.set_log_size(snapshot.size());
  return response;
}

absl::Status LedgerReads::MayReadSite(const storage::Snapshot& snapshot, const v1::Actor& reader,
                                      const std::string& custodian, const std::string& site) const {
  if (custodian.empty()) {
    return absl::InvalidArgumentError("enterprise_uscc: is required (you belong to no enterprise)");
  }
  if (!HasOneToCharacters(site, 64)) {
    return absl::InvalidArgumentError("site: 1 to 64 characters");
  }
  if (registry::HasOversightRole(reader)) {
    if (registry::DepartmentReads(reader, registry::RecordKind::kSites) != registry::Reads::kAll) {
      return absl::PermissionDeniedError(
          absl::StrCat("site: what is at sites is not read by ", registry::DepartmentText(reader)));
    }
    absl::StatusOr<bool> oversees = registry::OverseesEnterprise(snapshot, reader, custodian);
    if (!oversees.ok()) return oversees.status();
    if (*oversees) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat("enterprise_uscc: ", custodian,
                                                    " is outside your "
                                                    "jurisdiction (",
                                                    registry::JurisdictionText(reader), ")"));
  }
  // An emergency responder reads what is at a site after breaking glass
  // for it (RegistryRequest.break_glass, recorded in the log first).
  if (reader.role() == v1::RESPONDER) {
    absl::StatusOr<bool> granted =
        registry::HasBreakGlass(snapshot, reader, custodian, site, clock_());
    if (!granted.ok()) return granted.status();
    if (!*granted) {
      return absl::PermissionDeniedError(
          absl::StrCat("site: no break-glass access to ", custodian, "'s site '", site,
                       "' (RegistryRequest.break_glass, recorded first)"));
    }
    return absl::OkStatus();
  }
  if (custodian != reader.enterprise_uscc())
    return Denied(absl::StrCat("the stock of ", custodian));
  return absl::OkStatus();
}

}  // namespace chemledger::ledger
