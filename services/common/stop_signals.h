// The stop signals of a server process (SIGINT, SIGTERM), from its first
// line to its last.
//
// A server blocks them in every thread and, once it serves, takes them with
// sigwait (or sigtimedwait) to stop gracefully: calls in progress finish,
// new ones are refused. Before it serves (opening a store, rebuilding its
// state after an upgrade, a standby waiting for the writer's lease on
// PostgreSQL, a personality waiting for ledgerd) nothing would take them,
// and a stop would wait until the start ended, or until the service manager
// sent SIGKILL. So a thread of this module takes them while the process
// starts and ends the process at once: it says so on standard output and
// dies of the signal, as a process without handlers does. That is safe at
// any point of a start: the process takes no calls yet (EndStartup comes
// before its servers start), and the store survives SIGKILL anywhere (an
// interrupted rebuild goes on where it stopped at the next start).
//
// Thread-safety: BlockStopSignalsWhileStarting once, from the main thread
// before any other thread starts; EndStartup from any thread, any number of
// times.

#ifndef CHEMLEDGER_SERVICES_COMMON_STOP_SIGNALS_H_
#define CHEMLEDGER_SERVICES_COMMON_STOP_SIGNALS_H_

#include <signal.h>

#include <string>

#include "absl/synchronization/notification.h"

namespace chemledger {

// SIGINT and SIGTERM.
sigset_t StopSignalSet();

// Blocks the stop signals in the calling thread, which every thread it
// starts inherits, and starts the thread that ends the process when one
// comes before EndStartup() ("<name>: SIGTERM while starting, stopped").
void BlockStopSignalsWhileStarting(const std::string& name);

// From now on a stop signal waits for the process's own sigwait or
// sigtimedwait (one that came just now is left pending for it). Returns
// once the starting thread is gone. Does nothing if it has ended already,
// or was never started.
void EndStartup();

// Once serving: waits for a stop signal and returns its number. With
// `until`, also returns 0 once `until` is notified (looked at every 100 ms).
int WaitForStopSignal(const absl::Notification* until = nullptr);

// "SIGINT" or "SIGTERM" (another signal: "signal N").
std::string StopSignalName(int signal_number);

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_STOP_SIGNALS_H_
