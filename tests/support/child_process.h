// Child processes for the multi-process network tests: the seedtune binary
// started through `sh -c 'exec ...'` (so the pid is seedtune's own), waited
// for with a time limit, killed by pid.
#pragma once

#include <sys/types.h>

#include <string>

namespace seedtune::testing {

// Starts `command` (a shell command line) in the background.
pid_t Spawn(const std::string& command);
// Its exit code; -1 when it did not exit within `timeout_s` (it is then
// killed) or died from a signal.
int WaitExit(pid_t pid, double timeout_s);
void KillProcess(pid_t pid, int signal);

// Polls until `path` exists and holds a line (or `timeout_s` passes); its contents.
std::string WaitForFile(const std::string& path, double timeout_s);
// Polls until the file contains `needle` (or `timeout_s` passes).
bool WaitForText(const std::string& path, const std::string& needle, double timeout_s);
std::string ReadFileText(const std::string& path);

}  // namespace seedtune::testing
