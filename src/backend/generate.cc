#include "backend/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace seedtune {

int32_t ArgMax(std::span<const float> values) {
  int32_t best = 0;
  for (size_t i = 1; i < values.size(); ++i)
    if (values[i] > values[best]) best = static_cast<int32_t>(i);
  return best;
}

namespace {

int32_t Sample(std::span<const float> logits, float temperature, float top_p, std::mt19937_64& rng) {
  const float mx = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double sum = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) sum += p[i] = std::exp((logits[i] - mx) / temperature);
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  size_t keep = order.size();
  if (top_p < 1.0f) {
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    double cum = 0.0;
    for (keep = 0; keep < order.size();) {
      cum += p[order[keep++]] / sum;
      if (cum >= top_p) break;
    }
    sum = 0.0;
    for (size_t i = 0; i < keep; ++i) sum += p[order[i]];
  }
  const double u = std::uniform_real_distribution<double>(0.0, sum)(rng);
  double acc = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    acc += p[order[i]];
    if (u < acc) return order[i];
  }
  return order[keep - 1];
}

}  // namespace

StatusOr<std::vector<int32_t>> Generate(ComputeBackend& model, std::span<const int32_t> prompt,
                                        const GenerateOptions& options,
                                        const std::function<void(int32_t)>& on_token) {
  if (prompt.empty()) return InvalidArgument("generate: the prompt has no tokens");
  if (options.temperature < 0.0f) return InvalidArgument("generate: temperature {} < 0", options.temperature);
  if (!(options.top_p > 0.0f && options.top_p <= 1.0f))
    return InvalidArgument("generate: top_p {} outside (0, 1]", options.top_p);
  const int64_t ctx = model.config().max_positions;
  const int64_t total = std::min<int64_t>(ctx, static_cast<int64_t>(prompt.size()) + options.max_new_tokens);
  if (static_cast<int64_t>(prompt.size()) > ctx)
    return InvalidArgument("generate: prompt of {} tokens exceeds the context of {}", prompt.size(), ctx);
  KvCache cache(model.config(), total);
  std::vector<float> logits;
  RETURN_IF_ERROR(model.Decode(cache, prompt, &logits));
  std::mt19937_64 rng(options.seed);
  std::vector<int32_t> out;
  while (static_cast<int64_t>(out.size()) < options.max_new_tokens) {
    const int32_t next = options.temperature == 0.0f ? ArgMax(logits)
                                                     : Sample(logits, options.temperature, options.top_p, rng);
    out.push_back(next);
    if (on_token) on_token(next);
    if (next == options.stop_token) break;
    if (cache.length() >= total) break;
    const int32_t one[1] = {next};
    RETURN_IF_ERROR(model.Decode(cache, one, &logits));
  }
  return out;
}

}  // namespace seedtune
