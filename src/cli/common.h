// Shared pieces of the seedtune command line: the option table every command
// draws from, and helpers to report errors. exit codes: 0 ok, 1 runtime error,
// 2 usage error (CLI11).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "core/limits.h"
#include "core/status.h"

namespace seedtune::cli {

// Options shared across commands; each command adds the ones it uses.
struct CommonOptions {
  std::string model;
  std::string tokenizer;
  int threads = 0;  // 0 = all cores
  std::string backend = "cpu";
  bool json = false;
};

void AddModelOption(CLI::App* app, CommonOptions* o, bool required = true);
void AddTokenizerOption(CLI::App* app, CommonOptions* o);
void AddThreadsOption(CLI::App* app, CommonOptions* o);
// --backend NAME (backend/backend.h) for the commands that run a model; the
// command passes o->backend to MakeBackend.
void AddBackendOption(CLI::App* app, CommonOptions* o);
void AddJsonOption(CLI::App* app, CommonOptions* o);

// Range checks for numeric options. Each refuses NaN, infinities and values
// outside its interval (CLI11's own Range lets NaN through); CLI11 puts the
// option's name in front of the message, so the error names the option.
CLI::Validator InRange(double lo, double hi);  // finite, lo <= x <= hi
CLI::Validator AtLeast(double lo);              // finite, x >= lo
CLI::Validator Positive();                      // finite, x > 0
CLI::Validator Fraction();                      // finite, 0 < x <= 1
// Any of the above: finite and ok(x); `want` says what is wanted ("a number > 0").
CLI::Validator NumberCheck(std::function<bool(double)> ok, std::string want);
// Durations in seconds: finite, > 0 and at most kMaxTimeoutSeconds
// (core/limits.h).
CLI::Validator Seconds();
// Worker threads: 0 (all cores) up to MaxThreads().
int MaxThreads();

// Checks an output path before anything is written: it must not be, or (as a
// directory) hold, one of `inputs` (the base model, the ledger), not even
// with --force; an existing file or directory is replaced only with `force`.
Status CheckOutputPath(const std::string& out, const std::vector<std::string>& inputs, bool force);
void AddForceOption(CLI::App* app, bool* force);
// The file or directory a --model argument names (itself when it names none,
// e.g. random:NAME), for CheckOutputPath.
std::string ModelInputPath(const std::string& model_spec);

// Prints "seedtune <command>: <status>" to stderr and returns exit code 1.
int Fail(const std::string& command, const Status& status);
// The same for a usage error (a missing or contradictory argument): exit 2,
// as CLI11's own parse errors.
int FailUsage(const std::string& command, const Status& status);

// Parses "1,2,3" (whitespace allowed) into integers.
StatusOr<std::vector<int64_t>> ParseIntList(const std::string& text, const std::string& what);

// A command registers itself: builds its subcommand and returns the function
// to run when it was chosen.
using CommandRunner = std::function<int()>;
CommandRunner RegisterInfo(CLI::App& app);
CommandRunner RegisterGenerate(CLI::App& app);
CommandRunner RegisterTokenize(CLI::App& app);
CommandRunner RegisterLogits(CLI::App& app);
CommandRunner RegisterPpl(CLI::App& app);
CommandRunner RegisterConvert(CLI::App& app);
CommandRunner RegisterDemo(CLI::App& app);
CommandRunner RegisterRng(CLI::App& app);
CommandRunner RegisterTrain(CLI::App& app);
CommandRunner RegisterEval(CLI::App& app);
CommandRunner RegisterSimulate(CLI::App& app);
CommandRunner RegisterLedger(CLI::App& app);
CommandRunner RegisterServer(CLI::App& app);
CommandRunner RegisterClient(CLI::App& app);
CommandRunner RegisterPeer(CLI::App& app);

}  // namespace seedtune::cli
