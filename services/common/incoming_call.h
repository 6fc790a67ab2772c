// The gRPC call a thread is serving now, so that the calls it makes to other
// services on that call's behalf (a personality's calls to ledgerd:
// services/ledgerd/remote_ledger.h) end no later than the caller's deadline
// and stop when the caller cancels or goes away, instead of running on for
// nobody and holding ledgerd's threads.
//
// A handler opens an IncomingCall scope around its work (the raw unary
// helper, raw_unary.h, does so on its executor thread); NewOutgoingContext
// then makes a client context that gRPC ties to the innermost call served on
// this thread (deadline and cancellation propagated). On a thread that serves
// no call, such as a background task, it is a plain client context.
//
// Thread-safety: a scope belongs to the thread that opened it and must be
// closed on it (it is an RAII object on the stack); work handed to another
// thread opens its own scope there. The server context must outlive the
// scope.

#ifndef CHEMLEDGER_SERVICES_COMMON_INCOMING_CALL_H_
#define CHEMLEDGER_SERVICES_COMMON_INCOMING_CALL_H_

#include <memory>

#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server_context.h"

namespace chemledger {

class IncomingCall {
 public:
  explicit IncomingCall(const grpc::ServerContext* context);
  explicit IncomingCall(const grpc::CallbackServerContext* context);
  ~IncomingCall();
  IncomingCall(const IncomingCall&) = delete;
  IncomingCall& operator=(const IncomingCall&) = delete;

  // A context for a call made on behalf of the call this thread serves:
  // gRPC ends it at the caller's deadline (or the one set on it, whichever
  // comes first) and cancels it when the caller's call is cancelled.
  static std::unique_ptr<grpc::ClientContext> NewOutgoingContext();

  // The deadline of the call this thread serves; InfiniteFuture when it
  // serves none or the caller set none.
  static absl::Time Deadline();

  // Whether the call this thread serves was cancelled (by the caller, by
  // its deadline, or because the caller went away). False when it serves
  // none.
  static bool Cancelled();

 private:
  const grpc::ServerContext* const sync_;
  const grpc::CallbackServerContext* const callback_;
  IncomingCall* const outer_;
};

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_INCOMING_CALL_H_
