// Running Python snippets from tests (e.g. reference implementations such as
// the Hugging Face `tokenizers` package in the project venv).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace seedtune::testing {

// Empty string when `python` exists and is executable; otherwise the reason
// (for GTEST_SKIP()).
std::string PythonUnavailableReason(const std::string& python);

// Runs `python -c script arg...`-style: the script is written to a temporary
// file and run as `python script_file args...` with `stdin_data` on stdin.
// Returns stdout; a non-zero exit status becomes an error carrying stderr.
StatusOr<std::string> RunPython(const std::string& python, const std::string& script,
                                const std::vector<std::string>& args = {}, const std::string& stdin_data = "");

// A fresh temporary directory under $SEEDTUNE_TEST_TMP (or the system temp
// directory); created on demand.
std::string TestTempDir(const std::string& name);

}  // namespace seedtune::testing
