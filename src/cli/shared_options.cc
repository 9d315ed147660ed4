#include "cli/shared_options.h"

#include <fmt/format.h>

#include "cli/common.h"
#include "fed/algorithms/strategies.h"

namespace seedtune::cli {

namespace {
// The table's checks (CLI::Validator (*)(); Positive and Fraction are cli/common.h's).
CLI::Validator NonNegative() { return AtLeast(0); }
CLI::Validator AtLeastOne() { return AtLeast(1); }
CLI::Validator UpTo2Pow20() { return InRange(1, 1 << 20); }     // counts and lengths
CLI::Validator UpTo65536() { return InRange(1, 65536); }        // client ids, u16 seed indices
CLI::Validator Distribution() { return CLI::IsMember({"gauss", "rademacher"}); }
}  // namespace

namespace shared {
const SharedOption kTask{"--task",
                         "sst2, rte, cb, boolq, wsc, wic, multirc, copa, sst5, trec, dolly, ni:<task>; your own data "
                         "(docs/data.md): classify:<file>, instruct:<file>, text:<file> (.jsonl, .json, .csv, .tsv; "
                         "text also plain lines)",
                         nullptr};
const SharedOption kTrainFile{"--train-file",
                              "A user task's training file (with --task classify|instruct|text; dev and eval are "
                              "sampled from it unless given)",
                              nullptr};
const SharedOption kDevFile{"--dev-file", "A user task's dev file (else dev is sampled from the training rows)",
                            nullptr};
const SharedOption kEvalFile{"--eval-file",
                             "A user task's eval file (else half of a single file is held out for eval)", nullptr};
const SharedOption kTemplate{"--template",
                             "A user task's prompt over the row's fields, e.g. \"{text} It was\" ({{ }} for braces, "
                             "\\n a newline; default: classify \"{text}\\nAnswer:\", instruct the Alpaca prompt)",
                             nullptr};
const SharedOption kLabelWords{"--label-words",
                               "classify: the candidate word of each label, LABEL=WORD,... or WORD,... for labels 0, "
                               "1, ... (default: the label values themselves)",
                               nullptr};
const SharedOption kData{"--data",
                         "Dataset root holding sst2/, superglue/, lmbff/, natural-instructions/ (default: data/ under "
                         "the asset roots)",
                         nullptr};
const SharedOption kTrainN{"--train-n", "Training examples sampled", AtLeastOne};
const SharedOption kDevN{"--dev-n", "Dev examples sampled from the training pool", NonNegative};
const SharedOption kEvalN{"--eval-n", "Evaluation examples (0: no evaluation)", NonNegative};
const SharedOption kMaxLength{"--max-length", "Tokens per sequence (truncated from the left)", UpTo2Pow20};
const SharedOption kClients{"--clients", "Number of clients (ids 0..N-1)", UpTo65536};
const SharedOption kPartition{"--partition", "auto (dirichlet:0.5 over labels when the task has them, else iid), iid or dirichlet:ALPHA", nullptr};
const SharedOption kMinPerClient{"--min-per-client", "Dirichlet: minimum examples per client", NonNegative};
const SharedOption kLr{"--lr", "Learning rate (FeedSign: the step size eta)", NonNegative};
const SharedOption kEps{"--eps", "SPSA perturbation scale", Positive};
const SharedOption kSeed{"--seed", "Run seed (step seeds, data sampling and minibatch order)", nullptr};
const SharedOption kDist{"--dist", "z distribution: gauss or rademacher", Distribution};
const SharedOption kBatch{"--batch", "Examples per step", UpTo2Pow20};
const SharedOption kEvalBatch{"--eval-batch", "Examples per evaluation forward pass", UpTo2Pow20};
const SharedOption kRounds{"--rounds", "Rounds", AtLeastOne};
const SharedOption kMaxScalar{"--max-scalar",
                              "Refuse replies whose projected gradient has |g| above this (part of the run config)",
                              Positive};
const SharedOption kAggregate{"--aggregate", "ZO-FedSGD scalar rule: mean, median, trimmed:F", nullptr};
const SharedOption kMetrics{"--metrics", "Write events as JSON lines to this file", nullptr};
}  // namespace shared

void AddUserDataOptions(CLI::App* cmd, UserDataOptions* user) {
  AddShared(cmd, shared::kTrainFile, user->train_file);
  AddShared(cmd, shared::kDevFile, user->dev_file);
  AddShared(cmd, shared::kEvalFile, user->eval_file);
  AddShared(cmd, shared::kTemplate, user->prompt_template);
  AddShared(cmd, shared::kLabelWords, user->label_words);
}

std::span<const SharedOption* const> AllSharedOptions() {
  using namespace shared;
  static const SharedOption* const all[] = {&kTask,  &kData,      &kTrainFile, &kDevFile,   &kEvalFile,  &kTemplate,
                                            &kLabelWords, &kTrainN,    &kDevN,      &kEvalN,     &kMaxLength,
                                            &kClients, &kPartition, &kMinPerClient, &kLr,     &kEps,       &kSeed,
                                            &kDist,  &kBatch,     &kEvalBatch, &kRounds,    &kMaxScalar, &kAggregate,
                                            &kMetrics};
  return all;
}

namespace {

// The option's range as a CLI check, worded like the shared options'
// ("--K: 70000 is out of range; want an integer in [1, 65536]").
CLI::Validator AlgorithmOptionCheck(const AlgorithmOption& opt) {
  return NumberCheck([opt](double x) { return opt.Admits(x); }, opt.RangeText());
}

void AddAlgorithmOptions(CLI::App* cmd, AlgorithmFlags* flags, const StrategyRegistration& r,
                         const std::map<std::string, double>& defaults) {
  for (const AlgorithmOption& opt : r.options) {
    const auto given = defaults.find(opt.name);
    auto [it, fresh] = flags->values.emplace(opt.name, given == defaults.end() ? opt.default_value : given->second);
    if (!fresh) {  // a name two algorithms share is one flag; its help names both
      CLI::Option* shared = flags->options.at(opt.name);
      const std::string help = shared->get_description();
      shared->description(help.substr(0, help.find(':')) + ", " + r.algo.name() + help.substr(help.find(':')));
      continue;
    }
    CLI::Option* o =
        cmd->add_option(std::string("--") + opt.name, it->second, fmt::format("{}: {}", r.algo.name(), opt.help));
    o->capture_default_str()->check(AlgorithmOptionCheck(opt))->type_name(opt.integer ? "INT" : "FLOAT");
    flags->options.emplace(opt.name, o);
  }
}

}  // namespace

void AddAlgorithmFlags(CLI::App* cmd, AlgorithmFlags* flags, bool networked_only) {
  for (const StrategyRegistration& r : RegisteredStrategies())
    if (!networked_only || r.networked) AddAlgorithmOptions(cmd, flags, r, {});
}

void AddAlgorithmFlagsOf(CLI::App* cmd, AlgorithmFlags* flags, FedAlgorithm algo,
                         const std::map<std::string, double>& defaults) {
  if (const StrategyRegistration* r = FindStrategyRegistration(algo)) AddAlgorithmOptions(cmd, flags, *r, defaults);
}

Status ApplyAlgorithmFlags(const AlgorithmFlags& flags, FedOptions* o) {
  const auto table = AlgorithmOptions(o->algo);
  for (const auto& [name, option] : flags.options) {
    if (option->count() == 0) continue;
    bool declared = false;
    for (const AlgorithmOption& opt : table) declared = declared || name == opt.name;
    if (declared) continue;
    std::string owners;
    for (const StrategyRegistration& r : RegisteredStrategies())
      for (const AlgorithmOption& opt : r.options)
        if (name == opt.name) owners += fmt::format("{}{}", owners.empty() ? "" : ", ", r.algo.name());
    return InvalidArgument("--{} is an option of {}, not of {}", name, owners, o->algo.name());
  }
  o->params.clear();
  for (const AlgorithmOption& opt : table) o->params[opt.name] = flags.values.at(opt.name);
  return Status::Ok();
}

std::string AlgorithmChoices(bool networked_only) {
  std::string s;
  for (const StrategyRegistration& r : RegisteredStrategies()) {
    if (networked_only && !r.networked) continue;
    s += fmt::format("{}{} ({})", s.empty() ? "" : "; ", r.algo.name(), r.summary);
  }
  return s;
}

}  // namespace seedtune::cli
