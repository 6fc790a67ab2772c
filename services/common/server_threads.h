// How a gRPC server's threads for synchronous calls are bounded and kept.
//
// gRPC's synchronous server runs each call on a thread of its own: a thread
// that takes a call leaves the pollers, and one is started when fewer than
// MIN_POLLERS remain. Left at gRPC's default, a thread that finishes a call
// ends when two others are already polling, so with a few calls in flight
// (eight clients appending events, each call waiting for its fsync) nearly
// every call starts a thread and ends one. BoundCallThreads keeps up to
// kIdleCallThreads finished threads waiting for the next call instead (they
// stay until the server shuts down, with whatever they keep per thread: a
// thread_local font face of the label renderer, a PNG encoder's stream),
// and bounds every thread serving calls by the server's --max-threads.
//
// Thread-safety: call before BuildAndStart, on the builder's thread.

#ifndef CHEMLEDGER_SERVICES_COMMON_SERVER_THREADS_H_
#define CHEMLEDGER_SERVICES_COMMON_SERVER_THREADS_H_

#include <string>

#include "grpcpp/server_builder.h"

namespace chemledger {

// Finished call threads kept waiting for the next call.
inline constexpr int kIdleCallThreads = 64;

// At most `max_threads` threads serve `builder`'s calls (a resource quota
// named `name`, as metrics and gRPC's logs show it), and up to
// kIdleCallThreads of them stay when idle.
void BoundCallThreads(const std::string& name, int max_threads, grpc::ServerBuilder* builder);

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_SERVER_THREADS_H_
