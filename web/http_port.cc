#include "web/http_port.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace chemledger::web {
namespace {

void ExclusivePortOptions(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

// Whether a server accepts connections on `host`:`port` (a wildcard host is
// asked on loopback).
bool SomeoneListens(const std::string& host, int port) {
  std::string ask = host;
  if (ask.empty() || ask == "0.0.0.0" || ask == "*") ask = "127.0.0.1";
  if (ask == "::") ask = "::1";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(ask.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return false;
  bool listens = false;
  for (addrinfo* a = found; a != nullptr && !listens; a = a->ai_next) {
    const int s = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (s < 0) continue;
    listens = connect(s, a->ai_addr, a->ai_addrlen) == 0;
    close(s);
  }
  freeaddrinfo(found);
  return listens;
}

std::string HostPort(const std::string& host, int port) {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port)
                                             : absl::StrCat(host, ":", port);
}

}  // namespace

absl::StatusOr<int> BindHttpPort(httplib::Server* http, const std::string& host, int port,
                                 absl::Duration wait) {
  http->set_socket_options(ExclusivePortOptions);
  if (port == 0) {
    const int bound = http->bind_to_any_port(host);
    if (bound > 0) return bound;
    return absl::UnavailableError(absl::StrCat("cannot listen on ", HostPort(host, port)));
  }
  const absl::Time give_up = absl::Now() + wait;
  for (bool told = false;; told = true) {
    errno = 0;
    if (http->bind_to_port(host, port)) return port;
    const int why = errno;
    if (SomeoneListens(host, port)) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", HostPort(host, port),
                       ": another server listens there (stop it, or choose another port)"));
    }
    if (why != EADDRINUSE || absl::Now() >= give_up) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", HostPort(host, port)));
    }
    if (!told) {
      std::cerr << "port " << HostPort(host, port)
                << " is held by the closing connections of a server that stopped; waiting for "
                   "them (at most "
                << absl::FormatDuration(wait) << ")" << std::endl;
    }
    absl::SleepFor(absl::Seconds(1));
  }
}

std::thread ServeInBackground(httplib::Server* http) {
  auto ended = std::make_shared<std::atomic<bool>>(false);
  std::thread serving([http, ended] {
    http->listen_after_bind();
    ended->store(true);
  });
  while (!http->is_running() && !ended->load()) absl::SleepFor(absl::Milliseconds(1));
  return serving;
}

}  // namespace chemledger::web
