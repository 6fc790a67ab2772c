// Serving a unary call from the request's bytes exactly as they arrived, for
// handlers that must see them: read credentials are signed over the bytes the
// client sent (read_auth.h), and re-serializing a parsed message need not
// give them back (serializations differ between languages, and unknown
// fields would be lost). A service marks such a method raw
// (`WithRawCallbackMethod_<Method>` in the generated code) and implements it
// with ServeRawUnary.
//
// Thread-safety: as the gRPC callback API; handlers run on a CallExecutor
// (call_executor.h), never on gRPC's callback threads.

#ifndef CHEMLEDGER_SERVICES_COMMON_RAW_UNARY_H_
#define CHEMLEDGER_SERVICES_COMMON_RAW_UNARY_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/byte_buffer.h"
#include "services/common/call_executor.h"
#include "services/common/incoming_call.h"
#include "services/common/known_fields.h"

namespace chemledger {

// The bytes of `buffer`, copied into one string.
inline grpc::Status BytesOf(const grpc::ByteBuffer& buffer, std::string* out) {
  std::vector<grpc::Slice> slices;
  if (grpc::Status s = buffer.Dump(&slices); !s.ok()) return s;
  out->clear();
  out->reserve(buffer.Length());
  for (const grpc::Slice& slice : slices) {
    out->append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return grpc::Status::OK;
}

// For a call gRPC parsed itself (not served raw): INVALID_ARGUMENT naming a
// field of `request` this server does not know (known_fields.h: what its
// parser kept aside), else OK.
inline grpc::Status CheckRequestFieldsKnown(const google::protobuf::Message& request) {
  if (absl::Status s = CheckEveryFieldKnown(request, "request"); !s.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(s.message()));
  }
  return grpc::Status::OK;
}

namespace internal {

template <typename Request, typename Response, typename Handler>
grpc::Status ServeRaw(const grpc::ByteBuffer& raw_request, grpc::ByteBuffer* raw_response,
                      Handler& handler) {
  std::string bytes;
  if (grpc::Status s = BytesOf(raw_request, &bytes); !s.ok()) return s;
  Request request;
  if (!request.ParseFromString(bytes)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("request: not a serialized ",
                                     Request::descriptor()->full_name()));
  }
  // A field this server does not know would go unread: a filter never
  // applied, a question other than the one asked (known_fields.h).
  if (absl::Status s = CheckEveryFieldKnown(bytes, *Request::descriptor(), "request"); !s.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(s.message()));
  }
  Response response;
  if (grpc::Status s = handler(&request, absl::string_view(bytes), &response); !s.ok()) return s;
  std::string out;
  if (!response.SerializeToString(&out)) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "response: could not be serialized");
  }
  grpc::Slice slice(out);
  *raw_response = grpc::ByteBuffer(&slice, 1);
  return grpc::Status::OK;
}

}  // namespace internal

// Serves a raw unary call on `executor`: parses the request, calls
// `handler(const Request*, absl::string_view request_bytes, Response*)`
// (which returns a grpc::Status; it runs on an executor thread after this
// returns, so it must capture by value what it uses) and finishes the call
// with the serialized response or the handler's status. A request that does
// not parse is INVALID_ARGUMENT naming its type, and one with a field this
// server does not know (known_fields.h) INVALID_ARGUMENT naming the field; a call the executor has
// no room for is RESOURCE_EXHAUSTED.
template <typename Request, typename Response, typename Handler>
grpc::ServerUnaryReactor* ServeRawUnary(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* raw_request,
                                        grpc::ByteBuffer* raw_response, CallExecutor& executor,
                                        Handler handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // gRPC keeps the request and response buffers until the call finishes.
  const bool scheduled =
      executor.TrySchedule([context, reactor, raw_request, raw_response, handler]() mutable {
        // What the handler asks of other services ends with this call.
        IncomingCall serving(context);
        reactor->Finish(
            internal::ServeRaw<Request, Response>(*raw_request, raw_response, handler));
      });
  if (!scheduled) {
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "the server has too many reads waiting; retry shortly"));
  }
  return reactor;
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_RAW_UNARY_H_
