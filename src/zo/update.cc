#include "zo/update.h"

#include <algorithm>

namespace seedtune {

namespace {

constexpr int64_t kChunk = 65536;  // elements per task (a multiple of the 64-element z group)
constexpr int64_t kSlab = 4096;    // elements that stay in L1/L2 while every update passes

}  // namespace

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t StepSeed(uint64_t run_seed, uint64_t step, uint32_t k) {
  return SplitMix64(SplitMix64(SplitMix64(run_seed) ^ step) ^ k);
}

void ApplyUpdates(ModelWeights* weights, std::span<const ZUpdate> updates, ZDistribution dist, ThreadingContext& ctx) {
  if (updates.empty()) return;
  struct Task {
    size_t tensor;
    int64_t first, len;
  };
  std::vector<Task> tasks;
  for (size_t t = 0; t < weights->num_tensors(); ++t) {
    const int64_t n = weights->specs()[t].numel();
    for (int64_t lo = 0; lo < n; lo += kChunk) tasks.push_back({t, lo, std::min(kChunk, n - lo)});
  }
  ctx.ParallelFor(tasks.size(), [&](size_t i, int) {
    const Task& task = tasks[i];
    const bool decays = TakesWeightDecay(weights->specs()[task.tensor].role);
    float* theta = weights->data(task.tensor) + task.first;
    const uint64_t canon = static_cast<uint64_t>(weights->canonical_index(task.tensor) + task.first);
    for (int64_t s0 = 0; s0 < task.len; s0 += kSlab) {
      const int64_t len = std::min(kSlab, task.len - s0);
      for (const ZUpdate& u : updates) {
        if (decays && u.decay != 1.0f)
          for (int64_t j = 0; j < len; ++j) theta[s0 + j] *= u.decay;
        AxpyZ(u.seed, canon + static_cast<uint64_t>(s0), len, dist, u.alpha, theta + s0);
      }
    }
  });
}

std::vector<ZUpdate> MezoStepUpdates(std::span<const uint64_t> seeds, std::span<const double> g, double lr,
                                     float weight_decay) {
  std::vector<ZUpdate> out;
  const double q = static_cast<double>(seeds.size());
  for (size_t k = 0; k < seeds.size(); ++k) {
    const float decay = k == 0 ? static_cast<float>(1.0 - lr * weight_decay) : 1.0f;
    out.push_back(ZUpdate{seeds[k], static_cast<float>(-lr * g[k] / q), decay});
  }
  return out;
}

}  // namespace seedtune
