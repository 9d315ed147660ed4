#include "cli/common.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "backend/backend.h"
#include "runtime/model_source.h"

namespace seedtune::cli {

void AddModelOption(CLI::App* app, CommonOptions* o, bool required) {
  auto* opt = app->add_option("-m,--model", o->model,
                              "Model: Hugging Face directory, .gguf file, llama2.c .bin, a path under the asset "
                              "roots (e.g. models/stories260K/stories260K.bin), or random:NAME[:SEED] "
                              "(opt-125m, gpt2, pythia-160m, smollm2-135m, ...: real shape, random weights)");
  if (required) opt->required();
}

void AddTokenizerOption(CLI::App* app, CommonOptions* o) {
  app->add_option("-t,--tokenizer", o->tokenizer,
                  "Tokenizer file or directory (tokenizer.json, tokenizer.model, llama2.c tokenizer.bin, GPT-2 "
                  "encoder.json, .gguf); default: the model's own");
}

namespace {

// Parses the whole text as a number ("nan" and "inf" included, so they can be
// refused by name rather than slip through a comparison).
bool ParseNumber(const std::string& text, double* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

}  // namespace

CLI::Validator NumberCheck(std::function<bool(double)> ok, std::string want) {
  return CLI::Validator(
      [ok, want](std::string& text) -> std::string {
        double x = 0;
        if (!ParseNumber(text, &x)) return fmt::format("'{}' is not a number", text);
        if (!std::isfinite(x)) return fmt::format("{} is not finite; want {}", text, want);
        if (!ok(x)) return fmt::format("{} is out of range; want {}", text, want);
        return {};
      },
      want);
}

CLI::Validator InRange(double lo, double hi) {
  return NumberCheck([lo, hi](double x) { return x >= lo && x <= hi; }, fmt::format("a number in [{}, {}]", lo, hi));
}
CLI::Validator AtLeast(double lo) {
  return NumberCheck([lo](double x) { return x >= lo; }, fmt::format("a number >= {}", lo));
}
CLI::Validator Positive() {
  return NumberCheck([](double x) { return x > 0; }, "a number > 0");
}
CLI::Validator Fraction() {
  return NumberCheck([](double x) { return x > 0 && x <= 1; }, "a fraction in (0, 1]");
}
CLI::Validator Seconds() {
  return NumberCheck(IsValidTimeout, fmt::format("seconds in (0, {:g}]", kMaxTimeoutSeconds));
}

int MaxThreads() {
  // More threads than a few per core only adds switching; a typo like 10000
  // would start that many.
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max(64, 4 * cores);
}

void AddThreadsOption(CLI::App* app, CommonOptions* o) {
  app->add_option("--threads", o->threads, "Worker threads (0 = all cores); results are identical for any count")
      ->check(InRange(0, MaxThreads()));
}

void AddBackendOption(CLI::App* app, CommonOptions* o) {
  app->add_option("--backend", o->backend, "Compute backend: " + BackendHelp())
      ->check(CLI::IsMember(BackendNames()))
      ->capture_default_str();
}

void AddJsonOption(CLI::App* app, CommonOptions* o) {
  app->add_flag("--json", o->json, "Machine-readable JSON on stdout");
}

Status CheckOutputPath(const std::string& out, const std::vector<std::string>& inputs, bool force) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(out, ec))) return Status::Ok();  // a new path
  const fs::path out_abs = fs::weakly_canonical(out, ec);
  for (const std::string& input : inputs) {
    if (input.empty() || !fs::exists(input, ec)) continue;
    if (fs::equivalent(out, input, ec))
      return FailedPrecondition("{}: the output is {} itself; writing it would destroy it (choose another -o)", out,
                                input);
    const fs::path rel = fs::weakly_canonical(input, ec).lexically_relative(out_abs);
    if (fs::is_directory(out_abs, ec) && !rel.empty() && *rel.begin() != "..")
      return FailedPrecondition("{}: the output directory holds {}; writing it could destroy it (choose another -o)",
                                out, input);
  }
  if (!force) return FailedPrecondition("{} exists; pass --force to replace it", out);
  return Status::Ok();
}

std::string ModelInputPath(const std::string& model_spec) {
  auto p = ResolveModelPath(model_spec);
  return p.ok() ? *p : model_spec;
}

void AddForceOption(CLI::App* app, bool* force) {
  app->add_flag("--force", *force, "Replace an existing output (never the base model or the ledger themselves)");
}

int Fail(const std::string& command, const Status& status) {
  std::fprintf(stderr, "seedtune %s: %s\n", command.c_str(), status.ToString().c_str());
  return 1;
}

int FailUsage(const std::string& command, const Status& status) {
  Fail(command, status);
  return 2;
}

StatusOr<std::vector<int64_t>> ParseIntList(const std::string& text, const std::string& what) {
  std::vector<int64_t> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i >= text.size()) break;
    size_t j = i;
    if (text[j] == '-' || text[j] == '+') ++j;
    const size_t digits = j;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    if (j == digits || (j < text.size() && text[j] != ',' && text[j] != ' '))
      return InvalidArgument("{}: '{}' is not a comma-separated list of integers", what, text);
    try {
      out.push_back(std::stoll(text.substr(i, j - i)));
    } catch (...) {
      return InvalidArgument("{}: '{}' is out of range", what, text.substr(i, j - i));
    }
    i = j;
  }
  if (out.empty()) return InvalidArgument("{}: empty list", what);
  return out;
}

}  // namespace seedtune::cli
