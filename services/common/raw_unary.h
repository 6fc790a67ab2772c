// Serving a unary call from the request's bytes exactly as they arrived, for
// handlers that must see them: read credentials are signed over the bytes the
// client sent (read_auth.h), and re-serializing a parsed message need not
// give them back (serializations differ between languages, and unknown
// fields would be lost). A service marks such a method raw
// (`WithRawCallbackMethod_<Method>` in the generated code) and implements it
// with ServeRawUnary.
//
// Thread-safety: as the gRPC callback API; the handler runs on the calling
// gRPC thread and must not block for long.

#ifndef CHEMLEDGER_SERVICES_COMMON_RAW_UNARY_H_
#define CHEMLEDGER_SERVICES_COMMON_RAW_UNARY_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/byte_buffer.h"

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

// Parses the request, calls `handler(const Request*, absl::string_view
// request_bytes, Response*)` (which returns a grpc::Status) and finishes the
// call with the serialized response or the handler's status. A request that
// does not parse is INVALID_ARGUMENT naming its type.
template <typename Request, typename Response, typename Handler>
grpc::ServerUnaryReactor* ServeRawUnary(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* raw_request,
                                        grpc::ByteBuffer* raw_response, Handler&& handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::string bytes;
  grpc::Status status = BytesOf(*raw_request, &bytes);
  Request request;
  if (status.ok() && !request.ParseFromString(bytes)) {
    status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("request: not a serialized ",
                                       Request::descriptor()->full_name()));
  }
  Response response;
  if (status.ok()) status = handler(&request, absl::string_view(bytes), &response);
  if (status.ok()) {
    std::string out;
    if (!response.SerializeToString(&out)) {
      status = grpc::Status(grpc::StatusCode::INTERNAL, "response: could not be serialized");
    } else {
      grpc::Slice slice(std::move(out));
      *raw_response = grpc::ByteBuffer(&slice, 1);
    }
  }
  reactor->Finish(status);
  return reactor;
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_RAW_UNARY_H_
