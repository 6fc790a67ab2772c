#include "services/registry/request_binding.h"

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/wire.h"
#include "chemledger/v1/label.pb.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/wire_format_lite.h"
#include "services/common/known_fields.h"

namespace chemledger::registry {

using google::protobuf::internal::WireFormatLite;

namespace {

absl::Status Malformed(const google::protobuf::io::CodedInputStream& in) {
  return absl::InvalidArgumentError(absl::StrCat(
      "envelope.payload: not a well-formed protobuf message (at byte ", in.CurrentPosition(), ")"));
}

// A signed write request's message type, and the name its refusals give
// it; a null type for any other context.
struct WriteRequestType {
  const google::protobuf::Descriptor* type;
  absl::string_view name;
};

WriteRequestType WriteRequestTypeOf(const crypto::SignatureContext& context) {
  const absl::string_view payload_type = context.payload_type();
  if (payload_type == api::kEventContext.payload_type()) return {v1::Event::descriptor(), "event"};
  if (payload_type == api::kWaybillContext.payload_type()) {
    return {v1::WaybillRequest::descriptor(), "request"};
  }
  if (payload_type == api::kIssueLabelsContext.payload_type()) {
    return {v1::IssueLabelsRequest::descriptor(), "request"};
  }
  if (payload_type == api::kRegistryContext.payload_type()) {
    return {v1::RegistryRequest::descriptor(), "request"};
  }
  return {nullptr, ""};
}

}  // namespace

bool IsSignedWriteRequest(const crypto::SignatureContext& context) {
  return WriteRequestTypeOf(context).type != nullptr;
}

absl::Status CheckFieldsKnown(const crypto::SignatureContext& context, absl::string_view payload,
                              uint32_t rules_epoch) {
  const WriteRequestType request = WriteRequestTypeOf(context);
  if (request.type == nullptr) return absl::OkStatus();
  return CheckEveryFieldKnown(payload, *request.type, request.name,
                              rules_epoch >= kSingularFieldsOnceRulesEpoch
                                  ? SingularFields::kOnce
                                  : SingularFields::kAsParsed);
}

absl::StatusOr<journal::RequestId> ReadableRequestId(const crypto::SignatureContext& context,
                                                     absl::string_view payload,
                                                     absl::StatusOr<journal::RequestId> id) {
  if (id.ok()) return id;
  if (absl::Status known = CheckFieldsKnown(context, payload); !known.ok()) return known;
  return id;
}

bool ParseLoggedRegistryRequest(absl::string_view payload, uint32_t rules_epoch,
                                v1::RegistryRequest* out) {
  // The fields RegistryRequest gained after rules epoch 16, with the epoch
  // from which its rules read them.
  static constexpr struct {
    int number;
    uint32_t read_from;
  } kAddedFields[] = {
      {v1::RegistryRequest::kSetDeploymentPolicyFieldNumber, kDeploymentPolicyRulesEpoch},
      {v1::RegistryRequest::kChangeLicenceFieldNumber, kLicenceChangesRulesEpoch}};
  google::protobuf::UnknownFieldSet fields;
  bool unread = false;
  for (const auto& added : kAddedFields) unread = unread || rules_epoch < added.read_from;
  if (!unread) return out->ParseFromArray(payload.data(), static_cast<int>(payload.size()));
  if (payload.size() > static_cast<size_t>(INT32_MAX) ||
      !fields.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return false;
  }
  bool dropped = false;
  for (int i = fields.field_count() - 1; i >= 0; --i) {
    for (const auto& added : kAddedFields) {
      if (fields.field(i).number() == added.number && rules_epoch < added.read_from) {
        fields.DeleteSubrange(i, 1);
        dropped = true;
        break;
      }
    }
  }
  if (!dropped) return out->ParseFromArray(payload.data(), static_cast<int>(payload.size()));
  std::string as_read;
  return fields.SerializeToString(&as_read) && out->ParseFromString(as_read);
}

absl::StatusOr<RequestBinding> ReadRequestBinding(absl::string_view payload) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(payload.data()),
                                            static_cast<int>(payload.size()));
  RequestBinding binding;
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;  // the end, or bytes that are not a message
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const WireFormatLite::WireType type = WireFormatLite::GetTagWireType(tag);
    // A field given twice: the last counts, as the parser takes it.
    if (field == kDeploymentFieldNumber && type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t length = 0;
      if (!in.ReadVarint32(&length) ||
          !in.ReadString(&binding.deployment, static_cast<int>(length))) {
        return Malformed(in);
      }
      continue;
    }
    if (field == kExpiresFieldNumber && type == WireFormatLite::WIRETYPE_VARINT) {
      uint64_t value = 0;
      if (!in.ReadVarint64(&value)) return Malformed(in);
      binding.expires_unix_seconds = static_cast<int64_t>(value);  // int64: two's complement
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return Malformed(in);
  }
  if (!in.ConsumedEntireMessage()) return Malformed(in);
  return binding;
}

absl::Status CheckNamedDeployment(const RequestBinding& binding, const ThisDeployment& here) {
  if (binding.deployment.empty()) {
    if (!here.require_named_requests) return absl::OkStatus();
    return absl::UnauthenticatedError(absl::StrFormat(
        "deployment: this deployment takes only requests that name it (a platform "
        "administrator's policy, log index %d): set field 30 to \"%s\" and sign again",
        here.policy_log_index, absl::CHexEscape(here.origin)));
  }
  if (binding.deployment == here.origin) return absl::OkStatus();
  return absl::UnauthenticatedError(absl::StrFormat(
      "deployment: the request was signed for deployment \"%s\", not this one (\"%s\"); a "
      "request is taken only by the deployment it names",
      absl::CHexEscape(binding.deployment.substr(0, 128)), absl::CHexEscape(here.origin)));
}

absl::Status CheckNotExpired(const RequestBinding& binding, absl::Time record_time) {
  if (binding.expires_unix_seconds == 0 ||
      absl::ToUnixSeconds(record_time) <= binding.expires_unix_seconds) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrFormat(
      "expires_unix_seconds: the request expired at %d (%s) and was not recorded (the server's "
      "time is %s); to record it, sign a new request with a new id",
      binding.expires_unix_seconds,
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(binding.expires_unix_seconds),
                       absl::UTCTimeZone()),
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", record_time, absl::UTCTimeZone())));
}

}  // namespace chemledger::registry
