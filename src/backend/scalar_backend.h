// The scalar backend, the test oracle: Transformer pinned to
// SimdLevel::kScalar (the scalar GEMM micro-kernel, the ...Reference row
// kernels, decoding without OpenBLAS), and perturbations and updates computed
// from GenerateZReference with one std::fma per element, written plainly
// rather than through the fused SIMD primitives of kernels/random.h. It can
// run beside a CpuBackend in one process: nothing in it reads the
// process-wide SIMD level except z generation inside the forward pass, which
// is bit-identical on every path.
#pragma once

#include <memory>

#include "backend/transformer_backend.h"

namespace seedtune {

class ScalarBackend final : public TransformerBackend {
 public:
  // Keeps references: `weights` and `ctx` must outlive the backend.
  ScalarBackend(const ModelWeights& weights, ThreadingContext& ctx);

  BackendKind kind() const override { return BackendKind::kScalar; }
  std::string name() const override;

  void MaterializePerturbed(size_t tensor, const Perturbation& p, float* dst) override;
  void ApplyUpdates(ModelWeights* weights, std::span<const ZUpdate> updates, ZDistribution dist) override;
  // ModelFingerprint itself: the hash is portable scalar code already.
  uint64_t Fingerprint(const ModelWeights& weights) override;
};

}  // namespace seedtune
