// The flags chemledgerd serve and ledgerd share for a deployment whose store
// is on PostgreSQL (docs/postgres.md): the writer's lease, how long a server
// waits for it (a standby waits without end and takes over when the
// writer's lease lapses), whether a synchronous standby is required, and
// what a server does when another one takes the lease (it exits, so that
// its supervisor starts it again as a standby).
//
// On a LevelDB store the flags change nothing.

#ifndef CHEMLEDGER_SERVICES_CHEMLEDGERD_POSTGRES_FLAGS_H_
#define CHEMLEDGER_SERVICES_CHEMLEDGERD_POSTGRES_FLAGS_H_

#include <set>
#include <string>

#include "absl/status/status.h"
#include "storage/postgres_store.h"
#include "tools/cli/args.h"

namespace chemledger::server {

// The flags' names (each takes a value), and their --help text.
const std::set<std::string>& PostgresFlagNames();
extern const char kPostgresFlagsUsage[];

// Reads --lease, --lease-wait and --synchronous-standby into `options`,
// and sets its on_lease_lost to print why and exit with status 75
// (EX_TEMPFAIL). InvalidArgument naming the flag for a bad value.
absl::Status ReadPostgresFlags(const cli::Args& args, const std::string& program,
                               storage::PostgresStoreOptions* options);

}  // namespace chemledger::server

#endif  // CHEMLEDGER_SERVICES_CHEMLEDGERD_POSTGRES_FLAGS_H_
