#include "services/label/label_service.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "crypto/trust_list.h"
#include "services/common/grpc_status.h"
#include "services/common/incoming_call.h"
#include "services/common/raw_unary.h"
#include "services/common/snapshot_metadata.h"
#include "services/common/stream_watchdog.h"
#include "services/label/label_resolution.h"
#include "services/registry/read_access.h"
#include "services/registry/registry_state.h"

namespace chemledger::label {


grpc::Status LabelServiceImpl::IssueLabels(grpc::ServerContext* context,
                                           const v1::SignedEnvelope* request,
                                           grpc::ServerWriter<v1::IssueLabelsResponse>* writer) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  // Labels go only to an actor of the enterprise they are for, who says so
  // with read credentials (MayReceiveLabels). Checked before the call takes
  // a place, so that one who cannot show it takes none.
  v1::IssueLabelsRequest asked;
  {
    if (!asked.ParseFromString(request->payload())) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "envelope.payload: not an IssueLabelsRequest");
    }
    std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
    absl::StatusOr<v1::Actor> reader =
        reads_->Authenticate(*snapshot, *context, api::kIssueLabelsMethod, "");
    const std::string whose = absl::StrCat(
        "labels go only to an actor of ", asked.enterprise_uscc(),
        " with read credentials for IssueLabels in the call's metadata (docs/deployment.md, "
        "\"Label issuance\")");
    if (!reader.ok()) {
      return grpc::Status(static_cast<grpc::StatusCode>(reader.status().code()),
                          absl::StrCat(whose, ": ", reader.status().message()));
    }
    if (absl::Status may = MayReceiveLabels(*reader, asked); !may.ok()) {
      return ToGrpcStatus(may);
    }
  }
  const std::string& enterprise = asked.enterprise_uscc();
  const BoundedSlots::Slot place = issuances_.Take({enterprise});
  if (!place.taken()) {
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        place.full() == BoundedSlots::kTotal
            ? absl::StrCat(kMaxConcurrentIssuances,
                           " issuances are streaming; send the request again shortly")
            : absl::StrCat(kMaxConcurrentIssuancesPerEnterprise, " issuances of ", enterprise,
                           " are streaming; send the request again shortly"));
  }
  absl::StatusOr<Issuance> issuance = issuer_->Issue(*request);
  if (!issuance.ok()) return ToGrpcStatus(issuance.status());
  v1::IssueLabelsResponse header;
  header.set_log_index(issuance->log_index);
  header.set_replayed(issuance->replayed);
  header.mutable_assignment()->set_first_serial(issuance->claims.serial);
  header.mutable_assignment()->set_count(issuance->count);
  header.mutable_assignment()->set_label_key_id(issuance->label_key_id.ToString());

  // A client that does not take a message for 30 s is dropped, and its
  // issuance slot freed (it sends the same request again for the labels).
  StreamWatchdog watchdog([context] { context->TryCancel(); }, kWriteOnlyTimeouts);
  absl::StatusOr<uint32_t> written = StreamLabels(
      *issuer_, *issuance, signing_pool_, kLabelsPerMessage, [&](std::vector<IssuedLabel> labels) {
        v1::IssueLabelsResponse message = header;
        message.mutable_labels()->Reserve(static_cast<int>(labels.size()));
        for (IssuedLabel& label : labels) {
          v1::IssuedLabel* out = message.add_labels();
          out->set_serial(label.serial);
          out->set_code(std::move(label.code));
          out->set_url(std::move(label.url));
        }
        return !context->IsCancelled() && WatchedWrite(watchdog, *writer, message);
      });
  if (!written.ok()) return ToGrpcStatus(written.status());
  if (*written < issuance->count) {
    return grpc::Status(
        grpc::StatusCode::CANCELLED,
        absl::StrCat("the client went away after ", *written,
                     " labels; the issuance is recorded at log index ", issuance->log_index,
                     ": send the same signed request again to get them all"));
  }
  return grpc::Status::OK;
}

grpc::Status LabelServiceImpl::GetTrustList(grpc::ServerContext* context,
                                            const v1::GetTrustListRequest* request,
                                            v1::TrustListResponse* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  if (grpc::Status s = CheckRequestFieldsKnown(*request); !s.ok()) return s;
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  TellServedAt(context, *snapshot);
  response->set_verifier_key(notary_->verifier().VerifierKeyString());
  absl::StatusOr<std::string> note = trust_list_.SignedNote(*snapshot, api::TodayInChina());
  if (!note.ok()) return ToGrpcStatus(note.status());
  response->set_signed_note(*std::move(note));
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* LabelServiceImpl::ResolveLabel(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::ResolveLabelRequest, v1::ResolveLabelResponse>(
      context, request, response, read_executor_,
      [this, context](const v1::ResolveLabelRequest* r, absl::string_view bytes,
          v1::ResolveLabelResponse* out) { return ServeResolveLabel(context, r, bytes, out); });
}

grpc::Status LabelServiceImpl::ServeResolveLabel(grpc::ServerContextBase* context,
                                                 const v1::ResolveLabelRequest* request,
                                                 absl::string_view request_bytes,
                                                 v1::ResolveLabelResponse* response) {
  // Anyone holding a package may scan it; registered actors see more.
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  TellServedAt(context, *snapshot);
  const ScanCaller caller = ScanCallerOf(*context);
  absl::StatusOr<Scanner> scanner =
      admission_.Identify(*snapshot, caller, kResolveLabelMethod, request_bytes, absl::Now());
  if (!scanner.ok()) return ToGrpcStatus(scanner.status());
  if (absl::Status charged = admission_.Charge(*scanner, caller, 1, absl::Now()); !charged.ok()) {
    return ToGrpcStatus(charged);
  }
  absl::StatusOr<v1::ResolveLabelResponse> resolved =
      label::ResolveLabel(*snapshot, request->url(), api::TodayInChina(), *scanner);
  if (!resolved.ok()) return ToGrpcStatus(resolved.status());
  *response = *std::move(resolved);
  if (!scanner->registered() && public_scans_ != nullptr) {
    public_scans_->Scanned(request->url(), *response, caller.address, "resolve-label");
  }
  return grpc::Status::OK;
}

}  // namespace chemledger::label
