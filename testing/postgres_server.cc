#include "testing/postgres_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <postgresql/libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace chemledger::testing {
namespace {

constexpr char kBin[] = "/usr/lib/postgresql/15/bin";

// A port on loopback that nothing listens on now.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(a);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

// argv as the server's user: as is, or as nobody when root, through setpriv
// (which execs it: the process is the server itself, and takes its signals).
std::vector<std::string> AsServerUser(std::vector<std::string> argv) {
  if (geteuid() != 0) return argv;
  std::vector<std::string> wrapped = {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
                                      "--clear-groups", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

absl::Status RunToEnd(const std::vector<std::string>& argv) {
  Subprocess p;
  if (absl::Status s = p.Start(argv); !s.ok()) return s;
  (void)p.ReadLines(absl::Now() + absl::Seconds(120));  // to its end
  absl::StatusOr<int> status = p.Wait();
  if (!status.ok()) return status.status();
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " ", argv.size() > 4 ? argv[4] : "",
                                            " failed with wait status ", *status));
  }
  return absl::OkStatus();
}

// A fresh directory under /tmp for a server, owned by the server's user.
absl::StatusOr<std::string> MakeServerDirectory() {
  char dir[] = "/tmp/chemledger-pg-XXXXXX";
  if (mkdtemp(dir) == nullptr) return absl::InternalError("mkdtemp failed");
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all |
                                        std::filesystem::perms::group_exec |
                                        std::filesystem::perms::others_exec);
  if (geteuid() == 0) {
    const passwd* nobody = getpwnam("nobody");
    if (nobody == nullptr || chown(dir, nobody->pw_uid, nobody->pw_gid) != 0) {
      return absl::InternalError("cannot give the server's directory to nobody");
    }
  }
  return std::string(dir);
}

std::vector<std::string> ServerArgv(const std::string& data, int port, const std::string& dir) {
  return {absl::StrCat(kBin, "/postgres"),
          "-D",
          data,
          "-p",
          absl::StrCat(port),
          "-c",
          "listen_addresses=127.0.0.1",
          "-c",
          absl::StrCat("unix_socket_directories=", dir),
          "-c",
          "max_connections=200"};
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  if (!std::filesystem::exists(absl::StrCat(kBin, "/initdb"))) {
    return absl::FailedPreconditionError(
        "PostgreSQL 15 is not installed (tools/install-deps.sh installs postgresql-15)");
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  absl::StatusOr<std::string> dir = MakeServerDirectory();
  if (!dir.ok()) return dir.status();
  server->dir_ = *dir;
  const std::string data = server->dir_ + "/data";
  if (absl::Status s = RunToEnd(AsServerUser({absl::StrCat(kBin, "/initdb"), "-D", data, "-U",
                                              "postgres", "--auth=trust", "-E", "UTF8",
                                              "--locale=C", "--no-sync"}));
      !s.ok()) {
    return s;
  }
  server->port_ = FreePort();
  server->argv_ = ServerArgv(data, server->port_, server->dir_);
  if (absl::Status s = server->Launch(); !s.ok()) return s;
  return server;
}

absl::Status PostgresServer::Launch() {
  if (absl::Status s = server_.Start(AsServerUser(argv_)); !s.ok()) return s;
  running_ = true;
  const std::string conninfo = Connection("postgres");
  for (const absl::Time deadline = absl::Now() + absl::Seconds(60);;) {
    if (PQping(conninfo.c_str()) == PQPING_OK) return absl::OkStatus();
    // Its stdout (which it never writes) closes when it exits.
    bool exited = false;
    (void)server_.ReadLines(absl::Now() + absl::Milliseconds(1), &exited);
    if (exited) {
      return absl::InternalError(
          "the test's PostgreSQL exited while starting (its log is on standard error)");
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("the test's PostgreSQL did not start within 60 s");
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::StartStandby(
    const std::string& name, bool synchronous) {
  std::unique_ptr<PostgresServer> standby(new PostgresServer());
  absl::StatusOr<std::string> dir = MakeServerDirectory();
  if (!dir.ok()) return dir.status();
  standby->dir_ = *dir;
  if (absl::Status s = Execute(
          "postgres", absl::StrCat("SELECT pg_create_physical_replication_slot('", name, "')"));
      !s.ok()) {
    return s;
  }
  const std::string data = standby->dir_ + "/data";
  // -R: standby.signal, and how to reach this server.
  if (absl::Status s =
          RunToEnd(AsServerUser({absl::StrCat(kBin, "/pg_basebackup"), "-h", "127.0.0.1", "-p",
                                 absl::StrCat(port_), "-U", "postgres", "-D", data, "-X", "stream",
                                 "-S", name, "-R", "--no-sync", "--checkpoint=fast"}));
      !s.ok()) {
    return s;
  }
  standby->port_ = FreePort();
  standby->argv_ = ServerArgv(data, standby->port_, standby->dir_);
  for (const std::string& setting : {absl::StrCat("primary_conninfo=host=127.0.0.1 port=", port_,
                                                  " user=postgres application_name=", name),
                                     absl::StrCat("primary_slot_name=", name)}) {
    standby->argv_.push_back("-c");
    standby->argv_.push_back(setting);
  }
  if (absl::Status s = standby->Launch(); !s.ok()) return s;
  if (!synchronous) return standby;
  if (absl::Status s = Execute(
          "postgres", absl::StrCat("ALTER SYSTEM SET synchronous_standby_names = '", name, "'"));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = Execute("postgres", "SELECT pg_reload_conf()"); !s.ok()) return s;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(60);;) {
    absl::StatusOr<std::string> state = QueryValue(
        "postgres", absl::StrCat("SELECT coalesce((SELECT sync_state FROM pg_stat_replication "
                                 "WHERE application_name = '",
                                 name, "'), 'none')"));
    if (!state.ok()) return state.status();
    if (*state == "sync") return standby;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("the standby ", name, " is not synchronous after 60 s (", *state, ")"));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::Status PostgresServer::Promote() {
  absl::StatusOr<std::string> promoted = QueryValue("postgres", "SELECT pg_promote(true, 60)");
  if (!promoted.ok()) return promoted.status();
  if (*promoted != "t") return absl::InternalError("the standby was not promoted within 60 s");
  return absl::OkStatus();
}

void PostgresServer::Kill() {
  if (running_ && server_.Kill(SIGKILL).ok()) (void)server_.Wait();
  running_ = false;
}

absl::Status PostgresServer::Stop() {
  if (running_ && server_.Kill(SIGINT).ok()) (void)server_.Wait();
  running_ = false;
  return absl::OkStatus();
}

absl::Status PostgresServer::Restart() {
  if (absl::Status s = Stop(); !s.ok()) return s;
  return Launch();
}

PostgresServer::~PostgresServer() {
  // A fast shutdown (SIGINT), then the directory goes.
  if (running_ && server_.Kill(SIGINT).ok()) (void)server_.Wait();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string PostgresServer::Connection(const std::string& database) const {
  return absl::StrCat("host=127.0.0.1 port=", port_, " user=postgres dbname=", database,
                      " connect_timeout=10");
}

absl::Status PostgresServer::Execute(const std::string& database, const std::string& sql) {
  PGconn* c = PQconnectdb(Connection(database).c_str());
  absl::Status status;
  if (PQstatus(c) != CONNECTION_OK) {
    status = absl::UnavailableError(PQerrorMessage(c));
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    const ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
      status = absl::InternalError(absl::StrCat(sql, ": ", PQerrorMessage(c)));
    }
    PQclear(r);
  }
  PQfinish(c);
  return status;
}

absl::StatusOr<std::string> PostgresServer::QueryValue(const std::string& database,
                                                       const std::string& sql) {
  PGconn* c = PQconnectdb(Connection(database).c_str());
  absl::StatusOr<std::string> value;
  if (PQstatus(c) != CONNECTION_OK) {
    value = absl::UnavailableError(PQerrorMessage(c));
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1 || PQnfields(r) < 1) {
      value = absl::InternalError(absl::StrCat(sql, ": ", PQerrorMessage(c)));
    } else {
      value = std::string(PQgetvalue(r, 0, 0));
    }
    PQclear(r);
  }
  PQfinish(c);
  return value;
}

absl::Status PostgresServer::CreateDatabase(const std::string& name) {
  return Execute("postgres", absl::StrCat("CREATE DATABASE \"", name, "\""));
}

absl::StatusOr<PostgresPair> StartPostgresPair(const std::string& database,
                                               const std::string& standby_name, bool synchronous) {
  PostgresPair pair;
  absl::StatusOr<std::unique_ptr<PostgresServer>> primary = PostgresServer::Start();
  if (!primary.ok()) return primary.status();
  pair.primary = *std::move(primary);
  if (absl::Status s = pair.primary->CreateDatabase(database); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<PostgresServer>> standby =
      pair.primary->StartStandby(standby_name, synchronous);
  if (!standby.ok()) return standby.status();
  pair.standby = *std::move(standby);
  return pair;
}

}  // namespace chemledger::testing
