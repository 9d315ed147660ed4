// Server-side aggregation rules and Byzantine behaviour for the per-step
// federated algorithms (FeedSign, ZO-FedSGD). Pure functions of their inputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace seedtune {

// FeedSign (arXiv 2501.17610): the majority of the clients' signs (+1/-1).
// A tie (possible with an even number of clients) is broken by bit 0 of the
// step seed: +1 if set, else -1. The vote is never 0, so it always fits in
// one bit.
int MajorityVote(const std::vector<int>& signs, uint64_t step_seed);

enum class ScalarRule { kMean, kMedian, kTrimmedMean };
struct ParsedScalarRule {
  ScalarRule rule = ScalarRule::kMean;
  double trim_fraction = 0.2;  // trimmed: the fraction dropped at each end
};
// "mean", "median" or "trimmed:F" with F a plain decimal number in [0, 0.5);
// anything else is an error naming the text.
StatusOr<ParsedScalarRule> ParseScalarRule(const std::string& text);
const char* ScalarRuleName(ScalarRule rule);

// Weights w_k for per-client scalars g_k under a rule; the round applies
// sum_k w_k * g_k * z(s_k). mean: 1/K each. median: 1 for the client holding
// the median value (lower median for even K; ties by lower index), 0 else.
// trimmed (fraction f): drop floor(f K) smallest and largest values (ties by
// index), 1/(K - 2 floor(f K)) for the rest.
std::vector<double> ScalarWeights(const std::vector<double>& g, ScalarRule rule, double trim_fraction);

enum class Attack { kNone, kSignFlip, kRandomScalar, kScaledScalar };
StatusOr<Attack> ParseAttack(const std::string& name);  // none | signflip | random | scaled
const char* AttackName(Attack attack);

struct ByzantineConfig {
  double fraction = 0.0;  // of clients, rounded up when > 0
  Attack attack = Attack::kNone;
  double random_scale = 100.0;  // random scalar ~ N(0, random_scale^2)
  double scale_factor = -10.0;  // scaled scalar: g * scale_factor
};

// Which clients are Byzantine: the first ceil(fraction * n) of a permutation
// seeded with `seed` (so the set is fixed for the run).
std::vector<bool> ByzantineClients(int num_clients, double fraction, uint64_t seed);

// What a Byzantine client reports instead of its honest projected gradient g.
// `draw_seed` drives the random attack (per client and step).
double CorruptScalar(double g, const ByzantineConfig& config, uint64_t draw_seed);
int CorruptSign(int sign, const ByzantineConfig& config);

}  // namespace seedtune
