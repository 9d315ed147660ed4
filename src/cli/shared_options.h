// The options more than one command takes, declared once (the idea of
// llama.cpp's common/arg.cpp): each has one flag, one help text and one range
// check, so `--lr` means and checks the same in train, simulate, server, peer
// and demo. A command adds the ones it takes with AddShared; `context` appends
// what the option means for that command, in parentheses. Defaults are shown
// in --help.
#pragma once

#include <CLI/CLI.hpp>

#include <span>
#include <string>

namespace seedtune::cli {

struct SharedOption {
  const char* flag;
  const char* help;
  CLI::Validator (*check)();  // nullptr: any value of the type
};

namespace shared {
extern const SharedOption kTask, kData, kTrainN, kDevN, kEvalN, kMaxLength;               // data
extern const SharedOption kClients, kPartition, kMinPerClient;                               // federated data
extern const SharedOption kLr, kEps, kSeed, kDist, kBatch, kEvalBatch;                      // optimisation
extern const SharedOption kRounds, kMaxScalar, kAggregate, kK, kLocalSteps, kClientFraction;  // federated runs
extern const SharedOption kMetrics;
}  // namespace shared

// Every entry of the table (for the test that --help agrees with it).
std::span<const SharedOption* const> AllSharedOptions();

template <typename T>
CLI::Option* AddShared(CLI::App* cmd, const SharedOption& o, T& target, const std::string& context = "") {
  std::string help = o.help;
  if (!context.empty()) {
    if (help.back() == ')') help.insert(help.size() - 1, "; " + context);
    else help += " (" + context + ")";
  }
  CLI::Option* opt = cmd->add_option(o.flag, target, help)->capture_default_str();
  if (o.check != nullptr) opt->check(o.check());
  return opt;
}

}  // namespace seedtune::cli
