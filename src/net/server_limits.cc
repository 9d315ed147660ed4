#include "net/server_limits.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>

namespace seedtune {

void ApplyServerLimits(const ServerLimits& limits, grpc::ServerBuilder* builder) {
  auto ms = [](double s) { return static_cast<int>(std::clamp(s * 1000.0, 1.0, 2e9)); };
  builder->AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, ms(limits.handshake_timeout_s));
  builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, ms(limits.idle_timeout_s));
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits.max_streams_per_connection);
  // gRPC sets SO_REUSEPORT by default: a second server on the same port then
  // binds too, and the kernel splits the clients between two runs.
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
}

uint64_t RaiseOpenFileLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  const rlim_t want = r.rlim_max == RLIM_INFINITY ? (rlim_t{1} << 20) : std::min<rlim_t>(r.rlim_max, rlim_t{1} << 20);
  if (r.rlim_cur < want) {
    r.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &r) != 0) getrlimit(RLIMIT_NOFILE, &r);
  }
  return static_cast<uint64_t>(r.rlim_cur);
}

bool LogRateLimiter::Allow(std::string* note) {
  note->clear();
  const auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= window_) {
    *note = Flush();
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ < burst_) {
    ++in_window_;
    return true;
  }
  ++suppressed_;
  ++suppressed_total_;
  return false;
}

std::string LogRateLimiter::Flush() {
  if (suppressed_ == 0) return {};
  std::string line = fmt::format("... {} more lines like these not logged (at most {} per {:.0f} s; all are counted)",
                                 suppressed_, burst_, std::chrono::duration<double>(window_).count());
  suppressed_ = 0;
  return line;
}

}  // namespace seedtune
