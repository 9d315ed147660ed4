// Network addresses as users type them (--listen, --server, --bootstrap):
// checked before gRPC sees them, which would listen on a random port for
// "127.0.0.1:99999", dial port 0 for "127.0.0.1" and retry an unknown host
// name until its deadline.
#pragma once

#include <string>

#include "core/status.h"

namespace seedtune {

// `address` is host:port ("[v6]:port" for IPv6, or gRPC's "unix:PATH"); the
// port a decimal number in [min_port, 65535] (0 for a listen address: any
// free port). InvalidArgument naming `what` (the option) and the problem.
Status CheckHostPort(const std::string& address, const std::string& what, int min_port);

// CheckHostPort, then the host must resolve (getaddrinfo): an unknown name is
// an error now, not a minute of retries. NotFound naming the host.
Status CheckReachableAddress(const std::string& address, const std::string& what);

}  // namespace seedtune
