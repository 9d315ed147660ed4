#include "backend/scalar_backend.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/check.h"
#include "kernels/cpu.h"
#include "zo/fingerprint.h"

namespace seedtune {

namespace {

// Elements per task (fixed: results never depend on the thread count, and
// each element's value depends on its index alone anyway).
constexpr int64_t kChunk = 16384;

// Calls fn(tensor, first, len, thread) for fixed chunks of every tensor, in
// parallel.
template <typename F>
void ForEachChunk(const ModelWeights& w, ThreadingContext& ctx, F&& fn) {
  struct Task {
    size_t tensor;
    int64_t first, len;
  };
  std::vector<Task> tasks;
  for (size_t t = 0; t < w.num_tensors(); ++t) {
    const int64_t n = w.specs()[t].numel();
    for (int64_t lo = 0; lo < n; lo += kChunk) tasks.push_back({t, lo, std::min(kChunk, n - lo)});
  }
  ctx.ParallelFor(tasks.size(),
                  [&](size_t i, int thread) { fn(tasks[i].tensor, tasks[i].first, tasks[i].len, thread); });
}

}  // namespace

ScalarBackend::ScalarBackend(const ModelWeights& weights, ThreadingContext& ctx)
    : TransformerBackend(weights, ctx, SimdLevel::kScalar) {}

std::string ScalarBackend::name() const { return BackendKindName(kind()); }

void ScalarBackend::MaterializePerturbed(size_t tensor, const Perturbation& p, float* dst) {
  SEEDTUNE_CHECK(tensor < weights_.num_tensors());
  const int64_t n = weights_.specs()[tensor].numel();
  const float* theta = weights_.data(tensor);
  const uint64_t canon = static_cast<uint64_t>(weights_.canonical_index(tensor));
  const size_t tasks = static_cast<size_t>((n + kChunk - 1) / kChunk);
  std::vector<std::vector<float>> z(static_cast<size_t>(ctx_.num_threads()), std::vector<float>(kChunk));
  ctx_.ParallelFor(tasks, [&](size_t t, int thread) {
    const int64_t lo = static_cast<int64_t>(t) * kChunk, len = std::min(kChunk, n - lo);
    float* zt = z[thread].data();
    GenerateZReference(p.seed, canon + static_cast<uint64_t>(lo), len, p.dist, zt);
    for (int64_t j = 0; j < len; ++j) dst[lo + j] = std::fma(p.scale, zt[j], theta[lo + j]);
  });
}

void ScalarBackend::ApplyUpdates(ModelWeights* weights, std::span<const ZUpdate> updates, ZDistribution dist) {
  if (updates.empty()) return;
  std::vector<std::vector<float>> z(static_cast<size_t>(ctx_.num_threads()), std::vector<float>(kChunk));
  ForEachChunk(*weights, ctx_, [&](size_t tensor, int64_t first, int64_t len, int thread) {
    // zo/update.h, element by element: theta = fma(alpha, z, fl(theta * decay)).
    const bool decays = TakesWeightDecay(weights->specs()[tensor].role);
    float* theta = weights->data(tensor) + first;
    const uint64_t canon = static_cast<uint64_t>(weights->canonical_index(tensor) + first);
    float* zt = z[thread].data();
    for (const ZUpdate& u : updates) {
      GenerateZReference(u.seed, canon, len, dist, zt);
      for (int64_t j = 0; j < len; ++j) {
        const float t = decays && u.decay != 1.0f ? theta[j] * u.decay : theta[j];
        theta[j] = std::fma(u.alpha, zt[j], t);
      }
    }
  });
}

uint64_t ScalarBackend::Fingerprint(const ModelWeights& weights) { return ModelFingerprint(weights, ctx_); }

}  // namespace seedtune
