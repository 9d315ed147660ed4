// Runs the seedtune binary under test (SEEDTUNE_BINARY, defined for the test
// targets) the way users and scripts call it.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace seedtune::testing {

struct CliResult {
  int code = -1;
  std::string out;
};

// `args` are shell-quoted by the caller; stdout is captured, stderr merged
// when `merge_stderr` (else dropped); `env` ("K=V ...") prefixes the command.
inline CliResult RunCli(const std::string& args, bool merge_stderr = false, const std::string& env = "") {
  const std::string cmd = env + (env.empty() ? "" : " ") + std::string(SEEDTUNE_BINARY) + " " + args +
                          (merge_stderr ? " 2>&1" : " 2>/dev/null");
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace seedtune::testing
