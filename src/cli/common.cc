#include "cli/common.h"

#include <cstdio>

#include "backend/backend.h"

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

void AddThreadsOption(CLI::App* app, CommonOptions* o) {
  app->add_option("--threads", o->threads, "Worker threads (0 = all cores); results are identical for any count")
      ->check(CLI::NonNegativeNumber);
}

void AddBackendOption(CLI::App* app, CommonOptions* o) {
  app->add_option("--backend", o->backend, "Compute backend: " + BackendHelp())
      ->check(CLI::IsMember(BackendNames()))
      ->capture_default_str();
}

void AddJsonOption(CLI::App* app, CommonOptions* o) {
  app->add_flag("--json", o->json, "Machine-readable JSON on stdout");
}

int Fail(const std::string& command, const Status& status) {
  std::fprintf(stderr, "seedtune %s: %s\n", command.c_str(), status.ToString().c_str());
  return 1;
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
