#include "services/common/incoming_call.h"

#include <chrono>

namespace chemledger {
namespace {

thread_local IncomingCall* innermost = nullptr;

}  // namespace

IncomingCall::IncomingCall(const grpc::ServerContext* context)
    : sync_(context), callback_(nullptr), outer_(innermost) {
  innermost = this;
}

IncomingCall::IncomingCall(const grpc::CallbackServerContext* context)
    : sync_(nullptr), callback_(context), outer_(innermost) {
  innermost = this;
}

IncomingCall::~IncomingCall() { innermost = outer_; }

std::unique_ptr<grpc::ClientContext> IncomingCall::NewOutgoingContext() {
  const IncomingCall* call = innermost;
  if (call == nullptr) return std::make_unique<grpc::ClientContext>();
  // The default options propagate the deadline and cancellation (and
  // tracing); gRPC takes the earlier of the caller's deadline and one set on
  // the new context.
  if (call->sync_ != nullptr) return grpc::ClientContext::FromServerContext(*call->sync_);
  return grpc::ClientContext::FromCallbackServerContext(*call->callback_);
}

absl::Time IncomingCall::Deadline() {
  const IncomingCall* call = innermost;
  if (call == nullptr) return absl::InfiniteFuture();
  const std::chrono::system_clock::time_point deadline =
      call->sync_ != nullptr ? call->sync_->deadline() : call->callback_->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

bool IncomingCall::Cancelled() {
  const IncomingCall* call = innermost;
  if (call == nullptr) return false;
  return call->sync_ != nullptr ? call->sync_->IsCancelled() : call->callback_->IsCancelled();
}

}  // namespace chemledger
