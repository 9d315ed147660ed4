// The compute backend seam: every operation on a model's numbers that the
// trainer, the federated code and the command line need, behind one
// interface. A backend serves one model (fp32 master weights in host memory,
// owned by the caller) and runs its forward passes; it also perturbs,
// updates and hashes weights, so that the parts that must agree bit for bit
// across machines are implemented by the same object that runs the model.
//
//   cpu     Transformer on the widest SIMD path of this CPU (kernels/cpu.h),
//           ApplyUpdates and ModelFingerprint of zo/: the production backend.
//   scalar  the same Transformer on the scalar reference kernels, updates and
//           perturbations from GenerateZReference: the test oracle.
//
// Bit-exactness every backend keeps (docs/ARCHITECTURE.md, "Compute
// backend"): z, the perturbed weights theta + s z (one fma per element) and
// the updated masters (one fma per element per update, in list order) are
// identical to the cpu backend's, and so is the fingerprint. Forward values
// (GEMM, attention, loss) need only be close: they steer which updates are
// made, but the updates are what a run records.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/threading.h"
#include "kernels/random.h"
#include "model/transformer.h"
#include "model/weights.h"
#include "zo/update.h"

namespace seedtune {

enum class BackendKind { kCpu, kScalar };

// "cpu", "scalar".
const char* BackendKindName(BackendKind kind);
// The inverse of BackendKindName; an unknown name is an InvalidArgument that
// lists the known ones.
StatusOr<BackendKind> ParseBackendKind(std::string_view name);
// Every registered backend's name, in registration order.
std::vector<std::string> BackendNames();
// One line per backend: "name: what it is" (for help texts).
std::string BackendHelp();

class ComputeBackend {
 public:
  ComputeBackend() = default;
  ComputeBackend(const ComputeBackend&) = delete;
  ComputeBackend& operator=(const ComputeBackend&) = delete;
  virtual ~ComputeBackend() = default;

  virtual BackendKind kind() const = 0;
  // BackendKindName(kind()) plus what it runs on, e.g. "cpu (avx512)".
  virtual std::string name() const = 0;
  // The model this backend serves (it must outlive the backend).
  virtual const ModelWeights& weights() const = 0;
  const ModelConfig& config() const { return weights().config(); }

  // Transformer::Forward: the batch at theta (perturbation null), or at
  // theta + scale z(seed).
  virtual StatusOr<std::vector<SequenceOutput>> Forward(std::span<const SequenceRequest> batch,
                                                        const Perturbation* perturbation) = 0;
  StatusOr<std::vector<SequenceOutput>> Forward(std::span<const SequenceRequest> batch) {
    return Forward(batch, nullptr);
  }
  // Transformer::ForwardPair: [0] at theta + eps z(seed), [1] at theta - eps z(seed),
  // each equal to Forward with the matching Perturbation.
  virtual StatusOr<std::array<std::vector<SequenceOutput>, 2>> ForwardPair(std::span<const SequenceRequest> batch,
                                                                           uint64_t seed, float eps,
                                                                           ZDistribution dist) = 0;
  // Appends `tokens` to the cache and returns the logits after the last one.
  virtual Status Decode(KvCache& cache, std::span<const int32_t> tokens, std::vector<float>* last_logits) = 0;
  // Multiply-adds of one forward pass (Transformer::ForwardMacs).
  virtual double ForwardMacs(std::span<const int64_t> lengths, int64_t output_rows) const = 0;

  // Mean next-token cross-entropy of each sequence over its scored range.
  StatusOr<std::vector<double>> SequenceLosses(std::span<const SequenceRequest> batch);

  // Tensor `tensor` of the served model as a perturbed forward sees it:
  // dst[j] = fma(p.scale, z(p.seed, canonical index of element j), theta[j])
  // for its numel() elements. Bit-identical on every backend.
  virtual void MaterializePerturbed(size_t tensor, const Perturbation& p, float* dst) = 0;
  // zo/update.h ApplyUpdates on `weights` (the served model, or another of
  // any shape in host memory). A backend that keeps its own copy of the
  // served weights keeps it in step. Bit-identical on every backend.
  virtual void ApplyUpdates(ModelWeights* weights, std::span<const ZUpdate> updates, ZDistribution dist) = 0;
  // zo/fingerprint.h ModelFingerprint of `weights`. Identical on every backend.
  virtual uint64_t Fingerprint(const ModelWeights& weights) = 0;
};

// A backend of `kind` serving `weights` on `ctx`'s threads (both must outlive
// it).
StatusOr<std::unique_ptr<ComputeBackend>> MakeBackend(BackendKind kind, const ModelWeights& weights,
                                                      ThreadingContext& ctx);
// The same by name ("cpu", "scalar").
StatusOr<std::unique_ptr<ComputeBackend>> MakeBackend(std::string_view name, const ModelWeights& weights,
                                                      ThreadingContext& ctx);

}  // namespace seedtune
