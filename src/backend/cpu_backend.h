// The CPU backend: Transformer on the SIMD path the process runs
// (ActiveSimdLevel() when it is made: the widest the CPU has, or
// SEEDTUNE_SIMD), zo/update.h ApplyUpdates and zo/fingerprint.h
// ModelFingerprint. What every seedtune command runs by default.
#pragma once

#include <memory>

#include "backend/transformer_backend.h"

namespace seedtune {

class CpuBackend final : public TransformerBackend {
 public:
  // Keeps references: `weights` and `ctx` must outlive the backend.
  CpuBackend(const ModelWeights& weights, ThreadingContext& ctx);

  BackendKind kind() const override { return BackendKind::kCpu; }
  std::string name() const override;

  void MaterializePerturbed(size_t tensor, const Perturbation& p, float* dst) override;
  void ApplyUpdates(ModelWeights* weights, std::span<const ZUpdate> updates, ZDistribution dist) override;
  uint64_t Fingerprint(const ModelWeights& weights) override;
};

}  // namespace seedtune
