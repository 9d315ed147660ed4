// seedtune: zeroth-order, shared-randomness fine-tuning of language models.
#include <CLI/CLI.hpp>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli/common.h"

int main(int argc, char** argv) {
#if defined(__GLIBC__)
  // Large buffers (weights, workspaces) are mapped and unmapped on their own.
  // glibc otherwise raises its mmap threshold after the first such free, and
  // the next model's workspace then grows the heap beside the freed holes
  // of the last one (a MeZO run's peak was 33 MB above its training phase).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
  CLI::App app{
      "seedtune: fine-tune every parameter of a language model across many machines that exchange only seeds "
      "and scalars (MeZO / FedKSeed / FeedSign / Just One Byte).\n"
      "Models: Hugging Face directories, GGUF files, llama2.c checkpoints. Run `seedtune COMMAND --help`."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "seedtune 0.1.0");
  // Any command's options may come from a TOML file ([simulate] / [train]
  // sections); options given on the command line override it.
  app.set_config("--config", "", "Read options from a TOML file (command-line options override it)");
  // A key no option of its section takes is an error (a typo was silently ignored).
  app.allow_config_extras(CLI::config_extras_mode::error);
  std::map<CLI::App*, seedtune::cli::CommandRunner> runners;
  for (auto reg : {seedtune::cli::RegisterInfo, seedtune::cli::RegisterGenerate, seedtune::cli::RegisterTokenize,
                   seedtune::cli::RegisterLogits, seedtune::cli::RegisterPpl, seedtune::cli::RegisterConvert,
                   seedtune::cli::RegisterRng, seedtune::cli::RegisterTrain,
                   seedtune::cli::RegisterEval, seedtune::cli::RegisterSimulate, seedtune::cli::RegisterLedger,
                   seedtune::cli::RegisterServer, seedtune::cli::RegisterClient, seedtune::cli::RegisterPeer,
                   seedtune::cli::RegisterDemo}) {
    const size_t before = app.get_subcommands({}).size();
    auto runner = reg(app);
    auto subs = app.get_subcommands({});
    if (subs.size() > before) runners[subs.back()] = runner;
  }
  // `seedtune simulate --config f.toml` reads the file like
  // `seedtune --config f.toml simulate`: the option belongs to the top-level
  // app (so every command's section is read), wherever it is written.
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      args.insert(args.begin(), {arg, argv[++i]});
    } else if (arg.rfind("--config=", 0) == 0) {
      args.insert(args.begin(), arg);
    } else {
      args.push_back(arg);
    }
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error (unknown option, value
    // out of range, missing argument) exits 2, whatever CLI11's own code.
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (auto& [sub, run] : runners)
    if (sub->parsed()) return run();
  return 2;
}
