#include "support/python_oracle.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/mapped_file.h"

namespace seedtune::testing {

namespace {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  out += "'";
  return out;
}

}  // namespace

std::string PythonUnavailableReason(const std::string& python) {
  if (python.empty()) return "no Python interpreter configured";
  if (::access(python.c_str(), X_OK) != 0) {
    return python + " not found (run scripts/setup-venv.sh to create the test venv)";
  }
  return std::string();
}

std::string TestTempDir(const std::string& name) {
  namespace fs = std::filesystem;
  static std::atomic<int> counter{0};
  const char* env = std::getenv("SEEDTUNE_TEST_TMP");
  fs::path root = (env != nullptr && *env != '\0') ? fs::path(env) : fs::temp_directory_path() / "seedtune-test";
  fs::path dir = root / (name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  return dir.string();
}

StatusOr<std::string> RunPython(const std::string& python, const std::string& script,
                                const std::vector<std::string>& args, const std::string& stdin_data) {
  const std::string why = PythonUnavailableReason(python);
  if (!why.empty()) return NotFound("{}", why);
  const std::string dir = TestTempDir("python");
  const std::string script_path = dir + "/script.py";
  const std::string in_path = dir + "/stdin";
  const std::string err_path = dir + "/stderr";
  RETURN_IF_ERROR(WriteStringToFile(script_path, script));
  RETURN_IF_ERROR(WriteStringToFile(in_path, stdin_data));
  std::string cmd = ShellQuote(python);
  cmd.append(" ").append(ShellQuote(script_path));
  for (const auto& a : args) cmd.append(" ").append(ShellQuote(a));
  cmd.append(" < ").append(ShellQuote(in_path)).append(" 2> ").append(ShellQuote(err_path));
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return InternalError("popen failed for {}", cmd);
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  const int rc = ::pclose(pipe);
  std::error_code ec;
  if (rc != 0) {
    auto err = ReadFileToString(err_path);
    std::filesystem::remove_all(dir, ec);
    return InternalError("python exited with status {}: {}", WIFEXITED(rc) ? WEXITSTATUS(rc) : rc,
                         err.ok() ? *err : std::string("(no stderr)"));
  }
  std::filesystem::remove_all(dir, ec);
  return out;
}

}  // namespace seedtune::testing
