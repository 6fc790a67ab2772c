#include "services/audit/audit_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "services/audit/history_bundle.h"
#include <algorithm>
#include <set>

#include "services/audit/anomalies.h"
#include "services/audit/stock_query.h"
#include "services/registry/registry_state.h"
#include "services/audit/event_query.h"
#include "services/audit/reconciliation.h"
#include "services/common/page_cursor.h"
#include "services/ledger/event_view.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "services/registry/oversight.h"
#include "services/ledger/code_state.h"
#include "services/common/grpc_status.h"
#include "services/common/raw_unary.h"
#include "services/common/snapshot_metadata.h"

namespace chemledger::audit {
namespace {

// The most bytes of events a page carries (gRPC's default message limit is
// 4 MiB).
constexpr size_t kMaxEventPageBytes = 3 << 20;

}  // namespace

grpc::ServerUnaryReactor* AuditServiceImpl::GetHistoryBundle(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::GetHistoryBundleRequest, v1::HistoryBundle>(
      context, request, response, executor_,
      [this, context](const v1::GetHistoryBundleRequest* r, absl::string_view bytes,
                      v1::HistoryBundle* out) {
        return ServeGetHistoryBundle(context, r, bytes, out);
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::Reconcile(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::ReconcileRequest, v1::Reconciliation>(
      context, request, response, executor_,
      [this, context](const v1::ReconcileRequest* r, absl::string_view bytes,
                      v1::Reconciliation* out) { return ServeReconcile(context, r, bytes, out); });
}

grpc::Status AuditServiceImpl::ServeReconcile(grpc::ServerContextBase* context,
                                              const v1::ReconcileRequest* request,
                                              absl::string_view request_bytes,
                                              v1::Reconciliation* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, api::kReconcileMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  TellLogSize(context, snapshot->size());
  absl::StatusOr<v1::Reconciliation> report = audit::Reconcile(
      *snapshot, *reader, *request, [context] { return context->IsCancelled(); });
  if (!report.ok()) return ToGrpcStatus(report.status());
  *response = *std::move(report);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* AuditServiceImpl::QueryEvents(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request,
                                                        grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::EventQuery, v1::EventPage>(
      context, request, response, executor_,
      [this, context](const v1::EventQuery* r, absl::string_view bytes, v1::EventPage* out) {
        return ServeQueryEvents(context, r, bytes, out);
      });
}

grpc::Status AuditServiceImpl::ServeQueryEvents(grpc::ServerContextBase* context,
                                                const v1::EventQuery* request,
                                                absl::string_view request_bytes,
                                                v1::EventPage* response) {
  // Who asks is judged by the registry now; what they get is read at the
  // snapshot of the query's first page (its token names it).
  std::shared_ptr<const storage::Snapshot> latest = ledger_->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*latest, *context, api::kQueryEventsMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  if (request->page_size() > kMaxEventPageSize) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("page_size: at most ", kMaxEventPageSize));
  }
  const uint32_t page_size = request->page_size() == 0 ? kDefaultEventPageSize
                                                       : request->page_size();
  std::shared_ptr<const storage::Snapshot> snapshot = latest;
  std::optional<ledger::EventPosition> after;
  if (!request->page_token().empty()) {
    // "<log size>/<event time, µs>/<log index>", sealed (page_cursor.h).
    absl::StatusOr<std::string> position = OpenPageCursor(request->page_token());
    std::vector<std::string> parts;
    if (position.ok()) parts = absl::StrSplit(*position, '/');
    uint64_t size = 0;
    ledger::EventPosition at;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &size) ||
        !absl::SimpleAtoi(parts[1], &at.event_unix_micros) ||
        !absl::SimpleAtoi(parts[2], &at.log_index)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "page_token: not a token this server gave (EventPage.next_page_token)");
    }
    absl::StatusOr<std::shared_ptr<const storage::Snapshot>> kept = ledger_->At(size);
    if (!kept.ok()) return ToGrpcStatus(kept.status());
    snapshot = *std::move(kept);
    after = at;
  }
  TellLogSize(context, snapshot->size());
  absl::StatusOr<EventQueryPage> page =
      audit::QueryEvents(*snapshot, *reader, *request, after, page_size);
  if (!page.ok()) return ToGrpcStatus(page.status());
  // Each event as GetEvent shows it, at most kMaxEventPageBytes of them.
  std::optional<ledger::EventPosition> next = page->next;
  size_t bytes = 0;
  for (size_t i = 0; i < page->events.size(); ++i) {
    absl::StatusOr<v1::EventRecord> record =
        ledger::ViewEvent(*snapshot, *reader, page->events[i].log_index);
    if (!record.ok()) return ToGrpcStatus(record.status());
    bytes += record->ByteSizeLong();
    if (bytes > kMaxEventPageBytes && i > 0) {
      next = page->events[i - 1];
      break;
    }
    *response->add_events() = *std::move(record);
  }
  response->set_log_size(snapshot->size());
  if (next) {
    ledger_->Keep(snapshot);
    response->set_next_page_token(SealPageCursor(
        absl::StrCat(snapshot->size(), "/", next->event_unix_micros, "/", next->log_index)));
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* AuditServiceImpl::ListAnomalies(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request,
                                                          grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::ListAnomaliesRequest, v1::Anomalies>(
      context, request, response, executor_,
      [this, context](const v1::ListAnomaliesRequest* r, absl::string_view bytes,
                      v1::Anomalies* out) { return ServeListAnomalies(context, r, bytes, out); });
}

grpc::Status AuditServiceImpl::ServeListAnomalies(grpc::ServerContextBase* context,
                                                  const v1::ListAnomaliesRequest* request,
                                                  absl::string_view request_bytes,
                                                  v1::Anomalies* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, api::kListAnomaliesMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  TellLogSize(context, snapshot->size());
  absl::StatusOr<v1::Anomalies> anomalies =
      audit::ListAnomalies(*snapshot, *reader, *request, clock_());
  if (!anomalies.ok()) return ToGrpcStatus(anomalies.status());
  *response = *std::move(anomalies);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* AuditServiceImpl::QueryStock(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request,
                                                       grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::StockQuery, v1::StockReport>(
      context, request, response, executor_,
      [this, context](const v1::StockQuery* r, absl::string_view bytes,
                      v1::StockReport* out) -> grpc::Status {
        std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
        absl::StatusOr<v1::Actor> reader =
            reads_->Authenticate(*snapshot, *context, api::kQueryStockMethod, bytes);
        if (!reader.ok()) return ToGrpcStatus(reader.status());
        TellLogSize(context, snapshot->size());
        absl::StatusOr<v1::StockReport> report = audit::QueryStock(*snapshot, *reader, *r);
        if (!report.ok()) return ToGrpcStatus(report.status());
        *out = *std::move(report);
        return grpc::Status::OK;
      });
}

grpc::Status AuditServiceImpl::SubscribeAnomalies(grpc::ServerContext* context,
                                                  const v1::ListAnomaliesRequest* request,
                                                  grpc::ServerWriter<v1::Anomaly>* writer) {
  absl::StatusOr<v1::Actor> reader = reads_->Authenticate(
      *ledger_->Latest(), *context, api::kSubscribeAnomaliesMethod, "");
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  const std::string key = reader->public_key();
  {
    absl::MutexLock lock(&subscriptions_mu_);
    auto held = subscriptions_by_key_.find(key);
    if (subscriptions_ >= kMaxSubscriptions ||
        (held != subscriptions_by_key_.end() && held->second >= kMaxSubscriptionsPerActor)) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("at most ", kMaxSubscriptionsPerActor,
                                       " subscriptions per actor and ", kMaxSubscriptions,
                                       " in all are open at once"));
    }
    ++subscriptions_;
    ++subscriptions_by_key_[key];
  }
  struct Release {
    AuditServiceImpl* s;
    std::string key;
    ~Release() {
      absl::MutexLock lock(&s->subscriptions_mu_);
      --s->subscriptions_;
      if (--s->subscriptions_by_key_[key] == 0) s->subscriptions_by_key_.erase(key);
    }
  } release{this, key};

  // The entries' anomalies (in log order) and the overdue shipments (a
  // state, looked at every 10 s) are read apart.
  const auto wants = [&](v1::AnomalyKind kind) {
    return request->kinds().empty() ||
           std::find(request->kinds().begin(), request->kinds().end(), kind) !=
               request->kinds().end();
  };
  v1::ListAnomaliesRequest entries = *request;
  entries.clear_kinds();
  for (v1::AnomalyKind kind : {v1::REFUSED_REQUEST, v1::CLONE_SIGNAL, v1::CONTROLLED_GOODS_LOST}) {
    if (wants(kind)) entries.add_kinds(kind);
  }
  const bool want_entries = entries.kinds_size() > 0;
  const bool want_overdue = wants(v1::OVERDUE_SHIPMENT);
  entries.set_page_size(kMaxAnomalyPageSize);
  v1::ListAnomaliesRequest overdue = *request;
  overdue.clear_kinds();
  overdue.add_kinds(v1::OVERDUE_SHIPMENT);
  overdue.set_after_log_index(0);
  overdue.set_page_size(1);

  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  // From now on, unless the caller names where it left off.
  if (entries.after_log_index() == 0 && snapshot->size() > 0) {
    entries.set_after_log_index(snapshot->size() - 1);
  }
  std::set<std::string> overdue_told;
  absl::Time checked_reader = absl::Now();
  uint64_t read_size = 0;
  absl::Time overdue_checked = absl::InfinitePast();
  while (!context->IsCancelled()) {
    snapshot = ledger_->Latest();
    // The reader's key may have been revoked (or its enterprise
    // blacklisted) meanwhile: looked at once a minute.
    if (absl::Now() - checked_reader > absl::Minutes(1)) {
      checked_reader = absl::Now();
      absl::StatusOr<crypto::VerifyingKey> k = crypto::VerifyingKey::FromBytes(key);
      absl::StatusOr<v1::Actor> still =
          k.ok() ? registry::ActiveSigner(*snapshot, k->key_id()) : k.status();
      if (!still.ok()) return ToGrpcStatus(still.status());
    }
    if (want_entries && snapshot->size() != read_size) {
      read_size = snapshot->size();
      for (int pages = 0; pages < 100; ++pages) {
        absl::StatusOr<v1::Anomalies> page =
            audit::ListAnomalies(*snapshot, *reader, entries, clock_());
        if (!page.ok()) return ToGrpcStatus(page.status());
        for (const v1::Anomaly& a : page->anomalies()) {
          if (!writer->Write(a)) return grpc::Status::OK;
          entries.set_after_log_index(a.log_index());
        }
        if (page->next_after_log_index() == 0) {
          // Everything up to this snapshot is told.
          if (snapshot->size() > 0) entries.set_after_log_index(snapshot->size() - 1);
          break;
        }
        entries.set_after_log_index(page->next_after_log_index());
      }
    }
    if (want_overdue && absl::Now() - overdue_checked > absl::Seconds(10)) {
      overdue_checked = absl::Now();
      absl::StatusOr<v1::Anomalies> now = audit::ListAnomalies(*snapshot, *reader, overdue, clock_());
      if (!now.ok()) return ToGrpcStatus(now.status());
      for (const v1::Anomaly& a : now->overdue_shipments()) {
        if (!overdue_told.insert(a.waybill()).second) continue;
        if (!writer->Write(a)) return grpc::Status::OK;
      }
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::ServeGetHistoryBundle(grpc::ServerContextBase* context,
                                                     const v1::GetHistoryBundleRequest* request,
                                                     absl::string_view request_bytes,
                                                     v1::HistoryBundle* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, api::kGetHistoryBundleMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  TellLogSize(context, snapshot->size());
  if (!registry::HasOversightRole(*reader)) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "AuditService is for regulators and platform administrators");
  }
  if (request->code().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "code: is required");
  }
  // A package held, now or before, by an enterprise within the regulator's
  // jurisdiction; who may not read it learns nothing of it.
  absl::StatusOr<bool> may = ledger::MayRead(*snapshot, *reader, request->code());
  if (!may.ok()) return ToGrpcStatus(may.status());
  if (!*may) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("code: ", request->code(), " is not yours to read (outside "
                                     "your jurisdiction, ", registry::JurisdictionText(*reader),
                                     ", or unknown)"));
  }
  // A bundle holds every event whole (with the other codes it names):
  // given to a regulator that may read all of them, as GetHistory would
  // show them (docs/audit.md).
  if (registry::DepartmentReads(*reader, registry::RecordKind::kPackages) != registry::Reads::kAll) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("a history bundle holds its events whole, and ",
                                     registry::DepartmentText(*reader),
                                     " reads only part of them: use LedgerService.GetHistory"));
  }
  absl::StatusOr<v1::HistoryBundle> bundle = BuildHistoryBundle(
      *snapshot, *signer_, request->code(), request->consistency_from_size());
  if (!bundle.ok()) return ToGrpcStatus(bundle.status());
  if (!registry::OverseesEverything(*reader)) {
    for (const v1::ProvenEntry& e : bundle->events()) {
      v1::LogEntry entry;
      v1::Event event;
      if (!entry.ParseFromString(e.entry_bytes()) ||
          !event.ParseFromString(entry.envelope().payload())) {
        return grpc::Status(grpc::StatusCode::DATA_LOSS, "an event entry does not parse");
      }
      absl::StatusOr<bool> oversees =
          registry::OverseesEnterprise(*snapshot, *reader, event.location().enterprise_uscc());
      if (!oversees.ok()) return ToGrpcStatus(oversees.status());
      if (!*oversees) {
        return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                            absl::StrCat("code: ", request->code(), " has events recorded outside "
                                         "your jurisdiction (", registry::JurisdictionText(*reader),
                                         "), which a bundle would hold whole: use "
                                         "LedgerService.GetHistory"));
      }
    }
  }
  *response = *std::move(bundle);
  return grpc::Status::OK;
}

}  // namespace chemledger::audit
