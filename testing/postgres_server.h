// Test support: a PostgreSQL 15 server of the test's own (Debian's
// postgresql-15 binaries), made with initdb in a fresh directory under /tmp,
// listening on loopback on a free port, trusting local connections, and
// stopped and removed by the destructor. Tests of the PostgreSQL store run
// against it; nothing of the machine's own PostgreSQL (if any) is touched.
//
// PostgreSQL refuses to run as root: a test running as root runs the
// server as `nobody` (setpriv), owning its directory.
//
// A server can also make a hot standby of itself (StartStandby: a
// pg_basebackup through a physical replication slot, streaming from it,
// synchronous or not), be killed as a lost machine would be (Kill), and a
// standby promoted (Promote): what the failover tests need.
//
// Not thread-safe: one owner. Connections made through Connection() may be
// used from any thread.

#ifndef CHEMLEDGER_TESTING_POSTGRES_SERVER_H_
#define CHEMLEDGER_TESTING_POSTGRES_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/subprocess.h"

namespace chemledger::testing {

class PostgresServer {
 public:
  // initdb, start, and wait until it accepts connections (at most 60 s).
  // FailedPrecondition when postgresql-15 is not installed.
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  // A libpq connection string for `database` as the superuser "postgres".
  std::string Connection(const std::string& database) const;
  // Creates an empty database.
  absl::Status CreateDatabase(const std::string& name);
  // Runs one SQL command in `database` (for tests that need to look or
  // tamper under the store).
  absl::Status Execute(const std::string& database, const std::string& sql);
  // The first column of the first row `sql` returns in `database`.
  absl::StatusOr<std::string> QueryValue(const std::string& database, const std::string& sql);

  // A hot standby of this server named `name` (its application_name and
  // replication slot), made from a base backup and streaming from this
  // server. With `synchronous`, this server then acknowledges a commit only
  // once the standby has flushed it (synchronous_standby_names =
  // `name`, synchronous_commit = on), and this returns once the standby is
  // the synchronous one.
  absl::StatusOr<std::unique_ptr<PostgresServer>> StartStandby(const std::string& name,
                                                               bool synchronous);
  // Promotes this standby to a primary; returns once it accepts writes.
  absl::Status Promote();
  // SIGKILL to the server (its postmaster): gone at once, as a lost machine.
  void Kill();
  // Fast shutdown, and start again on the same port and data.
  absl::Status Stop();
  absl::Status Restart();

 private:
  PostgresServer() = default;
  absl::Status Launch();

  std::string dir_;
  int port_ = 0;
  std::vector<std::string> argv_;  // the server's command line
  bool running_ = false;
  Subprocess server_;
};

// A primary with an empty database `database` and a hot standby
// `standby_name` streaming from it (synchronous or not, as StartStandby).
struct PostgresPair {
  std::unique_ptr<PostgresServer> primary;
  std::unique_ptr<PostgresServer> standby;
};
absl::StatusOr<PostgresPair> StartPostgresPair(const std::string& database,
                                               const std::string& standby_name, bool synchronous);

}  // namespace chemledger::testing

#endif  // CHEMLEDGER_TESTING_POSTGRES_SERVER_H_
