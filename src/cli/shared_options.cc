#include "cli/shared_options.h"

#include "cli/common.h"

namespace seedtune::cli {

namespace {
CLI::Validator NonNegative() { return AtLeast(0); }
CLI::Validator AtLeastOne() { return AtLeast(1); }
CLI::Validator Count() { return InRange(1, 1 << 20); }
CLI::Validator Length() { return InRange(1, 1 << 20); }
CLI::Validator ClientCount() { return InRange(1, 65536); }
CLI::Validator SeedCount() { return InRange(1, 65536); }
CLI::Validator PositiveNumber() { return Positive(); }
CLI::Validator FractionOfClients() { return Fraction(); }
CLI::Validator Distribution() { return CLI::IsMember({"gauss", "rademacher"}); }
}  // namespace

namespace shared {
const SharedOption kTask{"--task", "sst2, rte, cb, boolq, wsc, wic, multirc, copa, sst5, trec, ni:<task>, text:<file>",
                         nullptr};
const SharedOption kData{"--data",
                         "Dataset root holding sst2/, superglue/, lmbff/, natural-instructions/ (default: data/ under "
                         "the asset roots)",
                         nullptr};
const SharedOption kTrainN{"--train-n", "Training examples sampled", AtLeastOne};
const SharedOption kDevN{"--dev-n", "Dev examples sampled from the training pool", NonNegative};
const SharedOption kEvalN{"--eval-n", "Evaluation examples (0: no evaluation)", NonNegative};
const SharedOption kMaxLength{"--max-length", "Tokens per sequence (truncated from the left)", Length};
const SharedOption kClients{"--clients", "Number of clients (ids 0..N-1)", ClientCount};
const SharedOption kPartition{"--partition", "iid or dirichlet:ALPHA (over labels)", nullptr};
const SharedOption kMinPerClient{"--min-per-client", "Dirichlet: minimum examples per client", NonNegative};
const SharedOption kLr{"--lr", "Learning rate (FeedSign: the step size eta)", NonNegative};
const SharedOption kEps{"--eps", "SPSA perturbation scale", PositiveNumber};
const SharedOption kSeed{"--seed", "Run seed (step seeds, data sampling and minibatch order)", nullptr};
const SharedOption kDist{"--dist", "z distribution: gauss or rademacher", Distribution};
const SharedOption kBatch{"--batch", "Examples per step", Count};
const SharedOption kEvalBatch{"--eval-batch", "Examples per evaluation forward pass", Count};
const SharedOption kRounds{"--rounds", "Rounds", AtLeastOne};
const SharedOption kMaxScalar{"--max-scalar",
                              "Refuse replies whose projected gradient has |g| above this (part of the run config)",
                              PositiveNumber};
const SharedOption kAggregate{"--aggregate", "ZO-FedSGD scalar rule: mean, median, trimmed:F", nullptr};
const SharedOption kK{"--K", "FedKSeed: candidate seeds", SeedCount};
const SharedOption kLocalSteps{"--local-steps", "FedKSeed: local MeZO steps (batch 1) per sampled client", Count};
const SharedOption kClientFraction{"--client-fraction", "FedKSeed: clients sampled per round", FractionOfClients};
const SharedOption kMetrics{"--metrics", "Write events as JSON lines to this file", nullptr};
}  // namespace shared

std::span<const SharedOption* const> AllSharedOptions() {
  using namespace shared;
  static const SharedOption* const all[] = {&kTask,  &kData,      &kTrainN,    &kDevN,      &kEvalN,     &kMaxLength,
                                            &kClients, &kPartition, &kMinPerClient, &kLr,     &kEps,       &kSeed,
                                            &kDist,  &kBatch,     &kEvalBatch, &kRounds,    &kMaxScalar, &kAggregate,
                                            &kK,     &kLocalSteps, &kClientFraction, &kMetrics};
  return all;
}

}  // namespace seedtune::cli
