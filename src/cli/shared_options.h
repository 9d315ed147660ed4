// The options more than one command takes, declared once (the idea of
// llama.cpp's common/arg.cpp): each has one flag, one help text and one range
// check, so `--lr` means and checks the same in train, simulate, server, peer
// and demo. A command adds the ones it takes with AddShared; `context` appends
// what the option means for that command, in parentheses. Defaults are shown
// in --help.
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <span>
#include <string>

#include "core/status.h"
#include "data/task.h"
#include "fed/strategy.h"

namespace seedtune::cli {

struct SharedOption {
  const char* flag;
  const char* help;
  CLI::Validator (*check)();  // nullptr: any value of the type
};

namespace shared {
extern const SharedOption kTask, kData, kTrainN, kDevN, kEvalN, kMaxLength;               // data
extern const SharedOption kTrainFile, kDevFile, kEvalFile, kTemplate, kLabelWords;         // a user's own data
extern const SharedOption kClients, kPartition, kMinPerClient;                               // federated data
extern const SharedOption kLr, kEps, kSeed, kDist, kBatch, kEvalBatch;                      // optimisation
extern const SharedOption kRounds, kMaxScalar, kAggregate;                                   // federated runs
extern const SharedOption kMetrics;
}  // namespace shared

// The five options of a user's own task (--train-file, --dev-file,
// --eval-file, --template, --label-words) for the commands that run one locally.
void AddUserDataOptions(CLI::App* cmd, UserDataOptions* user);

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

// The registered algorithms' own option tables (fed/strategy.h
// AlgorithmOption) as flags: `--<name>` once per name, its help prefixed with
// the algorithm that declares it and its default shown. A TOML --config key of
// the same name sets it, as for every other flag.
struct AlgorithmFlags {
  std::map<std::string, double> values;
  std::map<std::string, CLI::Option*> options;
};
// `networked_only`: the algorithms a server runs.
void AddAlgorithmFlags(CLI::App* cmd, AlgorithmFlags* flags, bool networked_only);
// The flags of one algorithm's table, `defaults` replacing the table's
// defaults (a command that runs one algorithm with its own, like demo).
void AddAlgorithmFlagsOf(CLI::App* cmd, AlgorithmFlags* flags, FedAlgorithm algo,
                         const std::map<std::string, double>& defaults = {});
// Sets o->params to every option of o->algo's table (given or default, so the
// ledger records each); refuses a given flag that o->algo does not declare,
// naming the algorithm that does.
Status ApplyAlgorithmFlags(const AlgorithmFlags& flags, FedOptions* o);
// "--algo" help: the registered algorithms with their summaries.
std::string AlgorithmChoices(bool networked_only);

}  // namespace seedtune::cli
