#include "fed/aggregate.h"

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <numeric>

#include "data/sampling.h"

namespace seedtune {

int MajorityVote(const std::vector<int>& signs, uint64_t step_seed) {
  long sum = 0;
  for (int s : signs) sum += s > 0 ? 1 : -1;
  if (sum > 0) return 1;
  if (sum < 0) return -1;
  return (step_seed & 1u) ? 1 : -1;
}

StatusOr<ParsedScalarRule> ParseScalarRule(const std::string& text) {
  ParsedScalarRule r;
  if (text == "mean") return r;
  if (text == "median") {
    r.rule = ScalarRule::kMedian;
    return r;
  }
  r.rule = ScalarRule::kTrimmedMean;
  if (text.rfind("trimmed:", 0) == 0) {
    // A plain decimal number (no sign, space, "nan" or "inf"), in [0, 0.5):
    // ScalarWeights floors F * k into the count dropped at each end, and at
    // 0.5 two replies would leave none.
    const std::string f = text.substr(8);
    const bool plain = !f.empty() && (std::isdigit(static_cast<unsigned char>(f[0])) || f[0] == '.');
    char* end = nullptr;
    errno = 0;
    const double v = plain ? std::strtod(f.c_str(), &end) : NAN;
    if (!plain || errno != 0 || end != f.c_str() + f.size() || !(v >= 0.0 && v < 0.5))
      return InvalidArgument("aggregation rule '{}' is not trimmed:F with F a number in [0, 0.5)", text);
    r.trim_fraction = v;
    return r;
  }
  return InvalidArgument("unknown aggregation rule '{}' (mean, median, trimmed:F)", text);
}

const char* ScalarRuleName(ScalarRule rule) {
  switch (rule) {
    case ScalarRule::kMean: return "mean";
    case ScalarRule::kMedian: return "median";
    case ScalarRule::kTrimmedMean: return "trimmed";
  }
  return "unknown";
}

std::vector<double> ScalarWeights(const std::vector<double>& g, ScalarRule rule, double trim_fraction) {
  const size_t k = g.size();
  std::vector<double> w(k, 0.0);
  if (k == 0) return w;
  std::vector<size_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return g[a] < g[b]; });
  switch (rule) {
    case ScalarRule::kMean:
      std::fill(w.begin(), w.end(), 1.0 / static_cast<double>(k));
      break;
    case ScalarRule::kMedian:
      w[order[(k - 1) / 2]] = 1.0;
      break;
    case ScalarRule::kTrimmedMean: {
      size_t drop = static_cast<size_t>(std::floor(trim_fraction * static_cast<double>(k)));
      if (2 * drop >= k) drop = (k - 1) / 2;
      for (size_t i = drop; i < k - drop; ++i) w[order[i]] = 1.0 / static_cast<double>(k - 2 * drop);
      break;
    }
  }
  return w;
}

StatusOr<Attack> ParseAttack(const std::string& name) {
  if (name == "none") return Attack::kNone;
  if (name == "signflip") return Attack::kSignFlip;
  if (name == "random") return Attack::kRandomScalar;
  if (name == "scaled") return Attack::kScaledScalar;
  return InvalidArgument("unknown attack '{}' (none, signflip, random, scaled)", name);
}

const char* AttackName(Attack attack) {
  switch (attack) {
    case Attack::kNone: return "none";
    case Attack::kSignFlip: return "signflip";
    case Attack::kRandomScalar: return "random";
    case Attack::kScaledScalar: return "scaled";
  }
  return "unknown";
}

std::vector<bool> ByzantineClients(int num_clients, double fraction, uint64_t seed) {
  std::vector<bool> bad(static_cast<size_t>(num_clients), false);
  if (fraction <= 0.0 || num_clients <= 0) return bad;
  const int count = std::min(num_clients, static_cast<int>(std::ceil(fraction * num_clients - 1e-9)));
  const auto perm = SeededPermutation(num_clients, seed);
  for (int i = 0; i < count; ++i) bad[perm[i]] = true;
  return bad;
}

double CorruptScalar(double g, const ByzantineConfig& c, uint64_t draw_seed) {
  switch (c.attack) {
    case Attack::kNone: return g;
    case Attack::kSignFlip: return -g;
    case Attack::kScaledScalar: return g * c.scale_factor;
    case Attack::kRandomScalar: {
      PortableRng rng(draw_seed);
      const double u1 = (static_cast<double>(rng.Next() >> 11) + 0.5) * 0x1.0p-53;
      const double u2 = static_cast<double>(rng.Next() >> 11) * 0x1.0p-53;
      return c.random_scale * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
    }
  }
  return g;
}

int CorruptSign(int sign, const ByzantineConfig& c) {
  return c.attack == Attack::kSignFlip ? -sign : sign;
}

}  // namespace seedtune
