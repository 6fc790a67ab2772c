// AuditService (proto/chemledger/v1/audit_service.proto): the gRPC adapter
// over the audit core (audit_reads.h, which the regulator console answers
// through too). For regulators and platform administrators, and (except
// GetHistoryBundle) for an enterprise's actors on their own enterprise; the
// methods are raw, their read credentials checked over the request's bytes
// as received (raw_unary.h).
//
// Thread-safety: safe for gRPC's concurrent handlers. Everything passed to
// the constructor must outlive the service.

#ifndef CHEMLEDGER_SERVICES_AUDIT_AUDIT_SERVICE_H_
#define CHEMLEDGER_SERVICES_AUDIT_AUDIT_SERVICE_H_

#include <functional>
#include <string>

#include "absl/time/clock.h"
#include "chemledger/v1/audit_service.grpc.pb.h"
#include "crypto/checkpoint.h"
#include "journal/ledger_client.h"
#include "services/audit/audit_reads.h"
#include "services/common/bounded_slots.h"
#include "services/common/call_executor.h"
#include "services/common/grpc_status.h"
#include "services/registry/read_access.h"

namespace chemledger::audit {

using AuditServiceBase = v1::AuditService::WithRawCallbackMethod_GetHistoryBundle<
    v1::AuditService::WithRawCallbackMethod_Reconcile<
        v1::AuditService::WithRawCallbackMethod_QueryEvents<
            v1::AuditService::WithRawCallbackMethod_ListAnomalies<
                v1::AuditService::WithRawCallbackMethod_QueryStock<
                    v1::AuditService::WithRawCallbackMethod_QueryInTransit<
                        v1::AuditService::WithRawCallbackMethod_ListMajorHazardSites<
                            v1::AuditService::Service>>>>>>>;

class AuditServiceImpl final : public AuditServiceBase {
 public:
  // `core` answers; `reads` says who asks.
  AuditServiceImpl(const AuditReads* core, registry::ReadAuthenticator* reads)
      : core_(core), reads_(reads) {}

  grpc::ServerUnaryReactor* GetHistoryBundle(grpc::CallbackServerContext* context,
                                             const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Reconcile(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* QueryEvents(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListAnomalies(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* QueryStock(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  // A long-lived call on a thread of its own (of --max-threads).
  grpc::Status SubscribeAnomalies(grpc::ServerContext* context,
                                  const v1::ListAnomaliesRequest* request,
                                  grpc::ServerWriter<v1::Anomaly>* writer) override;

  grpc::ServerUnaryReactor* QueryInTransit(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListMajorHazardSites(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) override;
  // A long-lived call on a thread of its own (of --max-threads); at most
  // kMaxExports at once in the process.
  grpc::Status ExportEvents(grpc::ServerContext* context, const v1::ExportEventsRequest* request,
                            grpc::ServerWriter<v1::QueryBundlePart>* writer) override;
  static constexpr int kMaxExports = 4;

  // Subscriptions open at once: in all, and per actor (its key).
  static constexpr int kMaxSubscriptions = 256;
  static constexpr int kMaxSubscriptionsPerActor = 4;

  // How many are open now (for the metrics' slot gauges).
  int subscriptions_open() const { return subscriptions_.held(); }
  int exports_open() const { return exports_.held(); }

 private:
  grpc::Status ServeGetHistoryBundle(grpc::ServerContextBase* context,
                                     const v1::GetHistoryBundleRequest* request,
                                     absl::string_view request_bytes, v1::HistoryBundle* response);
  grpc::Status ServeReconcile(grpc::ServerContextBase* context,
                              const v1::ReconcileRequest* request,
                              absl::string_view request_bytes, v1::Reconciliation* response);
  grpc::Status ServeQueryEvents(grpc::ServerContextBase* context, const v1::EventQuery* request,
                                absl::string_view request_bytes, v1::EventPage* response);
  grpc::Status ServeListAnomalies(grpc::ServerContextBase* context,
                                  const v1::ListAnomaliesRequest* request,
                                  absl::string_view request_bytes, v1::Anomalies* response);

  // An answer of the core as the call's status and response.
  template <typename Response>
  static grpc::Status Answer(absl::StatusOr<Response> answer, Response* response) {
    if (!answer.ok()) return ToGrpcStatus(answer.status());
    *response = *std::move(answer);
    return grpc::Status::OK;
  }

  const AuditReads* const core_;
  registry::ReadAuthenticator* const reads_;
  // The subscriptions open (in all and per actor key) and exports running.
  BoundedSlots subscriptions_{kMaxSubscriptions, {kMaxSubscriptionsPerActor}};
  BoundedSlots exports_{kMaxExports};
  // Runs the handlers (raw_unary.h): a long history is many proofs.
  CallExecutor executor_{2, 64, "audit"};
};

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_AUDIT_SERVICE_H_
