#include "services/audit/audit_service.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "services/audit/anomalies.h"
#include "services/common/grpc_status.h"
#include "services/common/incoming_call.h"
#include "services/common/raw_unary.h"
#include "services/common/snapshot_metadata.h"
#include "services/common/stream_watchdog.h"
#include "services/registry/registry_state.h"

namespace chemledger::audit {
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
  std::shared_ptr<const storage::Snapshot> snapshot = core_->ledger()->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, api::kReconcileMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  TellServedAt(context, *snapshot);
  return Answer(core_->Reconcile(*snapshot, *reader, *request,
                                      [context] { return context->IsCancelled(); }),
                response);
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
  std::shared_ptr<const storage::Snapshot> latest = core_->ledger()->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*latest, *context, api::kQueryEventsMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  absl::StatusOr<v1::EventPage> page = core_->QueryEvents(latest, *reader, *request);
  if (page.ok()) TellLogSize(context, page->log_size());
  return Answer(std::move(page), response);
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
  std::shared_ptr<const storage::Snapshot> snapshot = core_->ledger()->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, api::kListAnomaliesMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  TellServedAt(context, *snapshot);
  return Answer(core_->ListAnomalies(*snapshot, *reader, *request), response);
}

grpc::ServerUnaryReactor* AuditServiceImpl::QueryStock(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request,
                                                       grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::StockQuery, v1::StockReport>(
      context, request, response, executor_,
      [this, context](const v1::StockQuery* r, absl::string_view bytes,
                      v1::StockReport* out) -> grpc::Status {
        std::shared_ptr<const storage::Snapshot> snapshot = core_->ledger()->Latest();
        absl::StatusOr<v1::Actor> reader =
            reads_->Authenticate(*snapshot, *context, api::kQueryStockMethod, bytes);
        if (!reader.ok()) return ToGrpcStatus(reader.status());
        TellServedAt(context, *snapshot);
        return Answer(core_->QueryStock(*snapshot, *reader, *r), out);
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::QueryInTransit(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::InTransitQuery, v1::InTransitReport>(
      context, request, response, executor_,
      [this, context](const v1::InTransitQuery* r, absl::string_view bytes,
                      v1::InTransitReport* out) -> grpc::Status {
        std::shared_ptr<const storage::Snapshot> snapshot = core_->ledger()->Latest();
        absl::StatusOr<v1::Actor> reader =
            reads_->Authenticate(*snapshot, *context, api::kQueryInTransitMethod, bytes);
        if (!reader.ok()) return ToGrpcStatus(reader.status());
        TellServedAt(context, *snapshot);
        return Answer(core_->QueryInTransit(*snapshot, *reader, *r), out);
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::ListMajorHazardSites(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::MajorHazardSitesQuery, v1::MajorHazardSites>(
      context, request, response, executor_,
      [this, context](const v1::MajorHazardSitesQuery* r, absl::string_view bytes,
                      v1::MajorHazardSites* out) -> grpc::Status {
        std::shared_ptr<const storage::Snapshot> snapshot = core_->ledger()->Latest();
        absl::StatusOr<v1::Actor> reader =
            reads_->Authenticate(*snapshot, *context, api::kListMajorHazardSitesMethod, bytes);
        if (!reader.ok()) return ToGrpcStatus(reader.status());
        TellServedAt(context, *snapshot);
        return Answer(core_->ListMajorHazardSites(*snapshot, *reader, *r), out);
      });
}

grpc::Status AuditServiceImpl::SubscribeAnomalies(grpc::ServerContext* context,
                                                  const v1::ListAnomaliesRequest* request,
                                                  grpc::ServerWriter<v1::Anomaly>* writer) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  absl::StatusOr<v1::Actor> reader = reads_->Authenticate(
      *core_->ledger()->Latest(), *context, api::kSubscribeAnomaliesMethod, "");
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  // A filter this server does not know would widen the feed unasked.
  if (grpc::Status known = CheckRequestFieldsKnown(*request); !known.ok()) return known;
  // (The rest of the request is checked by its first round, below.)
  if (absl::Status kinds = CheckAnomalyKinds(*request); !kinds.ok()) return ToGrpcStatus(kinds);
  if (request->with_evidence()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "with_evidence: read the entries with ListAnomalies");
  }
  const std::string key = reader->public_key();
  const BoundedSlots::Slot subscription = subscriptions_.Take({key});
  if (!subscription.taken()) {
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("at most ", kMaxSubscriptionsPerActor, " subscriptions per actor and ",
                     kMaxSubscriptions, " in all are open at once"));
  }

  // The entries' anomalies (in log order) and the overdue shipments (a
  // state, looked at every 10 s) are read apart.
  const auto wants = [&](v1::AnomalyKind kind) {
    return request->kinds().empty() ||
           std::find(request->kinds().begin(), request->kinds().end(), kind) !=
               request->kinds().end();
  };
  v1::ListAnomaliesRequest entries = *request;
  entries.clear_kinds();
  for (v1::AnomalyKind kind :
       {v1::REFUSED_REQUEST, v1::CLONE_SIGNAL, v1::CONTROLLED_GOODS_LOST, v1::MAJOR_HAZARD_ALERT}) {
    if (wants(kind)) entries.add_kinds(kind);
  }
  const bool want_entries = entries.kinds_size() > 0;
  const bool want_overdue = wants(v1::OVERDUE_SHIPMENT);
  v1::ListAnomaliesRequest overdue = *request;
  overdue.clear_kinds();
  overdue.add_kinds(v1::OVERDUE_SHIPMENT);
  overdue.set_after_log_index(0);
  overdue.set_page_size(1);

  std::shared_ptr<const storage::Snapshot> snapshot = core_->ledger()->Latest();
  // From now on, unless the caller names where it left off; a backlog is
  // told a round (100 pages) at a time.
  AnomalyFeed feed(std::move(entries), snapshot->size());
  OverdueShipmentFeed overdue_feed;
  // A subscriber that stops taking anomalies is dropped after 30 s, and its
  // subscription slot freed; a quiet one stays.
  StreamWatchdog watchdog([context] { context->TryCancel(); }, kWriteOnlyTimeouts);
  absl::Time checked_reader = absl::Now();
  absl::Time overdue_checked = absl::InfinitePast();
  while (!context->IsCancelled()) {
    snapshot = core_->ledger()->Latest();
    // The reader's key may have been revoked (or its enterprise
    // blacklisted) meanwhile: looked at once a minute.
    if (absl::Now() - checked_reader > absl::Minutes(1)) {
      checked_reader = absl::Now();
      absl::StatusOr<crypto::VerifyingKey> k = crypto::VerifyingKey::FromBytes(key);
      absl::StatusOr<v1::Actor> still =
          k.ok() ? registry::ActiveSigner(*snapshot, k->key_id()) : k.status();
      if (!still.ok()) return ToGrpcStatus(still.status());
      // Read as the registry has it now: a regulator reassigned to another
      // department or jurisdiction reads what the new one covers from here.
      *reader = *std::move(still);
    }
    if (want_entries) {
      absl::StatusOr<bool> listening = feed.Round(
          snapshot->size(),
          [&](const v1::ListAnomaliesRequest& r) {
            return core_->ListAnomalies(*snapshot, *reader, r);
          },
          [&](const v1::Anomaly& a) { return WatchedWrite(watchdog, *writer, a); });
      if (!listening.ok()) return ToGrpcStatus(listening.status());
      if (!*listening) return grpc::Status::OK;
    }
    if (want_overdue && absl::Now() - overdue_checked > absl::Seconds(10)) {
      overdue_checked = absl::Now();
      absl::StatusOr<v1::Anomalies> now = core_->ListAnomalies(*snapshot, *reader, overdue);
      if (!now.ok()) return ToGrpcStatus(now.status());
      if (!overdue_feed.Look(
              *now, [&](const v1::Anomaly& a) { return WatchedWrite(watchdog, *writer, a); })) {
        return grpc::Status::OK;
      }
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::ExportEvents(grpc::ServerContext* context,
                                            const v1::ExportEventsRequest* request,
                                            grpc::ServerWriter<v1::QueryBundlePart>* writer) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  std::shared_ptr<const storage::Snapshot> snapshot = core_->ledger()->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, api::kExportEventsMethod, "");
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  // A filter this server does not know would widen the export unasked.
  if (grpc::Status known = CheckRequestFieldsKnown(*request); !known.ok()) return known;
  const BoundedSlots::Slot export_slot = exports_.Take();
  if (!export_slot.taken()) {
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("at most ", kMaxExports, " exports run at once: try again shortly"));
  }
  TellServedAt(context, *snapshot);
  // A receiver that stops taking parts is dropped, and its export slot
  // freed. A part is up to 4 MiB of events (more for a large history), so
  // its write is given 5 minutes: a receiver on a slow link (over about
  // 15 KB/s) still finishes.
  StreamWatchdog watchdog([context] { context->TryCancel(); },
                          StreamTimeouts{absl::InfiniteDuration(), absl::Minutes(5)});
  return ToGrpcStatus(
      core_->ExportEvents(*snapshot, *reader, *request, [&](const v1::QueryBundlePart& part) {
        return !context->IsCancelled() && WatchedWrite(watchdog, *writer, part);
      }));
}

grpc::Status AuditServiceImpl::ServeGetHistoryBundle(grpc::ServerContextBase* context,
                                                     const v1::GetHistoryBundleRequest* request,
                                                     absl::string_view request_bytes,
                                                     v1::HistoryBundle* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = core_->ledger()->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, api::kGetHistoryBundleMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  TellServedAt(context, *snapshot);
  return Answer(core_->GetHistoryBundle(*snapshot, *reader, *request), response);
}

}  // namespace chemledger::audit
