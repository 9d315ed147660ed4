// The CPU backend: Transformer on the SIMD path the process runs
// (ActiveSimdLevel() when it is made: the widest the CPU has, or
// SEEDTUNE_SIMD), zo/update.h ApplyUpdates and zo/fingerprint.h
// ModelFingerprint. What every seedtune command runs by default.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace seedtune {

class CpuBackend final : public ComputeBackend {
 public:
  // Keeps references: `weights` and `ctx` must outlive the backend.
  CpuBackend(const ModelWeights& weights, ThreadingContext& ctx);

  BackendKind kind() const override { return BackendKind::kCpu; }
  std::string name() const override;
  const ModelWeights& weights() const override { return weights_; }

  using ComputeBackend::Forward;
  StatusOr<std::vector<SequenceOutput>> Forward(std::span<const SequenceRequest> batch,
                                                const Perturbation* perturbation) override;
  StatusOr<std::array<std::vector<SequenceOutput>, 2>> ForwardPair(std::span<const SequenceRequest> batch,
                                                                   uint64_t seed, float eps,
                                                                   ZDistribution dist) override;
  Status Decode(KvCache& cache, std::span<const int32_t> tokens, std::vector<float>* last_logits) override;
  double ForwardMacs(std::span<const int64_t> lengths, int64_t output_rows) const override;

  void MaterializePerturbed(size_t tensor, const Perturbation& p, float* dst) override;
  void ApplyUpdates(ModelWeights* weights, std::span<const ZUpdate> updates, ZDistribution dist) override;
  uint64_t Fingerprint(const ModelWeights& weights) override;

 private:
  const ModelWeights& weights_;
  ThreadingContext& ctx_;
  Transformer model_;
};

}  // namespace seedtune
