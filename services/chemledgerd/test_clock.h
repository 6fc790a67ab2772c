// A clock for tests and drills: the time is whatever a file says, so that a
// test can run a server through planned arrivals, grace periods and a year
// of history in minutes (chemledgerd serve --test-clock FILE).
//
// The file holds the time as Unix seconds (decimal, optionally with a
// fraction: "1767225600" or "1767225600.5"), and the test rewrites it to move
// time on. Read at most once per millisecond; a file that cannot be read or
// parsed keeps the last good time (and the first read must succeed: Open
// fails otherwise). Record times never go backwards whatever the file says
// (the journal keeps them in order).
//
// Refused outside test deployments (Genesis.test_deployment; Deployment::Open
// checks), so no production ledger can be given a false time this way.
//
// Thread-safe.

#ifndef CHEMLEDGER_SERVICES_CHEMLEDGERD_TEST_CLOCK_H_
#define CHEMLEDGER_SERVICES_CHEMLEDGERD_TEST_CLOCK_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace chemledger::server {

// The clock the file at `path` keeps, as a function the deployment calls.
// InvalidArgument naming the file when it cannot be read or parsed now.
absl::StatusOr<std::function<absl::Time()>> OpenTestClock(const std::string& path);

// Parses the file's text (exposed for tests).
absl::StatusOr<absl::Time> ParseTestClock(const std::string& text);

}  // namespace chemledger::server

#endif  // CHEMLEDGER_SERVICES_CHEMLEDGERD_TEST_CLOCK_H_
