#include "backend/cpu_backend.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/check.h"
#include "kernels/cpu.h"
#include "zo/fingerprint.h"

namespace seedtune {

namespace {

// Elements per task of MaterializePerturbed (a multiple of the 64-element z
// group, so tasks start on group boundaries).
constexpr int64_t kPerturbChunk = 16384;

}  // namespace

CpuBackend::CpuBackend(const ModelWeights& weights, ThreadingContext& ctx)
    : TransformerBackend(weights, ctx, ActiveSimdLevel()) {}

std::string CpuBackend::name() const {
  return fmt::format("{} ({})", BackendKindName(kind()), SimdLevelName(model_.simd_level()));
}

void CpuBackend::MaterializePerturbed(size_t tensor, const Perturbation& p, float* dst) {
  SEEDTUNE_CHECK(tensor < weights_.num_tensors());
  const int64_t n = weights_.specs()[tensor].numel();
  const float* theta = weights_.data(tensor);
  const uint64_t canon = static_cast<uint64_t>(weights_.canonical_index(tensor));
  const size_t tasks = static_cast<size_t>((n + kPerturbChunk - 1) / kPerturbChunk);
  // PerturbZ is what the forward pass materialises tensors with.
  ctx_.ParallelFor(tasks, [&](size_t t, int) {
    const int64_t lo = static_cast<int64_t>(t) * kPerturbChunk, len = std::min(kPerturbChunk, n - lo);
    PerturbZ(p.seed, canon + static_cast<uint64_t>(lo), len, p.dist, p.scale, theta + lo, dst + lo);
  });
}

void CpuBackend::ApplyUpdates(ModelWeights* weights, std::span<const ZUpdate> updates, ZDistribution dist) {
  seedtune::ApplyUpdates(weights, updates, dist, ctx_);
}

uint64_t CpuBackend::Fingerprint(const ModelWeights& weights) { return ModelFingerprint(weights, ctx_); }

}  // namespace seedtune
