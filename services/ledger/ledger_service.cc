#include "services/ledger/ledger_service.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "chemledger/v1/ledger.pb.h"
#include "crypto/merkle.h"
#include "services/registry/oversight.h"
#include "services/common/grpc_status.h"
#include "services/common/incoming_call.h"
#include "services/common/page_cursor.h"
#include "services/common/page_size.h"
#include "services/common/raw_unary.h"
#include "services/ledger/event_view.h"
#include "services/ledger/site_load.h"
#include "services/common/stream_batches.h"
#include "services/common/snapshot_metadata.h"
#include "services/registry/read_access.h"
#include "services/registry/registry_state.h"

namespace chemledger::ledger {
namespace {

void FillReceipt(const EventReceipt& receipt, v1::AppendResponse* out) {
  out->set_log_index(receipt.log_index);
  out->set_replayed(receipt.replayed);
  out->set_event_hash(receipt.event_hash.ToBytes());
}

grpc::Status Denied(absl::string_view what) {
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      absl::StrCat("read credentials: this actor may not read ", what,
                                   " (only regulators, and enterprises that held it)"));
}

}  // namespace

grpc::Status LedgerServiceImpl::Append(grpc::ServerContext* context,
                                       const v1::SignedEnvelope* request,
                                       v1::AppendResponse* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  absl::StatusOr<EventReceipt> receipt = ledger_->Append(*request);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  FillReceipt(*receipt, response);
  return grpc::Status::OK;
}

std::vector<v1::AppendResult> LedgerServiceImpl::AnswerBatch(
    registry::StreamGate::Ticket& ticket, const std::vector<const v1::SignedEnvelope*>& batch) {
  const auto as_result = [](const absl::StatusOr<EventReceipt>& receipt) {
    v1::AppendResult result;
    if (receipt.ok()) {
      FillReceipt(*receipt, result.mutable_receipt());
    } else {
      result.set_code(static_cast<int>(receipt.status().code()));
      result.set_message(std::string(receipt.status().message()));
    }
    return result;
  };
  std::shared_ptr<const storage::Snapshot> snapshot = client_->Latest();
  return registry::AnswerForStreamEnterprise<v1::AppendResult>(
      ticket, *snapshot, batch,
      [&](const absl::Status& refused) { return as_result(refused); },
      [&](const std::vector<const v1::SignedEnvelope*>& admitted) {
        std::vector<v1::AppendResult> results;
        results.reserve(admitted.size());
        for (const absl::StatusOr<EventReceipt>& receipt : ledger_->AppendBatch(admitted)) {
          results.push_back(as_result(receipt));
        }
        return results;
      });
}

grpc::Status LedgerServiceImpl::AppendStream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::AppendResult, v1::SignedEnvelope>* stream) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  registry::StreamGate::Ticket ticket =
      streams_.Enter(*client_->Latest(), *context, kAppendStreamMethod);
  if (!ticket.ok()) return ToGrpcStatus(ticket.status());
  StreamBatchLimits limits{kMaxBatchEvents, kMaxQueuedEvents, kMaxQueuedBytes};
  limits.timeouts = stream_options_.timeouts;
  return AnswerInBatches<v1::SignedEnvelope, v1::AppendResult>(
      context, stream, limits, [&](std::vector<v1::SignedEnvelope>& batch) {
        std::vector<const v1::SignedEnvelope*> pointers;
        pointers.reserve(batch.size());
        for (const v1::SignedEnvelope& e : batch) pointers.push_back(&e);
        return AnswerBatch(ticket, pointers);
      });
}

grpc::Status LedgerServiceImpl::AppendBatches(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::EventBatchResult, v1::EventBatch>* stream) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  registry::StreamGate::Ticket ticket =
      streams_.Enter(*client_->Latest(), *context, kAppendBatchesMethod);
  if (!ticket.ok()) return ToGrpcStatus(ticket.status());
  StreamWatchdog watchdog([context] { context->TryCancel(); }, stream_options_.timeouts);
  v1::EventBatch batch;
  while (stream->Read(&batch)) {
    watchdog.Active();
    if (batch.events_size() > kMaxEventsPerBatchMessage) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("events: ", batch.events_size(), " events in one batch; at most ",
                                       kMaxEventsPerBatchMessage));
    }
    std::vector<const v1::SignedEnvelope*> events;
    events.reserve(batch.events_size());
    for (const v1::SignedEnvelope& e : batch.events()) events.push_back(&e);
    v1::EventBatchResult out;
    for (v1::AppendResult& result : AnswerBatch(ticket, events)) {
      *out.add_results() = std::move(result);
    }
    watchdog.WriteStarted();
    const bool written = stream->Write(out);
    watchdog.WriteDone();
    if (!written) break;
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* LedgerServiceImpl::GetEvent(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::GetEventRequest, v1::EventRecord>(
      context, request, response, read_executor_,
      [this, context](const v1::GetEventRequest* r, absl::string_view bytes, v1::EventRecord* out) {
        return ServeGetEvent(context, r, bytes, out);
      });
}

grpc::Status LedgerServiceImpl::ServeGetEvent(grpc::ServerContextBase* context,
                                           const v1::GetEventRequest* request,
                                           absl::string_view request_bytes,
                                           v1::EventRecord* response) {
  absl::StatusOr<Reading> reading = BeginRead(context, kGetEventMethod, request_bytes);
  if (!reading.ok()) return ToGrpcStatus(reading.status());
  const std::shared_ptr<const storage::Snapshot>& snapshot = reading->snapshot;
  const v1::Actor* const reader = &reading->reader;
  // Who may not read an event learns nothing about it, not even whether it
  // exists.
  const grpc::Status denied = Denied(absl::StrCat("event '", request->event_id(), "'"));
  const std::string& recorder =
      request->enterprise_uscc().empty() ? reader->enterprise_uscc() : request->enterprise_uscc();
  if (recorder.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "enterprise_uscc: name the enterprise that recorded the event (event ids "
                        "are unique per enterprise)");
  }
  // A regulator whose jurisdiction holds the recording enterprise reads its
  // events whole.
  absl::StatusOr<bool> oversees =
      registry::OverseesAllOf(*snapshot, *reader, registry::RecordKind::kPackages, recorder);
  if (!oversees.ok()) return ToGrpcStatus(oversees.status());
  const bool regulator = *oversees;
  absl::StatusOr<std::optional<EventInfo>> info =
      FindEvent(*snapshot, recorder, request->event_id());
  if (!info.ok()) return ToGrpcStatus(info.status());
  if (!*info) {
    return regulator ? grpc::Status(grpc::StatusCode::NOT_FOUND,
                                    absl::StrCat("event_id: ", recorder, " recorded no event '",
                                                 request->event_id(), "'"))
                     : denied;
  }
  if (!regulator && (*info)->enterprise != reader->enterprise_uscc()) {
    // Another enterprise's event: readable if it touched a code this reader
    // may read (and then shown with only those codes: event_view.h).
    absl::StatusOr<std::string> bytes = snapshot->Entry((*info)->log_index);
    if (!bytes.ok()) return ToGrpcStatus(bytes.status());
    v1::LogEntry entry;
    v1::EventLinks links;
    if (!entry.ParseFromString(*bytes) || !links.ParseFromString(entry.assignment())) {
      return ToGrpcStatus(absl::DataLossError(
          absl::StrCat("log entry ", (*info)->log_index, " is not an event")));
    }
    bool any = false;
    for (const auto& link : links.links()) {
      absl::StatusOr<bool> may = MayRead(*snapshot, *reader, link.code());
      if (!may.ok()) return ToGrpcStatus(may.status());
      if ((any = *may)) break;
    }
    if (!any) return denied;
  }
  absl::StatusOr<v1::EventRecord> record = ViewEvent(*snapshot, *reader, (*info)->log_index);
  if (!record.ok()) return ToGrpcStatus(record.status());
  *response = *std::move(record);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* LedgerServiceImpl::GetHistory(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::GetHistoryRequest, v1::History>(
      context, request, response, read_executor_,
      [this, context](const v1::GetHistoryRequest* r, absl::string_view bytes, v1::History* out) {
        return ServeGetHistory(context, r, bytes, out);
      });
}

grpc::Status LedgerServiceImpl::ServeGetHistory(grpc::ServerContextBase* context,
                                           const v1::GetHistoryRequest* request,
                                           absl::string_view request_bytes,
                                           v1::History* response) {
  absl::StatusOr<Reading> reading = BeginRead(context, kGetHistoryMethod, request_bytes);
  if (!reading.ok()) return ToGrpcStatus(reading.status());
  const std::shared_ptr<const storage::Snapshot>& snapshot = reading->snapshot;
  const v1::Actor* const reader = &reading->reader;
  // MayRead is false for unknown codes: who may not read a code learns
  // nothing about it, not even whether it exists.
  absl::StatusOr<bool> may = MayRead(*snapshot, *reader, request->code());
  if (!may.ok()) return ToGrpcStatus(may.status());
  if (!*may) return Denied(absl::StrCat("the history of ", request->code()));
  absl::StatusOr<std::optional<CodeState>> state = FindCode(*snapshot, request->code());
  if (!state.ok()) return ToGrpcStatus(state.status());
  if (!*state) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("code: '", request->code(), "' is not in the ledger"));
  }
  absl::StatusOr<std::vector<uint64_t>> history = History(*snapshot, request->code());
  if (!history.ok()) return ToGrpcStatus(history.status());
  const CodeState& s = **state;
  response->set_code(s.code);
  response->set_status(std::string(CodeStatusName(s.status)));
  response->set_custodian(s.custodian);
  response->set_remaining_milli(s.remaining_milli);
  response->set_unit(s.unit);
  response->set_parent(s.parent);
  response->set_log_size(snapshot->size());
  // A page: bounded in events and bytes.
  if (request->page_size() > kMaxHistoryPage) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("page_size: at most ", kMaxHistoryPage));
  }
  const size_t page_size = request->page_size() == 0 ? kMaxHistoryPage : request->page_size();
  uint64_t after = 0;
  const bool from_start = request->page_token().empty();
  if (!from_start && !absl::SimpleAtoi(request->page_token(), &after)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "page_token: not a token this server gave (History.next_page_token)");
  }
  size_t bytes = 0;
  for (uint64_t index : *history) {
    if (!from_start && index <= after) continue;
    if (static_cast<size_t>(response->events_size()) >= page_size ||
        bytes >= kMaxHistoryPageBytes) {
      response->set_next_page_token(
          absl::StrCat(response->events(response->events_size() - 1).log_index()));
      break;
    }
    absl::StatusOr<v1::EventRecord> record = ViewEvent(*snapshot, *reader, index);
    if (!record.ok()) return ToGrpcStatus(record.status());
    bytes += record->ByteSizeLong();
    *response->add_events() = *std::move(record);
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* LedgerServiceImpl::ListStock(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request,
                                                       grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::ListStockRequest, v1::Stock>(
      context, request, response, read_executor_,
      [this, context](const v1::ListStockRequest* r, absl::string_view bytes, v1::Stock* out) {
        return ServeListStock(context, r, bytes, out);
      });
}

grpc::Status LedgerServiceImpl::ServeListStock(grpc::ServerContextBase* context,
                                               const v1::ListStockRequest* request,
                                               absl::string_view request_bytes,
                                               v1::Stock* response) {
  absl::StatusOr<Reading> reading = BeginRead(context, kListStockMethod, request_bytes);
  if (!reading.ok()) return ToGrpcStatus(reading.status());
  const std::shared_ptr<const storage::Snapshot>& snapshot = reading->snapshot;
  const v1::Actor* const reader = &reading->reader;
  const std::string custodian =
      request->enterprise_uscc().empty() ? reader->enterprise_uscc() : request->enterprise_uscc();
  if (grpc::Status may = MayReadSite(*snapshot, *reader, custodian, request->site()); !may.ok()) {
    return may;
  }
  absl::StatusOr<size_t> limit = PageSizeOf(request->page_size(), 1000);
  if (!limit.ok()) return ToGrpcStatus(limit.status());
  bool more = false;
  absl::StatusOr<std::vector<CodeState>> stock =
      ledger::ListStock(*snapshot, custodian, request->site(), request->page_token(),
                *limit, &more);
  if (!stock.ok()) return ToGrpcStatus(stock.status());
  for (const CodeState& c : *stock) {
    v1::Stock::Item* item = response->add_items();
    item->set_code(c.code);
    item->set_aggregate(c.aggregate);
    item->set_product(c.product);
    item->set_remaining_milli(c.remaining_milli);
    item->set_unit(c.unit);
    item->set_parent(c.parent);
    item->set_on_hold(c.on_hold);
    item->set_recalled(c.recalled);
  }
  if (more && !stock->empty()) response->set_next_page_token(stock->back().code);
  response->set_log_size(snapshot->size());
  return grpc::Status::OK;
}

absl::StatusOr<LedgerServiceImpl::Reading> LedgerServiceImpl::BeginRead(
    grpc::ServerContextBase* context, absl::string_view method, absl::string_view request_bytes) {
  Reading reading{client_->Latest(), {}};
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*reading.snapshot, *context, method, request_bytes);
  if (!reader.ok()) return reader.status();
  reading.reader = *std::move(reader);
  TellLogSize(context, reading.snapshot->size());
  return reading;
}

grpc::Status LedgerServiceImpl::MayReadSite(const storage::Snapshot& snapshot,
                                            const v1::Actor& reader, const std::string& custodian,
                                            const std::string& site) {
  if (custodian.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "enterprise_uscc: is required (you belong to no enterprise)");
  }
  if (site.empty() || site.size() > 64) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "site: 1 to 64 characters");
  }
  if (registry::HasOversightRole(reader)) {
    if (registry::DepartmentReads(reader, registry::RecordKind::kSites) != registry::Reads::kAll) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          absl::StrCat("site: what is at sites is not read by ",
                                       registry::DepartmentText(reader)));
    }
    absl::StatusOr<bool> oversees = registry::OverseesEnterprise(snapshot, reader, custodian);
    if (!oversees.ok()) return ToGrpcStatus(oversees.status());
    if (*oversees) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("enterprise_uscc: ", custodian, " is outside your "
                                     "jurisdiction (", registry::JurisdictionText(reader), ")"));
  }
  // An emergency responder reads what is at a site after breaking glass
  // for it (RegistryRequest.break_glass, recorded in the log first).
  if (reader.role() == v1::RESPONDER) {
    absl::StatusOr<bool> granted =
        registry::HasBreakGlass(snapshot, reader, custodian, site, absl::Now());
    if (!granted.ok()) return ToGrpcStatus(granted.status());
    if (!*granted) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          absl::StrCat("site: no break-glass access to ", custodian, "'s site '",
                                       site, "' (RegistryRequest.break_glass, recorded first)"));
    }
    return grpc::Status::OK;
  }
  if (custodian != reader.enterprise_uscc()) return Denied(absl::StrCat("the stock of ", custodian));
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* LedgerServiceImpl::GetSiteLoad(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::GetSiteLoadRequest, v1::SiteLoad>(
      context, request, response, read_executor_,
      [this, context](const v1::GetSiteLoadRequest* r, absl::string_view bytes, v1::SiteLoad* out) {
        return ServeGetSiteLoad(context, r, bytes, out);
      });
}

grpc::Status LedgerServiceImpl::ServeGetSiteLoad(grpc::ServerContextBase* context,
                                                 const v1::GetSiteLoadRequest* request,
                                                 absl::string_view request_bytes,
                                                 v1::SiteLoad* response) {
  absl::StatusOr<Reading> reading = BeginRead(context, kGetSiteLoadMethod, request_bytes);
  if (!reading.ok()) return ToGrpcStatus(reading.status());
  const std::shared_ptr<const storage::Snapshot>& snapshot = reading->snapshot;
  const v1::Actor* const reader = &reading->reader;
  const std::string custodian =
      request->enterprise_uscc().empty() ? reader->enterprise_uscc() : request->enterprise_uscc();
  if (grpc::Status may = MayReadSite(*snapshot, *reader, custodian, request->site()); !may.ok()) {
    return may;
  }
  absl::StatusOr<std::vector<ClassLoad>> loads = SiteLoads(*snapshot, custodian, request->site());
  if (!loads.ok()) return ToGrpcStatus(loads.status());
  absl::StatusOr<std::optional<v1::Site>> site =
      registry::FindSite(*snapshot, custodian, request->site());
  if (!site.ok()) return ToGrpcStatus(site.status());
  const SiteAssessment assessment =
      AssessSiteLoad(site->has_value() ? &**site : nullptr, *loads, *tables_);
  const auto add_load = [](const ClassLoad& l, v1::SiteLoad::ClassLoad* out) {
    out->set_hazard_class(l.hazard_class);
    out->set_unit(l.unit);
    out->set_load_milli(l.milli);
  };
  response->set_registered_site(site->has_value());
  for (const ClassLoad& l : *loads) add_load(l, response->add_loads());
  for (const SiteAssessment::Capacity& c : assessment.capacities) {
    v1::SiteLoad::Capacity* out = response->add_capacities();
    out->set_hazard_class(c.capacity.hazard_class());
    out->set_unit(c.capacity.unit());
    out->set_capacity_milli(c.capacity.capacity_milli());
    out->set_load_milli(c.load_milli);
    out->set_over_capacity(c.over);
  }
  for (const ClassLoad& l : assessment.uncovered) add_load(l, response->add_uncovered());
  response->set_segregation_assessed(assessment.segregation_table_available);
  for (const SiteAssessment::Incompatible& i : assessment.incompatible) {
    v1::SiteLoad::IncompatibleClasses* out = response->add_incompatible();
    out->set_class_a(i.class_a);
    out->set_class_b(i.class_b);
    out->set_requirement(i.requirement);
  }
  response->set_log_size(snapshot->size());
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* LedgerServiceImpl::ListSiteFlags(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::ListSiteFlagsRequest, v1::SiteFlags>(
      context, request, response, read_executor_,
      [this, context](const v1::ListSiteFlagsRequest* r, absl::string_view bytes,
                      v1::SiteFlags* out) { return ServeListSiteFlags(context, r, bytes, out); });
}

grpc::Status LedgerServiceImpl::ServeListSiteFlags(grpc::ServerContextBase* context,
                                                   const v1::ListSiteFlagsRequest* request,
                                                   absl::string_view request_bytes,
                                                   v1::SiteFlags* response) {
  absl::StatusOr<Reading> reading = BeginRead(context, kListSiteFlagsMethod, request_bytes);
  if (!reading.ok()) return ToGrpcStatus(reading.status());
  const std::shared_ptr<const storage::Snapshot>& snapshot = reading->snapshot;
  const v1::Actor* const reader = &reading->reader;
  if (registry::HasOversightRole(*reader) &&
      registry::DepartmentReads(*reader, registry::RecordKind::kSites) != registry::Reads::kAll) {
    return Denied(absl::StrCat("site flags (not read by ", registry::DepartmentText(*reader), ")"));
  }
  const bool oversight = registry::HasOversightRole(*reader);
  const std::string enterprise =
      request->enterprise_uscc().empty() && !oversight ? reader->enterprise_uscc()
                                                       : request->enterprise_uscc();
  if (!oversight && (enterprise.empty() || enterprise != reader->enterprise_uscc())) {
    return Denied(absl::StrCat("the site flags of ", enterprise.empty() ? "every enterprise" : enterprise));
  }
  if (oversight && !enterprise.empty()) {
    absl::StatusOr<bool> oversees = registry::OverseesEnterprise(*snapshot, *reader, enterprise);
    if (!oversees.ok()) return ToGrpcStatus(oversees.status());
    if (!*oversees) return Denied(absl::StrCat("the site flags of ", enterprise));
  }
  absl::StatusOr<size_t> limit = PageSizeOf(request->page_size(), 1000);
  if (!limit.ok()) return ToGrpcStatus(limit.status());
  uint64_t after = 0;
  if (!request->page_token().empty()) {
    absl::StatusOr<std::string> position = OpenPageCursor(request->page_token());
    if (!position.ok()) return ToGrpcStatus(position.status());
    if (!absl::SimpleAtoi(*position, &after)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "page_token: not a next_page_token of ListSiteFlags");
    }
  }
  bool more = false;
  absl::StatusOr<std::vector<state::SiteFlagRecord>> flags = ledger::ListSiteFlags(
      *snapshot, enterprise, after, *limit, &more);
  if (!flags.ok()) return ToGrpcStatus(flags.status());
  registry::OversightMemo memo(*snapshot, *reader);
  for (const state::SiteFlagRecord& r : *flags) {
    // Of every enterprise: those within the regulator's jurisdiction.
    if (oversight && enterprise.empty()) {
      absl::StatusOr<bool> oversees = memo.Enterprise(r.custodian());
      if (!oversees.ok()) return ToGrpcStatus(oversees.status());
      if (!*oversees) continue;
    }
    v1::SiteFlags::Flag* f = response->add_flags();
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
    response->set_next_page_token(SealPageCursor(absl::StrCat(flags->back().log_index())));
  }
  response->set_log_size(snapshot->size());
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* LedgerServiceImpl::ListScanSignals(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::ListScanSignalsRequest, v1::ScanSignals>(
      context, request, response, read_executor_,
      [this, context](const v1::ListScanSignalsRequest* r, absl::string_view bytes,
                      v1::ScanSignals* out) { return ServeListScanSignals(context, r, bytes, out); });
}

grpc::Status LedgerServiceImpl::ServeListScanSignals(grpc::ServerContextBase* context,
                                                     const v1::ListScanSignalsRequest* request,
                                                     absl::string_view request_bytes,
                                                     v1::ScanSignals* response) {
  absl::StatusOr<Reading> reading = BeginRead(context, kListScanSignalsMethod, request_bytes);
  if (!reading.ok()) return ToGrpcStatus(reading.status());
  const std::shared_ptr<const storage::Snapshot>& snapshot = reading->snapshot;
  const v1::Actor* const reader = &reading->reader;
  if (registry::DepartmentReads(*reader, registry::RecordKind::kScanSignals) !=
      registry::Reads::kAll) {
    return Denied("the scan signals");
  }
  absl::StatusOr<size_t> limit = PageSizeOf(request->page_size(), 1000);
  if (!limit.ok()) return ToGrpcStatus(limit.status());
  // A page token is "<log index>/<code>" of the last signal a page
  // examined, sealed (page_cursor.h): it may be one the reader does not see.
  uint64_t after_index = 0;
  std::string after_code;
  if (!request->page_token().empty()) {
    absl::StatusOr<std::string> position = OpenPageCursor(request->page_token());
    if (!position.ok()) return ToGrpcStatus(position.status());
    const size_t slash = position->find('/');
    if (slash == std::string::npos ||
        !absl::SimpleAtoi(position->substr(0, slash), &after_index)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "page_token: not a token this server gave (ScanSignals.next_page_token)");
    }
    after_code = position->substr(slash + 1);
  }
  absl::StatusOr<std::vector<ScanSignal>> signals =
      ledger::ListScanSignals(*snapshot, after_index, after_code, *limit + 1);
  if (!signals.ok()) return ToGrpcStatus(signals.status());
  const bool more = signals->size() > *limit;
  if (more) signals->pop_back();
  registry::OversightMemo memo(*snapshot, *reader);
  for (const ScanSignal& s : *signals) {
    // Those about an enterprise within the regulator's jurisdiction: the
    // package's custodian or the enterprise that saw it.
    absl::StatusOr<bool> custodian = memo.Enterprise(s.custodian);
    if (!custodian.ok()) return ToGrpcStatus(custodian.status());
    if (!*custodian) {
      absl::StatusOr<bool> seer = memo.Enterprise(s.seen_by);
      if (!seer.ok()) return ToGrpcStatus(seer.status());
      if (!*seer) continue;
    }
    v1::ScanSignals::Signal* out = response->add_signals();
    out->set_log_index(s.log_index);
    out->set_code(s.code);
    out->set_kind(s.kind);
    out->set_seen_by(s.seen_by);
    out->set_custodian(s.custodian);
    out->set_status(s.status);
  }
  if (more && !signals->empty()) {
    response->set_next_page_token(
        SealPageCursor(absl::StrCat(signals->back().log_index, "/", signals->back().code)));
  }
  response->set_log_size(snapshot->size());
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* LedgerServiceImpl::AddCheckpointCosignature(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::AddCheckpointCosignatureRequest, v1::AddCheckpointCosignatureResponse>(
      context, request, response, read_executor_,
      [this, context](const v1::AddCheckpointCosignatureRequest* r, absl::string_view bytes,
                      v1::AddCheckpointCosignatureResponse* out) {
        return ServeAddCheckpointCosignature(context, r, bytes, out);
      });
}

grpc::Status LedgerServiceImpl::ServeAddCheckpointCosignature(
    grpc::ServerContextBase* context, const v1::AddCheckpointCosignatureRequest* request,
    absl::string_view request_bytes, v1::AddCheckpointCosignatureResponse* response) {
  absl::StatusOr<Reading> reading = BeginRead(context, kAddCheckpointCosignatureMethod, request_bytes);
  if (!reading.ok()) return ToGrpcStatus(reading.status());
  const v1::Actor& witness = reading->reader;
  if (witness.role() != v1::REGULATOR) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "witnesses are regulators");
  }
  // This log's checkpoint, of a size and root this log has.
  absl::StatusOr<crypto::Checkpoint> checkpoint =
      crypto::OpenCheckpoint(request->cosigned_note(), signer_->name(), signer_->verifier());
  if (!checkpoint.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("cosigned_note: ", checkpoint.status().message()));
  }
  const storage::Snapshot& snapshot = *reading->snapshot;
  if (checkpoint->size > snapshot.size()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "cosigned_note: a size beyond this log's");
  }
  absl::StatusOr<crypto::Sha256Digest> root = snapshot.Root(checkpoint->size);
  if (!root.ok()) return ToGrpcStatus(root.status());
  if (*root != checkpoint->root_hash) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "cosigned_note: not this log's root at that size");
  }
  // Co-signed by the caller's key, as "witness/<key id>".
  absl::StatusOr<crypto::VerifyingKey> key = crypto::VerifyingKey::FromBytes(witness.public_key());
  if (!key.ok()) return ToGrpcStatus(key.status());
  const std::string name = absl::StrCat("witness/", key->key_id().ToString());
  absl::StatusOr<crypto::NoteVerifier> verifier = crypto::NoteVerifier::Create(name, *key);
  if (!verifier.ok()) return ToGrpcStatus(verifier.status());
  if (absl::StatusOr<std::string> opened = crypto::OpenNote(request->cosigned_note(), *verifier);
      !opened.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("cosigned_note: no signature line of ", name, ": ",
                                     opened.status().message()));
  }
  const std::string marker = absl::StrCat("\xe2\x80\x94 ", name, " ");
  const size_t at = request->cosigned_note().find(marker);
  const size_t end = request->cosigned_note().find('\n', at);
  if (at == std::string::npos || end == std::string::npos) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "cosigned_note: malformed line");
  }
  absl::StatusOr<int> witnesses =
      cosignatures_->Add(key->key_id().ToString(), checkpoint->size, checkpoint->root_hash,
                         request->cosigned_note().substr(at, end + 1 - at));
  if (!witnesses.ok()) return ToGrpcStatus(witnesses.status());
  response->set_tree_size(checkpoint->size);
  response->set_witnesses(*witnesses);
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetCheckpoint(grpc::ServerContext* context,
                                              const v1::GetCheckpointRequest* request,
                                              v1::Checkpoint* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  std::shared_ptr<const storage::Snapshot> snapshot = client_->Latest();
  TellLogSize(context, snapshot->size());
  crypto::Checkpoint checkpoint;
  checkpoint.origin = signer_->name();
  checkpoint.size = snapshot->size();
  checkpoint.root_hash = snapshot->root();
  std::string lines;  // the witnesses' signature lines
  if (request->with_cosignatures()) {
    std::optional<WitnessCosignatures::Cosigned> newest = cosignatures_->Newest();
    if (!newest) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no witness has co-signed a checkpoint yet");
    }
    // Only a checkpoint of this log is signed again: co-signatures kept for
    // another (a store restored from a backup behind them) are not served.
    absl::StatusOr<crypto::Sha256Digest> root =
        newest->size <= snapshot->size() ? snapshot->Root(newest->size)
                                         : absl::OutOfRangeError("beyond the log");
    if (!root.ok() || *root != newest->root) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("the witnesses' co-signatures kept (of size ", newest->size,
                                       ") are not of this log: move DATA/witness-cosignatures "
                                       "away; the witnesses' next round hands in new ones"));
    }
    checkpoint.size = newest->size;
    checkpoint.root_hash = newest->root;
    lines = std::move(newest->lines);
  }
  absl::StatusOr<std::string> note = signer_->SignCheckpoint(checkpoint);
  if (!note.ok()) return ToGrpcStatus(note.status());
  // Ed25519 signs the same text the same way: the witnesses' lines were made
  // over exactly this note.
  absl::StrAppend(&*note, lines);
  response->set_origin(checkpoint.origin);
  response->set_tree_size(checkpoint.size);
  response->set_root_hash(checkpoint.root_hash.ToBytes());
  response->set_signed_note(*std::move(note));
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetInclusionProof(grpc::ServerContext* context,
                                                  const v1::GetInclusionProofRequest* request,
                                                  v1::InclusionProof* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  std::shared_ptr<const storage::Snapshot> snapshot = client_->Latest();
  TellLogSize(context, snapshot->size());
  const uint64_t size = request->tree_size() == 0 ? snapshot->size() : request->tree_size();
  absl::StatusOr<std::vector<crypto::Sha256Digest>> proof =
      snapshot->InclusionProof(request->leaf_index(), size);
  if (!proof.ok()) {
    return ToGrpcStatus(absl::Status(proof.status().code(),
                                     absl::StrCat("leaf_index, tree_size: ", proof.status().message())));
  }
  response->set_leaf_index(request->leaf_index());
  response->set_tree_size(size);
  for (const crypto::Sha256Digest& h : *proof) response->add_hashes(h.ToBytes());
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetConsistencyProof(grpc::ServerContext* context,
                                                    const v1::GetConsistencyProofRequest* request,
                                                    v1::ConsistencyProof* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  std::shared_ptr<const storage::Snapshot> snapshot = client_->Latest();
  TellLogSize(context, snapshot->size());
  const uint64_t second = request->second_size() == 0 ? snapshot->size() : request->second_size();
  absl::StatusOr<std::vector<crypto::Sha256Digest>> proof =
      snapshot->ConsistencyProof(request->first_size(), second);
  if (!proof.ok()) {
    return ToGrpcStatus(absl::Status(proof.status().code(),
                                     absl::StrCat("first_size, second_size: ", proof.status().message())));
  }
  response->set_first_size(request->first_size());
  response->set_second_size(second);
  for (const crypto::Sha256Digest& h : *proof) response->add_hashes(h.ToBytes());
  return grpc::Status::OK;
}

}  // namespace chemledger::ledger
