#include "net/address.h"

#include <netdb.h>
#include <sys/socket.h>

#include <cctype>

namespace seedtune {

namespace {

struct HostPort {
  std::string host, port;
};

StatusOr<HostPort> Split(const std::string& address, const std::string& what) {
  HostPort hp;
  if (address.rfind('[', 0) == 0) {  // [v6]:port
    const size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':')
      return InvalidArgument("{} '{}': an IPv6 address is [host]:port", what, address);
    hp.host = address.substr(1, close - 1);
    hp.port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos)
      return InvalidArgument("{} '{}' has no port: give host:port", what, address);
    hp.host = address.substr(0, colon);
    hp.port = address.substr(colon + 1);
    if (hp.host.find(':') != std::string::npos)
      return InvalidArgument("{} '{}': write an IPv6 address as [host]:port", what, address);
  }
  if (hp.host.empty()) return InvalidArgument("{} '{}' has no host: give host:port", what, address);
  return hp;
}

}  // namespace

Status CheckHostPort(const std::string& address, const std::string& what, int min_port) {
  if (address.rfind("unix:", 0) == 0) return Status::Ok();
  ASSIGN_OR_RETURN(HostPort hp, Split(address, what));
  bool digits = !hp.port.empty() && hp.port.size() <= 5;
  for (char c : hp.port) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  const long port = digits ? std::stol(hp.port) : -1;
  if (!digits || port < min_port || port > 65535)
    return InvalidArgument("{} '{}': the port must be a number in {}..65535{}", what, address, min_port,
                           min_port == 0 ? " (0: any free port)" : "");
  return Status::Ok();
}

Status CheckReachableAddress(const std::string& address, const std::string& what) {
  RETURN_IF_ERROR(CheckHostPort(address, what, 1));
  if (address.rfind("unix:", 0) == 0) return Status::Ok();
  ASSIGN_OR_RETURN(HostPort hp, Split(address, what));
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(hp.host.c_str(), hp.port.c_str(), &hints, &found);
  if (found != nullptr) ::freeaddrinfo(found);
  if (rc != 0) return NotFound("{} '{}': cannot resolve host {} ({})", what, address, hp.host, ::gai_strerror(rc));
  return Status::Ok();
}

}  // namespace seedtune
