// What a stranger can cost a seedtune server (coordinator or peer): every
// connection must finish its handshake within a deadline and is closed when
// it carries no call for a while, the process may hold as many sockets as its
// hard limit allows, and refusals are logged at a bounded rate (every one is
// still counted).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace seedtune {

struct ServerLimits {
  // A connection that has not completed its HTTP/2 (and TLS) handshake by
  // then is closed: an idle or half-open TCP connection from a stranger.
  double handshake_timeout_s = 10.0;
  // A connection with no call in flight for this long is closed (clients
  // reconnect on their next call).
  double idle_timeout_s = 120.0;
  int max_streams_per_connection = 32;
};

// Applies the limits to a server about to be built.
void ApplyServerLimits(const ServerLimits& limits, grpc::ServerBuilder* builder);

// Raises the soft limit on open files to the hard limit (capped at 1 << 20):
// Debian's default soft 1024 lets ~1000 idle connections stop accept().
// Returns the limit now in force.
uint64_t RaiseOpenFileLimit();

// Lets `burst` lines through per `window`; the rest are counted, and the
// next line let through (or Flush) says how many were not shown.
class LogRateLimiter {
 public:
  LogRateLimiter(int burst, std::chrono::steady_clock::duration window) : burst_(burst), window_(window) {}
  // True when the line may be logged; `note` then holds "" or a line to log
  // first about the suppressed ones.
  bool Allow(std::string* note);
  // A line about lines suppressed and not yet reported ("" if none).
  std::string Flush();
  uint64_t suppressed_total() const { return suppressed_total_; }

 private:
  int burst_;
  std::chrono::steady_clock::duration window_;
  std::chrono::steady_clock::time_point window_start_{};
  int in_window_ = 0;
  uint64_t suppressed_ = 0, suppressed_total_ = 0;
};

}  // namespace seedtune
