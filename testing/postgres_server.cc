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

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  if (!std::filesystem::exists(absl::StrCat(kBin, "/initdb"))) {
    return absl::FailedPreconditionError(
        "PostgreSQL 15 is not installed (tools/install-deps.sh installs postgresql-15)");
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  char dir[] = "/tmp/chemledger-pg-XXXXXX";
  if (mkdtemp(dir) == nullptr) return absl::InternalError("mkdtemp failed");
  server->dir_ = dir;
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all |
                                        std::filesystem::perms::group_exec |
                                        std::filesystem::perms::others_exec);
  if (geteuid() == 0) {
    const passwd* nobody = getpwnam("nobody");
    if (nobody == nullptr || chown(dir, nobody->pw_uid, nobody->pw_gid) != 0) {
      return absl::InternalError("cannot give the server's directory to nobody");
    }
  }
  const std::string data = server->dir_ + "/data";
  if (absl::Status s = RunToEnd(AsServerUser({absl::StrCat(kBin, "/initdb"), "-D", data, "-U",
                                              "postgres", "--auth=trust", "-E", "UTF8",
                                              "--locale=C", "--no-sync"}));
      !s.ok()) {
    return s;
  }
  server->port_ = FreePort();
  if (absl::Status s = server->server_.Start(AsServerUser(
          {absl::StrCat(kBin, "/postgres"), "-D", data, "-p", absl::StrCat(server->port_), "-c",
           "listen_addresses=127.0.0.1", "-c", absl::StrCat("unix_socket_directories=", dir),
           "-c", "max_connections=200"}));
      !s.ok()) {
    return s;
  }
  const std::string conninfo = server->Connection("postgres");
  for (const absl::Time deadline = absl::Now() + absl::Seconds(60);;) {
    if (PQping(conninfo.c_str()) == PQPING_OK) break;
    // Its stdout (which it never writes) closes when it exits.
    bool exited = false;
    (void)server->server_.ReadLines(absl::Now() + absl::Milliseconds(1), &exited);
    if (exited) {
      return absl::InternalError(
          "the test's PostgreSQL exited while starting (its log is on standard error)");
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("the test's PostgreSQL did not start within 60 s");
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return server;
}

PostgresServer::~PostgresServer() {
  // A fast shutdown (SIGINT), then the directory goes.
  if (server_.Kill(SIGINT).ok()) (void)server_.Wait();
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

absl::Status PostgresServer::CreateDatabase(const std::string& name) {
  return Execute("postgres", absl::StrCat("CREATE DATABASE \"", name, "\""));
}

}  // namespace chemledger::testing
