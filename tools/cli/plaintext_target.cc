#include "tools/cli/plaintext_target.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chemledger::cli {

absl::StatusOr<std::string> PlaintextTarget(absl::string_view flag, absl::string_view server) {
  if (absl::StartsWith(server, "unix:")) return std::string(server);
  const auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": ", server, " ", why,
        "; plaintext goes only to this machine: give --tls-ca FILE to talk TLS"));
  };
  const size_t colon = server.rfind(':');
  if (colon == absl::string_view::npos) return refuse("is not HOST:PORT");
  std::string host(server.substr(0, colon));
  const std::string port(server.substr(colon + 1));
  int port_number = 0;
  if (!absl::SimpleAtoi(port, &port_number) || port_number < 1 || port_number > 65535) {
    return refuse("has no port 1 to 65535");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (host.empty() || getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) {
    return refuse("does not resolve");
  }
  std::string target;
  bool all_loopback = true;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      const in_addr ip = reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr;
      all_loopback &= (ntohl(ip.s_addr) >> 24) == 127;
      inet_ntop(AF_INET, &ip, text, sizeof text);
      if (target.empty()) target = absl::StrCat("ipv4:", text, ":", port);
    } else if (a->ai_family == AF_INET6) {
      const in6_addr ip = reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr;
      all_loopback &= IN6_IS_ADDR_LOOPBACK(&ip) != 0;
      inet_ntop(AF_INET6, &ip, text, sizeof text);
      if (target.empty()) target = absl::StrCat("ipv6:[", text, "]:", port);
    } else {
      all_loopback = false;
    }
  }
  freeaddrinfo(found);
  if (!all_loopback || target.empty()) return refuse("is not on this machine");
  return target;
}

}  // namespace chemledger::cli
