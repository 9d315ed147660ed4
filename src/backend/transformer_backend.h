// What the CPU backends share: the forward passes of one Transformer on a
// fixed SIMD path. Each backend adds how it perturbs, updates and hashes.
#pragma once

#include "backend/backend.h"

namespace seedtune {

class TransformerBackend : public ComputeBackend {
 public:
  // Keeps references: `weights` and `ctx` must outlive the backend.
  TransformerBackend(const ModelWeights& weights, ThreadingContext& ctx, SimdLevel level)
      : weights_(weights), ctx_(ctx), model_(weights, ctx, level) {}

  const ModelWeights& weights() const override { return weights_; }

  using ComputeBackend::Forward;
  StatusOr<std::vector<SequenceOutput>> Forward(std::span<const SequenceRequest> batch,
                                                const Perturbation* perturbation) override {
    return model_.Forward(batch, perturbation);
  }
  StatusOr<std::array<std::vector<SequenceOutput>, 2>> ForwardPair(std::span<const SequenceRequest> batch,
                                                                   uint64_t seed, float eps,
                                                                   ZDistribution dist) override {
    return model_.ForwardPair(batch, seed, eps, dist);
  }
  Status Decode(KvCache& cache, std::span<const int32_t> tokens, std::vector<float>* last_logits) override {
    return model_.Decode(cache, tokens, last_logits);
  }
  double ForwardMacs(std::span<const int64_t> lengths, int64_t output_rows) const override {
    return model_.ForwardMacs(lengths, output_rows);
  }

 protected:
  const ModelWeights& weights_;
  ThreadingContext& ctx_;
  Transformer model_;
};

}  // namespace seedtune
