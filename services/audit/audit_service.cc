#include "services/audit/audit_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "services/audit/anomalies.h"
#include "services/common/grpc_status.h"
#include "services/common/incoming_call.h"
#include "services/common/raw_unary.h"
#include "services/common/snapshot_metadata.h"
#include "services/common/stream_watchdog.h"

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
  std::shared_ptr<const storage::Snapshot> snapshot = core_->ledger()->Latest();
  // (Start checks the kinds and with_evidence; the rest of the request is
  // checked by the first round, below.)
  absl::StatusOr<AnomalySubscription> subscription =
      AnomalySubscription::Start(*reader, *request, snapshot->size(), absl::Now());
  if (!subscription.ok()) return ToGrpcStatus(subscription.status());
  const BoundedSlots::Slot slot = subscriptions_.Take({reader->public_key()});
  if (!slot.taken()) {
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("at most ", kMaxSubscriptionsPerActor, " subscriptions per actor and ",
                     kMaxSubscriptions, " in all are open at once"));
  }
  // A subscriber that stops taking anomalies is dropped after 30 s, and its
  // subscription slot freed; a quiet one stays.
  StreamWatchdog watchdog([context] { context->TryCancel(); }, kWriteOnlyTimeouts);
  while (!context->IsCancelled()) {
    snapshot = core_->ledger()->Latest();
    absl::StatusOr<bool> listening = subscription->Round(
        *snapshot, absl::Now(),
        [this](const storage::Snapshot& at, const v1::Actor& reader,
               const v1::ListAnomaliesRequest& r) { return core_->ListAnomalies(at, reader, r); },
        [&](const v1::Anomaly& a) { return WatchedWrite(watchdog, *writer, a); });
    if (!listening.ok()) return ToGrpcStatus(listening.status());
    if (!*listening) return grpc::Status::OK;
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
