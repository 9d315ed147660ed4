// Updates along shared random directions: theta += alpha * z(seed), the one
// primitive every seedtune algorithm applies (MeZO, FedKSeed replay,
// FeedSign votes, Just One Byte). A list of updates is applied in list order
// with one rounding per element per update, so the same list gives the same
// bits everywhere, whether applied one at a time or fused.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/threading.h"
#include "kernels/random.h"
#include "model/weights.h"

namespace seedtune {

struct ZUpdate {
  uint64_t seed = 0;
  float alpha = 0.0f;  // theta += alpha * z(seed)
  // Decoupled weight decay of this update for tensors that take it
  // (TakesWeightDecay: not biases or norms): theta = fma(alpha, z, fl(theta * decay)).
  // 1 = none. MeZO's theta -= lr (g z + wd theta) is alpha = -lr g, decay = 1 - lr wd.
  float decay = 1.0f;
};

// Applies `updates` in order to every tensor, in one pass over memory
// (slabs of each tensor stay in cache while every update passes over them).
// Work is split into fixed chunks of the canonical order, so the result is
// identical for any thread count.
void ApplyUpdates(ModelWeights* weights, std::span<const ZUpdate> updates, ZDistribution dist, ThreadingContext& ctx);

// The update list of one MeZO step with q = seeds.size() directions:
// (seed_k, -lr g_k / q), the first with decay 1 - lr wd. `train` and the
// federated MeZO strategy build their steps with it.
std::vector<ZUpdate> MezoStepUpdates(std::span<const uint64_t> seeds, std::span<const double> g, double lr,
                                     float weight_decay);

// SplitMix64's output function (Steele, Lea, Flood 2014).
uint64_t SplitMix64(uint64_t x);

// The seed of direction `k` of step `step` of a run:
// SplitMix64(SplitMix64(SplitMix64(run_seed) ^ step) ^ k). Every participant
// derives the same seeds; docs/protocol.md lists every k the algorithms use.
uint64_t StepSeed(uint64_t run_seed, uint64_t step, uint32_t k = 0);

}  // namespace seedtune
